-- dsx 1.0 — part 20: metering. The inbox loaders write to, the stored events, conflicts
-- kept aside, the daily rollup kept current at ingest, and dsx.ingest().

CREATE TABLE dsx.usage_inbox (
    event_id      text NOT NULL,
    -- the range a dsx.usage can carry: a row outside it is refused at load, by name
    occurred_at   timestamptz NOT NULL
                  CHECK (occurred_at >= '0001-01-01 00:00:00+00' AND occurred_at < '10000-01-01 00:00:00+00'),
    factory       text NOT NULL,
    customer      text NOT NULL,
    model         text NOT NULL,
    input_tokens  bigint NOT NULL CHECK (input_tokens >= 0),
    output_tokens bigint NOT NULL CHECK (output_tokens >= 0)
);
COMMENT ON TABLE dsx.usage_inbox IS 'Landing table for token usage: load with COPY or INSERT, then call dsx.ingest()';
COMMENT ON COLUMN dsx.usage_inbox.event_id IS 'Idempotency key, unique per factory';
COMMENT ON COLUMN dsx.usage_inbox.occurred_at IS 'When the usage happened';
COMMENT ON COLUMN dsx.usage_inbox.factory IS 'Factory that served the tokens (must exist in dsx.factories)';
COMMENT ON COLUMN dsx.usage_inbox.customer IS 'Customer the tokens are billed to';
COMMENT ON COLUMN dsx.usage_inbox.model IS 'Model that served them';
COMMENT ON COLUMN dsx.usage_inbox.input_tokens IS 'Input (prompt) tokens, >= 0';
COMMENT ON COLUMN dsx.usage_inbox.output_tokens IS 'Output (generated) tokens, >= 0';

CREATE TABLE dsx.usage_events (
    factory       text NOT NULL,
    event_id      text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    customer      text NOT NULL,
    model         text NOT NULL,
    input_tokens  bigint NOT NULL CHECK (input_tokens >= 0),
    output_tokens bigint NOT NULL CHECK (output_tokens >= 0),
    batch_id      bigint NOT NULL,
    PRIMARY KEY (factory, event_id)
);
-- Time ranges per factory: events arrive roughly in time order, so a BRIN index answers
-- them at a fraction of a btree's cost on the ingest path.
CREATE INDEX usage_events_factory_time ON dsx.usage_events USING brin (factory, occurred_at) WITH (pages_per_range = 32);
COMMENT ON TABLE dsx.usage_events IS 'Every usage event ever ingested, once per (factory, event_id); written only by dsx.ingest()';
COMMENT ON COLUMN dsx.usage_events.factory IS 'Factory that served the tokens';
COMMENT ON COLUMN dsx.usage_events.event_id IS 'Idempotency key, unique per factory';
COMMENT ON COLUMN dsx.usage_events.occurred_at IS 'When the usage happened';
COMMENT ON COLUMN dsx.usage_events.customer IS 'Customer the tokens are billed to';
COMMENT ON COLUMN dsx.usage_events.model IS 'Model that served them';
COMMENT ON COLUMN dsx.usage_events.input_tokens IS 'Input tokens';
COMMENT ON COLUMN dsx.usage_events.output_tokens IS 'Output tokens';
COMMENT ON COLUMN dsx.usage_events.batch_id IS 'The dsx.ingest() batch that stored the event (dsx.ingest_log), so any statement can be recomputed from exactly the events it saw';

CREATE TABLE dsx.usage_conflicts (
    conflict_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    factory                text NOT NULL,
    event_id               text NOT NULL,
    stored_occurred_at     timestamptz NOT NULL,
    stored_customer        text NOT NULL,
    stored_model           text NOT NULL,
    stored_input_tokens    bigint NOT NULL,
    stored_output_tokens   bigint NOT NULL,
    incoming_occurred_at   timestamptz NOT NULL,
    incoming_customer      text NOT NULL,
    incoming_model         text NOT NULL,
    incoming_input_tokens  bigint NOT NULL,
    incoming_output_tokens bigint NOT NULL,
    first_seen             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_seen              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    times_seen             bigint NOT NULL DEFAULT 1,
    UNIQUE (factory, event_id, incoming_occurred_at, incoming_customer, incoming_model,
            incoming_input_tokens, incoming_output_tokens)
);
COMMENT ON TABLE dsx.usage_conflicts IS 'Events whose id was already stored with a different payload: both payloads kept, never merged';
COMMENT ON COLUMN dsx.usage_conflicts.conflict_id IS 'Surrogate key';
COMMENT ON COLUMN dsx.usage_conflicts.factory IS 'Factory of the event';
COMMENT ON COLUMN dsx.usage_conflicts.event_id IS 'The event id both payloads claim';
COMMENT ON COLUMN dsx.usage_conflicts.stored_occurred_at IS 'occurred_at of the stored (settled) event';
COMMENT ON COLUMN dsx.usage_conflicts.stored_customer IS 'customer of the stored event';
COMMENT ON COLUMN dsx.usage_conflicts.stored_model IS 'model of the stored event';
COMMENT ON COLUMN dsx.usage_conflicts.stored_input_tokens IS 'input_tokens of the stored event';
COMMENT ON COLUMN dsx.usage_conflicts.stored_output_tokens IS 'output_tokens of the stored event';
COMMENT ON COLUMN dsx.usage_conflicts.incoming_occurred_at IS 'occurred_at of the refused payload';
COMMENT ON COLUMN dsx.usage_conflicts.incoming_customer IS 'customer of the refused payload';
COMMENT ON COLUMN dsx.usage_conflicts.incoming_model IS 'model of the refused payload';
COMMENT ON COLUMN dsx.usage_conflicts.incoming_input_tokens IS 'input_tokens of the refused payload';
COMMENT ON COLUMN dsx.usage_conflicts.incoming_output_tokens IS 'output_tokens of the refused payload';
COMMENT ON COLUMN dsx.usage_conflicts.first_seen IS 'When this conflicting payload first arrived';
COMMENT ON COLUMN dsx.usage_conflicts.last_seen IS 'When it last arrived';
COMMENT ON COLUMN dsx.usage_conflicts.times_seen IS 'How many times it arrived';

-- The rollup settlement and reports read: one row per factory, customer, model and UTC day.
CREATE TABLE dsx.usage_daily (
    factory  text NOT NULL REFERENCES dsx.factories,
    customer text NOT NULL,
    model    text NOT NULL,
    day      date NOT NULL,
    usage    dsx.usage NOT NULL,
    PRIMARY KEY (factory, day, customer, model)
);
COMMENT ON TABLE dsx.usage_daily IS 'Usage per factory, customer, model and UTC day, kept current by dsx.ingest(); equal to dsx.usage_agg over dsx.usage_events';
COMMENT ON COLUMN dsx.usage_daily.factory IS 'Factory';
COMMENT ON COLUMN dsx.usage_daily.customer IS 'Customer';
COMMENT ON COLUMN dsx.usage_daily.model IS 'Model';
COMMENT ON COLUMN dsx.usage_daily.day IS 'UTC calendar day of occurred_at';
COMMENT ON COLUMN dsx.usage_daily.usage IS 'Summary of the day''s events';

CREATE SEQUENCE dsx.ingest_batch_seq;
CREATE TABLE dsx.ingest_log (
    batch_id    bigint PRIMARY KEY,
    ingested_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ingested_by name NOT NULL DEFAULT CURRENT_USER,
    inserted    bigint NOT NULL,
    duplicates  bigint NOT NULL,
    conflicts   bigint NOT NULL
);
COMMENT ON TABLE dsx.ingest_log IS 'One row per dsx.ingest() call that moved anything: what it stored, skipped and set aside';
COMMENT ON COLUMN dsx.ingest_log.batch_id IS 'Batch number';
COMMENT ON COLUMN dsx.ingest_log.ingested_at IS 'Transaction time of the ingest';
COMMENT ON COLUMN dsx.ingest_log.ingested_by IS 'Role that ran it';
COMMENT ON COLUMN dsx.ingest_log.inserted IS 'New events stored';
COMMENT ON COLUMN dsx.ingest_log.duplicates IS 'Events already stored with the same payload';
COMMENT ON COLUMN dsx.ingest_log.conflicts IS 'Events set aside in dsx.usage_conflicts';

CREATE FUNCTION dsx.ingest()
RETURNS TABLE(inserted bigint, duplicates bigint, conflicts bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pending bigint;
    batch   bigint;
    same    bigint := 0;
    unknown text;
BEGIN
    -- A settlement in progress (it holds the rollup in SHARE mode) is waited for first,
    -- without holding the inbox, so loads carry on meanwhile.
    LOCK TABLE dsx.usage_daily IN ROW EXCLUSIVE MODE;
    -- Loaders take ROW EXCLUSIVE: this waits for open loads and keeps new ones out until
    -- we commit, so the TRUNCATE below empties exactly the rows moved here.
    LOCK TABLE dsx.usage_inbox IN ACCESS EXCLUSIVE MODE;
    -- batches are numbered in commit order: the lock above serialises ingests
    batch := nextval('dsx.ingest_batch_seq');

    -- Fast path, for a batch of new events only: a plain INSERT, which a duplicate key
    -- aborts (in a subtransaction) so that the path below takes over.
    BEGIN
        INSERT INTO dsx.usage_events
               (factory, event_id, occurred_at, customer, model, input_tokens, output_tokens, batch_id)
        SELECT i.factory, i.event_id, i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens, batch
          FROM dsx.usage_inbox i;
        GET DIAGNOSTICS pending = ROW_COUNT;
        inserted := pending;
    EXCEPTION WHEN unique_violation THEN
        inserted := NULL;
        SELECT count(*) INTO pending FROM dsx.usage_inbox;
    END;
    IF pending = 0 THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint;
        RETURN;
    END IF;

    IF inserted IS NOT NULL THEN
        -- every pending row was stored: roll the inbox itself up
        WITH days AS (
            SELECT i.factory, i.customer, i.model, (i.occurred_at AT TIME ZONE 'UTC')::date AS day,
                   dsx.usage_agg(i.input_tokens, i.output_tokens, i.occurred_at) AS usage
              FROM dsx.usage_inbox i
             GROUP BY 1, 2, 3, 4
        ), rolled AS (
            INSERT INTO dsx.usage_daily AS d (factory, customer, model, day, usage)
            SELECT days.factory, days.customer, days.model, days.day, days.usage
              FROM days
              JOIN dsx.factories f ON f.factory = days.factory
            ON CONFLICT (factory, day, customer, model)
            DO UPDATE SET usage = d.usage OPERATOR(dsx.+) excluded.usage
        )
        SELECT min(days.factory) FILTER (WHERE NOT EXISTS
                   (SELECT 1 FROM dsx.factories f WHERE f.factory = days.factory))
          INTO unknown
          FROM days;
    ELSE
        -- Store what is new; keep the daily rollup current from exactly the rows stored.
        WITH stored AS (
            INSERT INTO dsx.usage_events AS e
                   (factory, event_id, occurred_at, customer, model, input_tokens, output_tokens, batch_id)
            SELECT i.factory, i.event_id, i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens, batch
              FROM dsx.usage_inbox i
            ON CONFLICT (factory, event_id) DO NOTHING
            RETURNING e.factory, e.customer, e.model, e.occurred_at, e.input_tokens, e.output_tokens
        ), days AS (
            SELECT s.factory, s.customer, s.model, (s.occurred_at AT TIME ZONE 'UTC')::date AS day,
                   dsx.usage_agg(s.input_tokens, s.output_tokens, s.occurred_at) AS usage
              FROM stored s
             GROUP BY 1, 2, 3, 4
        ), rolled AS (
            INSERT INTO dsx.usage_daily AS d (factory, customer, model, day, usage)
            SELECT days.factory, days.customer, days.model, days.day, days.usage
              FROM days
              JOIN dsx.factories f ON f.factory = days.factory
            ON CONFLICT (factory, day, customer, model)
            DO UPDATE SET usage = d.usage OPERATOR(dsx.+) excluded.usage
        )
        SELECT COALESCE(sum(dsx.events(days.usage)), 0),
               min(days.factory) FILTER (WHERE NOT EXISTS
                   (SELECT 1 FROM dsx.factories f WHERE f.factory = days.factory))
          INTO inserted, unknown
          FROM days;
    END IF;

    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'usage for unknown factory "%"', unknown
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = 'Every event''s factory must exist in dsx.factories; nothing was ingested.',
                  HINT = 'Register the factory, or remove its rows from dsx.usage_inbox, and call dsx.ingest() again.';
    END IF;

    IF inserted < pending THEN
        -- Some ids were stored already (before, or earlier in this batch): the same payload
        -- is a duplicate, a different one a conflict, kept aside with both payloads.
        WITH cmp AS (
            SELECT i.*, e.occurred_at AS s_occurred_at, e.customer AS s_customer, e.model AS s_model,
                   e.input_tokens AS s_input_tokens, e.output_tokens AS s_output_tokens,
                   (i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens)
                   IS NOT DISTINCT FROM
                   (e.occurred_at, e.customer, e.model, e.input_tokens, e.output_tokens) AS same
              FROM dsx.usage_inbox i
              JOIN dsx.usage_events e ON e.factory = i.factory AND e.event_id = i.event_id
        ), kept AS (
            INSERT INTO dsx.usage_conflicts AS c
                   (factory, event_id, stored_occurred_at, stored_customer, stored_model,
                    stored_input_tokens, stored_output_tokens, incoming_occurred_at,
                    incoming_customer, incoming_model, incoming_input_tokens,
                    incoming_output_tokens, times_seen)
            SELECT factory, event_id, s_occurred_at, s_customer, s_model, s_input_tokens,
                   s_output_tokens, occurred_at, customer, model, input_tokens, output_tokens,
                   count(*)
              FROM cmp WHERE NOT cmp.same
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
            ON CONFLICT (factory, event_id, incoming_occurred_at, incoming_customer,
                         incoming_model, incoming_input_tokens, incoming_output_tokens)
            DO UPDATE SET times_seen = c.times_seen + excluded.times_seen, last_seen = now()
        )
        SELECT count(*) FILTER (WHERE cmp.same), count(*) FILTER (WHERE NOT cmp.same)
          INTO same, conflicts
          FROM cmp;
        duplicates := same - inserted;
    ELSE
        duplicates := 0;
        conflicts := 0;
    END IF;

    IF inserted + duplicates + conflicts <> pending THEN
        RAISE EXCEPTION 'dsx.ingest accounted for % of % pending rows', inserted + duplicates + conflicts, pending
            USING ERRCODE = 'internal_error';
    END IF;

    TRUNCATE dsx.usage_inbox;
    INSERT INTO dsx.ingest_log (batch_id, inserted, duplicates, conflicts) VALUES (batch, inserted, duplicates, conflicts);
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION dsx.ingest() IS 'Move every row of dsx.usage_inbox into dsx.usage_events: new events stored (and rolled up into dsx.usage_daily), duplicates counted, conflicting payloads kept in dsx.usage_conflicts; empties the inbox';

SELECT pg_catalog.pg_extension_config_dump('dsx.usage_events', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_conflicts', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_daily', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ingest_log', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ingest_batch_seq', '');
