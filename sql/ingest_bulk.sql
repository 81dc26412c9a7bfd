-- dsx.ingest()'s bulk step (dsx.ingest_rows, C) against the SQL statements it stands in
-- for: the same generated batches (new events, retries, conflicting payloads, ids repeated
-- within a batch, with the same and with other payloads) go through both, in runs of
-- 1 MB of keys so that every batch spans several sorted runs; counts, events, the daily
-- rollup and the conflicts kept must be the same. Then: when the step declines, and the
-- indexes are sound.
\set VERBOSITY terse
SET timezone = 'UTC';
SET maintenance_work_mem = '1MB';
CREATE EXTENSION IF NOT EXISTS amcheck;
INSERT INTO dsx.parties VALUES ('bulk-cloud', 'partner', 'Bulk Cloud');
INSERT INTO dsx.factories VALUES ('bulk-c', 'bulk-cloud', 'USD', 'test', 8, 1.5),
                                 ('bulk-s', 'bulk-cloud', 'USD', 'test', 8, 1.5);

-- n md5 digests of id: text that does not compress, to be stored out of line.
CREATE FUNCTION pg_temp.noise(id int, n int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT string_agg(md5(id || '/' || g), '' ORDER BY g) FROM generate_series(1, n) g $$;

-- Batch b for factory f, in a fixed arrival order: ids (b-1)*8000+1 .. +12000 (4,000 of
-- them sent before), one in 13 of the resent ones with other tokens (a conflict); 400 ids
-- sent twice in the batch, half with the same payload, half with another. Batch 6 resends
-- every 40th id sent so far and 2,000 new ones: keys far apart among the stored ones. A
-- few ids, customers and models are long (compressed, or out of line, in the inbox).
CREATE FUNCTION pg_temp.batch_rows(f text, b int) RETURNS SETOF dsx.usage_inbox
LANGUAGE sql AS $$
    WITH base AS (
        SELECT id, (id <= (b - 1) * 8000 AND hashint4(id * 31 + b) % 13 = 0) AS changed
          FROM generate_series((b - 1) * 8000 + 1, (b - 1) * 8000 + 12000) id
         WHERE b <> 6
        UNION ALL
        SELECT id, id <= 44000 AND hashint4(id * 31 + b) % 13 = 0
          FROM generate_series(40, 124000, 40) id
         WHERE b = 6
    ), rows AS (
        SELECT id, changed, 0 AS copy FROM base
        UNION ALL
        SELECT id, id % 2 = 0, 1 FROM base WHERE hashint4(id * 7 + b) % 30 = 0
    )
    SELECT CASE WHEN id % 983 = 0 THEN 'p-' || id || '-' || pg_temp.noise(id, 30) ELSE 'p-' || id END,
           timestamptz '2026-10-01 00:00Z' + id * interval '37 seconds', f,
           CASE WHEN id % 997 = 0 THEN 'long-' || repeat(md5(id::text), 80) ELSE 'cust' || (id % 9) END,
           CASE WHEN id % 991 = 0 THEN pg_temp.noise(id, 66) ELSE 'model' || (id % 4) END,
           (id % 5000 + CASE WHEN changed THEN b ELSE 0 END)::bigint, (id % 700)::bigint
      FROM rows
     ORDER BY hashint4(id * 131 + copy * 17 + b), copy
$$;

-- Loads and ingests batches 1 to 6 for factory f, keeping the counts under path.
CREATE TEMP TABLE counts (path text, b int, inserted bigint, duplicates bigint, conflicts bigint);
CREATE FUNCTION pg_temp.ingest_batches(f text, path text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    FOR b IN 1..6 LOOP
        INSERT INTO dsx.usage_inbox SELECT * FROM pg_temp.batch_rows(f, b);
        INSERT INTO pg_temp.counts SELECT path, b, * FROM dsx.ingest();
    END LOOP;
END $$;
SELECT pg_temp.ingest_batches('bulk-c', 'c');

-- lookups: batch 5 again walks the key from one to the next; batch 6 again, its keys far
-- apart, falls back to plain probes for most
INSERT INTO dsx.usage_inbox SELECT * FROM pg_temp.batch_rows('bulk-c', 5);
BEGIN;
SET LOCAL client_min_messages = debug1;
SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 0, true);
ROLLBACK;
TRUNCATE dsx.usage_inbox;
INSERT INTO dsx.usage_inbox SELECT * FROM pg_temp.batch_rows('bulk-c', 6);
BEGIN;
SET LOCAL client_min_messages = debug1;
SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 0, true);
ROLLBACK;
TRUNCATE dsx.usage_inbox;

-- the same batches through the SQL statements: an insert trigger on usage_events makes
-- the bulk step decline (it must fire, and row-by-row triggers need the executor)
CREATE FUNCTION pg_temp.seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pg_temp.fired SET n = n + 1;
    RETURN NULL;
END $$;
CREATE TEMP TABLE fired (n int);
INSERT INTO fired VALUES (0);
CREATE TRIGGER regress_seen AFTER INSERT ON dsx.usage_events FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.seen();
INSERT INTO dsx.usage_inbox SELECT * FROM pg_temp.batch_rows('bulk-s', 1) LIMIT 3;
BEGIN;
SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 0, false) AS declined_with_a_trigger;
ROLLBACK;
TRUNCATE dsx.usage_inbox;
SELECT pg_temp.ingest_batches('bulk-s', 's');
DROP TRIGGER regress_seen ON dsx.usage_events;
SELECT n > 0 AS trigger_fired FROM fired;

-- long values (compressed, or stored out of line) came through both paths alike
SELECT count(*) FILTER (WHERE length(event_id) > 900) AS long_ids,
       count(*) FILTER (WHERE customer LIKE 'long-%') AS long_customers,
       count(*) FILTER (WHERE length(model) > 2000) AS long_models
  FROM dsx.usage_events WHERE factory = 'bulk-c';
SELECT count(*) AS long_days FROM dsx.usage_daily WHERE factory = 'bulk-c' AND (customer LIKE 'long-%' OR length(model) > 2000);

-- every batch counted alike, and something of each kind happened
SELECT c.b, c.inserted, c.duplicates, c.conflicts,
       (c.inserted, c.duplicates, c.conflicts) = (s.inserted, s.duplicates, s.conflicts) AS same_as_sql
  FROM counts c JOIN counts s ON s.b = c.b AND s.path = 's' WHERE c.path = 'c' ORDER BY c.b;

-- the same events (by batch), the same daily rollup, the same conflicts kept
CREATE TEMP TABLE got AS
SELECT e.factory, e.event_id, e.occurred_at, e.customer, e.model, e.input_tokens, e.output_tokens,
       dense_rank() OVER (PARTITION BY e.factory ORDER BY e.batch_id) AS nth_batch
  FROM dsx.usage_events e WHERE e.factory LIKE 'bulk-%';
SELECT (SELECT count(*) FROM got WHERE factory = 'bulk-c') AS events_c,
       (SELECT count(*) FROM got WHERE factory = 'bulk-s') AS events_s,
       (SELECT count(*) FROM (
            SELECT event_id, occurred_at, customer, model, input_tokens, output_tokens, nth_batch FROM got WHERE factory = 'bulk-c'
            EXCEPT ALL
            SELECT event_id, occurred_at, customer, model, input_tokens, output_tokens, nth_batch FROM got WHERE factory = 'bulk-s') x) AS differing;
SELECT count(*) AS rollup_differences FROM (
    SELECT customer, model, day, usage::text FROM dsx.usage_daily WHERE factory = 'bulk-c'
    EXCEPT ALL
    SELECT customer, model, day, usage::text FROM dsx.usage_daily WHERE factory = 'bulk-s') x;
CREATE TEMP TABLE kept AS
SELECT factory, event_id, stored_occurred_at, stored_customer, stored_model, stored_input_tokens,
       stored_output_tokens, incoming_occurred_at, incoming_customer, incoming_model,
       incoming_input_tokens, incoming_output_tokens, times_seen
  FROM dsx.usage_conflicts WHERE factory LIKE 'bulk-%';
SELECT (SELECT count(*) FROM kept WHERE factory = 'bulk-c') AS conflicts_c,
       (SELECT count(*) FROM kept WHERE factory = 'bulk-s') AS conflicts_s,
       (SELECT count(*) FROM (
            SELECT event_id, stored_occurred_at, stored_customer, stored_model, stored_input_tokens,
                   stored_output_tokens, incoming_occurred_at, incoming_customer, incoming_model,
                   incoming_input_tokens, incoming_output_tokens, times_seen FROM kept WHERE factory = 'bulk-c'
            EXCEPT ALL
            SELECT event_id, stored_occurred_at, stored_customer, stored_model, stored_input_tokens,
                   stored_output_tokens, incoming_occurred_at, incoming_customer, incoming_model,
                   incoming_input_tokens, incoming_output_tokens, times_seen FROM kept WHERE factory = 'bulk-s') x) AS differing;
-- the rollup equals aggregating the stored events
SELECT count(*) AS mismatched_days FROM (
    SELECT factory, customer, model, (occurred_at AT TIME ZONE 'UTC')::date AS day,
           dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u
      FROM dsx.usage_events GROUP BY 1, 2, 3, 4) e
  FULL JOIN dsx.usage_daily d USING (factory, customer, model, day)
 WHERE e.u IS NULL OR d.usage IS NULL OR NOT e.u OPERATOR(dsx.=) d.usage;
-- every heap tuple is in the key as it should be
SELECT bt_index_check('dsx.usage_events_pkey', true);
-- and the bulk step keeps the BRIN index as INSERT does: with every range summarized (the
-- last, partly filled one too), a later batch goes through the step, some of it into that
-- last range, whose summary must widen to take it in; a scan through the index finds what
-- a sequential scan finds (the plans show which is which). Ranges summarized only after
-- the step wrote them would be right whatever it did.
SELECT pg_relation_size('dsx.usage_events') / current_setting('block_size')::int AS blocks_summarized \gset
DO $$ BEGIN PERFORM brin_summarize_new_values('dsx.usage_events_factory_time'); END $$;
INSERT INTO dsx.usage_inbox
SELECT 'brin-' || g, timestamptz '2027-03-01 00:00Z' + g * interval '1 minute', 'bulk-c', 'cust1', 'model1', g, g
  FROM generate_series(1, 1000) g;
SELECT * FROM dsx.ingest();
SELECT count(*) AS later_events,
       count(*) FILTER (WHERE (ctid::text::point)[0] < (:blocks_summarized + 31) / 32 * 32) > 0 AS some_in_a_summarized_range
  FROM dsx.usage_events WHERE event_id LIKE 'brin-%';
ANALYZE dsx.usage_events;
SET enable_seqscan = off;
SET enable_bitmapscan = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM dsx.usage_events
 WHERE factory = 'bulk-c' AND occurred_at >= '2027-03-01 00:00Z' AND occurred_at < '2027-03-01 06:00Z';
SELECT count(*) AS later_via_brin FROM dsx.usage_events
 WHERE factory = 'bulk-c' AND occurred_at >= '2027-03-01 00:00Z' AND occurred_at < '2027-03-01 06:00Z';
RESET enable_seqscan;
SET enable_bitmapscan = off;
SET enable_indexscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM dsx.usage_events
 WHERE factory = 'bulk-c' AND occurred_at >= '2027-03-01 00:00Z' AND occurred_at < '2027-03-01 06:00Z';
SELECT count(*) AS later FROM dsx.usage_events
 WHERE factory = 'bulk-c' AND occurred_at >= '2027-03-01 00:00Z' AND occurred_at < '2027-03-01 06:00Z';
RESET enable_bitmapscan;
RESET enable_indexscan;

-- all-new mode: a key repeated far into the batch raises unique_violation (what was written
-- before goes with the transaction); a stored key among the first rows raises it before writing
INSERT INTO dsx.usage_inbox SELECT * FROM pg_temp.batch_rows('bulk-c', 9) WHERE event_id <> 'p-64001';
INSERT INTO dsx.usage_inbox SELECT * FROM pg_temp.batch_rows('bulk-c', 9) WHERE event_id = 'p-64005';
BEGIN;
SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 0, false);
ROLLBACK;
TRUNCATE dsx.usage_inbox;
INSERT INTO dsx.usage_inbox SELECT * FROM pg_temp.batch_rows('bulk-c', 5) LIMIT 5;
BEGIN;
SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 0, false);
ROLLBACK;

-- a source that lets a NULL through is refused by the step itself, in both modes
CREATE TEMP TABLE loose (LIKE dsx.usage_inbox);
ALTER TABLE loose ALTER COLUMN customer DROP NOT NULL;
INSERT INTO loose VALUES ('n-1', '2026-10-09 00:00Z', 'bulk-c', NULL, 'm', 1, 1);
SELECT * FROM dsx.ingest_rows('loose', 0, false);
SELECT * FROM dsx.ingest_rows('loose', 0, true);

-- who may: the step checks table privileges as INSERT does, and declines (NULLs: SQL
-- decides) where row-level security could refuse a row or privileges are missing
CREATE ROLE regress_dsx_bulk;
GRANT USAGE ON SCHEMA dsx TO regress_dsx_bulk;
GRANT EXECUTE ON FUNCTION dsx.ingest_rows(regclass, bigint, boolean) TO regress_dsx_bulk;
GRANT SELECT ON dsx.usage_inbox TO regress_dsx_bulk;
TRUNCATE dsx.usage_inbox;
INSERT INTO dsx.usage_inbox VALUES ('who-1', '2026-10-09 00:00Z', 'bulk-c', 'w', 'm', 1, 1);
BEGIN;
SET LOCAL ROLE regress_dsx_bulk;
SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 0, false) AS without_insert;
ROLLBACK;
GRANT INSERT ON dsx.usage_events TO regress_dsx_bulk;
BEGIN;
SET LOCAL ROLE regress_dsx_bulk;
SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 0, false) AS under_row_security;
ROLLBACK;
-- (a role the dsx_staff policy lets write every row; in dsx only the owner runs the step)
GRANT dsx_operator TO regress_dsx_bulk;
GRANT INSERT, UPDATE ON dsx.usage_daily, dsx.usage_conflicts TO regress_dsx_bulk;
GRANT USAGE ON SEQUENCE dsx.usage_conflicts_conflict_id_seq TO regress_dsx_bulk;
BEGIN;
SET LOCAL ROLE regress_dsx_bulk;
SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 0, false) AS as_staff;
ROLLBACK;
-- a restrictive policy that is not always true: declined, SQL enforces it
CREATE POLICY regress_only_small ON dsx.usage_events AS RESTRICTIVE FOR INSERT TO dsx_operator
    WITH CHECK (input_tokens < 1000);
BEGIN;
SET LOCAL ROLE regress_dsx_bulk;
SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 0, false) AS under_a_restrictive_policy;
ROLLBACK;
DROP POLICY regress_only_small ON dsx.usage_events;
REVOKE dsx_operator FROM regress_dsx_bulk;
REVOKE ALL ON dsx.usage_events, dsx.usage_inbox, dsx.usage_daily, dsx.usage_conflicts FROM regress_dsx_bulk;
REVOKE ALL ON SEQUENCE dsx.usage_conflicts_conflict_id_seq FROM regress_dsx_bulk;
REVOKE ALL ON FUNCTION dsx.ingest_rows(regclass, bigint, boolean) FROM regress_dsx_bulk;
REVOKE ALL ON SCHEMA dsx FROM regress_dsx_bulk;
DROP ROLE regress_dsx_bulk;

-- dsx.ingest_rows_into: the step into other tables of the same shapes, reading the
-- factories and their zones from another table (what a Citus node does with its shards
-- and its copy of the factories): batches 1 to 6 of a factory in Tokyo give the same
-- counts, events, rollup and conflicts as dsx.ingest_rows into dsx's own tables, the
-- conflicts numbered from the base it is given
INSERT INTO dsx.factories (factory, partner, currency, region, gpus, power_mw, time_zone)
VALUES ('bulk-t', 'bulk-cloud', 'USD', 'test', 8, 1.5, 'Asia/Tokyo');
CREATE TABLE rx_events (LIKE dsx.usage_events INCLUDING ALL);
CREATE TABLE rx_daily (LIKE dsx.usage_daily INCLUDING ALL);
CREATE TABLE rx_conflicts (LIKE dsx.usage_conflicts INCLUDING ALL);
CREATE TABLE rx_factories AS SELECT * FROM dsx.factories WHERE factory = 'bulk-t';
CREATE TEMP TABLE rx_src (LIKE dsx.usage_inbox);
CREATE FUNCTION pg_temp.rx_batches() RETURNS TABLE(b int, into_dsx text, into_other text)
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..6 LOOP
        b := i;
        INSERT INTO rx_src SELECT * FROM pg_temp.batch_rows('bulk-t', b);
        SELECT r::text INTO into_dsx FROM dsx.ingest_rows('rx_src', b, true) r;
        SELECT r::text INTO into_other
          FROM dsx.ingest_rows_into('rx_src', 'rx_events', 'rx_daily', 'rx_conflicts', 'rx_factories',
                                    pg_get_serial_sequence('rx_conflicts', 'conflict_id')::regclass, 1000000, b, true) r;
        TRUNCATE rx_src;
        RETURN NEXT;
    END LOOP;
END $$;
SELECT * FROM pg_temp.rx_batches();
SELECT (SELECT count(*) FROM rx_events) AS events,
       (SELECT count(*) FROM (SELECT * FROM dsx.usage_events WHERE factory = 'bulk-t'
                              EXCEPT ALL SELECT * FROM rx_events) d) AS events_differ,
       (SELECT count(*) FROM (SELECT * FROM rx_events EXCEPT ALL
                              SELECT * FROM dsx.usage_events WHERE factory = 'bulk-t') d) AS events_differ_back,
       (SELECT count(*) FROM rx_daily) AS days,
       (SELECT count(*) FROM (SELECT factory, customer, model, day, usage::text FROM dsx.usage_daily WHERE factory = 'bulk-t'
                              EXCEPT SELECT factory, customer, model, day, usage::text FROM rx_daily) d) AS days_differ,
       (SELECT count(*) FROM rx_conflicts) AS conflicts,
       (SELECT min(conflict_id) > 1000000 AND count(DISTINCT conflict_id) = count(*) FROM rx_conflicts) AS numbered_from_the_base,
       (SELECT count(*) FROM (SELECT factory, event_id, incoming_occurred_at, incoming_customer, incoming_model,
                                     incoming_input_tokens, times_seen FROM dsx.usage_conflicts WHERE factory = 'bulk-t'
                              EXCEPT SELECT factory, event_id, incoming_occurred_at, incoming_customer, incoming_model,
                                            incoming_input_tokens, times_seen FROM rx_conflicts) d) AS conflicts_differ;
-- the factories it is given decide: a factory they lack refuses the batch (23503), though
-- dsx.factories has it
INSERT INTO rx_src SELECT * FROM pg_temp.batch_rows('bulk-c', 7) LIMIT 3;
SELECT * FROM dsx.ingest_rows_into('rx_src', 'rx_events', 'rx_daily', 'rx_conflicts', 'rx_factories',
                                   pg_get_serial_sequence('rx_conflicts', 'conflict_id')::regclass, 1000000, 7, true);
SELECT count(*) AS nothing_written FROM rx_events WHERE factory = 'bulk-c';
-- without Citus, the steps of ingest on Citus decline (NULLs) or refuse (0A000)
SELECT * FROM dsx.ingest_on_shards(1);
SELECT dsx.ingest_shard('dsx.usage_inbox', 1, false, gen_random_uuid());
DROP TABLE rx_events, rx_daily, rx_conflicts, rx_factories, rx_src;

-- clean up for the tests that follow
TRUNCATE dsx.usage_inbox, dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts, dsx.ingest_log;
DELETE FROM dsx.factories WHERE partner = 'bulk-cloud';
DELETE FROM dsx.parties WHERE party = 'bulk-cloud';
DROP EXTENSION amcheck;
