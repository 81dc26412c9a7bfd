-- schema/50-ingest.sql — ingest: dsx.ingest() and its bulk step in C, dsx.ingest_rows().

CREATE OR REPLACE FUNCTION dsx.ingest_rows(src regclass, batch bigint, dedup boolean,
                                OUT inserted bigint, OUT duplicates bigint, OUT conflicts bigint)
    AS 'MODULE_PATHNAME', 'dsx_ingest_rows' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION dsx.ingest_rows(regclass, bigint, boolean) IS 'dsx.ingest()''s bulk step (C): moves every row of src (dsx.usage_inbox''s columns) into dsx.usage_events as the batch, rolls the stored events up into dsx.usage_daily and keeps conflicting payloads in dsx.usage_conflicts. dedup = false takes every row as new (a stored or repeated key raises unique_violation); dedup = true looks every key up. All NULL, nothing written, when triggers, row-level security or the table''s shape need plain SQL';

CREATE OR REPLACE FUNCTION dsx.ingest_rows_into(src regclass, events regclass, daily regclass, kept regclass, factories regclass,
                                kept_ids regclass, kept_id_base bigint, batch bigint, dedup boolean,
                                OUT inserted bigint, OUT duplicates bigint, OUT conflicts bigint)
    AS 'MODULE_PATHNAME', 'dsx_ingest_rows_into' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION dsx.ingest_rows_into(regclass, regclass, regclass, regclass, regclass, regclass, bigint, bigint, boolean) IS 'dsx.ingest_rows into other tables of the same shapes: the rows of src into events, rolled up into daily, conflicting payloads kept in kept (numbered kept_id_base + nextval(kept_ids)), the factories and their time zones read from factories. On a Citus node, dsx.ingest_shard runs it on one group of co-located shards';

-- The rollup's day of an event: its calendar day in its factory's time zone.
CREATE OR REPLACE FUNCTION dsx.usage_day(occurred_at timestamptz, time_zone text) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.timezone($2, $1)::date $$;
COMMENT ON FUNCTION dsx.usage_day(timestamptz, text) IS 'The day of dsx.usage_daily an event is rolled up into: the local calendar day of occurred_at in its factory''s time zone';
CREATE OR REPLACE FUNCTION dsx.usage_day(occurred_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.timezone('UTC', $1)::date $$;
COMMENT ON FUNCTION dsx.usage_day(timestamptz) IS 'The UTC calendar day of occurred_at: the rollup day of an event of a factory in UTC';

/*
 * dsx.ingest_as(who) runs with the owner's rights (SECURITY DEFINER): it is the only way
 * usage enters the events, the rollup, the conflicts and the log, which no other role may
 * write. dsx.ingest(), which runs with the caller's rights, calls it for the role the
 * caller acts as (CURRENT_USER, after any SET ROLE); it refuses a role the session could
 * not act as. It decides itself what that role may ingest: staff (the owner, dsx_operator)
 * every row of the inbox; a loader only the rows of the factories it is mapped to, others'
 * rows staying in the inbox for their own loaders. The log records the real login
 * (session_user).
 */
CREATE OR REPLACE FUNCTION dsx.ingest_as(who name)
RETURNS TABLE(inserted bigint, duplicates bigint, conflicts bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pending bigint;
    batch   bigint;
    same    bigint := 0;
    unknown text;
    in_load boolean;
    scope   text[];                      -- NULL: every row; else the factories this login may ingest
    src     text := 'dsx.usage_inbox';   -- the rows this call moves: the inbox, or a copy
    all_new boolean;
    on_citus boolean := dsx.citus_node() = 'coordinator';
BEGIN
    PERFORM dsx.refuse_on_worker('dsx.ingest()');
    IF NOT dsx.session_may_act_as(who) THEN
        RAISE EXCEPTION 'permission denied to ingest as role "%"', who
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The session''s login "%s" is not a member of that role.', SESSION_USER);
    END IF;
    IF NOT dsx.is_staff(who) THEN
        scope := COALESCE(dsx.visible_keys((SELECT g.oid FROM pg_roles g WHERE g.rolname = who), 'loader_factory'), '{}');
    END IF;
    -- A settlement in progress (it holds the rollup in SHARE mode) is waited for first,
    -- without holding the inbox, so loads carry on meanwhile.
    LOCK TABLE dsx.usage_daily IN ROW EXCLUSIVE MODE;
    -- Did this transaction load (or read) the inbox itself? Then it holds the inbox, and
    -- asking for it exclusively could deadlock with another transaction doing the same.
    -- A loader moves only its own factories' rows, out of the inbox others share.
    in_load := scope IS NOT NULL OR EXISTS (
                   SELECT 1 FROM pg_catalog.pg_locks l
                    WHERE l.locktype = 'relation' AND l.relation = 'dsx.usage_inbox'::regclass
                      AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                         WHERE d.datname = pg_catalog.current_database())
                      AND l.pid = pg_catalog.pg_backend_pid() AND l.granted);
    IF in_load AND scope IS NULL THEN
        -- Alone with the inbox, it may have it exclusively at once: then nothing differs.
        BEGIN
            LOCK TABLE dsx.usage_inbox IN ACCESS EXCLUSIVE MODE NOWAIT;
            in_load := false;
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
    END IF;
    IF in_load THEN
        -- Others hold the inbox too. Ingests take turns on an advisory lock; the rows this
        -- transaction can see move out of the inbox into a private copy, exactly those,
        -- whatever others load meanwhile.
        PERFORM pg_catalog.pg_advisory_xact_lock('dsx.usage_inbox'::regclass::oid::bigint);
        -- The copy is a new table of this call's own, under a name nobody can guess: the
        -- session's temporary schema is also the caller's, and a table the caller made
        -- there beforehand (with a trigger of its own) would run the caller's code with the
        -- owner's rights. CREATE without IF NOT EXISTS fails rather than use another's.
        src := pg_catalog.format('pg_temp.%I', 'dsx_ingest_' || pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''));
        EXECUTE pg_catalog.format('CREATE TEMP TABLE %s (LIKE dsx.usage_inbox) ON COMMIT DROP', src);
        EXECUTE pg_catalog.format('WITH moved AS (DELETE FROM dsx.usage_inbox i WHERE $1 IS NULL OR i.factory = ANY ($1) RETURNING i.*)
                                   INSERT INTO %s SELECT * FROM moved', src) USING scope;
    ELSE
        -- Loaders take ROW EXCLUSIVE: this waits for open loads and keeps new ones out until
        -- we commit, so the TRUNCATE below empties exactly the rows moved here.
        LOCK TABLE dsx.usage_inbox IN ACCESS EXCLUSIVE MODE;
        PERFORM pg_catalog.pg_advisory_xact_lock('dsx.usage_inbox'::regclass::oid::bigint);
    END IF;
    -- batches are numbered in commit order: the locks above serialise ingests
    batch := nextval('dsx.ingest_batch_seq');

    -- The bulk step. On Citus, on the inbox's shards: on every worker, shard by shard
    -- (dsx.ingest_on_shards; all NULL where it declines, or the inbox is not distributed).
    IF on_citus AND NOT in_load THEN
        SELECT r.inserted, r.duplicates, r.conflicts INTO inserted, duplicates, conflicts
          FROM dsx.ingest_on_shards(batch) r;
    END IF;
    -- Else here: every row taken as a new event (in a subtransaction, which a key already
    -- stored or repeated in the batch aborts), else the deduplicating mode.
    IF inserted IS NULL THEN
        BEGIN
            SELECT r.inserted, r.duplicates, r.conflicts INTO inserted, duplicates, conflicts
              FROM dsx.ingest_rows(src::regclass, batch, false) r;
        EXCEPTION WHEN unique_violation THEN
            SELECT r.inserted, r.duplicates, r.conflicts INTO inserted, duplicates, conflicts
              FROM dsx.ingest_rows(src::regclass, batch, true) r;
        END;
    END IF;
    IF inserted IS NOT NULL THEN
        pending := inserted + duplicates + conflicts;
        IF pending = 0 THEN
            RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint;
            RETURN;
        END IF;
    ELSE
        -- The bulk step declined (insert triggers or row-level security on usage_events
        -- must apply, the table was changed, or its rows are not in a local heap: a
        -- loader's rows on Citus, copied out of the inbox): the same work in SQL
        -- statements.
        -- One statement a step, each a join on (factory, event_id) or grouped by factory:
        -- on Citus, where the inbox, the events, the rollup and the conflicts are
        -- distributed by factory and co-located, each runs on the workers, shard by shard.
        -- The batch's statistics first: the joins below are planned on them.
        EXECUTE format('ANALYZE %s', src);
        EXECUTE format('SELECT min(i.factory) FROM %s i WHERE NOT EXISTS (SELECT 1 FROM dsx.factories f WHERE f.factory = i.factory)', src)
           INTO unknown;
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'usage for unknown factory "%"', unknown
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = 'Every event''s factory must exist in dsx.factories; nothing was ingested.',
                      HINT = 'Register the factory, or remove its rows from dsx.usage_inbox, and call dsx.ingest() again.';
        END IF;
        -- Every row taken as a new event, by a plain INSERT (in a subtransaction, which a key
        -- already stored or repeated in the batch aborts), rolled up straight from the batch;
        -- else the deduplicating statements. On Citus, rows of a copy on the coordinator
        -- reach the shards by Citus's COPY, which reports a key already stored as XX000,
        -- not unique_violation: those go to the deduplicating statements at once.
        all_new := false;
        IF NOT (in_load AND on_citus) THEN
            BEGIN
                EXECUTE format($q$
                    INSERT INTO dsx.usage_events
                           (factory, event_id, occurred_at, customer, model, input_tokens, output_tokens, batch_id)
                    SELECT i.factory, i.event_id, i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens, $1
                      FROM %s i$q$, src) USING batch;
                GET DIAGNOSTICS inserted = ROW_COUNT;
                all_new := true;
            EXCEPTION WHEN unique_violation THEN
                all_new := false;
            END;
        END IF;
        IF all_new THEN
            IF inserted = 0 THEN
                RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint;
                RETURN;
            END IF;
            pending := inserted;
            EXECUTE format($q$
                INSERT INTO dsx.usage_daily AS d (factory, customer, model, day, usage)
                SELECT i.factory, i.customer, i.model, dsx.usage_day(i.occurred_at, f.time_zone),
                       dsx.usage_agg(i.input_tokens, i.output_tokens, i.occurred_at)
                  FROM %s i
                  JOIN dsx.factories f ON f.factory = i.factory
                 GROUP BY i.factory, i.customer, i.model, dsx.usage_day(i.occurred_at, f.time_zone)
                ON CONFLICT (factory, day, customer, model)
                DO UPDATE SET usage = d.usage OPERATOR(dsx.+) excluded.usage$q$, src);
        ELSE
            EXECUTE format('SELECT count(*) FROM %s', src) INTO pending;
            -- Store what is new (a key repeated in the batch: its first arrival) ...
            EXECUTE format($q$
                INSERT INTO dsx.usage_events AS e
                       (factory, event_id, occurred_at, customer, model, input_tokens, output_tokens, batch_id)
                SELECT i.factory, i.event_id, i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens, $1
                  FROM %s i
                ON CONFLICT (factory, event_id) DO NOTHING$q$, src) USING batch;
            GET DIAGNOSTICS inserted = ROW_COUNT;
            IF in_load AND on_citus THEN
                -- Citus counts the rows of a coordinator's copy it sent, not those stored
                EXECUTE format($q$
                    SELECT count(*) FROM dsx.usage_events e
                     WHERE e.batch_id = $1 AND (e.factory, e.event_id) IN (SELECT i.factory, i.event_id FROM %s i)$q$, src)
                   INTO inserted USING batch;
            END IF;
            -- ... and roll up exactly the events this batch stored.
            EXECUTE format($q$
                INSERT INTO dsx.usage_daily AS d (factory, customer, model, day, usage)
                SELECT e.factory, e.customer, e.model, dsx.usage_day(e.occurred_at, f.time_zone),
                       dsx.usage_agg(e.input_tokens, e.output_tokens, e.occurred_at)
                  FROM dsx.usage_events e
                  JOIN dsx.factories f ON f.factory = e.factory
                 WHERE e.batch_id = $1 AND (e.factory, e.event_id) IN (SELECT i.factory, i.event_id FROM %s i)
                 GROUP BY e.factory, e.customer, e.model, dsx.usage_day(e.occurred_at, f.time_zone)
                ON CONFLICT (factory, day, customer, model)
                DO UPDATE SET usage = d.usage OPERATOR(dsx.+) excluded.usage$q$, src) USING batch;
        END IF;

        IF inserted < pending THEN
            -- Some ids were stored already (before, or earlier in this batch): the same payload
            -- is a duplicate, a different one a conflict, kept aside with both payloads.
            EXECUTE format($q$
                INSERT INTO dsx.usage_conflicts AS c
                       (factory, event_id, stored_occurred_at, stored_customer, stored_model,
                        stored_input_tokens, stored_output_tokens, incoming_occurred_at,
                        incoming_customer, incoming_model, incoming_input_tokens,
                        incoming_output_tokens, first_seen, last_seen, times_seen)
                SELECT i.factory, i.event_id, e.occurred_at, e.customer, e.model, e.input_tokens, e.output_tokens,
                       i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens, $1, $1, count(*)
                  FROM %s i
                  JOIN dsx.usage_events e ON e.factory = i.factory AND e.event_id = i.event_id
                 WHERE (i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens)
                       IS DISTINCT FROM (e.occurred_at, e.customer, e.model, e.input_tokens, e.output_tokens)
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
                ON CONFLICT (factory, event_id, incoming_occurred_at, incoming_customer,
                             incoming_model, incoming_input_tokens, incoming_output_tokens)
                DO UPDATE SET times_seen = c.times_seen + excluded.times_seen, last_seen = excluded.last_seen$q$, src)
              USING pg_catalog.now();
            EXECUTE format($q$
                SELECT count(*) FILTER (WHERE s.same), count(*) FILTER (WHERE NOT s.same)
                  FROM (SELECT (i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens)
                               IS NOT DISTINCT FROM
                               (e.occurred_at, e.customer, e.model, e.input_tokens, e.output_tokens) AS same
                          FROM %s i
                          JOIN dsx.usage_events e ON e.factory = i.factory AND e.event_id = i.event_id) s$q$, src)
               INTO same, conflicts;
            duplicates := same - inserted;
        ELSE
            duplicates := 0;
            conflicts := 0;
        END IF;

        IF inserted + duplicates + conflicts <> pending THEN
            RAISE EXCEPTION 'dsx.ingest accounted for % of % pending rows', inserted + duplicates + conflicts, pending
                USING ERRCODE = 'internal_error';
        END IF;
    END IF;

    IF in_load THEN
        EXECUTE pg_catalog.format('DROP TABLE %s', src);
    ELSE
        TRUNCATE dsx.usage_inbox;
    END IF;
    INSERT INTO dsx.ingest_log (batch_id, ingested_by, inserted, duplicates, conflicts)
    VALUES (batch, SESSION_USER, inserted, duplicates, conflicts);
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION dsx.ingest_as(name) IS 'What dsx.ingest() runs, with the owner''s rights, for the role its caller acts as (which the session must be able to act as): the inbox rows that role may ingest, moved into the books';

CREATE OR REPLACE FUNCTION dsx.ingest()
RETURNS TABLE(inserted bigint, duplicates bigint, conflicts bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM dsx.ingest_as(CURRENT_USER) $$;
COMMENT ON FUNCTION dsx.ingest() IS 'Move the rows of dsx.usage_inbox the caller may ingest (every row for the owner and dsx_operator, its factories'' rows for a loader) into dsx.usage_events: new events stored (and rolled up into dsx.usage_daily), duplicates counted, conflicting payloads kept in dsx.usage_conflicts; the batch is logged under the real login';
