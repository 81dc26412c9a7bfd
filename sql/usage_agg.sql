-- dsx.usage_agg and dsx.rollup: NULLs, empty input, overflow, parallel plans equal to the
-- serial result, and rollups of hourly summaries equal to direct aggregation.
\set VERBOSITY terse
SET timezone = 'UTC';

-- empty input gives NULL; NULL arguments are skipped
SELECT dsx.usage_agg(1, 2, now()) IS NULL AS empty_is_null FROM generate_series(1, 0);
SELECT dsx.rollup(u) IS NULL AS empty_is_null FROM (SELECT NULL::dsx.usage AS u) t;
SELECT dsx.usage_agg(i, o, t)
  FROM (VALUES (1::bigint, 2::bigint, timestamptz '2026-01-01 00:00Z'),
               (NULL, 5, timestamptz '2026-01-01 01:00Z'),
               (7, NULL, timestamptz '2026-01-01 02:00Z'),
               (8, 9, NULL),
               (10, 20, timestamptz '2025-12-31 23:00Z')) v(i, o, t);
SELECT dsx.usage_agg(i, o, t) IS NULL AS all_null_rows_give_null
  FROM (VALUES (NULL::bigint, 1::bigint, now()), (1, 1, NULL)) v(i, o, t);
-- the combine function takes all four NULL cases
SELECT dsx.usage_combine(NULL, NULL) IS NULL AS null_null,
       dsx.usage_combine('events=1, input_tokens=1, output_tokens=1, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z', NULL) AS left_only,
       dsx.usage_combine(NULL, 'events=2, input_tokens=1, output_tokens=1, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z') AS right_only;

-- negative tokens and overflow are errors
\set VERBOSITY sqlstate
SELECT dsx.usage_agg(-1, 0, now());
SELECT dsx.usage_agg(0, -5, now());
SELECT dsx.usage_agg(9223372036854775807, 0, now()) FROM generate_series(1, 2);
SELECT dsx.usage_agg(0, 9223372036854775807, now()) FROM generate_series(1, 2);
SELECT dsx.rollup(u) FROM (VALUES
   ('events=9223372036854775807, input_tokens=0, output_tokens=0, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z'::dsx.usage),
   ('events=1, input_tokens=0, output_tokens=0, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z')) v(u);
SELECT dsx.usage_agg(0, 0, 'infinity');
\set VERBOSITY terse

-- generated events: 20,000 over three days, five customers, three models
CREATE TABLE ev AS
SELECT i AS id,
       'c' || (i % 5) AS customer,
       'm' || (i % 3) AS model,
       (i * 7919 % 100000)::bigint AS input_tokens,
       (i * 104729 % 50000)::bigint AS output_tokens,
       timestamptz '2026-10-01 00:00:00Z' + (i * 2654435761 % 259200) * interval '1 second' AS occurred_at
  FROM generate_series(1, 20000) i;
ANALYZE ev;

-- the aggregate agrees with the five plain aggregates it replaces
SELECT count(*) AS groups,
       count(*) FILTER (WHERE dsx.events(u) = n AND dsx.input_tokens(u) = si AND dsx.output_tokens(u) = so
                          AND dsx.first_at(u) = f AND dsx.last_at(u) = l) AS agree
  FROM (SELECT customer, model, dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u,
               count(*) AS n, sum(input_tokens) AS si, sum(output_tokens) AS so,
               min(occurred_at) AS f, max(occurred_at) AS l
          FROM ev GROUP BY customer, model) g;

-- hourly summaries rolled up to the whole period equal direct aggregation, per group and
-- overall, whatever order they are merged in
CREATE TABLE hourly AS
SELECT customer, model, date_trunc('hour', occurred_at) AS hour,
       dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u
  FROM ev GROUP BY 1, 2, 3;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE h.u OPERATOR(dsx.=) d.u) AS rollup_equals_direct
  FROM (SELECT customer, model, dsx.rollup(u ORDER BY hour DESC) AS u FROM hourly GROUP BY 1, 2) h
  JOIN (SELECT customer, model, dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u FROM ev GROUP BY 1, 2) d
 USING (customer, model);
SELECT (SELECT dsx.rollup(u ORDER BY random()) FROM hourly)
       OPERATOR(dsx.=) (SELECT dsx.usage_agg(input_tokens, output_tokens, occurred_at) FROM ev) AS total_equal;
SELECT (SELECT dsx.usage_agg(input_tokens, output_tokens, occurred_at) FROM ev) AS total;

-- parallel plans: Partial Aggregate in workers, combined in the leader, same result
CREATE TABLE serial_result AS
SELECT customer, dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u FROM ev GROUP BY customer;
CREATE TABLE serial_rollup AS SELECT dsx.rollup(u) AS u FROM hourly;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT customer, dsx.usage_agg(input_tokens, output_tokens, occurred_at) FROM ev GROUP BY customer;
SELECT count(*) AS groups, count(*) FILTER (WHERE p.u OPERATOR(dsx.=) s.u) AS parallel_equals_serial
  FROM (SELECT customer, dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u FROM ev GROUP BY customer) p
  JOIN serial_result s USING (customer);
EXPLAIN (COSTS OFF) SELECT dsx.rollup(u) FROM hourly;
SELECT (SELECT dsx.rollup(u) FROM hourly) OPERATOR(dsx.=) (SELECT u FROM serial_rollup) AS parallel_rollup_equals_serial;
RESET parallel_leader_participation;

-- partitionwise aggregation over a table partitioned by time
CREATE TABLE ev_part (LIKE ev) PARTITION BY RANGE (occurred_at);
CREATE TABLE ev_p1 PARTITION OF ev_part FOR VALUES FROM ('2026-10-01 00:00Z') TO ('2026-10-02 00:00Z');
CREATE TABLE ev_p2 PARTITION OF ev_part FOR VALUES FROM ('2026-10-02 00:00Z') TO ('2026-10-03 00:00Z');
CREATE TABLE ev_p3 PARTITION OF ev_part FOR VALUES FROM ('2026-10-03 00:00Z') TO ('2026-10-04 00:00Z');
INSERT INTO ev_part SELECT * FROM ev;
ANALYZE ev_part;
SET enable_partitionwise_aggregate = on;
EXPLAIN (COSTS OFF)
SELECT customer, dsx.usage_agg(input_tokens, output_tokens, occurred_at) FROM ev_part GROUP BY customer;
SELECT count(*) AS groups, count(*) FILTER (WHERE p.u OPERATOR(dsx.=) s.u) AS partitionwise_equals_serial
  FROM (SELECT customer, dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u FROM ev_part GROUP BY customer) p
  JOIN serial_result s USING (customer);
RESET ALL;
DROP TABLE ev, ev_part, hourly, serial_result, serial_rollup;
