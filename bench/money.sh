#!/usr/bin/env bash
# bench/money.sh — dsx's C money paths against their baselines, measured in the same run:
#   allocation  dsx.allocate (C)        vs the same largest-remainder rule in PL/pgSQL
#   rating      dsx.rate (C, int128)    vs the numeric SQL expression round(tokens * price / 10^6 + ..., 2)
# over BENCH_ROWS rows (default 1,000,000). Each side runs BENCH_REPEAT times (default 3;
# the PL/pgSQL baseline once) and the best time counts. The timed queries return the row
# count and the sum; afterwards every allocation is compared party by party, untimed, and
# the rating sums must be equal. JIT is off by default (BENCH_JIT=on to keep it): its
# compile time is a fixed cost per query, not per row. One core per query (no parallel
# workers), and no Memoize: repeated (amount, split) pairs would otherwise be answered from
# a cache for some rows, which measures the cache, not the allocation. Runs against the cluster the PG* environment names, in a scratch database it
# creates and drops (BENCH_DB, default dsx_bench_money); dsx must be installed there.
set -euo pipefail

ROWS=${BENCH_ROWS:-1000000}
REPEAT=${BENCH_REPEAT:-3}
JIT=${BENCH_JIT:-off}
DB=${BENCH_DB:-dsx_bench_money}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -P pager=off)

"${PSQL[@]}" -d "${PGDATABASE:-postgres}" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
trap '"${PSQL[@]}" -d "${PGDATABASE:-postgres}" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true' EXIT

"${PSQL[@]}" -d "$DB" -v rows="$ROWS" -v repeat="$REPEAT" -v jit="$JIT" <<'SQL'
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;   -- one core each, like for like
SET jit = :jit;
SET enable_memoize = off;                  -- every row calls the function: no result cache
SET bench.repeat = :'repeat';
CREATE EXTENSION dsx;
\o /dev/null
SELECT setseed(0.2);

-- The baseline: dsx.allocate's rule in PL/pgSQL over numeric. Exact entitlement per party
-- (sum over tiers of the slice of |amount| in the tier times the share), truncated to
-- minor units; units left over to the largest remainders, ties to the party listed first;
-- negative amounts mirrored.
CREATE FUNCTION allocate_plpgsql(amt numeric, s dsx.split, minor_units int DEFAULT 2)
RETURNS TABLE(party text, amount numeric) LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    parties text[] := dsx.parties(s);
    n int := cardinality(parties);
    unit numeric := power(10::numeric, minor_units);
    a numeric := abs(amt);
    ent numeric[] := array_fill(0::numeric, ARRAY[n]);
    q numeric[] := array_fill(0::numeric, ARRAY[n]);
    r numeric[] := array_fill(0::numeric, ARRAY[n]);
    given numeric := 0;
    left_over numeric;
    t record;
    lo numeric;
    hi numeric;
    best int;
    taken boolean[] := array_fill(false, ARRAY[n]);
BEGIN
    IF a * unit <> trunc(a * unit) THEN
        RAISE EXCEPTION 'amount is not a whole number of minor units' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR t IN SELECT x.tier, x.starts, x.party, x.share,
                    (SELECT min(y.starts) FROM dsx.tiers(s) y WHERE y.tier > x.tier) AS ends
               FROM dsx.tiers(s) x LOOP
        lo := t.starts;
        hi := coalesce(t.ends, a);
        IF a > lo THEN
            ent[array_position(parties, t.party)] := ent[array_position(parties, t.party)]
                                                     + (least(a, hi) - lo) * t.share * unit;
        END IF;
    END LOOP;
    FOR i IN 1 .. n LOOP
        q[i] := trunc(ent[i]);
        r[i] := ent[i] - q[i];
        given := given + q[i];
    END LOOP;
    left_over := a * unit - given;
    WHILE left_over > 0 LOOP
        best := NULL;
        FOR i IN 1 .. n LOOP
            IF NOT taken[i] AND (best IS NULL OR r[i] > r[best]) THEN
                best := i;
            END IF;
        END LOOP;
        taken[best] := true;
        q[best] := q[best] + 1;
        left_over := left_over - 1;
    END LOOP;
    FOR i IN 1 .. n LOOP
        party := parties[i];
        amount := round(sign(amt) * q[i] / unit, minor_units);
        RETURN NEXT;
    END LOOP;
END $$;

-- Allocation data: amounts in cents, either sign, over four splits (two tiered).
CREATE TABLE alloc AS
SELECT g AS id,
       round(((random() - 0.2) * 10 ^ (1 + floor(random() * 8)))::numeric, 2) AS amount,
       (ARRAY['vendor=30%, partner=70%'::dsx.split,
              'vendor=33.3333333333%, partner=33.3333333333%, lender=33.3333333334%',
              'vendor=30%, partner=70%; from 10000000: vendor=20%, partner=80%',
              'vendor=12.5%, partner=80%, lender=7.5%; from 1000: vendor=10%, partner=90%; from 100000: partner=100%'])
         [1 + floor(random() * 4)::int] AS s
  FROM generate_series(1, :rows) g;

-- Rating data: one usage summary per line with flat prices, as dsx.price and as numeric.
CREATE TABLE lines AS
SELECT g AS id, i AS input_tokens, o AS output_tokens,
       format('events=1, input_tokens=%s, output_tokens=%s, first_at=2026-01-01 00:00:00+00, last_at=2026-01-01 00:00:00+00', i, o)::dsx.usage AS usage,
       ip::text::dsx.price AS input_price, op::text::dsx.price AS output_price, ip AS input_numeric, op AS output_numeric
  FROM (SELECT g, floor(random() * 10 ^ (1 + floor(random() * 9)))::bigint AS i,
               floor(random() * 10 ^ (1 + floor(random() * 8)))::bigint AS o,
               (ARRAY[0.15, 2.5, 3.000000001, 0.123456789])[1 + floor(random() * 4)::int] AS ip,
               (ARRAY[0.6, 10, 15.75, 0.987654321])[1 + floor(random() * 4)::int] AS op
          FROM generate_series(1, :rows) g) x;
VACUUM ANALYZE alloc;
VACUUM ANALYZE lines;

-- Best of n runs of a query; returns seconds and the query's one-row result as text.
CREATE FUNCTION best_of(q text, n int, OUT seconds numeric, OUT result text) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; r text; s numeric;
BEGIN
    FOR i IN 1 .. n LOOP
        t0 := clock_timestamp();
        EXECUTE q INTO r;
        s := extract(epoch FROM clock_timestamp() - t0);
        IF seconds IS NULL OR s < seconds THEN seconds := s; END IF;
        result := r;
    END LOOP;
END $$;

CREATE TABLE runs (bench text, side text, seconds numeric, result text);
-- Rating: the two sides take turns, so a busy moment on the machine hits both alike.
DO $$
DECLARE
    c record;
    b record;
BEGIN
    FOR i IN 1 .. current_setting('bench.repeat')::int LOOP
        SELECT * INTO c FROM best_of(
            $q$SELECT row(count(*), sum(dsx.rate(usage, input_price, output_price, 2)))::text FROM lines$q$, 1);
        SELECT * INTO b FROM best_of(
            $q$SELECT row(count(*), sum(round(input_tokens * input_numeric / 1000000
                                            + output_tokens * output_numeric / 1000000, 2)))::text FROM lines$q$, 1);
        INSERT INTO runs VALUES ('rating', 'C dsx.rate', c.seconds, c.result), ('rating', 'numeric SQL', b.seconds, b.result);
    END LOOP;
END $$;
INSERT INTO runs SELECT 'allocate', 'C dsx.allocate', * FROM best_of(
    $q$SELECT row(count(*), sum(a.amount))::text FROM alloc t, dsx.allocate(t.amount, t.s, 2) a$q$, :repeat);
INSERT INTO runs SELECT 'allocate', 'PL/pgSQL', * FROM best_of(
    $q$SELECT row(count(*), sum(a.amount))::text FROM alloc t, allocate_plpgsql(t.amount, t.s, 2) a$q$, 1);
-- C runs on both sides of the long baseline run, so a busy moment does not decide the ratio.
INSERT INTO runs SELECT 'allocate', 'C dsx.allocate', * FROM best_of(
    $q$SELECT row(count(*), sum(a.amount))::text FROM alloc t, dsx.allocate(t.amount, t.s, 2) a$q$, :repeat);
-- Keep the best time of each side.
DELETE FROM runs r USING runs o
 WHERE o.bench = r.bench AND o.side = r.side AND (o.seconds, o.ctid) < (r.seconds, r.ctid);

-- Untimed: every row's allocation, party by party and in order, must be the same.
CREATE TABLE allocate_differences AS
SELECT count(*) FILTER (WHERE c.parts IS DISTINCT FROM p.parts) AS rows_differing
  FROM alloc t,
       LATERAL (SELECT array_agg(row(party, amount)::text ORDER BY ord) AS parts
                  FROM dsx.allocate(t.amount, t.s, 2) WITH ORDINALITY AS a(party, amount, ord)) c,
       LATERAL (SELECT array_agg(row(party, amount)::text ORDER BY ord) AS parts
                  FROM allocate_plpgsql(t.amount, t.s, 2) WITH ORDINALITY AS a(party, amount, ord)) p;

\o
\echo
\echo dsx money benchmark (jit :jit, no parallel workers, no memoize)
SELECT bench, side, :rows AS rows, round(seconds, 3) AS seconds, result,
       CASE WHEN side LIKE 'C %' THEN NULL
            ELSE round(seconds / (SELECT c.seconds FROM runs c WHERE c.bench = r.bench AND c.side LIKE 'C %'), 1) END
         AS "baseline / C"
  FROM runs r ORDER BY bench, side;
SELECT bench,
       round(max(seconds) FILTER (WHERE side NOT LIKE 'C %') / max(seconds) FILTER (WHERE side LIKE 'C %'), 1) AS speedup,
       CASE bench WHEN 'allocate' THEN 20 ELSE 3 END AS target,
       count(DISTINCT result) = 1
         AND (bench <> 'allocate' OR (SELECT rows_differing = 0 FROM allocate_differences)) AS identical_results
  FROM runs GROUP BY bench ORDER BY bench;
SQL
