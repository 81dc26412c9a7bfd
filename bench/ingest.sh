#!/usr/bin/env bash
# bench/ingest.sh — metering speed, side by side in one run, on N generated events
# (BENCH_EVENTS, default 5,000,000):
#  (a) COPY into dsx.usage_inbox + dsx.ingest() against plain COPY into a table with the same
#      unique key, on fresh events and on a batch that is half duplicates (ids 'evt-<n>'),
#      then on N/5 fresh events with random ids (md5) into both tables holding the same
#      1.5 N keys: keys that land all over the index, where sorting a batch helps least;
#  (b) dsx.usage_agg against count(*), sum(), sum(), min(), max() over the same rows,
#      serial and parallel.
# Needs a cluster with dsx (PG* variables) and BENCH_DIR, a directory the server can write.
set -euo pipefail
N=${BENCH_EVENTS:-5000000}
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

t_plain=$(secs "COPY bench_plain FROM '$fresh'")
t_dsx=$(secs "COPY dsx.usage_inbox FROM '$fresh'; SELECT * FROM dsx.ingest();")
sql "CHECKPOINT"
t_plain2=$(secs "TRUNCATE bench_plain; COPY bench_plain FROM '$fresh'")
t_half=$(secs "COPY dsx.usage_inbox FROM '$half'; SELECT * FROM dsx.ingest();")
# the plain table gets the half batch's new events too (untimed): both hold the same keys
sql "INSERT INTO bench_plain SELECT 'evt-' || i, timestamptz '2026-10-01 00:00Z' + i * interval '500 ms', 'bench-' || (1 + i % 2),
            'cust-' || (i % 40), 'model-' || (i % 6), i % 5000, i % 1500 FROM generate_series($N + 1, $N + $N / 2) i; CHECKPOINT"
t_plain3=$(secs "COPY bench_plain FROM '$rnd'")
t_rnd=$(secs "COPY dsx.usage_inbox FROM '$rnd'; SELECT * FROM dsx.ingest();")
counts=$(sql "SELECT string_agg(inserted || '/' || duplicates || '/' || conflicts, ' ' ORDER BY batch_id) FROM dsx.ingest_log")

echo
echo "ingest, $N events (rows/s; ratio = dsx path / plain COPY into a table with the same unique key)"
printf '  %-44s %8s s  %12s rows/s\n' "plain COPY, unique (factory, event_id)" "$t_plain" "$(echo "$N / $t_plain" | bc)"
printf '  %-44s %8s s  %12s rows/s  ratio %s\n' "COPY inbox + dsx.ingest(), fresh events" "$t_dsx" "$(echo "$N / $t_dsx" | bc)" "$(ratio "$t_plain" "$t_dsx")"
printf '  %-44s %8s s  %12s rows/s  ratio %s\n' "COPY inbox + dsx.ingest(), half duplicates" "$t_half" "$(echo "$N / $t_half" | bc)" "$(ratio "$t_plain2" "$t_half")"
printf '  %-44s %8s s  %12s rows/s\n' "plain COPY, $((N / 5)) random ids, onto $((N + N / 2))" "$t_plain3" "$(echo "$N / 5 / $t_plain3" | bc)"
printf '  %-44s %8s s  %12s rows/s  ratio %s\n' "dsx path, the same, onto $((N + N / 2))" "$t_rnd" "$(echo "$N / 5 / $t_rnd" | bc)" "$(ratio "$t_plain3" "$t_rnd")"
echo "  (inserted/duplicates/conflicts per batch: $counts)"

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
