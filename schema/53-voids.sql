-- schema/53-voids.sql — corrections: dsx.void_events() takes stored events out of the
-- books without deleting them, and dsx.last_batch(), the position of usage every
-- statement records.

-- The last batch of usage so far: ingests and voids number their batches from one sequence,
-- in commit order (both take the same advisory lock), so a statement recomputed "as of
-- batch N" sees exactly the events and voids it saw.
CREATE OR REPLACE FUNCTION dsx.last_batch() RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- the ingest log is on the coordinator
    PERFORM dsx.refuse_on_worker('dsx.last_batch()');
    RETURN GREATEST(COALESCE((SELECT pg_catalog.max(l.batch_id) FROM dsx.ingest_log l), 0),
                    COALESCE((SELECT pg_catalog.max(v.batch_id) FROM dsx.usage_voids v), 0));
END
$$;
COMMENT ON FUNCTION dsx.last_batch() IS 'The last batch of usage ingested or voided so far (0 before any): what a statement settled now sees';

/*
 * Void stored events of a factory: each is recorded in dsx.usage_voids (who, when, why),
 * stays in dsx.usage_events (so that a re-sent id is a duplicate or a conflict, never new),
 * and leaves the rollup: the days it touched are rolled up again from the events that are
 * not voided. A closed period it belonged to is re-rated by the next settlement and the
 * difference booked as adjustment lines, as late usage is. Runs with the owner's rights;
 * for the owner and dsx_operator.
 */
CREATE OR REPLACE FUNCTION dsx.void_events(factory text, event_ids text[], reason text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_factory text := void_events.factory;
    v_batch   bigint;
    v_n       bigint;
    v_skipped text;
    v_voided  text[];
    v_customers text[];
    v_models  text[];
    v_days    date[];
    v_tz      text;
BEGIN
    PERFORM dsx.refuse_on_worker('dsx.void_events()');
    IF v_factory IS NULL OR event_ids IS NULL OR reason IS NULL THEN
        RAISE EXCEPTION 'dsx.void_events needs a factory, event ids and a reason' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF btrim(reason) = '' THEN
        RAISE EXCEPTION 'a void needs a reason' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Say why the events are taken out of the books: the reason is kept with them.';
    END IF;
    SELECT f.time_zone INTO v_tz FROM dsx.factories f WHERE f.factory = v_factory;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown factory "%"', v_factory USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- as an ingest: wait for a settlement in progress, then take the batch turn
    LOCK TABLE dsx.usage_daily IN ROW EXCLUSIVE MODE;
    PERFORM pg_catalog.pg_advisory_xact_lock('dsx.usage_inbox'::regclass::oid::bigint);
    v_batch := nextval('dsx.ingest_batch_seq');

    -- the ids stored and not voided yet, then their voids (two statements: on Citus each
    -- reads or writes the one shard of the factory)
    SELECT array_agg(e.event_id ORDER BY e.event_id) INTO v_voided
      FROM dsx.usage_events e
     WHERE e.factory = v_factory AND e.event_id = ANY (event_ids)
       AND NOT EXISTS (SELECT 1 FROM dsx.usage_voids v WHERE v.factory = e.factory AND v.event_id = e.event_id);
    INSERT INTO dsx.usage_voids (factory, event_id, batch_id, voided_by, reason)
    SELECT v_factory, u.id, v_batch, SESSION_USER, void_events.reason FROM unnest(v_voided) u(id);
    SELECT string_agg(DISTINCT u.id, ', ' ORDER BY u.id) INTO v_skipped
      FROM unnest(event_ids) u(id)
     WHERE u.id IS NOT NULL AND u.id <> ALL (COALESCE(v_voided, '{}'));
    v_n := COALESCE(cardinality(v_voided), 0);
    IF v_n > 0 THEN
        -- the rollup rows the voided events touched, rolled up again from the events still
        -- in the books (no temporary table: the session's temporary schema is the caller's
        -- too, and this runs with the owner's rights)
        WITH days AS (
            SELECT DISTINCT e.customer, e.model, dsx.usage_day(e.occurred_at, v_tz) AS day
              FROM dsx.usage_events e WHERE e.factory = v_factory AND e.event_id = ANY (v_voided)
        )
        SELECT array_agg(days.customer), array_agg(days.model), array_agg(days.day)
          INTO v_customers, v_models, v_days FROM days;
        DELETE FROM dsx.usage_daily d USING unnest(v_customers, v_models, v_days) x(customer, model, day)
         WHERE d.factory = v_factory AND d.customer = x.customer AND d.model = x.model AND d.day = x.day;
        INSERT INTO dsx.usage_daily (factory, customer, model, day, usage)
        SELECT v_factory, e.customer, e.model, x.day, dsx.usage_agg(e.input_tokens, e.output_tokens, e.occurred_at)
          FROM unnest(v_customers, v_models, v_days) x(customer, model, day)
          JOIN dsx.usage_events e ON e.factory = v_factory AND e.customer = x.customer AND e.model = x.model
                                 AND dsx.usage_day(e.occurred_at, v_tz) = x.day
         WHERE NOT EXISTS (SELECT 1 FROM dsx.usage_voids v WHERE v.factory = e.factory AND v.event_id = e.event_id)
         GROUP BY e.customer, e.model, x.day;
    END IF;
    IF v_skipped IS NOT NULL THEN
        RAISE NOTICE 'not voided (unknown at factory "%", or voided already): %', v_factory, v_skipped;
    END IF;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION dsx.void_events(text, text[], text) IS 'Void stored events of a factory (never deletes them): records who, when and why in dsx.usage_voids, takes them out of the rollup, and leaves the next settlement to book a closed period''s difference as adjustment lines; returns how many it voided (unknown or already voided ids are named in a NOTICE). For the owner and dsx_operator';
