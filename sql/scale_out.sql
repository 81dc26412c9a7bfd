-- Scale-out on one node: dsx.distribute() needs Citus (0A000) and changes nothing without
-- it; dsx.layout() lists every table as local; the helpers that ask where a database
-- stands say none. test/citus.sh runs the rest on a Citus cluster.
\set VERBOSITY terse
SELECT dsx.citus_node();
SELECT * FROM dsx.distribute();
SELECT count(*) AS tables, count(*) FILTER (WHERE layout = 'local') AS local FROM dsx.layout();
SELECT count(*) AS every_dsx_table FROM pg_class WHERE relnamespace = 'dsx'::regnamespace AND relkind = 'r';
SELECT dsx.table_of_shard('usage_events'), dsx.table_of_shard('usage_events_102008');
SELECT dsx.refuse_on_worker('dsx.settle()') AS runs_here_without_a_word;
SELECT dsx.citus_placed('dsx.usage_events');
-- the policies hold no subquery (Citus refuses those): each is a call of dsx.sees or a
-- comparison of the row's own columns
CREATE FUNCTION pg_temp.policies_with_subqueries() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_policies
     WHERE schemaname = 'dsx' AND (qual LIKE '%SELECT%' OR with_check LIKE '%SELECT%')
$$;
SELECT count(*) AS policies, pg_temp.policies_with_subqueries() AS with_a_subquery FROM pg_policies WHERE schemaname = 'dsx';
-- control: a policy with a subquery is counted
CREATE POLICY regress_sub ON dsx.parties FOR SELECT TO dsx_partner USING (party IN (SELECT 'x'));
SELECT pg_temp.policies_with_subqueries() AS with_a_subquery_planted;
DROP POLICY regress_sub ON dsx.parties;
-- every key of a usage table holds the factory
CREATE FUNCTION pg_temp.keys_without_factory() RETURNS SETOF text LANGUAGE sql AS $$
SELECT c.conrelid::regclass || ' ' || c.conname
  FROM pg_constraint c
 WHERE c.conrelid = ANY (ARRAY['dsx.usage_inbox', 'dsx.usage_events', 'dsx.usage_daily', 'dsx.usage_conflicts', 'dsx.usage_voids']::regclass[])
   AND c.contype IN ('p', 'u')
   AND NOT (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attname = 'factory') = ANY (c.conkey)
 ORDER BY 1
$$;
SELECT * FROM pg_temp.keys_without_factory();
-- control: a key without the factory is listed
ALTER TABLE dsx.usage_voids ADD CONSTRAINT regress_voids_batch UNIQUE (event_id, batch_id);
SELECT * FROM pg_temp.keys_without_factory();
ALTER TABLE dsx.usage_voids DROP CONSTRAINT regress_voids_batch;
