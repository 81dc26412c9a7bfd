#!/usr/bin/env bash
# test/citus.sh — dsx on Citus keeps the books one node keeps. Starts a throwaway Citus
# cluster (a coordinator and two workers on loopback, under ./.dsx/citus-*), lays dsx out
# with dsx.distribute(), and runs one generated scenario (test/citus_scenario.sql: several
# factories and agreements, late usage, duplicates and conflicts, a loader, voids, a refund
# month) twice: in a database of the coordinator without Citus, and in the Citus database,
# where the months after the scenario's are settled by the pg_cron job on the coordinator.
# Asserts that the books (statements, lines, shares, ledger), the usage (events, rollup,
# conflicts, voids, the ingest log) and the configuration history are identical, every
# column but timestamps; that every statement verifies; that aggregates run on the workers
# (EXPLAIN VERBOSE); that pg_dist_partition has the layout dsx.distribute() reported; that
# the books stay append-only; and runs the access and privilege suites of one node
# (test/pgtap/access.sql and privileges.sql, committed statement by statement: a role's
# queries reach the workers over connections of its own, which see only what is
# committed). Says "skipped" where Citus is not installed.
#
# Run by scripts/test.sh with DSX_ROOT and PGBIN set; DSX_CITUS_PORT (default 54340) is
# the coordinator's port, the workers take the next two. Prints TAP lines; exits non-zero
# on any failure.
set -uo pipefail
root=${DSX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
source "$root/scripts/lib.sh"
set +e
if ! citus_installed; then
  echo "# skipped: Citus not installed"
  exit 0
fi
source "$root/test/tap.bash"
tmp=$(mktemp -d)
chmod 755 "$tmp"
port=${DSX_CITUS_PORT:-54340}
citus_start citus "$port" dsx 2>/dev/null || { echo "not ok 1 - start a Citus cluster on ports $port-$((port + 2))"; exit 1; }
[ -n "${DSX_CITUS_KEEP:-}" ] || trap 'citus_stop; rm -rf "$tmp"' EXIT   # DSX_CITUS_KEEP=1 leaves the cluster running

# the same scenario on one node (a database without Citus) and on Citus
q postgres -c "CREATE DATABASE dsx_single" >/dev/null 2>&1
q dsx -c "CREATE ROLE sc_loader LOGIN" -c "CREATE ROLE sc_partner LOGIN" >/dev/null   # in a Citus database: every node has them
# Roles and their memberships are the cluster's, not a database's: dsx goes into the Citus
# database first, so that its groups are created through Citus, on every node.
q dsx -c "CREATE EXTENSION dsx" >/dev/null
q dsx_single -c "CREATE EXTENSION dsx" >/dev/null
distribute="SET client_min_messages = warning; SELECT string_agg(table_name::text || ' ' || layout, ', ' ORDER BY table_name::text) FROM dsx.distribute()"
layout=$(q dsx -c "$distribute" 2>&1)
is "$(q dsx -c "$distribute" 2>&1)" \
   "$layout" "dsx.distribute() again changes nothing and reports the same layout"
want="dsx.agreement_splits reference, dsx.agreements reference, dsx.config_history local, dsx.credit_facilities reference, dsx.currencies reference, \
dsx.customer_plans reference, dsx.energy_readings local, dsx.factories reference, dsx.fx_rates reference, dsx.ingest_log local, \
dsx.ledger_entries local, dsx.loader_roles reference, dsx.operating_costs reference, dsx.parties reference, dsx.partner_roles reference, \
dsx.price_plans reference, dsx.statement_costs local, dsx.statement_debt local, dsx.statement_lines local, dsx.statement_shares local, dsx.statements local, dsx.usage_conflicts distributed by factory, \
dsx.usage_daily distributed by factory, dsx.usage_events distributed by factory, dsx.usage_inbox distributed by factory, \
dsx.usage_voids distributed by factory, dsx.vendor_roles reference"
is "$layout" "$want" "dsx.distribute(): the usage distributed by factory, the configuration as reference tables, the books local"
is "$(q dsx -c "SELECT count(*) FROM dsx.distribute() d LEFT JOIN pg_dist_partition p ON p.logicalrelid = d.table_name
                 WHERE NOT CASE WHEN d.layout = 'distributed by factory'
                                THEN p.partmethod = 'h' AND column_to_column_name(p.logicalrelid, p.partkey) = 'factory'
                                WHEN d.layout = 'reference' THEN p.partmethod = 'n' AND p.repmodel = 't'
                                ELSE p.logicalrelid IS NULL END IS TRUE")" 0 "pg_dist_partition has the layout dsx.distribute() reported"
is "$(q dsx -c "SELECT count(DISTINCT p.colocationid) FROM dsx.distribute() d JOIN pg_dist_partition p ON p.logicalrelid = d.table_name
                 WHERE p.partmethod = 'h'")" 1 "the usage tables are co-located"
# sqlstate DB SQL: the SQLSTATE SQL fails with in DB (empty when it succeeds)
sqlstate() { as_pg "$PGBIN/psql" -X -q -At -v VERBOSITY=sqlstate -d "$1" -c "$2" 2>&1 | sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\).*/\1/p' | head -n1; }
try() { sqlstate dsx "$1"; }
is "$(sqlstate dsx_single "SELECT dsx.distribute()")" 0A000 "dsx.distribute() without Citus is refused (0A000)"

for db in dsx dsx_single; do
  q "$db" -f "$root/test/citus_scenario.sql" >"$tmp/$db.scenario.log" 2>&1 || { echo "not ok - the scenario in $db failed:"; sed 's/^/#   /' "$tmp/$db.scenario.log" | grep -m1 -B2 -A3 ERROR; sed "s/^/#   /" "$tmp/$db.scenario.log" | tail -20; exit 1; }
done
is "$(q dsx_single -c "SELECT dsx.run_due_settlements() > 0")" t "one node: dsx.run_due_settlements() settles the months after the scenario's"
want=$(q dsx_single -c "SELECT count(*) FROM dsx.statements")

# On Citus, the months after are settled by the pg_cron job on the coordinator. pg_cron lives
# on the coordinator alone: it is created there without propagating it to the workers.
q dsx -c "SET citus.enable_ddl_propagation = off" -c "CREATE EXTENSION pg_cron" >/dev/null
q dsx -c "SELECT dsx.schedule_settlements('* * * * *')" >/dev/null
got=$(wait_for dsx "SELECT count(*) FROM dsx.statements" "$want" 150)
is "$got" "$want" "Citus: the pg_cron job on the coordinator settles the same months ($want statements)"
q dsx -c "SELECT dsx.unschedule_settlements()" >/dev/null
is "$(q dsx -c "SELECT count(*) FROM cron.job_run_details WHERE status = 'failed'")" 0 "no run of the job failed"

# the same books and usage, column for column (timestamps aside)
compare() {
  local name=$1 sql=$2 a b
  a=$(q dsx_single -c "$sql" 2>&1); b=$(q dsx -c "$sql" 2>&1)
  if [ "$a" = "$b" ] && [ -n "$a" ]; then is same same "$name: identical on Citus and one node ($(wc -l <<<"$a") rows)"; else
    is "differ" "same" "$name: identical on Citus and one node"
    diff <(echo "$a") <(echo "$b") | head -10 | sed 's/^/#   /'
  fi
}
compare statements "SELECT agreement, period_start, period_end, currency, input_tokens, output_tokens, revenue, adjustments,
                           gross, debt_service_due, debt_service_paid, support_opening, support_drawn, support_interest,
                           support_repaid, support_balance, distributable, vendor_share, partner_share, through_batch,
                           billing_currency, revenue_billing, adjustments_billing, fx_rate, split_valid_from,
                           debt_arrears, reserve_opening, reserve_drawn, reserve_topup, reserve_released, reserve_balance,
                           opex_due, opex_adjustments, opex_arrears_opening, opex_paid, opex_arrears, cfads,
                           lockup_opening, lockup_trapped, lockup_released, lockup_balance, dscr, energy_through
                      FROM dsx.statements ORDER BY agreement, period_start"
compare statement_lines "SELECT l.* FROM dsx.statement_lines l ORDER BY agreement, period_start, for_period, customer, model"
compare statement_shares "SELECT s.* FROM dsx.statement_shares s ORDER BY agreement, period_start, party"
compare statement_debt "SELECT d.* FROM dsx.statement_debt d ORDER BY agreement, period_start, rank"
compare statement_costs "SELECT c.* FROM dsx.statement_costs c ORDER BY agreement, period_start, for_period, cost"
compare ledger_entries "SELECT txn_id, entry_no, agreement, period_start, account, amount, currency
                          FROM dsx.ledger_entries ORDER BY txn_id, entry_no"
compare ingests "SELECT * FROM public.scenario_ingests ORDER BY step"
compare vendor_stress "SELECT * FROM dsx.vendor_stress ORDER BY agreement, scenario_pct"
is "$(q dsx -c "SELECT count(*) FILTER (WHERE opex_paid > 0) > 0, count(*) FILTER (WHERE dscr IS NOT NULL) > 0,
                      (SELECT count(*) FROM dsx.statement_costs WHERE kind = 'power') > 0 FROM dsx.statements WHERE agreement = 'sc-a4'")" "t|t|t" \
   "Citus: sc-a4 pays metered power and a fixed cost before its lenders, under a lock-up test"
compare ingest_log "SELECT batch_id, ingested_by, inserted, duplicates, conflicts FROM dsx.ingest_log ORDER BY batch_id"
compare usage_events "SELECT factory, count(*), sum(input_tokens), sum(output_tokens),
                             md5(string_agg(event_id || occurred_at || customer || model || input_tokens || output_tokens || batch_id,
                                            ',' ORDER BY event_id))
                        FROM dsx.usage_events GROUP BY factory ORDER BY factory"
compare usage_daily "SELECT factory, customer, model, day, usage::text FROM dsx.usage_daily ORDER BY 1, 2, 3, 4"
compare usage_conflicts "SELECT factory, event_id, stored_occurred_at, stored_customer, stored_model, stored_input_tokens,
                                stored_output_tokens, incoming_occurred_at, incoming_customer, incoming_model,
                                incoming_input_tokens, incoming_output_tokens, times_seen
                           FROM dsx.usage_conflicts ORDER BY 1, 2, 8, 9, 10, 11, 12"
compare usage_voids "SELECT factory, event_id, batch_id, voided_by, reason FROM dsx.usage_voids ORDER BY 1, 2"
compare config_history "SELECT changed_by, table_name, operation, row_key,
                               (SELECT jsonb_object_agg(k, v) FROM jsonb_each(old_row) o(k, v) WHERE k NOT LIKE '%\\_at'),
                               (SELECT jsonb_object_agg(k, v) FROM jsonb_each(new_row) n(k, v) WHERE k NOT LIKE '%\\_at')
                          FROM dsx.config_history ORDER BY change_id"
is "$(q dsx -c "SELECT count(*) FILTER (WHERE dsx.verify_settlement(agreement, period_start)) || ' of ' || count(*) FROM dsx.statements" 2>&1)" \
   "$want of $want" "Citus: every statement verifies"
is "$(q dsx -c "SELECT count(*) FROM dsx.statements WHERE gross < 0")" \
   "$(q dsx_single -c "SELECT count(*) FROM dsx.statements WHERE gross < 0")" "the refund month is there on both"
is "$(q dsx -c "SELECT count(*) > 0 FROM dsx.statements WHERE gross < 0") $(q dsx -c "SELECT count(*) > 0 FROM dsx.statements WHERE support_drawn > 0") $(q dsx -c "SELECT count(*) > 0 FROM dsx.statement_lines WHERE for_period < period_start")" \
   "t t t" "the scenario has a refund month, credit support drawn and adjustment lines"
is "$(q dsx -c "SELECT count(*) FILTER (WHERE fx_rate IS NOT NULL) > 0, count(*) FILTER (WHERE split_valid_from IS NOT NULL) > 0,
                      count(DISTINCT billing_currency || currency) > 2 FROM dsx.statements")" "t|t|t" \
   "the scenario converts yen to dollars and settles by an amended split"
is "$(q dsx -c "SELECT count(*) FILTER (WHERE debt_arrears > 0) > 0, count(DISTINCT facility) FROM dsx.statement_debt d JOIN dsx.statements s USING (agreement, period_start) WHERE s.agreement = 'sc-a4'")" "t|2" \
   "Citus: sc-a4 pays two ranked facilities, the unsupported one's shortfall carried as arrears"
is "$(q dsx -c "SELECT max(reserve_balance) > 0 FROM dsx.statements WHERE agreement = 'sc-a1'")" t \
   "Citus: sc-a1 funds its debt service reserve"
is "$(q dsx -c "SELECT min(day) FROM dsx.usage_daily WHERE factory = 'sc-f3'") $(q dsx -c "SELECT max(day) FROM dsx.usage_daily WHERE factory = 'sc-f5'")" \
   "2026-03-01 2026-07-31" "Citus: the rollup's days are the factories' local days (Tokyo from 1 March, New York to 31 July)"

# the bulk step declines Citus's tables; nothing of the rows is lost
is "$(q dsx -c "BEGIN" -c "INSERT INTO dsx.usage_inbox VALUES ('decline-1', '2026-09-01', 'sc-f1', 'sc-c1', 'm-small', 1, 1)" \
        -c "SELECT (r.inserted IS NULL)::text || ' ' || (SELECT count(*) FROM dsx.usage_inbox) FROM dsx.ingest_rows('dsx.usage_inbox', 999999, false) r" \
        -c "ROLLBACK" | tail -n1)" "true 1" "the C bulk step declines a Citus inbox and events, and leaves the rows"

# ... and runs on the workers instead, shard by shard, inside the ingest's transaction: the
# statements after it in that transaction read what it wrote, on every shard
rw=$(q dsx -c "BEGIN" \
       -c "INSERT INTO dsx.usage_inbox SELECT 'rw-' || i, '2026-09-02 12:00Z', 'sc-f' || (1 + i % 5), 'sc-c1', 'm-small', 10, 1 FROM generate_series(1, 1000) i" \
       -c "INSERT INTO dsx.usage_inbox SELECT event_id, occurred_at, factory, customer, model, input_tokens + (i % 2), output_tokens
             FROM (SELECT e.*, row_number() OVER (ORDER BY factory, event_id) i FROM dsx.usage_events e WHERE occurred_at < '2026-04-01' LIMIT 100) x" \
       -c "SELECT r.inserted || ' ' || r.duplicates || ' ' || r.conflicts FROM dsx.ingest_on_shards(999999) r" \
       -c "SELECT count(*) || ' ' || sum(input_tokens) || ' ' || count(DISTINCT factory) FROM dsx.usage_events WHERE batch_id = 999999" \
       -c "SELECT dsx.rollup(usage) FROM dsx.usage_daily WHERE day = '2026-09-02'" \
       -c "SELECT count(*) FROM dsx.usage_conflicts WHERE first_seen = now() AND conflict_id > (1::bigint << 48)" \
       -c "ROLLBACK" 2>&1 | tr '\n' '|')
is "$rw" "1000 50 50|1000 10000 5|events=1000, input_tokens=10000, output_tokens=1000, first_at=2026-09-02 12:00:00+00, last_at=2026-09-02 12:00:00+00|50|" \
   "Citus: the bulk step on the shards stores 1,000 new events, counts 50 duplicates and keeps 50 conflicts (numbered in their worker's range), and the same transaction reads them all"
is "$(q dsx -c "SELECT count(*) FILTER (WHERE conflict_id > (1::bigint << 48)) || ' of ' || count(*) FROM dsx.usage_conflicts WHERE factory = 'sc-f4'")" \
   "30 of 30" "Citus: the scenario's dsx.ingest() kept sc-f4's 30 conflicts on the workers (numbered in their ranges): the bulk step ran on the shards"
is "$(try "SELECT dsx.ingest_shard('dsx.usage_inbox', 1, false, gen_random_uuid())")" 0A000 "dsx.ingest_shard() refuses anything but a shard of the inbox on its node (0A000)"

# a partner's query joining the books with Citus tables (Citus 13.2 crashed on it with its
# default join policy; dsx.distribute() sets the database's)
q dsx -c "SELECT dsx.grant_partner('sc_partner', 'sc-pa')" >/dev/null
is "$(as_pg env PGUSER=sc_partner "$PGBIN/psql" -X -q -At -d dsx \
        -c "SELECT (SELECT count(*) FROM dsx.usage_events) > 0, (SELECT count(*) FROM dsx.partner_statements) > 0" 2>&1)" "t|t" \
   "a partner's query joining the books and the distributed usage runs (the database's join policy)"

# a call Citus would send to a worker (a query on one shard) is refused there, not run
is "$(try "SELECT dsx.void_events('sc-f1', ARRAY(SELECT event_id FROM dsx.usage_events WHERE factory = 'sc-f1' LIMIT 1), 'x')")" 0A000 \
   "dsx.void_events() called in a query on one shard is refused on the worker (0A000), nothing voided"

# aggregates run on the workers
plan=$(q dsx -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT factory, dsx.usage_agg(input_tokens, output_tokens, occurred_at) FROM dsx.usage_events GROUP BY factory")
is "$(sed -n '/Node: host/,$p' <<<"$plan" | grep -c 'dsx.usage_agg(')" 1 "EXPLAIN: dsx.usage_agg grouped by factory runs whole on the workers"
plan=$(q dsx -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT customer, dsx.usage_agg(input_tokens, output_tokens, occurred_at) FROM dsx.usage_events GROUP BY customer")
is "$(grep -q 'worker_partial_agg' <<<"$plan" && grep -q 'coord_combine_agg' <<<"$plan" && echo yes)" yes \
   "EXPLAIN: dsx.usage_agg grouped by customer: partial aggregates on the workers, combined on the coordinator"
plan=$(q dsx -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT model, dsx.rollup(usage) FROM dsx.usage_daily GROUP BY model")
is "$(grep -q 'worker_partial_agg' <<<"$plan" && grep -q 'coord_combine_agg' <<<"$plan" && echo yes)" yes \
   "EXPLAIN: dsx.rollup of the daily rollup runs as partial aggregates on the workers"
is "$(q dsx -c "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (SELECT customer, dsx.usage_agg(input_tokens, output_tokens, occurred_at) x FROM dsx.usage_events GROUP BY customer) s")" \
   "$(q dsx_single -c "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (SELECT customer, dsx.usage_agg(input_tokens, output_tokens, occurred_at) x FROM dsx.usage_events GROUP BY customer) s")" \
   "the partial aggregates give what one node gives"

# append-only on Citus too, even for the owner
is "$(try "UPDATE dsx.statements SET revenue = 0")" 55000 "the statements refuse UPDATE"
is "$(try "DELETE FROM dsx.ledger_entries")" 55000 "the ledger refuses DELETE"
is "$(try "DELETE FROM dsx.usage_voids")" 55000 "the voids (distributed) refuse DELETE"
is "$(try "TRUNCATE dsx.usage_voids")" 55000 "the voids (distributed) refuse TRUNCATE"
is "$(try "UPDATE dsx.config_history SET changed_by = 'x'")" 55000 "the history refuses UPDATE"
is "$(try "DELETE FROM dsx.agreements WHERE agreement = 'sc-a1'")" 23503 "an agreement with statements cannot be deleted (the books' key, kept by dsx.keep_books)"
is "$(try "UPDATE dsx.parties SET party = 'sc-fund2' WHERE party = 'sc-fund'")" 23503 "a party the shares name cannot be rekeyed"
is "$(try "TRUNCATE dsx.agreements CASCADE")" 0A000 "the agreements cannot be truncated while the books name them (dsx.keep_books)"
is "$(try "SELECT (dsx.booked_price('sc-a1', '2026-03-01', e.customer, e.model, '2026-12-01')).plan FROM dsx.usage_events e WHERE e.factory = 'sc-f1' LIMIT 1")" 0A000 \
   "dsx.booked_price sent to a worker with a query on one shard refuses (0A000) rather than read an empty copy of the books"
is "$(as_pg env PGUSER=sc_loader "$PGBIN/psql" -X -q -At -v VERBOSITY=sqlstate -d dsx \
        -c "SELECT count(*) FROM run_command_on_shards('dsx.usage_events', 'SELECT 1')" 2>&1 | sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\).*/\1/p')" 42501 \
   "Citus's run_command_on_shards is closed to dsx's roles (the shards' statistics)"

# the access and privilege suites of one node, on Citus
citus_db dsx_tap 2>/dev/null
q dsx_tap -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION dsx" -c "SELECT count(*) FROM dsx.distribute()" >/dev/null
for f in access privileges; do
  sed -e '/^BEGIN;$/d' -e '/^ROLLBACK;$/d' -e 's/^SET LOCAL /SET /' "$root/test/pgtap/$f.sql" >"$tmp/$f.sql"
  chmod 644 "$tmp/$f.sql"
  out=$(as_pg pg_prove --verbose -d dsx_tap "$tmp/$f.sql" 2>&1)
  n_ok=$(grep -cE '^ok [0-9]' <<<"$out"); n_bad=$(grep -cE '^not ok [0-9]' <<<"$out")
  grep -E '^not ok|^# ' <<<"$out" | head -20
  is "$n_bad $(grep -c '^Result: PASS' <<<"$out")" "0 1" "test/pgtap/$f.sql on Citus: $n_ok passed, $n_bad failed"
done

# Property: generated batches (ids drawn with repeats from a small range, so that batches
# resend stored events and repeat ids within themselves, one payload in eleven changed)
# ingested one node and on Citus, some two to a transaction, give the same counts batch by
# batch, and the same events, rollup and conflicts.
citus_db dsx_prop 2>/dev/null
q postgres -c "CREATE DATABASE dsx_prop_one" >/dev/null 2>&1
prop_setup="SET client_min_messages = warning; CREATE EXTENSION dsx;"
prop_conf="INSERT INTO dsx.parties VALUES ('pp', 'partner', 'P');
INSERT INTO dsx.factories (factory, partner, currency, time_zone)
SELECT 'pf-' || k, 'pp', 'USD', (ARRAY['UTC', 'Asia/Tokyo', 'America/New_York'])[1 + k % 3] FROM generate_series(0, 5) k;"
q dsx_prop -c "$prop_setup" -c "SELECT count(*) FROM dsx.distribute()" -c "$prop_conf" >/dev/null
q dsx_prop_one -c "$prop_setup" -c "$prop_conf" >/dev/null
batch_sql() {  # batch_sql B: batch B into the inbox
  echo "INSERT INTO dsx.usage_inbox
        SELECT 'p-' || id, timestamptz '2026-10-01 00:00Z' + (hashint4(id) & 4194303) * interval '1 second', 'pf-' || (id % 6),
               'c' || (id % 4), 'm' || (id % 3), 1000 + id % 997 + CASE WHEN v THEN $1 ELSE 0 END, 10 + id % 13
          FROM (SELECT hashint4($1 * 100003 + g) & 32767 AS id, hashint4($1 * 7 + g) % 11 = 0 AS v
                  FROM generate_series(1, 3000) g) x"
}
same=0 batches=0
for b in $(seq 1 12); do
  if ((b % 3 == 0)); then
    ing=(-c "BEGIN" -c "$(batch_sql "$b")" -c "SELECT * FROM dsx.ingest()" -c "$(batch_sql $((b + 100)))" -c "SELECT * FROM dsx.ingest()" -c "COMMIT")
  else
    ing=(-c "$(batch_sql "$b")" -c "SELECT * FROM dsx.ingest()")
  fi
  a=$(q dsx_prop_one "${ing[@]}" 2>&1); c=$(q dsx_prop "${ing[@]}" 2>&1)
  batches=$((batches + 1)); [ "$a" = "$c" ] && same=$((same + 1)) || echo "# batch $b: one node '$a', Citus '$c'"
done
is "$same of $batches" "$batches of $batches" "property: 12 generated batches (16 ingests) give the same counts on Citus as on one node"
prop_usage="SELECT (SELECT md5(string_agg(factory || event_id || occurred_at || customer || model || input_tokens || output_tokens || batch_id, ',' ORDER BY factory, event_id)) FROM dsx.usage_events),
                   (SELECT md5(string_agg(factory || customer || model || day || usage::text, ',' ORDER BY factory, customer, model, day)) FROM dsx.usage_daily),
                   (SELECT md5(string_agg(k, ',' ORDER BY k)) FROM (SELECT concat_ws('/', factory, event_id, incoming_occurred_at,
                                   incoming_input_tokens, stored_input_tokens, times_seen) k FROM dsx.usage_conflicts) x),
                   (SELECT sum(duplicates) > 0 AND sum(conflicts) > 0 FROM dsx.ingest_log)"
is "$(q dsx_prop -c "$prop_usage")" "$(q dsx_prop_one -c "$prop_usage")" "property: the same events, rollup and conflicts (and the batches had duplicates and conflicts)"

echo "1..$t"
[ "$failed" = 0 ]
