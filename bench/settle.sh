#!/usr/bin/env bash
# bench/settle.sh — settlement speed, side by side in one run, in a scratch database:
#  (a) settling one month of one agreement whose factory has 1,000,000 events against one
#      whose factory has 10,000,000 (both loaded through dsx.usage_inbox + dsx.ingest(), with
#      the same customers, models and days, so the same number of daily rollup rows):
#      settlement reads the rollups, so the ratio should stay near 1 (target <= 1.2);
#  (b) 1,000 agreements (half with a credit facility, three-party splits) settled by one
#      dsx.run_due_settlements(): statements per second and ledger postings (rows written
#      to dsx.ledger_entries) per second (target >= 10,000);
#  (c) the (b) run against a database created at the oldest released version (the code the
#      current settlement replaced), alternately, five times each: the ratio of medians.
#  (d) 1,000 project-financed agreements (two ranked facilities, operating costs on metered
#      energy, a reserve, a lock-up) settled by one dsx.run_due_settlements(): five runs rolled
#      back (median, target >= 10,000 postings/s), then one committed and verified.
# BENCH_SETTLE_SMALL=1 scales (a) down to 100,000 vs 1,000,000 events for a quick run.
# Needs a cluster with dsx installed (PG* variables); `bash bench/run.sh settle` runs it on a
# throwaway cluster. Takes about 5 minutes at full size on 2 cores.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ "${BENCH_SETTLE_SMALL:-0}" = 1 ]; then SMALL=100000 LARGE=1000000; else SMALL=1000000 LARGE=10000000; fi
AGREEMENTS=${BENCH_SETTLE_AGREEMENTS:-1000}
DB=dsx_bench_settle_$$
RUN=(env)
[ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
q() { local db=$1; shift; "${RUN[@]}" env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="${PGUSER:-postgres}" \
        "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
sql() { q "$DB" -c "$1"; }
# secs SQL: wall-clock seconds of one statement batch, measured by the client.
secs() { local t0 t1; t0=$(date +%s%N); sql "$1" >/dev/null; t1=$(date +%s%N); echo "scale=3; ($t1 - $t0) / 1000000000" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
cleanup() { q postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
q postgres -c "CREATE DATABASE $DB"

sql "
SET client_min_messages = warning;
CREATE EXTENSION dsx;
INSERT INTO dsx.parties VALUES ('b_vendor', 'vendor', 'Vendor'), ('b_bank', 'lender', 'Bank'), ('b_fund', 'partner', 'Fund');
INSERT INTO dsx.parties SELECT 'b_p' || k, 'partner', 'Partner ' || k FROM generate_series(1, 50) k;
INSERT INTO dsx.price_plans SELECT 'b_std', 'model-' || m, '2.5', 'graduated: 0: 10, 1000000000000: 8.5' FROM generate_series(0, 5) m;
-- time the settlement of one period, best of n, each rolled back (in a subtransaction)
CREATE FUNCTION bench_settle_secs(agreement text, period_start date, n int) RETURNS numeric
LANGUAGE plpgsql AS \$\$
DECLARE
    best numeric := 1e9;
    t0   timestamptz;
    t    numeric;
BEGIN
    FOR i IN 1..n LOOP
        BEGIN
            t0 := clock_timestamp();
            IF NOT dsx.settle(agreement, period_start) THEN RAISE EXCEPTION 'not settled'; END IF;
            t := extract(epoch FROM clock_timestamp() - t0);
            RAISE EXCEPTION 'roll back' USING ERRCODE = 'BS001';
        EXCEPTION WHEN SQLSTATE 'BS001' THEN
            best := LEAST(best, t);
        END;
    END LOOP;
    RETURN round(best, 4);
END
\$\$;"

# (a) one month of one agreement, N events vs 10 N: the same 120 customer-model pairs x 31 days each.
load() {  # load FACTORY EVENTS: generate the factory's October events into the inbox and ingest
  sql "
INSERT INTO dsx.factories VALUES ('$1', 'b_p${1#b_f}', 'USD', 'bench', 1000, 1);
INSERT INTO dsx.customer_plans SELECT 'cust-' || c, '$1', 'b_std' FROM generate_series(0, 39) c;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts)
VALUES ('b_a${1#b_f}', 'b_p${1#b_f}', 'b_vendor', '$1', 'vendor=30%, partner=60%, b_fund=10%; from 1000000: vendor=20%, partner=70%, b_fund=10%', '2026-10-01');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('b_fac${1#b_f}', 'b_a${1#b_f}', 'b_bank', 5000000, 0.08, 36, '2026-10-31');
INSERT INTO dsx.usage_inbox
SELECT 'evt-' || i, timestamptz '2026-10-01 00:00Z' + (i::numeric * 2678400 / $2) * interval '1 second', '$1',
       'cust-' || (i % 40), 'model-' || (i % 6), 1000 + i % 5000, 200 + i % 1500
  FROM generate_series(0, $2 - 1) i;
SELECT * FROM dsx.ingest();" >/dev/null
}
t0=$(date +%s%N); load b_f1 "$SMALL"; t_load_s=$(echo "scale=1; ($(date +%s%N) - $t0) / 1000000000" | bc)
t0=$(date +%s%N); load b_f2 "$LARGE"; t_load_l=$(echo "scale=1; ($(date +%s%N) - $t0) / 1000000000" | bc)
# every table vacuumed (the inbox too, which ingest emptied) and a checkpoint, so that no
# autovacuum or checkpoint of the loads runs while settlement is timed
q "$DB" -c "VACUUM ANALYZE" -c "CHECKPOINT"
rollups=$(sql "SELECT string_agg(n::text, ' / ' ORDER BY factory) FROM (SELECT factory, count(*) n FROM dsx.usage_daily GROUP BY 1) x")
events=$(sql "SELECT string_agg(n::text, ' / ' ORDER BY factory) FROM (SELECT factory, count(*) n FROM dsx.usage_events GROUP BY 1) x")
# best of 20 each, taken in four alternating rounds of five, so that both sizes see the same
# spells of this machine's speed
b_s=1000 b_l=1000
for i in 1 2 3 4; do
  b_s=$(echo "x = $(sql "SELECT bench_settle_secs('b_a1', '2026-10-01', 5)"); if (x < $b_s) x else $b_s" | bc)
  b_l=$(echo "x = $(sql "SELECT bench_settle_secs('b_a2', '2026-10-01', 5)"); if (x < $b_l) x else $b_l" | bc)
done
c_s=$(secs "SELECT dsx.settle('b_a1', '2026-10-01')")
c_l=$(secs "SELECT dsx.settle('b_a2', '2026-10-01')")
ok=$(sql "SELECT bool_and(dsx.verify_settlement(agreement, period_start)) FROM dsx.statements")
r=$(ratio "$b_l" "$b_s")

echo
echo "settlement of one month vs events in it (events $events, daily rollup rows $rollups)"
printf '  %-52s %8s s\n' "load $SMALL events (inbox + dsx.ingest())" "$t_load_s"
printf '  %-52s %8s s\n' "load $LARGE events (inbox + dsx.ingest())" "$t_load_l"
printf '  %-52s %8s s\n' "dsx.settle, $SMALL events, best of 20" "$b_s"
printf '  %-52s %8s s  ratio %s (target <= 1.2: %s)\n' "dsx.settle, $LARGE events, best of 20" "$b_l" "$r" \
  "$([ "$(echo "$r <= 1.2" | bc)" = 1 ] && echo met || echo MISSED)"
printf '  %-52s %8s s / %s s  verified: %s\n' "committed settlements (small / large), client-timed" "$c_s" "$c_l" "$ok"

# (b) one run settles AGREEMENTS agreements: 8 customers x 2 models x 31 days of usage each.
# the (b) scenario, for any database that has the parties and plans above
read -r -d '' SCENARIO_B <<SQL || true
INSERT INTO dsx.factories SELECT 'b_g' || k, 'b_p' || (1 + k % 50), 'USD', 'bench', 100, 1 FROM generate_series(1, $AGREEMENTS) k;
INSERT INTO dsx.customer_plans SELECT 'cust-' || c, 'b_g' || k, 'b_std' FROM generate_series(1, $AGREEMENTS) k, generate_series(0, 7) c;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts)
SELECT 'b_g' || k, 'b_p' || (1 + k % 50), 'b_vendor', 'b_g' || k,
       'vendor=30%, partner=60%, b_fund=10%; from 10000: vendor=20%, partner=70%, b_fund=10%', '2026-10-01'
  FROM generate_series(1, $AGREEMENTS) k;
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
SELECT 'b_gfac' || k, 'b_g' || k, 'b_bank', 20000 + k * 100, 0.07, 24, '2026-10-15'
  FROM generate_series(1, $AGREEMENTS) k WHERE k % 2 = 0;
INSERT INTO dsx.usage_inbox
SELECT 'g-' || k || '-' || c || '-' || m || '-' || d, timestamptz '2026-10-01 06:00Z' + d * interval '1 day', 'b_g' || k,
       'cust-' || c, 'model-' || m, 1000000 + k * 1000 + d, 100000 + c * 10
  FROM generate_series(1, $AGREEMENTS) k, generate_series(0, 7) c, generate_series(0, 1) m, generate_series(0, 30) d;
SELECT * FROM dsx.ingest();
SQL
sql "$SCENARIO_B" >/dev/null
q "$DB" -c "VACUUM ANALYZE" -c "CHECKPOINT"
t_run=$(secs "SELECT dsx.run_due_settlements()")
read -r n_st n_le n_ln <<<"$(sql "SELECT count(*), (SELECT count(*) FROM dsx.ledger_entries WHERE agreement LIKE 'b_g%'),
                                          (SELECT count(*) FROM dsx.statement_lines WHERE agreement LIKE 'b_g%')
                                   FROM dsx.statements WHERE agreement LIKE 'b_g%'" | tr '|' ' ')"
pps=$(echo "$n_le / $t_run" | bc)
echo
echo "one dsx.run_due_settlements() over $AGREEMENTS agreements (one month each)"
printf '  %-52s %8s s\n' "run ($n_st statements, $n_ln lines, $n_le ledger postings)" "$t_run"
printf '  %-52s %8s /s\n' "statements" "$(echo "$n_st / $t_run" | bc)"
printf '  %-52s %8s /s  (target >= 10000: %s)\n' "ledger postings" "$pps" "$([ "$pps" -ge 10000 ] && echo met || echo MISSED)"

# (d) the project-finance run: AGREEMENTS more agreements, each with a senior supported and a
# mezzanine unsupported facility, a fixed and a power cost (energy metered every day), a
# three-month reserve and a lock-up. (The energy is inserted by the owner in one statement:
# the bench measures settlement, not dsx.load_energy's per-day calls.)
read -r -d '' SCENARIO_D <<SQL || true
INSERT INTO dsx.factories SELECT 'b_h' || k, 'b_p' || (1 + k % 50), 'USD', 'bench', 100, 1 FROM generate_series(1, $AGREEMENTS) k;
INSERT INTO dsx.customer_plans SELECT 'cust-' || c, 'b_h' || k, 'b_std' FROM generate_series(1, $AGREEMENTS) k, generate_series(0, 7) c;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, dsra_months, lockup_dscr)
SELECT 'b_h' || k, 'b_p' || (1 + k % 50), 'b_vendor', 'b_h' || k,
       'vendor=30%, partner=60%, b_fund=10%; from 10000: vendor=20%, partner=70%, b_fund=10%', '2026-10-01', 3, 1.2
  FROM generate_series(1, $AGREEMENTS) k;
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, rank, supported)
SELECT 'b_hs' || k, 'b_h' || k, 'b_bank', 20000 + k * 100, 0.07, 24, date '2026-10-15', 1, true FROM generate_series(1, $AGREEMENTS) k
UNION ALL
SELECT 'b_hm' || k, 'b_h' || k, 'b_bank', 5000 + k * 10, 0.12, 24, date '2026-10-15', 2, false FROM generate_series(1, $AGREEMENTS) k;
INSERT INTO dsx.operating_costs (agreement, cost, kind, amount)
SELECT 'b_h' || k, 'site', 'fixed', 500 FROM generate_series(1, $AGREEMENTS) k
UNION ALL
SELECT 'b_h' || k, 'power', 'power', 85.5 FROM generate_series(1, $AGREEMENTS) k;
INSERT INTO dsx.energy_readings (factory, day, mwh)
SELECT 'b_h' || k, d::date, 2.4 + (k % 7) * 0.013 FROM generate_series(1, $AGREEMENTS) k,
       generate_series(date '2026-10-01', date '2026-11-30', interval '1 day') d;
INSERT INTO dsx.usage_inbox
SELECT 'h-' || k || '-' || c || '-' || m || '-' || d, timestamptz '2026-10-01 06:00Z' + d * interval '1 day', 'b_h' || k,
       'cust-' || c, 'model-' || m, 1000000 + k * 1000 + d, 100000 + c * 10
  FROM generate_series(1, $AGREEMENTS) k, generate_series(0, 7) c, generate_series(0, 1) m, generate_series(0, 30) d;
SELECT * FROM dsx.ingest();
SQL
sql "$SCENARIO_D" >/dev/null
q "$DB" -c "VACUUM ANALYZE" -c "CHECKPOINT"
# A single run on this machine moves by a third from one minute to the next, so the run is
# timed five times, each rolled back after the deferred foreign-key checks have run (SET
# CONSTRAINTS ALL IMMEDIATE: all the work of a commit but its WAL flush); the target is
# judged on the median. Then one committed run, whose books are verified.
d_t=()
for i in 1 2 3 4 5; do
  d_t+=("$(secs "BEGIN; SELECT dsx.run_due_settlements(); SET CONSTRAINTS ALL IMMEDIATE; ROLLBACK;")")
done
m_d=$(printf '%s\n' "${d_t[@]}" | sort -n | sed -n 3p)
t_run_d=$(secs "SELECT dsx.run_due_settlements()")
read -r d_st d_le d_ok <<<"$(sql "SELECT count(*), (SELECT count(*) FROM dsx.ledger_entries WHERE agreement LIKE 'b_h%'),
                                          bool_and(dsx.verify_settlement(agreement, period_start)) FILTER (WHERE agreement IN ('b_h1', 'b_h2'))
                                   FROM dsx.statements WHERE agreement LIKE 'b_h%'" | tr '|' ' ')"
pps_d=$(echo "$d_le / $m_d" | bc)
echo
echo "one dsx.run_due_settlements() over $AGREEMENTS project-financed agreements (two facilities, costs, reserve, lock-up)"
printf '  %-52s %8s s  (runs %s)\n' "run, median of five, each rolled back" "$m_d" "${d_t[*]}"
printf '  %-52s %8s s  verified: %s\n' "committed run ($d_st statements, $d_le ledger postings)" "$t_run_d" "$d_ok"
printf '  %-52s %8s /s  (target >= 10000: %s)\n' "ledger postings (median run)" "$pps_d" "$([ "$pps_d" -ge 10000 ] && echo met || echo MISSED)"
printf '  %-52s %8s /s\n' "ledger postings (committed run)" "$(echo "$d_le / $t_run_d" | bc)"

# (c) the same run against the code it replaced, in the same run: two more databases with
# the (b) scenario, one at the default version and one created at the oldest released
# version, settled alternately five times each (each run rolled back); the ratio of the
# medians is what the current code costs against the old.
oldest=$(cd "$("$PGBIN/pg_config" --sharedir)/extension" && ls dsx--*.sql | sed -n 's/^dsx--\([^-]*\)\.sql$/\1/p' | sort -V | head -n1)
setup_c() {  # setup_c DB VERSION
  q postgres -c "CREATE DATABASE $1" >/dev/null
  q "$1" -c "SET client_min_messages = warning" -c "CREATE EXTENSION dsx VERSION '$2'" -c "
INSERT INTO dsx.parties VALUES ('b_vendor', 'vendor', 'Vendor'), ('b_bank', 'lender', 'Bank'), ('b_fund', 'partner', 'Fund');
INSERT INTO dsx.parties SELECT 'b_p' || k, 'partner', 'Partner ' || k FROM generate_series(1, 50) k;
INSERT INTO dsx.price_plans SELECT 'b_std', 'model-' || m, '2.5', 'graduated: 0: 10, 1000000000000: 8.5' FROM generate_series(0, 5) m;" \
    -c "$SCENARIO_B" -c "VACUUM ANALYZE" >/dev/null
}
DB_NEW=${DB}_new DB_OLD=${DB}_old
trap 'cleanup; q postgres -c "DROP DATABASE IF EXISTS $DB_NEW WITH (FORCE)" -c "DROP DATABASE IF EXISTS $DB_OLD WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
setup_c "$DB_NEW" "$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$("$PGBIN/pg_config" --sharedir)/extension/dsx.control")"
setup_c "$DB_OLD" "$oldest"
q postgres -c "CHECKPOINT" >/dev/null
run_c() {  # run_c DB: seconds of one run_due_settlements(), rolled back
  local t0 t1; t0=$(date +%s%N)
  q "$1" -c "BEGIN; SELECT dsx.run_due_settlements(); ROLLBACK;" >/dev/null
  t1=$(date +%s%N); echo "scale=3; ($t1 - $t0) / 1000000000" | bc
}
new_t=() old_t=()
for i in 1 2 3 4 5; do new_t+=("$(run_c "$DB_NEW")"); old_t+=("$(run_c "$DB_OLD")"); done
median() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
m_new=$(median "${new_t[@]}") m_old=$(median "${old_t[@]}")
echo
echo "the same run against the code it replaced (dsx $oldest), alternately, five times each, rolled back"
printf '  %-52s %8s s  (runs %s)\n' "current version" "$m_new" "${new_t[*]}"
printf '  %-52s %8s s  (runs %s)\n' "dsx $oldest" "$m_old" "${old_t[*]}"
printf '  %-52s %8s\n' "ratio current / $oldest (median)" "$(ratio "$m_new" "$m_old")"
