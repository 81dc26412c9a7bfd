#!/usr/bin/env bash
# test/cron_settlement.sh — settlement scheduled through pg_cron really runs (SPEC section 6,
# Scheduling). pg_cron lives in the one database named by cron.database_name (dsx_cron on
# the test cluster), so:
#  1. in dsx_cron: dsx.schedule_settlements('* * * * *') registers the job; at the next
#     minute it fires, cron.job_run_details shows it succeeded, and the due periods of a
#     small scenario are settled and verify; dsx.unschedule_settlements() removes it;
#  2. in another database (no pg_cron there): dsx.schedule_settlements() refuses and tells
#     to use cron.schedule_in_database; the job that hint describes, created in dsx_cron,
#     settles that database in the same minute.
# Waits for the next minute boundary: takes up to ~90 s. Needs PGHOST, PGPORT (and PGBIN);
# prints TAP and exits non-zero on any failure.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tap.bash"
CRONDB=${DSX_CRON_DB:-dsx_cron}
DB=dsx_t_cron_$$
had_cron=$(q "$CRONDB" -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'") || { echo "not ok 1 - connect to $CRONDB"; exit 1; }
had_dsx=$(q "$CRONDB" -c "SELECT count(*) FROM pg_extension WHERE extname = 'dsx'")
cleanup() {
  q "$CRONDB" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname IN ('dsx-settlements', 'dsx-settlements-$DB')" >/dev/null 2>&1
  if [ "$had_dsx" = 0 ]; then q "$CRONDB" -c "DROP EXTENSION IF EXISTS dsx CASCADE" >/dev/null 2>&1; fi
  if [ "$had_cron" = 0 ]; then q "$CRONDB" -c "DROP EXTENSION IF EXISTS pg_cron" >/dev/null 2>&1; fi
  q postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

# The same small scenario in both databases: two agreements whose periods since August are due.
scenario="
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dsx;
INSERT INTO dsx.parties VALUES ('cron_vendor', 'vendor', 'Vendor'), ('cron_bank', 'lender', 'Bank'),
  ('cron_p1', 'partner', 'P1'), ('cron_p2', 'partner', 'P2');
INSERT INTO dsx.factories VALUES ('cron_f1', 'cron_p1', 'USD', 'x', 8, 1), ('cron_f2', 'cron_p2', 'JPY', 'x', 8, 1);
INSERT INTO dsx.price_plans VALUES ('cron_std', 'm1', '3', '15');
INSERT INTO dsx.customer_plans SELECT 'cron_c' || c, f, 'cron_std' FROM generate_series(1, 3) c, unnest(ARRAY['cron_f1', 'cron_f2']) f;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts) VALUES
  ('cron_a1', 'cron_p1', 'cron_vendor', 'cron_f1', 'vendor=30%, partner=70%', '2026-08-01'),
  ('cron_a2', 'cron_p2', 'cron_vendor', 'cron_f2', 'vendor=25%, partner=75%', '2026-08-01');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due) VALUES
  ('cron_fac1', 'cron_a1', 'cron_bank', 30000, 0.1, 12, '2026-08-31');
INSERT INTO dsx.usage_inbox
SELECT 'e' || i || '-' || c, timestamptz '2026-08-01 00:00Z' + i * interval '6 hours', f, 'cron_c' || c, 'm1',
       (i * 7919 + c * 104729) % 9000000, (i * 104729) % 900000
  FROM generate_series(0, 360) i, generate_series(1, 3) c, unnest(ARRAY['cron_f1', 'cron_f2']) f;
SELECT count(*) FROM dsx.ingest();"
due_sql="SELECT count(*) FROM dsx.agreements a,
          LATERAL generate_series(a.starts, now() - a.settle_lag - interval '1 month', interval '1 month') p
          WHERE a.agreement LIKE 'cron_%'"

q "$CRONDB" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null || { echo "not ok 1 - CREATE EXTENSION pg_cron in $CRONDB"; exit 1; }
q "$CRONDB" -c "$scenario" >/dev/null || { echo "not ok 1 - scenario in $CRONDB"; exit 1; }
q postgres -c "CREATE DATABASE $DB" || exit 1
q "$DB" -c "$scenario" >/dev/null || { echo "not ok 1 - scenario in $DB"; exit 1; }
due=$(q "$CRONDB" -c "$due_sql")
is "$([ "$due" -ge 4 ] && echo yes)" yes "the scenario has due periods ($due)"

# 2a. Without pg_cron in the database, scheduling explains what to do instead.
msg=$(q "$DB" -v VERBOSITY=verbose -c "SELECT dsx.schedule_settlements('* * * * *')" 2>&1)
hint=$(grep -o "run: SELECT cron.schedule_in_database(.*);" <<<"$msg" | sed 's/^run: //')
is "$(grep -c 'pg_cron is not installed in database' <<<"$msg")" 1 "dsx.schedule_settlements without pg_cron: error says pg_cron is not installed here"
is "$(grep -c "cron.schedule_in_database('dsx-settlements-$DB', '\* \* \* \* \*', 'SELECT dsx.run_due_settlements()', '$DB')" <<<"$msg")" 1 \
   "and its hint gives the cron.schedule_in_database call for this database"
msg=$(q "$DB" -c "SELECT dsx.unschedule_settlements()" 2>&1)
is "$(grep -c 'pg_cron is not installed in database' <<<"$msg")" 1 "dsx.unschedule_settlements without pg_cron: the same error"

# 1. Schedule in the pg_cron database; 2b. and the other database through schedule_in_database.
job=$(q "$CRONDB" -c "SELECT dsx.schedule_settlements()")
is "$(q "$CRONDB" -c "SELECT schedule || ' | ' || command || ' | ' || database FROM cron.job WHERE jobid = ${job:-0}")" \
   "15 0 * * * | SELECT dsx.run_due_settlements() | $CRONDB" "dsx.schedule_settlements() registers dsx.run_due_settlements() with pg_cron, daily at 00:15"
job2=$(q "$CRONDB" -c "SELECT dsx.schedule_settlements('* * * * *')")
is "$job2 $(q "$CRONDB" -c "SELECT count(*) || ' ' || min(schedule) FROM cron.job WHERE jobname = 'dsx-settlements'")" "$job 1 * * * * *" \
   "scheduling again replaces the schedule of the same job"
# The hint's call, made as told in the pg_cron database, must schedule this database even
# though the pg_cron database has its own job (pg_cron keys jobs by name and user: a name
# that is taken keeps the job, and its database, that had it). Tried, then rolled back.
n=$(q "$CRONDB" -c "BEGIN" -c "$hint" -c "SELECT count(*) FROM cron.job WHERE database = '$DB'" -c "ROLLBACK" | tail -1)
is "$n" 1 "the hint's cron.schedule_in_database call schedules $DB although $CRONDB has its own dsx-settlements job"
other=$(q "$CRONDB" -c "SELECT cron.schedule_in_database('dsx-settlements-$DB', '* * * * *', 'SELECT dsx.run_due_settlements()', '$DB')")
start=$(q "$CRONDB" -c "SELECT now()")
echo "# waiting for pg_cron to fire at the next minute (now $(date -u +%T))"
for ((i = 0; i < 90; i++)); do
  done1=$(q "$CRONDB" -c "SELECT count(*) FROM cron.job_run_details WHERE jobid IN (${job:-0}, ${other:-0})
                          AND start_time >= '$start' AND status IN ('succeeded', 'failed')")
  [ "$done1" -ge 2 ] && break
  sleep 1
done
runs=$(q "$CRONDB" -c "SELECT string_agg(CASE jobid WHEN ${job:-0} THEN 'here' ELSE 'other' END || ':' || status || ':' || return_message, ' ' ORDER BY jobid)
                       FROM (SELECT DISTINCT ON (jobid) * FROM cron.job_run_details
                              WHERE jobid IN (${job:-0}, ${other:-0}) AND start_time >= '$start' ORDER BY jobid, runid) r")
echo "# runs: $runs ($(date -u +%T))"
is "$(grep -o 'here:[a-z]*' <<<"$runs")" "here:succeeded" "the pg_cron job fired in $CRONDB and succeeded"
is "$(q "$CRONDB" -c "SELECT count(*) FROM dsx.statements WHERE agreement LIKE 'cron_%'")" "$due" "it settled the $due due periods in $CRONDB"
is "$(q "$CRONDB" -c "SELECT bool_and(dsx.verify_settlement(agreement, period_start)) FROM dsx.statements WHERE agreement LIKE 'cron_%'")" t \
   "the statements it wrote verify"
is "$(q "$CRONDB" -c "SELECT count(DISTINCT txn_id) FROM dsx.ledger_entries WHERE agreement LIKE 'cron_%'")" "$due" "one ledger transaction per statement"
is "$(grep -o 'other:[a-z]*' <<<"$runs")" "other:succeeded" "the cron.schedule_in_database job fired in $DB and succeeded"
is "$(q "$DB" -c "SELECT count(*) FROM dsx.statements")" "$due" "it settled the $due due periods of $DB"

is "$(q "$CRONDB" -c "SELECT dsx.unschedule_settlements()")" t "dsx.unschedule_settlements() removes the job"
is "$(q "$CRONDB" -c "SELECT count(*) FROM cron.job WHERE jobname = 'dsx-settlements'")" 0 "no dsx-settlements job is left"
is "$(q "$CRONDB" -c "SELECT dsx.unschedule_settlements()" 2>&1 | tr '\n' ' ')" "NOTICE:  no dsx-settlements job is scheduled f " \
   "unscheduling again changes nothing and says so"

echo "1..$t"
[ "$failed" = 0 ]
