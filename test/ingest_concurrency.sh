#!/usr/bin/env bash
# test/ingest_concurrency.sh — loaders that load and ingest in one transaction, several at
# once, next to a loader that commits its load and an ingest of its own: every transaction
# succeeds (no deadlock), every row is accounted for once, the inbox ends empty and the
# daily rollup equals the stored events. Prints TAP; exits non-zero on a failure.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/tap.bash"
DB=dsx_t_ingest_$$
tmp=$(mktemp -d); chmod 777 "$tmp"
cleanup() { q postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT

q postgres -c "CREATE DATABASE $DB" >/dev/null || { echo "not ok 1 - create $DB"; exit 1; }
q "$DB" -c "CREATE EXTENSION dsx" \
        -c "INSERT INTO dsx.parties VALUES ('p', 'partner', 'P')" \
        -c "INSERT INTO dsx.factories VALUES ('f', 'p', 'USD', 'x', 1, 1)" >/dev/null

# rows of session s: 1,000 of its own ids and 200 ids every session sends with the same payload
rows() {
  echo "INSERT INTO dsx.usage_inbox SELECT 's$1-' || i, timestamptz '2026-10-01' + i * interval '1 minute',
               'f', 'c' || (i % 3), 'm', i, 1 FROM generate_series(1, 1000) i;
        INSERT INTO dsx.usage_inbox SELECT 'shared-' || i, timestamptz '2026-10-02' + i * interval '1 minute',
               'f', 'c0', 'm', i, 2 FROM generate_series(1, 200) i;"
}
for s in 1 2 3 4; do
  bg "s$s" ingest "BEGIN; $(rows "$s") SELECT pg_sleep(1); SELECT inserted + duplicates + conflicts FROM dsx.ingest(); COMMIT;"
done
# a loader that commits its load, and an ingest in a transaction of its own, meanwhile
bg s5 load "$(rows 5)"
sleep 0.5
bg ingest ingest "SELECT pg_sleep(0.8); SELECT inserted + duplicates + conflicts FROM dsx.ingest();"
wait

rcs=$(cat "$tmp"/s1.rc "$tmp"/s2.rc "$tmp"/s3.rc "$tmp"/s4.rc "$tmp"/s5.rc "$tmp"/ingest.rc | tr -d '\n')
is "$rcs" "000000" "four load-and-ingest transactions, a load and an ingest, all at once: all succeed"
grep -l -i "deadlock\|ERROR" "$tmp"/*.out >/dev/null 2>&1 && sed 's/^/# /' "$tmp"/*.out | head -10
# whatever the ingest of its own did not take, a last ingest takes
q "$DB" -c "SELECT * FROM dsx.ingest()" >/dev/null
is "$(q "$DB" -c "SELECT count(*) FROM dsx.usage_inbox")" 0 "the inbox is empty"
is "$(q "$DB" -c "SELECT count(*) FROM dsx.usage_events")" $((5 * 1000 + 200)) "every distinct event is stored once"
is "$(q "$DB" -c "SELECT sum(inserted) || ' ' || sum(duplicates) || ' ' || sum(conflicts) FROM dsx.ingest_log")" \
   "5200 800 0" "the batches account for every row offered: 5,200 stored, 800 duplicates, no conflict"
is "$(q "$DB" -c "SELECT count(*) FROM (SELECT factory, customer, model, (occurred_at AT TIME ZONE 'UTC')::date AS day,
                                              dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u
                                         FROM dsx.usage_events GROUP BY 1, 2, 3, 4) e
                         FULL JOIN dsx.usage_daily d USING (factory, customer, model, day)
                        WHERE e.u IS NULL OR d.usage IS NULL OR NOT e.u OPERATOR(dsx.=) d.usage")" 0 \
   "the daily rollup equals the stored events"
echo "1..$t"
[ "$failed" = 0 ]
