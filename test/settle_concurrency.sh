#!/usr/bin/env bash
# test/settle_concurrency.sh — concurrent settlers on a live cluster (SPEC section 6: "Concurrent
# runs never settle a period twice"). In a scratch database:
#  1. two sessions call dsx.settle() on the same period at the same moment (both held at the
#     start line by a third session's row lock, then released together): one returns true,
#     the other false, and one statement with one ledger transaction exists;
#  2. four sessions call dsx.run_due_settlements() at once (all four held waiting on locks
#     before any settles): every one succeeds, their results add up to the number of due
#     periods, each period has exactly one statement and one balanced ledger transaction,
#     every statement verifies; a fifth run afterwards settles nothing;
#  3. an ingest started during a settlement waits for it; its events become an adjustment of
#     the next statement, never half-seen by the one in progress;
#  4. terms and settlement, a factory's zone and ingest, take turns: a settlement started
#     while a price amendment for its period is uncommitted waits and settles at the new
#     price; an amendment, an FX rate or a split made while the period's settlement is
#     uncommitted waits and is then refused (55000); a zone change during an ingest of the
#     factory's first events waits and is then refused;
#  5. a facility changed while a settlement is uncommitted waits, and is then refused when it
#     would move a payment into the period just settled.
# Needs PGHOST, PGPORT (and PGBIN); prints TAP and exits non-zero on any failure.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tap.bash"
DB=dsx_t_conc_$$
N=4
tmp=$(mktemp -d); chmod 777 "$tmp"
cleanup() {
  q postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

q postgres -c "CREATE DATABASE $DB" || exit 1
q "$DB" >/dev/null <<'SQL' || { echo "not ok 1 - scenario set-up"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION dsx;
INSERT INTO dsx.parties VALUES ('c_vendor', 'vendor', 'Vendor'), ('c_bank', 'lender', 'Bank'),
  ('c_p1', 'partner', 'P1'), ('c_p2', 'partner', 'P2'), ('c_p3', 'partner', 'P3'), ('c_p4', 'partner', 'P4'),
  ('c_fund', 'partner', 'Fund');
INSERT INTO dsx.factories VALUES ('c_f1', 'c_p1', 'USD', 'x', 100, 1), ('c_f2', 'c_p2', 'IDR', 'x', 100, 1),
  ('c_f3', 'c_p3', 'USD', 'x', 100, 1), ('c_f4', 'c_p4', 'USD', 'x', 100, 1);
INSERT INTO dsx.price_plans VALUES ('c_std', 'm1', '1.5', '3'), ('c_std', 'm2', 'graduated: 0: 2, 1000000000: 1', '4.000000125');
INSERT INTO dsx.customer_plans SELECT 'cust' || c, f, 'c_std' FROM generate_series(1, 5) c, unnest(ARRAY['c_f1', 'c_f2', 'c_f3', 'c_f4']) f;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts) VALUES
  ('c_a1', 'c_p1', 'c_vendor', 'c_f1', 'vendor=30%, partner=70%; from 5000: vendor=20%, partner=80%', '2026-06-01'),
  ('c_a2', 'c_p2', 'c_vendor', 'c_f2', 'vendor=25%, partner=65%, c_fund=10%', '2026-06-01'),
  ('c_a3', 'c_p3', 'c_vendor', 'c_f3', 'vendor=33.3333%, partner=66.6667%', '2026-06-01'),
  ('c_pair', 'c_p4', 'c_vendor', 'c_f4', 'vendor=50%, partner=50%', '2026-10-01');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due) VALUES
  ('c_fac1', 'c_a1', 'c_bank', 200000, 0.09, 24, '2026-06-30'),
  ('c_fac2', 'c_a2', 'c_bank', 90000000, 0.11, 12, '2026-06-15');
-- five months of usage, one event every ~3 hours per factory and customer
INSERT INTO dsx.usage_inbox
SELECT 'e' || i || '-' || c, timestamptz '2026-06-01 00:00Z' + i * interval '3 hours 7 minutes', f, 'cust' || c,
       CASE WHEN i % 3 = 0 THEN 'm2' ELSE 'm1' END, (i * 7919 + c * 104729) % 40000000, (i * 104729) % 9000000
  FROM generate_series(0, 1170) i, generate_series(1, 5) c, unnest(ARRAY['c_f1', 'c_f2', 'c_f3', 'c_f4']) f;
SELECT * FROM dsx.ingest();
SQL

# 1. Two settlers of one period, released together.
bg hold blocker "BEGIN; SELECT 1 FROM dsx.agreements WHERE agreement = 'c_pair' FOR UPDATE; SELECT pg_sleep(120);"
wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'blocker' AND wait_event = 'PgSleep'" 1 20 >/dev/null
bg pair1 settler "SELECT dsx.settle('c_pair', '2026-10-01')"
bg pair2 settler "SELECT dsx.settle('c_pair', '2026-10-01')"
w=$(wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'settler' AND wait_event_type = 'Lock'" 2 20)
is "$w" 2 "both settlers of c_pair 2026-10 wait at the start line"
q "$DB" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'blocker'" >/dev/null
wait
is "$(cat "$tmp/pair1.rc") $(cat "$tmp/pair2.rc")" "0 0" "both concurrent dsx.settle calls succeed"
is "$( (grep -hE '^[tf]$' "$tmp/pair1.out" "$tmp/pair2.out") | sort | tr '\n' ' ')" "f t " "one dsx.settle returns true, the other false"
is "$(grep -hc 'already settled' "$tmp/pair1.out" "$tmp/pair2.out" | paste -sd+ | bc)" 1 "the one that returns false says the period is already settled"
is "$(q "$DB" -c "SELECT count(*) || ' ' || (SELECT count(DISTINCT txn_id) FROM dsx.ledger_entries WHERE agreement = 'c_pair')
                     FROM dsx.statements WHERE agreement = 'c_pair'")" "1 1" "c_pair: one statement, one ledger transaction"

# 2. Four run_due_settlements at once.
due=$(q "$DB" -c "SELECT count(*) FROM dsx.agreements a,
                   LATERAL generate_series(a.starts, now() - a.settle_lag - interval '1 month', interval '1 month') p
                   WHERE NOT EXISTS (SELECT 1 FROM dsx.statements s WHERE s.agreement = a.agreement AND s.period_start = p::date)")
is "$([ "$due" -ge 12 ] && echo yes)" yes "the scenario has at least 12 due periods ($due)"
# The blocker keeps ingest-time rollups locked: the first settler stops there holding its
# agreement, the others queue behind it; all four are in flight before any settles.
bg hold blocker "BEGIN; LOCK TABLE dsx.usage_daily IN EXCLUSIVE MODE; SELECT pg_sleep(120);"
wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'blocker' AND wait_event = 'PgSleep'" 1 20 >/dev/null
for i in $(seq 1 $N); do bg "run$i" runner "SELECT dsx.run_due_settlements()"; done
w=$(wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'runner' AND wait_event_type = 'Lock'" $N 20)
is "$w" $N "$N dsx.run_due_settlements() sessions are all waiting on locks before any settles"
q "$DB" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'blocker'" >/dev/null
wait
rcs="" sum=0
for i in $(seq 1 $N); do
  rcs="$rcs$(cat "$tmp/run$i.rc")"
  r=$(grep -E '^[0-9]+$' "$tmp/run$i.out" | tail -1); sum=$((sum + ${r:-1000000}))
done
is "$rcs" "$(printf '0%.0s' $(seq 1 $N))" "all $N concurrent dsx.run_due_settlements() succeed"
[ "$rcs" = "$(printf '0%.0s' $(seq 1 $N))" ] || cat "$tmp"/run*.out | sed 's/^/#   /'
is "$sum" "$due" "their results add up to the $due due periods"
is "$(q "$DB" -c "SELECT count(*) FROM dsx.agreements a,
                   LATERAL generate_series(a.starts, now() - a.settle_lag - interval '1 month', interval '1 month') p
                   WHERE (SELECT count(*) FROM dsx.statements s WHERE s.agreement = a.agreement AND s.period_start = p::date) <> 1")" 0 \
   "every due period of every agreement has exactly one statement"
is "$(q "$DB" -c "SELECT count(*) FROM dsx.statements s
                   WHERE (SELECT count(DISTINCT txn_id) FROM dsx.ledger_entries l
                           WHERE l.agreement = s.agreement AND l.period_start = s.period_start) <> 1")" 0 \
   "every statement has exactly one ledger transaction"
is "$(q "$DB" -c "SELECT count(*) FROM (SELECT txn_id FROM dsx.ledger_entries GROUP BY txn_id
                   HAVING sum(amount) <> 0 OR count(DISTINCT (agreement, period_start)) <> 1
                       OR max(entry_no) <> count(*)) x")" 0 \
   "every ledger transaction balances, belongs to one statement and numbers its entries 1..n"
is "$(q "$DB" -c "SELECT count(*) FROM dsx.statements s
                   WHERE s.gross <> s.debt_service_paid + s.support_repaid
                         + (SELECT COALESCE(sum(amount), 0) FROM dsx.statement_shares h
                             WHERE h.agreement = s.agreement AND h.period_start = s.period_start)")" 0 \
   "every statement keeps the invariant gross = paid + repaid + shares"
is "$(q "$DB" -c "SET client_min_messages = warning; SELECT count(*) || ' ' || count(*) FILTER (WHERE dsx.verify_settlement(agreement, period_start)) FROM dsx.statements")" \
   "$((due + 1)) $((due + 1))" "all $((due + 1)) statements verify against the raw events"
is "$(q "$DB" -c "SELECT dsx.run_due_settlements()" 2>&1 | tr '\n' ' ')" "NOTICE:  no settlement was due 0 " \
   "a further run settles nothing and says so"

# 3. An ingest during a settlement waits for it, and its events, though they belong to the
#    month being settled, are not half-seen: they become next month's adjustment.
q "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
INSERT INTO dsx.parties VALUES ('c_p5', 'partner', 'P5');
INSERT INTO dsx.factories VALUES ('c_f5', 'c_p5', 'USD', 'x', 100, 1);
INSERT INTO dsx.customer_plans VALUES ('cust1', 'c_f5', 'c_std');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts)
VALUES ('c_late', 'c_p5', 'c_vendor', 'c_f5', 'vendor=30%, partner=70%', '2026-09-01');
INSERT INTO dsx.usage_inbox VALUES ('s1', '2026-09-10 10:00Z', 'c_f5', 'cust1', 'm1', 1000000000, 0);
SELECT * FROM dsx.ingest();
INSERT INTO dsx.usage_inbox VALUES ('s2', '2026-09-20 10:00Z', 'c_f5', 'cust1', 'm1', 2000000000, 0);
SQL
bg settle3 settler "BEGIN; SELECT dsx.settle('c_late', '2026-09-01'); SELECT pg_sleep(2); COMMIT;"
wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'settler' AND wait_event = 'PgSleep'" 1 20 >/dev/null
bg ingest3 ingester "SELECT inserted FROM dsx.ingest()"
w=$(wait_for "$DB" "SELECT wait_event_type FROM pg_stat_activity WHERE application_name = 'ingester'" Lock 20)
is "$w" Lock "dsx.ingest() waits while a settlement is in progress"
wait
is "$(cat "$tmp/settle3.rc") $(cat "$tmp/ingest3.rc") $(grep -hE '^[0-9t]+$' "$tmp/settle3.out" "$tmp/ingest3.out" | tr '\n' ' ')" "0 0 t 1 " \
   "both finish: the settlement, then the ingest of one event"
is "$(q "$DB" -c "SELECT revenue || ' ' || (through_batch < (SELECT max(batch_id) FROM dsx.ingest_log)) FROM dsx.statements WHERE agreement = 'c_late'")" "1500.00 true" \
   "September's statement has only the usage committed before it (1,000M input tokens at 1.5)"
is "$(q "$DB" -c "SELECT dsx.settle('c_late', '2026-10-01')")" t "October settles"
is "$(q "$DB" -c "SELECT for_period || ' ' || input_tokens || ' ' || amount FROM dsx.statement_lines WHERE agreement = 'c_late' AND period_start = '2026-10-01'")" \
   "2026-09-01 2000000000 3000.00" "the event ingested during September's settlement is October's adjustment for September"
is "$(q "$DB" -c "SELECT bool_and(dsx.verify_settlement(agreement, period_start)) FROM dsx.statements WHERE agreement = 'c_late'")" t \
   "both statements verify"

# 4. Terms and settlement take turns; so do a factory's zone and ingest.
q "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
INSERT INTO dsx.parties VALUES ('c_p6', 'partner', 'P6'), ('c_p7', 'partner', 'P7'), ('c_p8', 'partner', 'P8');
INSERT INTO dsx.factories (factory, partner, currency, region, time_zone) VALUES
  ('c_f6', 'c_p6', 'USD', 'x', 'Asia/Jakarta'), ('c_f7', 'c_p7', 'IDR', 'x', 'Asia/Jakarta'), ('c_f8', 'c_p8', 'USD', 'x', 'UTC');
INSERT INTO dsx.price_plans VALUES ('c_p6', 'm1', '1.5', '0'), ('c_p7', 'm1', '15000', '0');
INSERT INTO dsx.customer_plans VALUES ('cust1', 'c_f6', 'c_p6'), ('cust1', 'c_f7', 'c_p7'), ('cust1', 'c_f8', 'c_p6');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settlement_currency) VALUES
  ('c_t6', 'c_p6', 'c_vendor', 'c_f6', 'vendor=30%, partner=70%', '2026-10-01', 'USD'),
  ('c_t7', 'c_p7', 'c_vendor', 'c_f7', 'vendor=30%, partner=70%', '2026-09-01', 'USD');
INSERT INTO dsx.fx_rates VALUES ('IDR', 'USD', '2026-09-01', 0.0000625);
INSERT INTO dsx.usage_inbox VALUES ('t6', '2026-10-10 10:00Z', 'c_f6', 'cust1', 'm1', 1000000000, 0),
                                   ('t7', '2026-10-10 10:00Z', 'c_f7', 'cust1', 'm1', 1000000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('c_t7', '2026-09-01');
SQL
bg amend6 amender "BEGIN; INSERT INTO dsx.price_plans VALUES ('c_p6', 'm1', '9', '0', '2026-10-01'); SELECT pg_sleep(2); COMMIT;"
wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'amender' AND wait_event = 'PgSleep'" 1 20 >/dev/null
bg settle6 settler "SELECT dsx.settle('c_t6', '2026-10-01')"
is "$(wait_for "$DB" "SELECT wait_event_type FROM pg_stat_activity WHERE application_name = 'settler'" Lock 20)" Lock \
   "a settlement started while a price amendment for its period is uncommitted waits for it"
wait
is "$(cat "$tmp/amend6.rc") $(cat "$tmp/settle6.rc") $(q "$DB" -c "SELECT revenue || ' ' || dsx.verify_settlement(agreement, period_start) FROM dsx.statements WHERE agreement = 'c_t6'")" \
   "0 0 9000.00 true" "then it settles at the amended price (1,000M tokens at 9), and verifies"
bg settle7 settler "BEGIN; SELECT dsx.settle('c_t7', '2026-10-01'); SELECT pg_sleep(3); COMMIT;"
wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'settler' AND wait_event = 'PgSleep'" 1 20 >/dev/null
bg rate7 amender "INSERT INTO dsx.fx_rates VALUES ('IDR', 'USD', '2026-10-31', 0.0001)"
bg price7 amender2 "INSERT INTO dsx.price_plans VALUES ('c_p7', 'm1', '1', '0', '2026-10-01')"
bg split7 amender3 "INSERT INTO dsx.agreement_splits VALUES ('c_t7', '2026-10-01', 'vendor=50%, partner=50%')"
is "$(wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'amender%' AND wait_event_type = 'Lock'" 3 20)" 3 \
   "an FX rate, a price and a split amendment made while the period's settlement is uncommitted wait for it"
wait
is "$(for f in rate7 price7 split7; do grep -c 'is refused: it would change the terms of settled period' "$tmp/$f.out"; done | tr '\n' ' ')" "1 1 1 " \
   "then each is refused (55000): they would change the period just settled"
is "$(q "$DB" -c "SELECT fx_rate || ' ' || revenue || ' ' || (split_valid_from IS NULL) || ' ' || dsx.verify_settlement(agreement, period_start) FROM dsx.statements WHERE agreement = 'c_t7' AND period_start = '2026-10-01'")" \
   "0.0000625 937.50 true true" "and the statement keeps the rate, price and split it was settled with"
bg ingest8 ingester "BEGIN; INSERT INTO dsx.usage_inbox VALUES ('t8', '2026-10-31 12:00Z', 'c_f8', 'cust1', 'm1', 1000000, 0); SELECT inserted FROM dsx.ingest(); SELECT pg_sleep(2); COMMIT;"
wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ingester' AND wait_event = 'PgSleep'" 1 20 >/dev/null
bg zone8 rezoner "UPDATE dsx.factories SET time_zone = 'Pacific/Kiritimati' WHERE factory = 'c_f8'"
is "$(wait_for "$DB" "SELECT wait_event_type FROM pg_stat_activity WHERE application_name = 'rezoner'" Lock 20)" Lock \
   "a zone change during an ingest of the factory's first events waits for it"
wait
is "$(cat "$tmp/ingest8.rc") $(grep -c 'has usage: its time zone is fixed' "$tmp/zone8.out") $(q "$DB" -c "SELECT time_zone || ' ' || (SELECT day FROM dsx.usage_daily WHERE factory = 'c_f8') FROM dsx.factories WHERE factory = 'c_f8'")" \
   "0 1 UTC 2026-10-31" "then it is refused (55000), and the day rolled up is the zone's the events were stored under"

# 5. A facility's terms and settlement take turns too: a change to a facility made while a
#    settlement is uncommitted waits for it, and is then refused when it would move a
#    payment into the period just settled.
q "$DB" -c "INSERT INTO dsx.parties VALUES ('c_bank6', 'lender', 'Bank 6')" \
        -c "INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method)
            VALUES ('c_fac6', 'c_t6', 'c_bank6', 600, 0, 6, '2027-06-30', 'linear')" >/dev/null
bg settle9 settler "BEGIN; SELECT dsx.settle('c_t6', '2026-11-01'); SELECT pg_sleep(3); COMMIT;"
wait_for "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'settler' AND wait_event = 'PgSleep'" 1 20 >/dev/null
bg fac9 amender "UPDATE dsx.credit_facilities SET first_due = '2026-11-20' WHERE facility = 'c_fac6'"
is "$(wait_for "$DB" "SELECT wait_event_type FROM pg_stat_activity WHERE application_name = 'amender'" Lock 20)" Lock \
   "a facility change made while a settlement is uncommitted waits for it"
wait
is "$(cat "$tmp/settle9.rc") $(grep -c 'in settled period 2026-11-01' "$tmp/fac9.out") $(q "$DB" -c "SELECT first_due || ' ' || (SELECT bool_and(dsx.verify_settlement(agreement, period_start)) FROM dsx.statements WHERE agreement = 'c_t6') FROM dsx.credit_facilities WHERE facility = 'c_fac6'")" \
   "0 1 2027-06-30 true" "then it is refused (55000): the facility keeps its terms and the statements verify"

echo "1..$t"
[ "$failed" = 0 ]
