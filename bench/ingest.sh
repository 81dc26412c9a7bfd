#!/usr/bin/env bash
# bench/ingest.sh — metering speed, side by side in one run, on N generated events
# (BENCH_EVENTS, default 5,000,000):
#  (a) COPY into dsx.usage_inbox + dsx.ingest() against plain COPY into a table with the same
#      unique key, on fresh events and on a batch that is half duplicates (ids 'evt-<n>'),
#      then on N/5 fresh events with random ids (md5) into both tables holding the same
#      1.5 N keys: keys that land all over the index, where sorting a batch helps least;
#      each case BENCH_INGEST_RUNS times per side (default 3), the sides alternating, with
#      a CHECKPOINT, a sync and a pause of BENCH_SETTLE_SECS (default 2) before every timed
#      run; each case prints the median and range of each side and the ratio of medians;
#  (b) dsx.usage_agg against count(*), sum(), sum(), min(), max() over the same rows,
#      serial and parallel.
# Needs a cluster with dsx (PG* variables) and BENCH_DIR, a directory the server can write.
set -euo pipefail
N=${BENCH_EVENTS:-5000000}
RUNS=${BENCH_INGEST_RUNS:-3}      # timed runs of each side per ingest case
SETTLE=${BENCH_SETTLE_SECS:-2}   # pause after CHECKPOINT + sync before each timed run
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)
[ "$(id -u)" = 0 ] && PSQL=(runuser -u postgres -- env PGHOST="$PGHOST" PGPORT="$PGPORT" PGDATABASE="$PGDATABASE" "${PGBIN:-/usr/lib/postgresql/15/bin}/psql" -X -q -v ON_ERROR_STOP=1 -At)
sql() { "${PSQL[@]}" -c "$1"; }
# secs SQL: wall-clock seconds of one statement batch, measured by the client.
secs() { local t0 t1; t0=$(date +%s%N); sql "$1" >/dev/null; t1=$(date +%s%N); echo "scale=3; ($t1 - $t0) / 1000000000" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
fresh=$BENCH_DIR/fresh.tsv half=$BENCH_DIR/half.tsv rnd=$BENCH_DIR/random.tsv

sql "
DROP TABLE IF EXISTS bench_plain;
TRUNCATE dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts, dsx.ingest_log, dsx.usage_inbox;
DELETE FROM dsx.factories WHERE factory LIKE 'bench-%';
INSERT INTO dsx.parties VALUES ('bench-partner', 'partner', 'Bench') ON CONFLICT DO NOTHING;
INSERT INTO dsx.factories VALUES ('bench-1', 'bench-partner', 'USD', 'bench', 1000, 1), ('bench-2', 'bench-partner', 'USD', 'bench', 1000, 1);
CREATE TABLE bench_plain (LIKE dsx.usage_inbox INCLUDING DEFAULTS, PRIMARY KEY (factory, event_id));
COPY (SELECT 'evt-' || i, timestamptz '2026-10-01 00:00Z' + i * interval '500 ms', 'bench-' || (1 + i % 2),
             'cust-' || (i % 40), 'model-' || (i % 6), i % 5000, i % 1500
        FROM generate_series(1, $N) i) TO '$fresh';
-- half duplicates: the second half of the fresh events again, then as many new ones
COPY (SELECT 'evt-' || i, timestamptz '2026-10-01 00:00Z' + i * interval '500 ms', 'bench-' || (1 + i % 2),
             'cust-' || (i % 40), 'model-' || (i % 6), i % 5000, i % 1500
        FROM generate_series($N / 2 + 1, $N + $N / 2) i) TO '$half';
COPY (SELECT md5(i::text), timestamptz '2026-11-01 00:00Z' + i * interval '500 ms', 'bench-' || (1 + i % 2),
             'cust-' || (i % 40), 'model-' || (i % 6), i % 5000, i % 1500
        FROM generate_series(1, $N / 5) i) TO '$rnd';
CHECKPOINT;"

# settle: untimed, between every two timed runs: dirty buffers written out (CHECKPOINT), the
# page cache's dirty pages written back (sync), then a pause, so that neither side pays for
# the other's writes.
settle() { sql "CHECKPOINT"; sync; sleep "$SETTLE"; }
# run SIDE CASE RESET SQL: RESET (untimed), settle, then SQL timed; the time is appended
# to the array <SIDE>_<CASE>.
run() {
  local -n times=$1_$2
  [ -z "$3" ] || sql "$3" >/dev/null
  settle
  times+=("$(secs "$4")")
}
# alternate CASE PLAIN_RESET PLAIN_SQL DSX_RESET DSX_SQL: one timed run of each side, plain COPY
# first in odd rounds and dsx first in even ones (so the timed runs alternate throughout).
alternate() {
  if [ $((round % 2)) = 1 ]; then run plain "$1" "$2" "$3"; run dsx "$1" "$4" "$5"
  else run dsx "$1" "$4" "$5"; run plain "$1" "$2" "$3"; fi
}
dsx_load() { echo "COPY dsx.usage_inbox FROM '$1'; SELECT * FROM dsx.ingest();"; }
plain_fresh=() dsx_fresh=() plain_half=() dsx_half=() plain_rnd=() dsx_rnd=()
# Each round rebuilds the states from empty tables, the way the single-run bench did:
#  fresh:  both sides empty;
#  half:   plain COPY of the fresh events into an empty bench_plain (the baseline) against
#          the half-duplicate batch into dsx holding the N fresh events (its fresh run);
#  random: both holding the same 1.5 N keys (dsx: fresh + half batches; bench_plain: the
#          fresh events and, untimed, the half batch's new ones).
for round in $(seq 1 "$RUNS"); do
  alternate fresh "TRUNCATE bench_plain" "COPY bench_plain FROM '$fresh'" \
             "TRUNCATE dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts, dsx.ingest_log, dsx.usage_inbox" "$(dsx_load "$fresh")"
  alternate half  "TRUNCATE bench_plain" "COPY bench_plain FROM '$fresh'" "" "$(dsx_load "$half")"
  sql "INSERT INTO bench_plain SELECT 'evt-' || i, timestamptz '2026-10-01 00:00Z' + i * interval '500 ms', 'bench-' || (1 + i % 2),
              'cust-' || (i % 40), 'model-' || (i % 6), i % 5000, i % 1500 FROM generate_series($N + 1, $N + $N / 2) i"
  alternate rnd   "" "COPY bench_plain FROM '$rnd'" "" "$(dsx_load "$rnd")"
done
counts=$(sql "SELECT string_agg(inserted || '/' || duplicates || '/' || conflicts, ' ' ORDER BY batch_id) FROM dsx.ingest_log")

# stats TIME...: "median min max" (the median of an even count: the mean of the middle two)
stats() {
  printf '%s\n' "$@" | sort -n | awk '{ t[NR] = $1 } END {
    m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
    printf "%.3f %.3f %.3f\n", m, t[1], t[NR] }'
}
# line LABEL ROWS CASE: one line of the table
line() {
  local -n p=plain_$3 d=dsx_$3
  local pm pmin pmax dm dmin dmax
  read -r pm pmin pmax <<<"$(stats "${p[@]}")"
  read -r dm dmin dmax <<<"$(stats "${d[@]}")"
  printf '  %-38s %7.2f s (%6.2f–%6.2f) %5d k/s   %7.2f s (%6.2f–%6.2f) %5d k/s   %5.2f×\n' "$1" \
    "$pm" "$pmin" "$pmax" "$(echo "$2 / $pm / 1000" | bc)" "$dm" "$dmin" "$dmax" "$(echo "$2 / $dm / 1000" | bc)" \
    "$(echo "scale=4; $pm / $dm" | bc)"
}
echo
echo "ingest, $N events: $RUNS timed runs of each side per case, the sides alternating, CHECKPOINT + sync + ${SETTLE} s between runs"
echo "  median (min–max) of each side; ratio = dsx rows/s ÷ plain COPY rows/s = plain median time ÷ dsx median time"
echo "  (plain COPY: into a table with the same unique (factory, event_id); dsx: COPY into dsx.usage_inbox + dsx.ingest())"
printf '  %-38s %-39s   %-39s   %s\n' "case" "plain COPY" "dsx ingest" "ratio"
line "fresh events, $N onto 0" "$N" fresh
line "half duplicates, $N onto $N" "$N" half
line "random ids, $((N / 5)) onto $((N + N / 2))" "$((N / 5))" rnd
echo "  (half: the baseline is plain COPY of the $N fresh events into the empty table)"
runs() { printf ' %.2f' "$@"; }
echo "  runs by round (s): fresh plain$(runs "${plain_fresh[@]}") | dsx$(runs "${dsx_fresh[@]}");" \
     "half plain$(runs "${plain_half[@]}") | dsx$(runs "${dsx_half[@]}");" \
     "random plain$(runs "${plain_rnd[@]}") | dsx$(runs "${dsx_rnd[@]}")"
echo "  (inserted/duplicates/conflicts per batch, last round: $counts)"

sql "ANALYZE dsx.usage_events"
# pair A B: best of 5 of each, run alternately so that both see the same machine load.
pair() {
  local a=999999 b=999999 t
  for _ in 1 2 3 4 5; do
    t=$(secs "$1"); a=$(echo "if ($t < $a) $t else $a" | bc)
    t=$(secs "$2"); b=$(echo "if ($t < $b) $t else $b" | bc)
  done
  echo "$a $b"
}
agg5="SELECT count(*), sum(input_tokens), sum(output_tokens), min(occurred_at), max(occurred_at) FROM dsx.usage_events"
aggu="SELECT dsx.usage_agg(input_tokens, output_tokens, occurred_at) FROM dsx.usage_events"
grp=" GROUP BY factory, customer, model"
rows=$(sql "SELECT count(*) FROM dsx.usage_events")
serial="SET max_parallel_workers_per_gather = 0;"
par="SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET min_parallel_table_scan_size = 0;"
read -r s5 su <<<"$(pair "$serial $agg5" "$serial $aggu")"
read -r p5 pu <<<"$(pair "$par $agg5" "$par $aggu")"
read -r g5 gu <<<"$(pair "$serial SELECT factory, customer, model, ${agg5#SELECT } $grp" "$serial SELECT factory, customer, model, ${aggu#SELECT } $grp")"
same=$(sql "SELECT bool_and(dsx.events(u) = n AND dsx.input_tokens(u) = si AND dsx.output_tokens(u) = so AND dsx.first_at(u) = f AND dsx.last_at(u) = l)
              FROM (SELECT dsx.usage_agg(input_tokens, output_tokens, occurred_at) u, count(*) n, sum(input_tokens) si,
                           sum(output_tokens) so, min(occurred_at) f, max(occurred_at) l FROM dsx.usage_events GROUP BY factory) x")
echo
echo "aggregation over $rows events (best of 5, run alternately; ratio = usage_agg time / five aggregates' time)"
printf '  %-44s %8s s\n' "count, sum, sum, min, max — serial" "$s5"
printf '  %-44s %8s s  ratio %s\n' "dsx.usage_agg — serial" "$su" "$(ratio "$su" "$s5")"
printf '  %-44s %8s s\n' "count, sum, sum, min, max — 2 workers" "$p5"
printf '  %-44s %8s s  ratio %s\n' "dsx.usage_agg — 2 workers" "$pu" "$(ratio "$pu" "$p5")"
printf '  %-44s %8s s\n' "five aggregates — per factory/customer/model" "$g5"
printf '  %-44s %8s s  ratio %s\n' "dsx.usage_agg — per factory/customer/model" "$gu" "$(ratio "$gu" "$g5")"
echo "  results identical: $same"
sql "DROP TABLE bench_plain; TRUNCATE dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts, dsx.ingest_log;"
rm -f "$fresh" "$half" "$rnd"
