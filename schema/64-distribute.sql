-- schema/64-distribute.sql — dsx.distribute(): dsx's tables laid out on a Citus cluster.

/*
 * The layout, and why:
 *   distributed by factory, co-located   the usage tables (inbox, events, daily rollup,
 *       conflicts, voids): they grow with every event. Every key and every query of them
 *       holds the factory, so each factory's rows live on one worker, and ingest
 *       (deduplication, conflicts, the rollup) and the aggregates run on the workers in
 *       parallel, shard by shard, without moving rows between nodes.
 *   reference                            the configuration (currencies, parties, factories,
 *       plans, agreements, facilities, the role maps): small, read by every settlement and
 *       policy, joined with the usage on the workers, so each node keeps a copy.
 *   local (on the coordinator)           the books (statements, lines, costs, debt, shares,
 *       ledger) and the energy readings (one row per factory and day, numbered as loaded):
 *       one row set per agreement and month, written in one transaction with its ledger
 *       and checked as a whole (dsx.books_check), read by partners through row-level
 *       security; and the ingest log and the configuration history, written with the
 *       batch sequence. PostgreSQL joins them with the reference tables' copy on the
 *       coordinator; Citus joins them with distributed tables by sending their rows.
 * Returns one row for every table of dsx. Idempotent: a table already in its place is
 * left as it is.
 */
CREATE OR REPLACE FUNCTION dsx.distribute() RETURNS TABLE(table_name regclass, layout text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t       text;
    fk      record;
    readd   text[] := '{}';
    books   regclass[] := ARRAY['dsx.statements', 'dsx.statement_lines', 'dsx.statement_shares', 'dsx.statement_debt',
                                    'dsx.statement_costs', 'dsx.ledger_entries', 'dsx.energy_readings'];
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RAISE EXCEPTION 'dsx.distribute() needs Citus'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The citus extension is not installed in this database.',
                  HINT = 'Install Citus on every node, CREATE EXTENSION citus, add the workers, then call dsx.distribute() on the coordinator.';
    END IF;
    IF dsx.citus_node() <> 'coordinator' THEN
        RAISE EXCEPTION 'dsx.distribute() runs on the coordinator' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node n WHERE n.groupid = 0) THEN
        RAISE EXCEPTION 'the coordinator is not in the Citus metadata'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The books stay on the coordinator and join the reference tables there, so it keeps a copy of them.',
                  HINT = 'Run SELECT citus_set_coordinator_host(''<host>'', <port>) first.';
    END IF;
    -- dsx's triggers (the configuration history, the inbox check, the checks) move to the
    -- shards with their tables; they are written to run there (see dsx.citus_node)
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    -- the rows Citus copies into the new shards are not changes: the history skips them
    -- (for a superuser, who could disable its trigger anyway)
    PERFORM pg_catalog.set_config('dsx.distributing', 'on', true);
    -- one connection per worker: the foreign keys added back to reference tables at the end
    -- may not follow parallel work on the shards in one transaction
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);

    -- Foreign keys to the tables that move are dropped first (Citus converts the tables a
    -- key joins, one by one, and cannot convert an extension's tables with views on them),
    -- then added back between the moved tables. The books' keys to the configuration stay
    -- dropped (Citus keeps no key from a plain table to a reference table): dsx.keep_books
    -- checks what they checked.
    FOR fk IN SELECT c.conrelid::regclass AS tab, c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def,
                     c.conrelid = ANY (books) AS of_books
                FROM pg_catalog.pg_constraint c
               WHERE c.contype = 'f' AND c.connamespace = 'dsx'::regnamespace
                 AND NOT c.confrelid = ANY (books) AND NOT dsx.citus_placed(c.confrelid::regclass)
               ORDER BY 1, 2 LOOP
        -- on every node: a worker's own copy of dsx's tables becomes the table's shell there
        PERFORM dsx.on_every_node(pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', fk.tab, fk.conname));
        IF NOT fk.of_books THEN
            readd := readd || pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tab, fk.conname, fk.def);
        END IF;
    END LOOP;
    -- the configuration, referenced tables before the tables that reference them
    FOREACH t IN ARRAY ARRAY['currencies', 'parties', 'factories', 'price_plans', 'customer_plans', 'agreements',
                             'agreement_splits', 'credit_facilities', 'operating_costs', 'fx_rates', 'partner_roles',
                             'vendor_roles', 'loader_roles'] LOOP
        IF NOT dsx.citus_placed(pg_catalog.format('dsx.%I', t)::regclass) THEN
            PERFORM dsx.citus_move(pg_catalog.format('dsx.%I', t)::regclass, NULL);
        END IF;
    END LOOP;
    -- the usage, by factory, co-located with the events
    FOREACH t IN ARRAY ARRAY['usage_events', 'usage_inbox', 'usage_daily', 'usage_conflicts', 'usage_voids'] LOOP
        IF NOT dsx.citus_placed(pg_catalog.format('dsx.%I', t)::regclass) THEN
            PERFORM dsx.citus_move(pg_catalog.format('dsx.%I', t)::regclass,
                                   CASE WHEN t = 'usage_events' THEN 'default' ELSE 'dsx.usage_events' END);
        END IF;
    END LOOP;

    FOREACH t IN ARRAY readd LOOP
        EXECUTE t;
    END LOOP;
    FOR fk IN SELECT * FROM (VALUES ('agreements', 'agreement'), ('parties', 'party'), ('currencies', 'currency'),
                                    ('factories', 'factory')) v(tab, col)
               WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g
                                  WHERE g.tgrelid = pg_catalog.format('dsx.%I', v.tab)::regclass AND g.tgname = 'keep_books') LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER keep_books AFTER UPDATE OR DELETE ON dsx.%I '
                                  'FOR EACH ROW EXECUTE FUNCTION dsx.keep_books(%L)', fk.tab, fk.col);
        EXECUTE pg_catalog.format('CREATE TRIGGER keep_books_truncate BEFORE TRUNCATE ON dsx.%I '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION dsx.keep_books(%L)', fk.tab, fk.col);
    END LOOP;
    -- Where a query joins a plain table of the coordinator (the books) with Citus tables,
    -- Citus 13.2 turns one side into a subquery; by default it may pick the plain table, and
    -- for a table under row-level security (every role's but the owner's) its planner then
    -- crashes the backend. Turning the Citus side into the subquery instead gives the same
    -- rows: the database's sessions do that from now on.
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.local_table_join_policy = %L',
                              pg_catalog.current_database(), 'prefer-distributed');
    -- Citus's functions that run a command on every shard or node, as the caller, would let
    -- any role read the shards' own statistics (a shard holds few factories: close to a
    -- factory's volume): they are the owner's (and superusers') alone in a dsx database.
    FOR fk IN SELECT p.oid::regprocedure AS fn FROM pg_catalog.pg_proc p
               WHERE p.pronamespace = 'pg_catalog'::regnamespace
                 AND p.proname IN ('run_command_on_all_nodes', 'run_command_on_colocated_placements',
                                   'run_command_on_coordinator', 'run_command_on_placements',
                                   'run_command_on_shards', 'run_command_on_workers') LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fk.fn);
    END LOOP;

    RETURN QUERY SELECT * FROM dsx.layout();
END
$$;
COMMENT ON FUNCTION dsx.distribute() IS 'On a Citus coordinator, lay dsx out for Citus: the usage tables distributed by factory and co-located, the configuration as reference tables, the books, the ingest log and the history local on the coordinator; returns every dsx table and its layout (dsx.layout()). Idempotent; 0A000 without Citus. For the extension owner';

-- A command run here and on every worker (each in its own transaction there): for dsx's
-- tables before they are Citus's, whose copies on the workers Citus then takes as the
-- tables' shells.
CREATE OR REPLACE FUNCTION dsx.on_every_node(command text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    failed text;
BEGIN
    EXECUTE command;
    EXECUTE 'SELECT pg_catalog.string_agg(w.nodename || '':'' || w.nodeport || '': '' || w.result, ''; '')
               FROM pg_catalog.run_command_on_workers($1) w WHERE NOT w.success'
       INTO failed USING command;
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'a worker refused: %', failed
            USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = 'The command was: ' || command;
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.on_every_node(text) IS 'dsx.distribute()''s step: a command run on the coordinator and on every worker';

-- One table into Citus: a reference table (colocate_with NULL), or distributed by factory
-- and co-located as named. The rows Citus copies into the shards stay in the coordinator's
-- own heap, unseen: they are dropped there.
CREATE OR REPLACE FUNCTION dsx.citus_move(rel regclass, colocate_with text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    had_rows boolean;
BEGIN
    EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM %s)', rel) INTO had_rows;
    IF colocate_with IS NULL THEN
        PERFORM pg_catalog.create_reference_table(rel);
    ELSE
        PERFORM pg_catalog.create_distributed_table(rel, 'factory', colocate_with => colocate_with);
    END IF;
    IF had_rows THEN
        PERFORM pg_catalog.truncate_local_data_after_distributing_table(rel);
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.citus_move(regclass, text) IS 'dsx.distribute()''s step for one table: into Citus as a reference table (colocate_with NULL) or distributed by factory, co-located with colocate_with; the coordinator''s copy of its rows dropped';

CREATE OR REPLACE FUNCTION dsx.citus_placed(rel regclass) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM dsx.layout() l WHERE l.table_name OPERATOR(pg_catalog.=) $1 AND l.layout <> 'local') $$;
COMMENT ON FUNCTION dsx.citus_placed(regclass) IS 'Whether the table is in Citus''s metadata (distributed, reference or Citus local)';

-- Every table of dsx and where it lives: distributed by <column>, reference, local (Citus
-- local table, on the coordinator) or local (not in Citus's metadata; every table, without
-- Citus).
CREATE OR REPLACE FUNCTION dsx.layout() RETURNS TABLE(table_name regclass, layout text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN QUERY SELECT c.oid::regclass, 'local'::text
                       FROM pg_catalog.pg_class c
                      WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'r'
                      ORDER BY c.relname;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT c.oid::regclass,
               CASE WHEN p.partmethod = 'h'
                    THEN 'distributed by ' || pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)
                    WHEN p.repmodel = 't' THEN 'reference'
                    WHEN p.logicalrelid IS NOT NULL THEN 'local (Citus local table)'
                    ELSE 'local' END
          FROM pg_catalog.pg_class c
          LEFT JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid = c.oid
         WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'r'
           AND NOT pg_catalog.relation_is_a_known_shard(c.oid)
         ORDER BY c.relname$q$;
END
$$;
COMMENT ON FUNCTION dsx.layout() IS 'Every table of dsx and where it lives: distributed by factory, reference, local (Citus local table, on the coordinator) or local; without Citus, every table is local';

/*
 * Ingest on Citus: the bulk step of one node, run on the workers, shard by shard, inside
 * the ingest's own transaction. dsx.ingest_on_shards() (on the coordinator) sends one query
 * on the inbox, grouped by factory, which Citus runs whole on every shard at once; in it,
 * dsx.ingest_shard() (on the worker holding the shard) moves the shard's rows into the
 * co-located shards of the events, the rollup and the conflicts on that node, with the C
 * bulk step, reading the factories from that node's copy of them. Citus does not see
 * those writes: so that every later statement of the transaction reads them, the inbox's
 * shards are first modified (a DELETE of no row), which ties each group of co-located
 * shards to the one connection that made the change, for the rest of the transaction.
 */
CREATE OR REPLACE FUNCTION dsx.ingest_shard(src regclass, batch bigint, dedup boolean, attempt uuid) RETURNS bigint[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done  text := pg_catalog.current_setting('dsx.ingested_shards', true);
    key   text := pg_catalog.format('%s:%s', attempt, src::oid);
    t     record;
    r     record;
BEGIN
    IF dsx.citus_node() = 'none' THEN
        RAISE EXCEPTION 'dsx.ingest_shard() runs on a node of a Citus cluster, in the query dsx.ingest() sends it'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    -- the query calls it once for each factory of the shard: the first call does the
    -- shard's work (of this attempt: a batch and a mode, named by dsx.ingest_on_shards),
    -- the others count nothing
    IF key = ANY (pg_catalog.string_to_array(done, ' ')) THEN
        RETURN ARRAY[0, 0, 0]::bigint[];
    END IF;
    -- the shard's group: the co-located shards on this node, and this node's copy of the
    -- factories (Citus's catalogue, read dynamically: it exists only with Citus)
    EXECUTE $q$
        SELECT pg_catalog.to_regclass(pg_catalog.format('dsx.%I', 'usage_events_' || e.shardid)) AS events,
               pg_catalog.to_regclass(pg_catalog.format('dsx.%I', 'usage_daily_' || d.shardid)) AS daily,
               pg_catalog.to_regclass(pg_catalog.format('dsx.%I', 'usage_conflicts_' || c.shardid)) AS kept,
               (SELECT pg_catalog.to_regclass(pg_catalog.format('dsx.%I', 'factories_' || f.shardid))
                  FROM pg_catalog.pg_dist_shard f WHERE f.logicalrelid = 'dsx.factories'::regclass) AS factories,
               pg_catalog.pg_get_serial_sequence('dsx.usage_conflicts', 'conflict_id')::regclass AS kept_ids,
               (SELECT g.groupid::bigint << 48 FROM pg_catalog.pg_dist_local_group g) AS kept_id_base
          FROM pg_catalog.pg_dist_shard i
          JOIN pg_catalog.pg_dist_shard e ON e.logicalrelid = 'dsx.usage_events'::regclass AND e.shardminvalue = i.shardminvalue
          JOIN pg_catalog.pg_dist_shard d ON d.logicalrelid = 'dsx.usage_daily'::regclass AND d.shardminvalue = i.shardminvalue
          JOIN pg_catalog.pg_dist_shard c ON c.logicalrelid = 'dsx.usage_conflicts'::regclass AND c.shardminvalue = i.shardminvalue
         WHERE i.logicalrelid = 'dsx.usage_inbox'::regclass
           AND pg_catalog.to_regclass(pg_catalog.format('dsx.%I', 'usage_inbox_' || i.shardid)) = $1
           AND (SELECT pg_catalog.count(DISTINCT p.colocationid) FROM pg_catalog.pg_dist_partition p
                 WHERE p.logicalrelid IN ('dsx.usage_inbox'::regclass, 'dsx.usage_events'::regclass,
                                          'dsx.usage_daily'::regclass, 'dsx.usage_conflicts'::regclass)) = 1$q$
      INTO t USING src;
    IF t.events IS NULL OR t.daily IS NULL OR t.kept IS NULL OR t.factories IS NULL OR t.kept_ids IS NULL THEN
        RAISE EXCEPTION '% is not a shard of dsx.usage_inbox with its co-located shards on this node', src
            USING ERRCODE = 'feature_not_supported';
    END IF;
    -- A conflict kept is numbered in this node's range, as Citus numbers the rows a node
    -- inserts into a distributed table itself: the group's number, shifted 48 bits, plus
    -- the node's own count (the coordinator's, group 0, numbers those it sends): unique
    -- on every node, and wherever the shard moves.
    SELECT * INTO r FROM dsx.ingest_rows_into(src, t.events, t.daily, t.kept, t.factories, t.kept_ids, t.kept_id_base, batch, dedup);
    IF r.inserted IS NULL THEN
        RETURN NULL;     -- declined: nothing written, and so at every call
    END IF;
    PERFORM pg_catalog.set_config('dsx.ingested_shards', pg_catalog.concat_ws(' ', NULLIF(done, ''), key), true);
    RETURN ARRAY[r.inserted, r.duplicates, r.conflicts];
END
$$;
COMMENT ON FUNCTION dsx.ingest_shard(regclass, bigint, boolean, uuid) IS 'On the Citus node holding a shard of dsx.usage_inbox, in the query dsx.ingest_on_shards sends: the bulk step (dsx.ingest_rows_into) for that shard, into its co-located shards on the node; {inserted, duplicates, conflicts} at its first call for the shard in the attempt, zeros after, NULL where the step declines; 0A000 for anything but such a shard';

CREATE OR REPLACE FUNCTION dsx.ingest_on_shards(batch bigint, OUT inserted bigint, OUT duplicates bigint, OUT conflicts bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pending  bigint;
    declined bigint;
    calls    bigint;
    dedup    boolean;
    attempt  uuid;       -- names one attempt's work on the shards
BEGIN
    IF NOT EXISTS (SELECT 1 FROM dsx.layout() l
                    WHERE l.table_name OPERATOR(pg_catalog.=) 'dsx.usage_inbox'::regclass
                      AND l.layout = 'distributed by factory') THEN
        RETURN;          -- not on Citus's shards (or no Citus): all NULL
    END IF;
    -- ties each group of co-located shards to one connection (see above)
    DELETE FROM dsx.usage_inbox WHERE ctid = '(0,0)';
    SELECT count(*) INTO pending FROM dsx.usage_inbox;
    IF pending = 0 THEN
        inserted := 0; duplicates := 0; conflicts := 0;
        RETURN;
    END IF;
    -- every row taken as a new event (a key already stored or repeated aborts the
    -- subtransaction, on every worker), else the deduplicating mode; each attempt is named
    -- anew, so that the shards' once-per-attempt marks of the first do not hold for the second
    FOREACH dedup IN ARRAY ARRAY[false, true] LOOP
        attempt := pg_catalog.gen_random_uuid();
        BEGIN
            SELECT sum(s.r[1]), sum(s.r[2]), sum(s.r[3]), count(*) FILTER (WHERE s.r IS NULL), count(*)
              INTO inserted, duplicates, conflicts, declined, calls
              FROM (SELECT dsx.ingest_shard(i.tableoid, batch, dedup, attempt) AS r
                      FROM dsx.usage_inbox i GROUP BY i.factory, i.tableoid) s;
            EXIT;
        EXCEPTION WHEN unique_violation THEN
            IF dedup THEN
                RAISE;
            END IF;
        END;
    END LOOP;
    IF declined = calls THEN
        inserted := NULL; duplicates := NULL; conflicts := NULL;
        RETURN;          -- declined everywhere, nothing written: dsx.ingest()'s SQL steps
    END IF;
    IF declined > 0 OR inserted + duplicates + conflicts <> pending THEN
        RAISE EXCEPTION 'dsx.ingest accounted for % of % pending rows on the shards (% of % calls declined)',
                        COALESCE(inserted + duplicates + conflicts, 0), pending, declined, calls
            USING ERRCODE = 'internal_error';
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.ingest_on_shards(bigint) IS 'dsx.ingest()''s bulk step on Citus, run on the coordinator: the rows of a distributed dsx.usage_inbox moved as the batch by dsx.ingest_shard on every shard at once, in this transaction; all NULL where the inbox is not distributed or the step declines, an error (XX000) unless every row is accounted for';
