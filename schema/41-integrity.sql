-- schema/41-integrity.sql — what keeps usage and configuration honest: loaders load only
-- their factories' usage, and every change to the configuration is recorded, append-only.

/*
 * Where this database stands in a Citus cluster, if it is in one. dsx runs the same code on
 * every node (Citus installs the extension everywhere); the few places that must act once,
 * on the coordinator, ask these. Citus's catalogue is read only when it exists.
 */
CREATE OR REPLACE FUNCTION dsx.citus_node() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g integer;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
        RETURN 'none';
    END IF;
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO g;
    RETURN CASE WHEN g = 0 THEN 'coordinator' ELSE 'worker' END;
END
$$;
COMMENT ON FUNCTION dsx.citus_node() IS 'none without Citus; else coordinator or worker: where this database stands in its Citus cluster';

-- What must run on the coordinator refuses to run on a worker, where Citus sends a function
-- called in a query that reads one shard of a distributed table (the query and its calls go
-- to the worker holding the shard).
CREATE OR REPLACE FUNCTION dsx.refuse_on_worker(what text) RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF dsx.citus_node() = 'worker' THEN
        RAISE EXCEPTION '% runs on the Citus coordinator, not on a worker', what
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Citus sent the call to a worker, with a query that reads one shard of a distributed table.',
                  HINT = 'Call it in a statement of its own, its arguments computed first (into a variable, or with \gset in psql).';
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.refuse_on_worker(text) IS 'Raises 0A000 on a Citus worker: what dsx''s entry points (ingest, voids, settlement, verification) call first';

CREATE OR REPLACE FUNCTION dsx.table_of_shard(rel name) RETURNS name
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t name;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_shard') IS NOT NULL THEN
        EXECUTE 'SELECT l.relname FROM pg_catalog.pg_dist_shard s, pg_catalog.pg_class l
                  WHERE l.oid = s.logicalrelid AND l.relnamespace = ''dsx''::regnamespace
                    AND $1 = l.relname || ''_'' || s.shardid'
           INTO t USING rel;
    END IF;
    RETURN COALESCE(t, rel);
END
$$;
COMMENT ON FUNCTION dsx.table_of_shard(name) IS 'The name of a dsx table, given its own name or that of one of its Citus shards';

/*
 * The inbox check. A loader may load only the rows of factories dsx.grant_loader() maps it
 * to; a row of another factory is refused when it is loaded (42501), and the statement
 * stores nothing. Checked once per INSERT or COPY, over all its rows at once (a row-level
 * trigger would cost COPY its batched inserts); staff (the owner, dsx_operator) load any
 * factory. The inbox has no row-level security, which COPY refuses to run under.
 */
CREATE OR REPLACE FUNCTION dsx.inbox_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mine    text[];
    other   text;
BEGIN
    IF dsx.is_staff(CURRENT_USER) THEN
        RETURN NULL;
    END IF;
    -- dsx.sees, not a lookup of its own: on Citus this runs on the worker holding the shard
    SELECT n.factory INTO other FROM new_rows n WHERE NOT dsx.sees('loader_factory', n.factory) LIMIT 1;
    IF FOUND THEN
        mine := dsx.current_loader_factories();
        RAISE EXCEPTION 'permission denied to load usage of factory "%"', other
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = CASE WHEN cardinality(mine) = 0
                                THEN format('Role "%s" is mapped to no factory; nothing was loaded.', CURRENT_USER)
                                ELSE format('Role "%s" may load the usage of %s only; nothing was loaded.', CURRENT_USER,
                                            array_to_string(mine, ', ')) END,
                  HINT = 'An operator maps loaders to factories with dsx.grant_loader(role, factory).';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dsx.inbox_check() IS 'Trigger, once per INSERT or COPY on dsx.usage_inbox: a loader''s rows must all be of factories it is mapped to (dsx.loader_roles); 42501 otherwise, and nothing is loaded';
CREATE OR REPLACE TRIGGER inbox_check AFTER INSERT ON dsx.usage_inbox REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dsx.inbox_check();
COMMENT ON TRIGGER inbox_check ON dsx.usage_inbox IS 'A loader loads only the usage of its factories';

/*
 * The configuration history. Every insert, update and delete on a configuration table
 * appends one row to dsx.config_history: the real login (session_user), the time, the
 * table, the row's key (the trigger's arguments name its columns), the old and the new
 * row. The trigger function runs with the owner's rights: nobody else writes the history.
 */
CREATE OR REPLACE FUNCTION dsx.record_config_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
BEGIN
    -- pg_restore, run by a superuser, brings the history back with the rows: the rows it
    -- restores are not changes (a superuser could disable the trigger anyway)
    -- and neither are the rows dsx.distribute() copies into a table's new shards
    IF dsx.superuser_reload(true, true) THEN
        RETURN NULL;
    END IF;
    -- On Citus a reference table's trigger fires on every node's copy: the coordinator's
    -- records the change, once, under the table's own name (the copy is a shard of it).
    IF dsx.citus_node() = 'worker' THEN
        RETURN NULL;
    END IF;
    INSERT INTO dsx.config_history (changed_by, table_name, operation, row_key, old_row, new_row)
    SELECT SESSION_USER, dsx.table_of_shard(TG_TABLE_NAME), TG_OP, jsonb_object_agg(k, COALESCE(n, o) -> k), o, n
      FROM unnest(TG_ARGV) k;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dsx.record_config_change() IS 'Trigger on every configuration table: appends the change (who, when, table, key, old and new row) to dsx.config_history';

-- The trigger's arguments name the table's primary key columns, read from the catalogue:
-- a key that changes (a dated plan, say) changes what the history records with it.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['currencies', 'parties', 'factories', 'price_plans', 'customer_plans', 'agreements',
                             'agreement_splits', 'credit_facilities', 'operating_costs', 'fx_rates', 'partner_roles',
                             'vendor_roles', 'loader_roles'] LOOP
        EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER config_history AFTER INSERT OR UPDATE OR DELETE ON dsx.%I '
                                  'FOR EACH ROW EXECUTE FUNCTION dsx.record_config_change(%s)', t,
                                  (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(a.attname), ', '
                                                                ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum))
                                     FROM pg_catalog.pg_index i
                                     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                                    WHERE i.indrelid = pg_catalog.format('dsx.%I', t)::regclass AND i.indisprimary));
        EXECUTE pg_catalog.format('COMMENT ON TRIGGER config_history ON dsx.%I IS %L', t,
                                  'Every change is appended to dsx.config_history');
    END LOOP;
END
$$;
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.config_history
    FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change('the configuration history is append-only', 'The history records every change; change the configuration instead.');
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.config_history
    FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change('the configuration history is append-only', 'The history records every change; change the configuration instead.');
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.usage_voids
    FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change('voids are append-only', 'A voided event stays voided; load a corrected event under a new id.');
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.usage_voids
    FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change('voids are append-only', 'A voided event stays voided; load a corrected event under a new id.');
COMMENT ON TRIGGER append_only ON dsx.config_history IS 'The configuration history is append-only';
COMMENT ON TRIGGER append_only_truncate ON dsx.config_history IS 'The configuration history is append-only';
COMMENT ON TRIGGER append_only ON dsx.usage_voids IS 'Voids are append-only';
COMMENT ON TRIGGER append_only_truncate ON dsx.usage_voids IS 'Voids are append-only';
