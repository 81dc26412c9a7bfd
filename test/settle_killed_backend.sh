#!/usr/bin/env bash
# test/settle_killed_backend.sh — a backend killed in the middle of a settlement leaves
# nothing partial (SPEC section 6: a settled period is all or nothing). In a scratch database
# settlements are made to stop half-way, held by another session's lock, and killed there:
#  1. dsx.settle() waits to post the ledger (dsx.ledger_entries locked) after writing the
#     period's lines, shares and statement; its backend is terminated (pg_terminate_backend);
#  2. dsx.run_due_settlements() has settled one agreement's periods, ledger included, in its
#     open transaction and waits for the next agreement (its row locked); terminated;
#  3. the same, killed with SIGKILL: the server crashes and recovers.
# Afterwards no statement, line, share or ledger entry exists for the periods they were
# settling, the periods settled before stay intact, and settling again succeeds and verifies.
# Needs PGHOST, PGPORT (and PGBIN); prints TAP and exits non-zero on any failure.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tap.bash"
DB=dsx_t_kill_$$
tmp=$(mktemp -d)
cleanup() {
  q postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
# rows AGREEMENT: statements, lines, shares and ledger entries of an agreement, as "s l h e".
rows() {
  q "$DB" -c "SELECT (SELECT count(*) FROM dsx.statements WHERE agreement = '$1') || ' ' ||
                     (SELECT count(*) FROM dsx.statement_lines WHERE agreement = '$1') || ' ' ||
                     (SELECT count(*) FROM dsx.statement_shares WHERE agreement = '$1') || ' ' ||
                     (SELECT count(*) FROM dsx.ledger_entries WHERE agreement = '$1')"
}
# kill_settler BLOCK WAIT SQL [KILL]: while a blocker session holds the lock BLOCK takes, run SQL
# as a settler; once the settler waits for that lock, note what it waits on (WAIT) and which
# of the settlement tables it has written to, terminate it (or, with KILL, kill -9 its process:
# a crash of the whole server) and release the blocker.
kill_settler() {
  bg hold blocker "BEGIN; $1; SELECT pg_sleep(120);"
  wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'blocker' AND wait_event = 'PgSleep'" 1 20 >/dev/null
  bg victim victim "$3"
  wait_for "$DB" "SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity WHERE application_name = 'victim'" \
           "$2" 20 >"$tmp/victim.wait"
  # its writes are invisible from here until it commits; the locks it holds show how far it
  # got: ROW EXCLUSIVE on each settlement table it has inserted into
  q "$DB" -c "SELECT string_agg(l.relation::regclass::text, ' ' ORDER BY l.relation::regclass::text)
                FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE a.application_name = 'victim' AND l.granted AND l.mode = 'RowExclusiveLock'
                 AND l.relation::regclass::text IN ('dsx.statements', 'dsx.statement_lines', 'dsx.statement_shares', 'dsx.ledger_entries')" \
    >"$tmp/victim.locks"
  if [ "${4:-}" = KILL ]; then
    # SIGKILL: the postmaster resets every backend and recovers from the WAL
    kill -KILL "$(q "$DB" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'victim'")"
    sleep 1
    wait_for "$DB" "SELECT 1" 1 60 >/dev/null
  else
    q "$DB" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'" >/dev/null
    wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'victim'" 0 20 >/dev/null
  fi
  q "$DB" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'blocker'" >/dev/null
  wait
}

q postgres -c "CREATE DATABASE $DB" || exit 1
q "$DB" >/dev/null <<'SQL' || { echo "not ok 1 - scenario set-up"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION dsx;
INSERT INTO dsx.parties VALUES ('k_vendor', 'vendor', 'Vendor'), ('k_bank', 'lender', 'Bank'),
  ('k_p1', 'partner', 'P1'), ('k_p2', 'partner', 'P2');
INSERT INTO dsx.factories VALUES ('k_f1', 'k_p1', 'USD', 'x', 100, 1), ('k_f2', 'k_p2', 'USD', 'x', 100, 1);
INSERT INTO dsx.price_plans VALUES ('k_std', 'm1', '2.5', '10');
INSERT INTO dsx.customer_plans SELECT 'cust' || c, f, 'k_std' FROM generate_series(1, 4) c, unnest(ARRAY['k_f1', 'k_f2']) f;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts) VALUES
  ('k_a1', 'k_p1', 'k_vendor', 'k_f1', 'vendor=30%, partner=70%', '2026-07-01'),
  ('k_a2', 'k_p2', 'k_vendor', 'k_f2', 'vendor=20%, partner=80%', '2026-07-01');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due) VALUES
  ('k_fac1', 'k_a1', 'k_bank', 50000, 0.08, 12, '2026-07-31');
INSERT INTO dsx.usage_inbox
SELECT 'e' || i || '-' || c, timestamptz '2026-07-01 00:00Z' + i * interval '5 hours', f, 'cust' || c, 'm1',
       (i * 7919 + c * 104729) % 40000000, (i * 104729) % 900000
  FROM generate_series(0, 580) i, generate_series(1, 4) c, unnest(ARRAY['k_f1', 'k_f2']) f;
SELECT * FROM dsx.ingest();
SELECT dsx.settle('k_a1', '2026-07-01');
SQL
before=$(rows k_a1)

# 1. A direct dsx.settle of August, killed while it waits to post the ledger.
kill_settler "LOCK TABLE dsx.ledger_entries IN EXCLUSIVE MODE" "Lock:relation" "SELECT dsx.settle('k_a1', '2026-08-01')"
is "$(cat "$tmp/victim.wait")" "Lock:relation" "the settler of k_a1 2026-08 waits to post the ledger"
is "$(cat "$tmp/victim.locks")" "dsx.statement_lines dsx.statement_shares dsx.statements" \
   "it was stopped half-way: lines, shares and statement written, ledger not yet"
is "$(cat "$tmp/victim.rc")" 2 "the killed settler's client saw its connection terminated"
is "$(q "$DB" -c "SELECT count(*) FROM dsx.statement_lines WHERE agreement = 'k_a1' AND period_start = '2026-08-01'") \
$(q "$DB" -c "SELECT count(*) FROM dsx.statement_shares WHERE agreement = 'k_a1' AND period_start = '2026-08-01'") \
$(q "$DB" -c "SELECT count(*) FROM dsx.statements WHERE agreement = 'k_a1' AND period_start = '2026-08-01'") \
$(q "$DB" -c "SELECT count(*) FROM dsx.ledger_entries WHERE agreement = 'k_a1' AND period_start = '2026-08-01'")" "0 0 0 0" \
   "no lines, shares, statement or ledger entries exist for the killed period"
is "$(rows k_a1)" "$before" "the period settled before is intact"
is "$(q "$DB" -c "SELECT dsx.settle('k_a1', '2026-08-01')")" t "settling the killed period again succeeds"
is "$(q "$DB" -c "SELECT dsx.verify_settlement('k_a1', '2026-08-01')")" t "and the statement verifies"

# 2. dsx.run_due_settlements, killed after it settled k_a1's remaining periods (in its own
#    still open transaction) while it waits for k_a2.
before2=$(rows k_a1)
kill_settler "SELECT 1 FROM dsx.agreements WHERE agreement = 'k_a2' FOR UPDATE" "Lock:transactionid" "SELECT dsx.run_due_settlements()"
is "$(cat "$tmp/victim.wait")" "Lock:transactionid" "dsx.run_due_settlements() waits for agreement k_a2"
is "$(cat "$tmp/victim.locks")" "dsx.ledger_entries dsx.statement_lines dsx.statement_shares dsx.statements" \
   "having settled k_a1's due periods, ledger included, in the same transaction"
is "$(cat "$tmp/victim.rc")" 2 "the killed dsx.run_due_settlements() client saw its connection terminated"
is "$(rows k_a2)" "0 0 0 0" "k_a2: nothing of its periods was kept"
is "$(rows k_a1)" "$before2" "k_a1: the periods it had settled are gone, only what was committed before remains"
is "$(q "$DB" -c "SELECT count(*) FROM (SELECT txn_id FROM dsx.ledger_entries GROUP BY txn_id HAVING sum(amount) <> 0) x")" 0 \
   "every ledger transaction that exists balances"
# 3. The same, killed with SIGKILL: the server crashes and recovers.
kill_settler "SELECT 1 FROM dsx.agreements WHERE agreement = 'k_a2' FOR UPDATE" "Lock:transactionid" "SELECT dsx.run_due_settlements()" KILL
is "$(cat "$tmp/victim.locks")" "dsx.ledger_entries dsx.statement_lines dsx.statement_shares dsx.statements" \
   "dsx.run_due_settlements() settled k_a1 in its open transaction, then was killed with SIGKILL"
is "$(cat "$tmp/victim.rc")" 2 "the server went through crash recovery and the client lost its connection"
is "$(rows k_a2) / $(rows k_a1)" "0 0 0 0 / $before2" "after recovery nothing of the killed run exists"

due=$(q "$DB" -c "SELECT count(*) FROM dsx.agreements a,
                   LATERAL generate_series(a.starts, now() - a.settle_lag - interval '1 month', interval '1 month') p
                   WHERE NOT EXISTS (SELECT 1 FROM dsx.statements s WHERE s.agreement = a.agreement AND s.period_start = p::date)")
is "$(q "$DB" -c "SELECT dsx.run_due_settlements()")" "$due" "running again settles all $due due periods"
is "$(q "$DB" -c "SELECT count(*) || ' ' || count(*) FILTER (WHERE dsx.verify_settlement(agreement, period_start)) FROM dsx.statements")" \
   "$((due + 2)) $((due + 2))" "every statement verifies"
is "$(q "$DB" -c "SELECT count(*) FROM dsx.statements s
                   WHERE (SELECT count(DISTINCT txn_id) FROM dsx.ledger_entries l
                           WHERE l.agreement = s.agreement AND l.period_start = s.period_start) <> 1")" 0 \
   "every statement has exactly one ledger transaction"

echo "1..$t"
[ "$failed" = 0 ]
