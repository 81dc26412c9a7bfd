-- Calls whose work grows with their input stop at statement_timeout (or a cancel) within a
-- moment of it; aggregate support functions called directly answer cleanly; the bulk
-- ingest step refuses timestamps a dsx.usage cannot carry. No timing is printed: only
-- the SQLSTATE a call ended with and whether it ended within 2 s of its statement's start.
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- The SQLSTATE q ends with ('00000' when it completes), and whether it ended within 2 s
-- of the statement's start, which statement_timeout counts from too.
CREATE FUNCTION pg_temp.stops(q text, OUT code text, OUT within_2s boolean)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    code := '00000';
    within_2s := clock_timestamp() - statement_timestamp() < interval '2 s';
EXCEPTION WHEN query_canceled THEN
    code := SQLSTATE;
    within_2s := clock_timestamp() - statement_timestamp() < interval '2 s';
END $$;

-- The SQLSTATE q ends with, or 'ok'.
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

-- A party list of 1,000 names of 100,000 bytes each, alike but for their ends: a split
-- compares its names pairwise, which takes seconds.
CREATE TEMP TABLE long_split AS
SELECT string_agg(repeat('p', 100000) || g || '=0.1%', ', ') AS s FROM generate_series(1, 1000) g;

SET statement_timeout = '250ms';
-- 60 million monthly periods: 20 s of rows (the check alone, a second), cancelled at 250 ms (57014)
SELECT * FROM pg_temp.stops($$SELECT count(*) FROM dsx.amortize(1000000, 0.05, 60000000, '2026-01-15')$$);
SELECT * FROM pg_temp.stops($$SELECT dsx.amortize_check(1000000, 0.05, 60000000, '2026-01-15')$$);
-- an allocation over that split literal: cancelled while the split is read
SELECT * FROM pg_temp.stops($$SELECT count(*) FROM long_split, dsx.allocate(100, s::dsx.split, 2)$$);
SELECT * FROM pg_temp.stops($$SELECT dsx.parties(s::dsx.split) FROM long_split$$);
RESET statement_timeout;
DROP TABLE long_split;

-- 1,000 % over 1,490,000 months: the growth factor (1 + i)^n has about 392,000 digits,
-- which numeric_power computed for 16 s without a check for interrupts and then refused
-- (22003). Past 10^1050 the level payment is round(P·i): the schedule comes at once.
SELECT count(*), min(payment) AS level, max(payment) AS last_payment
  FROM dsx.amortize(1000000, 10, 1490000, '2026-01-15');
-- ... and it is the payment the numeric formula gives, on both sides of 10^1050
CREATE FUNCTION pg_temp.formula(p numeric, rate numeric, n int, mu int) RETURNS numeric
LANGUAGE sql AS $$
    WITH i AS (SELECT round(round(rate, 45) / 12, 40) AS i),
         f AS (SELECT i, round(power(1 + i, n::numeric), 40) AS f FROM i)
    SELECT round(p * i * f / (f - 1), mu) FROM f $$;
SELECT p, rate, n, mu, floor(n * log(1 + round(rate / 12, 40))) AS factor_digits,
       (SELECT a.payment FROM dsx.amortize(p, rate, n, '2026-01-15', minor_units => mu) a
         WHERE a.period = 1) = pg_temp.formula(p, rate, n, mu) AS same
  FROM (VALUES (1000000::numeric, 0.5::numeric, 58000, 2), (1000000, 0.5, 60000, 2),
               (123456.789, 0.5, 59000, 3), (123456.789, 0.5, 62000, 3),
               (99999.99, 1.2345, 24000, 2), (99999.99, 1.2345, 25000, 2)) v(p, rate, n, mu)
 ORDER BY 1, 2, 3;

-- The transition function of dsx.usage_agg called directly: a new summary, its argument
-- left alone (it used to fail with XX000 outside an aggregate)
DO $$
BEGIN
    RAISE NOTICE '%', dsx.usage_accum(NULL, 1, 1, '2026-01-01 00:00Z');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%', SQLSTATE;
END $$;
DO $$
BEGIN
    RAISE NOTICE 'events: %', dsx.events(dsx.usage_accum(NULL, 1, 1, now()));
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%', SQLSTATE;
END $$;
WITH s(u) AS (SELECT 'events=1, input_tokens=1, output_tokens=2, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z'::dsx.usage)
SELECT dsx.usage_accum(u, 10, 20, '2025-06-01 12:00Z') AS accumulated, u AS argument FROM s;
SELECT dsx.usage_accum(dsx.usage_accum(NULL, 1, 2, '2026-01-02Z'), 3, 4, '2026-01-01Z')
       OPERATOR(dsx.=) (SELECT dsx.usage_agg(i, o, t)
            FROM (VALUES (1::bigint, 2::bigint, '2026-01-02Z'::timestamptz),
                         (3, 4, '2026-01-01Z')) v(i, o, t)) AS same_as_aggregate;
SELECT q, pg_temp.sqlstate_of(q)
  FROM (VALUES ($$SELECT dsx.usage_accum(NULL, NULL, 1, now())$$),
               ($$SELECT dsx.usage_accum(NULL, -1, 1, now())$$),
               ($$SELECT dsx.usage_accum(NULL, 1, 1, 'infinity')$$),
               ($$SELECT dsx.usage_combine(NULL, NULL)$$),
               ($$SELECT dsx.usage_combine(NULL, dsx.usage_accum(NULL, 1, 1, now()))$$)) v(q);

-- The bulk ingest step and timestamps: dsx.usage carries 0001-01-01 00:00:00 UTC up to,
-- not including, 10000-01-01 00:00:00 UTC. The inbox's CHECK refuses the others at load
-- (23514); a source without it reaches dsx.ingest_rows, which refuses them (22008), naming
-- the event, in both modes, with nothing written.
BEGIN;
INSERT INTO dsx.parties VALUES ('int-cloud', 'partner', 'Interrupts Cloud');
INSERT INTO dsx.factories VALUES ('int-f', 'int-cloud', 'USD', 'test', 8, 1.5);
SELECT pg_temp.sqlstate_of($$INSERT INTO dsx.usage_inbox VALUES ('e', 'infinity', 'int-f', 'c', 'm', 1, 1)$$) AS inbox;
CREATE TEMP TABLE src (LIKE dsx.usage_inbox);
CREATE FUNCTION pg_temp.ingest_one(id text, at timestamptz, dedup boolean) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE pg_temp.src;
    INSERT INTO pg_temp.src VALUES ('first', '2026-01-01Z', 'int-f', 'c', 'm', 1, 1),
                                   (id, at, 'int-f', 'c', 'm', 1, 1);
    RETURN (SELECT r::text FROM dsx.ingest_rows('pg_temp.src', 0, dedup) r);
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT at, pg_temp.ingest_one('e' || n, at, false) AS all_new,
       pg_temp.ingest_one('e' || n, at, true) = pg_temp.ingest_one('e' || n, at, false) AS dedup_same
  FROM unnest(ARRAY['infinity', '-infinity', '4713-01-01 00:00:00+00 BC',
                    '294276-12-31 23:59:59+00', '0001-12-31 23:59:59.999999+00 BC',
                    '10000-01-01 00:00:00+00']::timestamptz[]) WITH ORDINALITY AS t(at, n);
SAVEPOINT refused;
INSERT INTO src VALUES ('late', '10000-01-01 00:00:00+00', 'int-f', 'c', 'm', 1, 1);
\set VERBOSITY default
SELECT * FROM dsx.ingest_rows('src', 0, true);
\set VERBOSITY terse
ROLLBACK TO refused;
SELECT count(*) AS events, (SELECT count(*) FROM dsx.usage_daily WHERE factory = 'int-f') AS daily
  FROM dsx.usage_events WHERE factory = 'int-f';
-- the first and last instants a usage carries are stored, and read back
TRUNCATE src;
INSERT INTO src VALUES ('min', '0001-01-01 00:00:00+00', 'int-f', 'c', 'm', 1, 1),
                       ('max', '9999-12-31 23:59:59.999999+00', 'int-f', 'c', 'm', 2, 2);
SELECT * FROM dsx.ingest_rows('src', 0, false);
SELECT day, usage, usage::text::dsx.usage OPERATOR(dsx.=) usage AS reads_back
  FROM dsx.usage_daily WHERE factory = 'int-f' ORDER BY day;
ROLLBACK;
