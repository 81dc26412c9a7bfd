#!/usr/bin/env bash
# bench/citus.sh — dsx on Citus against dsx on one node, measured in the same run on the
# same machine: a throwaway Citus cluster (a coordinator and two workers on loopback, under
# ./.dsx/bench-citus-*) holds both a Citus database (dsx.distribute()) and a plain one (no
# Citus: one node, with dsx's C bulk step). Two measures, each timed BENCH_CITUS_RUNS times
# per side (default 3), the sides alternating with a CHECKPOINT on every node and a pause
# before every run; median and range of each side, and the ratio of medians:
#  (a) ingest: COPY of BENCH_CITUS_EVENTS events (default 2,000,000, of 32 factories) from a
#      file into dsx.usage_inbox, then dsx.ingest(), into empty usage tables: rows per
#      second (target: Citus >= 1.2x one node, on two cores);
#  (b) dsx.run_due_settlements() over BENCH_CITUS_AGREEMENTS agreements (default 1,000;
#      two months each, half with a credit facility), rolled back after each run; the
#      statements, lines, shares and ledger of one committed run are compared (identical).
# BENCH_CITUS_SHARDS sets the shards a distributed table gets (default 32, Citus's own).
# Says "skipped" where Citus is not installed. `bash bench/run.sh citus` runs it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
if ! citus_installed; then echo "citus: skipped: Citus not installed"; exit 0; fi
EVENTS=${BENCH_CITUS_EVENTS:-2000000}
AGREEMENTS=${BENCH_CITUS_AGREEMENTS:-1000}
RUNS=${BENCH_CITUS_RUNS:-3}
PAUSE=${BENCH_SETTLE_SECS:-2}
files=$DSX_ROOT/.dsx/bench-files
mkdir -p "$files"; [ "$(id -u)" = 0 ] && chown postgres: "$files"
citus_start bench-citus "${DSX_BENCH_CITUS_PORT:-54350}" dsx_citus 2>/dev/null
trap citus_stop EXIT
q() { local db=$1; shift; pg psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
checkpoint() {  # on every node
  local d
  for d in "${CITUS_DATA[@]}"; do
    as_pg env PGHOST="$(sed -n "s/^unix_socket_directories = '\(.*\)'/\1/p" "$d/postgresql.conf" | tail -n1)" \
      PGPORT="$(sed -n 's/^port = //p' "$d/postgresql.conf" | tail -n1)" "$PGBIN/psql" -X -q -d dsx_citus -c CHECKPOINT
  done
  sync; sleep "$PAUSE"
}
secs() { local db=$1 t0 t1; shift; t0=$(date +%s%N); q "$db" "$@" >/dev/null; t1=$(date +%s%N); echo "scale=3; ($t1 - $t0) / 1000000000" | bc; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
range() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%s-%s", lo, hi}'; }

q postgres -c "CREATE DATABASE dsx_one" >/dev/null 2>&1
q dsx_citus -c "SET client_min_messages = warning" -c "CREATE EXTENSION dsx" \
  -c "SET citus.shard_count = ${BENCH_CITUS_SHARDS:-32}" -c "SELECT count(*) FROM dsx.distribute()" >/dev/null
q dsx_one -c "SET client_min_messages = warning" -c "CREATE EXTENSION dsx" >/dev/null
config="
SET client_min_messages = warning;
INSERT INTO dsx.parties VALUES ('b_vendor', 'vendor', 'Vendor'), ('b_bank', 'lender', 'Bank'), ('b_fund', 'partner', 'Fund');
INSERT INTO dsx.parties SELECT 'b_p' || k, 'partner', 'Partner ' || k FROM generate_series(1, 50) k;
INSERT INTO dsx.price_plans SELECT 'b_std', 'model-' || m, '2.5', 'graduated: 0: 10, 1000000000000: 8.5' FROM generate_series(0, 5) m;
INSERT INTO dsx.factories SELECT 'b_g' || k, 'b_p' || (1 + k % 50), 'USD', 'bench', 100, 1 FROM generate_series(1, $AGREEMENTS) k;
INSERT INTO dsx.customer_plans SELECT 'cust-' || c, 'b_g' || k, 'b_std' FROM generate_series(1, $AGREEMENTS) k, generate_series(0, 7) c;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts)
SELECT 'b_g' || k, 'b_p' || (1 + k % 50), 'b_vendor', 'b_g' || k,
       'vendor=30%, partner=60%, b_fund=10%; from 10000: vendor=20%, partner=70%, b_fund=10%', '2026-10-01'
  FROM generate_series(1, $AGREEMENTS) k;
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
SELECT 'b_gfac' || k, 'b_g' || k, 'b_bank', 20000 + k * 100, 0.07, 24, '2026-10-15'
  FROM generate_series(1, $AGREEMENTS) k WHERE k % 2 = 0;"
q dsx_citus -c "$config" >/dev/null
q dsx_one -c "$config" >/dev/null

# (a) ingest. The events: 32 factories of the configuration, in time order, from one file.
csv=$files/citus-events.csv
q dsx_one -c "COPY (SELECT 'e-' || i, timestamptz '2026-09-01 00:00Z' + (i::numeric * 2592000 / $EVENTS) * interval '1 second',
                           'b_g' || (1 + i % 32), 'cust-' || (i % 8), 'model-' || (i % 6), 1000 + i % 5000, 200 + i % 1500
                      FROM generate_series(0, $EVENTS - 1) i) TO '$csv' (FORMAT csv)"
empty="SET client_min_messages = warning; TRUNCATE dsx.usage_inbox, dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts"
ingest="COPY dsx.usage_inbox FROM '$csv' (FORMAT csv); SELECT * FROM dsx.ingest();"
one=() cit=()
for ((i = 1; i <= RUNS; i++)); do
  for side in one citus; do
    db=dsx_one; [ "$side" = citus ] && db=dsx_citus
    q "$db" -c "$empty" >/dev/null; checkpoint
    t=$(secs "$db" -c "$ingest")
    if [ "$side" = one ]; then one+=("$t"); else cit+=("$t"); fi
  done
done
same=$(q dsx_one -c "SELECT count(*) || ' ' || sum(input_tokens) FROM dsx.usage_events")
same_c=$(q dsx_citus -c "SELECT count(*) || ' ' || sum(input_tokens) FROM dsx.usage_events")
m1=$(median "${one[@]}") mc=$(median "${cit[@]}")
echo
echo "ingest of $EVENTS events (COPY into dsx.usage_inbox + dsx.ingest()), $RUNS runs a side, alternating, CHECKPOINT + pause between"
printf '  %-34s %8s s (%s)  %8s rows/s\n' "dsx on one node" "$m1" "$(range "${one[@]}")" "$(echo "$EVENTS / $m1" | bc)"
printf '  %-34s %8s s (%s)  %8s rows/s\n' "dsx on Citus, 2 workers" "$mc" "$(range "${cit[@]}")" "$(echo "$EVENTS / $mc" | bc)"
r=$(echo "scale=2; $m1 / $mc" | bc)
printf '  %-34s %8sx  (target >= 1.2: %s)  events stored: %s\n' "Citus rows/s / one node rows/s" "$r" \
  "$([ "$(echo "$r >= 1.2" | bc)" = 1 ] && echo met || echo MISSED)" "$([ "$same" = "$same_c" ] && echo "same ($same)" || echo "DIFFER ($same / $same_c)")"

# (b) settlement: two months of daily usage for every agreement
usage="
INSERT INTO dsx.usage_inbox
SELECT 'g-' || k || '-' || c || '-' || m || '-' || d, timestamptz '2026-10-01 06:00Z' + d * interval '1 day', 'b_g' || k,
       'cust-' || c, 'model-' || m, 1000000 + k * 1000 + d, 100000 + c * 10
  FROM generate_series(1, $AGREEMENTS) k, generate_series(0, 7) c, generate_series(0, 1) m, generate_series(0, 60) d;
SELECT * FROM dsx.ingest();"
for db in dsx_one dsx_citus; do
  # (on Citus, a TRUNCATE of the rollup and a read of the factories may not share a transaction)
  q "$db" -c "$empty" >/dev/null; q "$db" -c "$usage" >/dev/null; q "$db" -c "VACUUM ANALYZE" >/dev/null
done
one=() cit=()
for ((i = 1; i <= RUNS; i++)); do
  for side in one citus; do
    db=dsx_one; [ "$side" = citus ] && db=dsx_citus
    checkpoint
    t=$(secs "$db" -c "BEGIN; SELECT dsx.run_due_settlements(); ROLLBACK;")
    if [ "$side" = one ]; then one+=("$t"); else cit+=("$t"); fi
  done
done
q dsx_one -c "SELECT dsx.run_due_settlements()" >/dev/null
q dsx_citus -c "SELECT dsx.run_due_settlements()" >/dev/null
books="SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
         SELECT format('%s', (s.agreement, s.period_start, s.revenue, s.adjustments, s.gross, s.debt_service_paid, s.support_drawn,
                              s.support_balance, s.distributable, s.vendor_share, s.partner_share)) x FROM dsx.statements s
         UNION ALL SELECT format('%s', l) FROM dsx.statement_lines l
         UNION ALL SELECT format('%s', h) FROM dsx.statement_shares h
         UNION ALL SELECT format('%s', (e.txn_id, e.entry_no, e.agreement, e.period_start, e.account, e.amount, e.currency))
                     FROM dsx.ledger_entries e) b"
n=$(q dsx_one -c "SELECT count(*) || ' statements, ' || (SELECT count(*) FROM dsx.ledger_entries) || ' ledger postings' FROM dsx.statements")
m1=$(median "${one[@]}") mc=$(median "${cit[@]}")
echo
echo "dsx.run_due_settlements() over $AGREEMENTS agreements ($n), $RUNS runs a side, alternating, each rolled back"
printf '  %-34s %8s s (%s)\n' "dsx on one node" "$m1" "$(range "${one[@]}")"
printf '  %-34s %8s s (%s)\n' "dsx on Citus, 2 workers" "$mc" "$(range "${cit[@]}")"
printf '  %-34s %8sx  books: %s\n' "Citus time / one node time" "$(echo "scale=2; $mc / $m1" | bc)" \
  "$([ "$(q dsx_one -c "$books")" = "$(q dsx_citus -c "$books")" ] && echo identical || echo DIFFER)"
rm -f "$csv"
