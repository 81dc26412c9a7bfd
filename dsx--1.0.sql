-- dsx 1.0 — part 00: the schema's reference data: currencies, parties, factories.
\echo Use "CREATE EXTENSION dsx" to load this file. \quit

COMMENT ON SCHEMA dsx IS 'dsx: exact token metering, revenue split, credit support and settlement for AI factories';

CREATE TABLE dsx.currencies (
    currency    text PRIMARY KEY CHECK (currency ~ '^[A-Z]{3}$'),
    minor_units integer NOT NULL CHECK (minor_units BETWEEN 0 AND 6),
    name        text NOT NULL
);
COMMENT ON TABLE dsx.currencies IS 'Currencies dsx books in (ISO 4217) and the minor units every amount is rounded to';
COMMENT ON COLUMN dsx.currencies.currency IS 'ISO 4217 code, e.g. USD';
COMMENT ON COLUMN dsx.currencies.minor_units IS 'Decimal places of the minor unit: 2 for USD (cents), 0 for JPY';
COMMENT ON COLUMN dsx.currencies.name IS 'The currency''s name';
INSERT INTO dsx.currencies (currency, minor_units, name) VALUES
    ('USD', 2, 'US dollar'), ('EUR', 2, 'euro'), ('IDR', 0, 'Indonesian rupiah'),
    ('JPY', 0, 'Japanese yen'), ('SGD', 2, 'Singapore dollar'), ('AUD', 2, 'Australian dollar');

CREATE TABLE dsx.parties (
    party        text PRIMARY KEY CHECK (party <> ''),
    kind         text NOT NULL CHECK (kind IN ('vendor', 'partner', 'lender', 'customer')),
    display_name text
);
COMMENT ON TABLE dsx.parties IS 'Everyone dsx keeps books for: the hardware vendor, capital partners, lenders and customers';
COMMENT ON COLUMN dsx.parties.party IS 'Short stable identifier, used as the key everywhere';
COMMENT ON COLUMN dsx.parties.kind IS 'vendor, partner, lender or customer';
COMMENT ON COLUMN dsx.parties.display_name IS 'Name to show in reports';

CREATE TABLE dsx.factories (
    factory  text PRIMARY KEY CHECK (factory <> ''),
    partner  text NOT NULL REFERENCES dsx.parties,
    currency text NOT NULL REFERENCES dsx.currencies,
    region   text,
    gpus     integer CHECK (gpus >= 0),
    power_mw numeric CHECK (power_mw >= 0),
    UNIQUE (factory, partner)          -- lets an agreement require its factory's own partner
);
COMMENT ON TABLE dsx.factories IS 'AI factories (GPU campuses), each run by one partner and booked in one currency';
COMMENT ON COLUMN dsx.factories.factory IS 'Factory identifier, as usage events name it';
COMMENT ON COLUMN dsx.factories.partner IS 'The capital partner that runs the factory';
COMMENT ON COLUMN dsx.factories.currency IS 'Currency of the factory''s revenue and settlements';
COMMENT ON COLUMN dsx.factories.region IS 'Where the campus is';
COMMENT ON COLUMN dsx.factories.gpus IS 'GPUs installed';
COMMENT ON COLUMN dsx.factories.power_mw IS 'Campus power in megawatts';

SELECT pg_catalog.pg_extension_config_dump('dsx.currencies', $$WHERE currency NOT IN ('USD','EUR','IDR','JPY','SGD','AUD')$$);
SELECT pg_catalog.pg_extension_config_dump('dsx.parties', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.factories', '');
-- dsx 1.0 — part 10: the dsx.usage type, its accessors, the + operator and the aggregates.

CREATE TYPE dsx.usage;
CREATE FUNCTION dsx.usage_in(cstring) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_out(dsx.usage) RETURNS cstring
    AS 'MODULE_PATHNAME', 'dsx_usage_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_recv(internal) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_send(dsx.usage) RETURNS bytea
    AS 'MODULE_PATHNAME', 'dsx_usage_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE dsx.usage (
    INPUT = dsx.usage_in, OUTPUT = dsx.usage_out,
    RECEIVE = dsx.usage_recv, SEND = dsx.usage_send,
    INTERNALLENGTH = 48, ALIGNMENT = double, STORAGE = plain
);
COMMENT ON TYPE dsx.usage IS 'Summary of a set of token usage events: events, input and output tokens, first and last occurred_at';
COMMENT ON FUNCTION dsx.usage_in(cstring) IS 'Text input of dsx.usage';
COMMENT ON FUNCTION dsx.usage_out(dsx.usage) IS 'Text output of dsx.usage (ISO 8601 timestamps in UTC)';
COMMENT ON FUNCTION dsx.usage_recv(internal) IS 'Binary input of dsx.usage';
COMMENT ON FUNCTION dsx.usage_send(dsx.usage) IS 'Binary output of dsx.usage';

CREATE FUNCTION dsx.events(u dsx.usage) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_usage_events' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.input_tokens(u dsx.usage) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_usage_input_tokens' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.output_tokens(u dsx.usage) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_usage_output_tokens' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.total_tokens(u dsx.usage) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_usage_total_tokens' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.first_at(u dsx.usage) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'dsx_usage_first_at' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.last_at(u dsx.usage) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'dsx_usage_last_at' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.events(dsx.usage) IS 'Number of events summarised';
COMMENT ON FUNCTION dsx.input_tokens(dsx.usage) IS 'Input tokens of all events';
COMMENT ON FUNCTION dsx.output_tokens(dsx.usage) IS 'Output tokens of all events';
COMMENT ON FUNCTION dsx.total_tokens(dsx.usage) IS 'Input plus output tokens (22003 when the sum overflows bigint)';
COMMENT ON FUNCTION dsx.first_at(dsx.usage) IS 'Earliest occurred_at of the events';
COMMENT ON FUNCTION dsx.last_at(dsx.usage) IS 'Latest occurred_at of the events';

CREATE FUNCTION dsx.usage_eq(dsx.usage, dsx.usage) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_usage_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_ne(dsx.usage, dsx.usage) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_usage_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_add(dsx.usage, dsx.usage) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.usage_eq(dsx.usage, dsx.usage) IS 'True when both summaries are identical';
COMMENT ON FUNCTION dsx.usage_ne(dsx.usage, dsx.usage) IS 'True when the summaries differ';
COMMENT ON FUNCTION dsx.usage_add(dsx.usage, dsx.usage) IS 'Summary of both sets of events (the + operator)';
CREATE OPERATOR dsx.= (LEFTARG = dsx.usage, RIGHTARG = dsx.usage, FUNCTION = dsx.usage_eq,
                       COMMUTATOR = OPERATOR(dsx.=), NEGATOR = OPERATOR(dsx.<>),
                       RESTRICT = eqsel, JOIN = eqjoinsel);
CREATE OPERATOR dsx.<> (LEFTARG = dsx.usage, RIGHTARG = dsx.usage, FUNCTION = dsx.usage_ne,
                        COMMUTATOR = OPERATOR(dsx.<>), NEGATOR = OPERATOR(dsx.=),
                        RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR dsx.+ (LEFTARG = dsx.usage, RIGHTARG = dsx.usage, FUNCTION = dsx.usage_add,
                       COMMUTATOR = OPERATOR(dsx.+));
COMMENT ON OPERATOR dsx.=(dsx.usage, dsx.usage) IS 'Identical usage summaries';
COMMENT ON OPERATOR dsx.<>(dsx.usage, dsx.usage) IS 'Different usage summaries';
COMMENT ON OPERATOR dsx.+(dsx.usage, dsx.usage) IS 'Merge two usage summaries';

CREATE FUNCTION dsx.usage_accum(dsx.usage, bigint, bigint, timestamptz) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION dsx.usage_combine(dsx.usage, dsx.usage) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION dsx.usage_accum(dsx.usage, bigint, bigint, timestamptz) IS 'Transition function of dsx.usage_agg';
COMMENT ON FUNCTION dsx.usage_combine(dsx.usage, dsx.usage) IS 'Combine function of dsx.usage_agg and dsx.rollup; NULL-tolerant';

CREATE AGGREGATE dsx.usage_agg(input_tokens bigint, output_tokens bigint, occurred_at timestamptz) (
    SFUNC = dsx.usage_accum, STYPE = dsx.usage,
    COMBINEFUNC = dsx.usage_combine, PARALLEL = SAFE
);
CREATE AGGREGATE dsx.rollup(dsx.usage) (
    SFUNC = dsx.usage_combine, STYPE = dsx.usage,
    COMBINEFUNC = dsx.usage_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE dsx.usage_agg(bigint, bigint, timestamptz) IS 'Summarise usage events into one dsx.usage (NULL on no rows; rows with a NULL argument are skipped)';
COMMENT ON AGGREGATE dsx.rollup(dsx.usage) IS 'Merge usage summaries into one (NULL on no rows)';
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

CREATE FUNCTION dsx.ingest_rows(src regclass, batch bigint, dedup boolean,
                                OUT inserted bigint, OUT duplicates bigint, OUT conflicts bigint)
    AS 'MODULE_PATHNAME', 'dsx_ingest_rows' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION dsx.ingest_rows(regclass, bigint, boolean) IS 'dsx.ingest()''s bulk step (C): moves every row of src (dsx.usage_inbox''s columns) into dsx.usage_events as the batch, rolls the stored events up into dsx.usage_daily and keeps conflicting payloads in dsx.usage_conflicts. dedup = false takes every row as new (a stored or repeated key raises unique_violation); dedup = true looks every key up. All NULL, nothing written, when triggers, row-level security or the table''s shape need plain SQL';

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
    in_load boolean;
    src     text := 'dsx.usage_inbox';   -- the rows this call moves: the inbox, or a copy
BEGIN
    -- A settlement in progress (it holds the rollup in SHARE mode) is waited for first,
    -- without holding the inbox, so loads carry on meanwhile.
    LOCK TABLE dsx.usage_daily IN ROW EXCLUSIVE MODE;
    -- Did this transaction load (or read) the inbox itself? Then it holds the inbox, and
    -- asking for it exclusively could deadlock with another transaction doing the same.
    in_load := EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                        WHERE l.locktype = 'relation' AND l.relation = 'dsx.usage_inbox'::regclass
                          AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                             WHERE d.datname = pg_catalog.current_database())
                          AND l.pid = pg_catalog.pg_backend_pid() AND l.granted);
    IF in_load THEN
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
        IF pg_catalog.to_regclass('pg_temp.dsx_ingest_rows') IS NULL THEN
            CREATE TEMP TABLE dsx_ingest_rows (LIKE dsx.usage_inbox) ON COMMIT DELETE ROWS;
        END IF;
        TRUNCATE pg_temp.dsx_ingest_rows;
        WITH moved AS (DELETE FROM dsx.usage_inbox RETURNING *)
        INSERT INTO pg_temp.dsx_ingest_rows SELECT * FROM moved;
        src := 'pg_temp.dsx_ingest_rows';
    ELSE
        -- Loaders take ROW EXCLUSIVE: this waits for open loads and keeps new ones out until
        -- we commit, so the TRUNCATE below empties exactly the rows moved here.
        LOCK TABLE dsx.usage_inbox IN ACCESS EXCLUSIVE MODE;
        PERFORM pg_catalog.pg_advisory_xact_lock('dsx.usage_inbox'::regclass::oid::bigint);
    END IF;
    -- batches are numbered in commit order: the locks above serialise ingests
    batch := nextval('dsx.ingest_batch_seq');

    -- The bulk step: every row taken as a new event (in a subtransaction, which a key
    -- already stored or repeated in the batch aborts), else the deduplicating mode.
    BEGIN
        SELECT r.inserted, r.duplicates, r.conflicts INTO inserted, duplicates, conflicts
          FROM dsx.ingest_rows(src::regclass, batch, false) r;
    EXCEPTION WHEN unique_violation THEN
        SELECT r.inserted, r.duplicates, r.conflicts INTO inserted, duplicates, conflicts
          FROM dsx.ingest_rows(src::regclass, batch, true) r;
    END;
    IF inserted IS NOT NULL THEN
        pending := inserted + duplicates + conflicts;
        IF pending = 0 THEN
            RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint;
            RETURN;
        END IF;
    ELSE
        -- The bulk step declined (insert triggers or row-level security on usage_events
        -- must apply, or the table was changed): the same work in SQL statements.
        EXECUTE format('SELECT count(*) FROM %s', src) INTO pending;
        IF pending = 0 THEN
            RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint;
            RETURN;
        END IF;
        -- Store what is new; keep the daily rollup current from exactly the rows stored.
        EXECUTE format($q$
            WITH stored AS (
                INSERT INTO dsx.usage_events AS e
                       (factory, event_id, occurred_at, customer, model, input_tokens, output_tokens, batch_id)
                SELECT i.factory, i.event_id, i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens, $1
                  FROM %s i
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
              FROM days$q$, src) INTO inserted, unknown USING batch;

        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'usage for unknown factory "%"', unknown
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = 'Every event''s factory must exist in dsx.factories; nothing was ingested.',
                      HINT = 'Register the factory, or remove its rows from dsx.usage_inbox, and call dsx.ingest() again.';
        END IF;

        IF inserted < pending THEN
            -- Some ids were stored already (before, or earlier in this batch): the same payload
            -- is a duplicate, a different one a conflict, kept aside with both payloads.
            EXECUTE format($q$
                WITH cmp AS (
                    SELECT i.*, e.occurred_at AS s_occurred_at, e.customer AS s_customer, e.model AS s_model,
                           e.input_tokens AS s_input_tokens, e.output_tokens AS s_output_tokens,
                           (i.occurred_at, i.customer, i.model, i.input_tokens, i.output_tokens)
                           IS NOT DISTINCT FROM
                           (e.occurred_at, e.customer, e.model, e.input_tokens, e.output_tokens) AS same
                      FROM %s i
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
                  FROM cmp$q$, src) INTO same, conflicts;
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
        TRUNCATE pg_temp.dsx_ingest_rows;
    ELSE
        TRUNCATE dsx.usage_inbox;
    END IF;
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
-- dsx 1.0 — part 30: money. The dsx.split and dsx.price types, exact charges, rounding to
-- minor units, and dsx.allocate (largest-remainder split of an amount).

CREATE FUNCTION dsx.round_money(amount numeric, minor_units integer) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_round_money' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.round_money(numeric, integer) IS 'amount rounded half away from zero to minor_units (0 to 6) decimal places';

-- dsx.split ------------------------------------------------------------------------
CREATE TYPE dsx.split;
CREATE FUNCTION dsx.split_in(cstring) RETURNS dsx.split
    AS 'MODULE_PATHNAME', 'dsx_split_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_out(dsx.split) RETURNS cstring
    AS 'MODULE_PATHNAME', 'dsx_split_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_recv(internal) RETURNS dsx.split
    AS 'MODULE_PATHNAME', 'dsx_split_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_send(dsx.split) RETURNS bytea
    AS 'MODULE_PATHNAME', 'dsx_split_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE dsx.split (
    INPUT = dsx.split_in, OUTPUT = dsx.split_out,
    RECEIVE = dsx.split_recv, SEND = dsx.split_send,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE dsx.split IS 'Revenue split between parties, e.g. ''vendor=30%, partner=70%'', optionally tiered: ''...; from 10000000: vendor=20%, partner=80%''; shares exact to 10^-12';
COMMENT ON FUNCTION dsx.split_in(cstring) IS 'Text input of dsx.split (22P02 bad syntax, 22023 bad value)';
COMMENT ON FUNCTION dsx.split_out(dsx.split) IS 'Canonical text output of dsx.split: percentages, parties in input order';
COMMENT ON FUNCTION dsx.split_recv(internal) IS 'Binary input of dsx.split (validated like text input)';
COMMENT ON FUNCTION dsx.split_send(dsx.split) IS 'Binary output of dsx.split';

CREATE FUNCTION dsx.split_eq(dsx.split, dsx.split) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_split_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_ne(dsx.split, dsx.split) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_split_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_hash(dsx.split) RETURNS integer
    AS 'MODULE_PATHNAME', 'dsx_split_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.split_eq(dsx.split, dsx.split) IS 'True when both splits are the same (same canonical text)';
COMMENT ON FUNCTION dsx.split_ne(dsx.split, dsx.split) IS 'True when the splits differ';
COMMENT ON FUNCTION dsx.split_hash(dsx.split) IS 'Hash of a split, for hash aggregation and joins';
CREATE OPERATOR dsx.= (LEFTARG = dsx.split, RIGHTARG = dsx.split, FUNCTION = dsx.split_eq,
                       COMMUTATOR = OPERATOR(dsx.=), NEGATOR = OPERATOR(dsx.<>),
                       RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR dsx.<> (LEFTARG = dsx.split, RIGHTARG = dsx.split, FUNCTION = dsx.split_ne,
                        COMMUTATOR = OPERATOR(dsx.<>), NEGATOR = OPERATOR(dsx.=),
                        RESTRICT = neqsel, JOIN = neqjoinsel);
COMMENT ON OPERATOR dsx.=(dsx.split, dsx.split) IS 'Same split';
COMMENT ON OPERATOR dsx.<>(dsx.split, dsx.split) IS 'Different splits';
CREATE OPERATOR CLASS dsx.split_hash_ops DEFAULT FOR TYPE dsx.split USING hash AS
    OPERATOR 1 dsx.= (dsx.split, dsx.split),
    FUNCTION 1 dsx.split_hash(dsx.split);

CREATE FUNCTION dsx.share(s dsx.split, party text) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_split_share' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.parties(s dsx.split) RETURNS text[]
    AS 'MODULE_PATHNAME', 'dsx_split_parties' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.tiers(s dsx.split)
    RETURNS TABLE(tier integer, starts numeric, party text, share numeric)
    AS 'MODULE_PATHNAME', 'dsx_split_tiers' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION dsx.share(dsx.split, text) IS 'The party''s share in the first tier as a fraction (0.3 for 30%); NULL when the first tier does not name it';
COMMENT ON FUNCTION dsx.parties(dsx.split) IS 'Every party of the split, in first-appearance order';
COMMENT ON FUNCTION dsx.tiers(dsx.split) IS 'One row per tier and party: tier number (from 1), the amount the tier starts from, party, share as a fraction';

CREATE FUNCTION dsx.allocate(amount numeric, s dsx.split, minor_units integer DEFAULT 2)
    RETURNS TABLE(party text, amount numeric)
    AS 'MODULE_PATHNAME', 'dsx_allocate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 3;
COMMENT ON FUNCTION dsx.allocate(numeric, dsx.split, integer) IS 'Split amount (a whole number of minor units) by s with the largest-remainder method: one row per party, first-appearance order, parts adding up to amount exactly; a negative amount mirrors the positive one';

-- dsx.price ------------------------------------------------------------------------
CREATE TYPE dsx.price;
CREATE FUNCTION dsx.price_in(cstring) RETURNS dsx.price
    AS 'MODULE_PATHNAME', 'dsx_price_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_out(dsx.price) RETURNS cstring
    AS 'MODULE_PATHNAME', 'dsx_price_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_recv(internal) RETURNS dsx.price
    AS 'MODULE_PATHNAME', 'dsx_price_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_send(dsx.price) RETURNS bytea
    AS 'MODULE_PATHNAME', 'dsx_price_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE dsx.price (
    INPUT = dsx.price_in, OUTPUT = dsx.price_out,
    RECEIVE = dsx.price_recv, SEND = dsx.price_send,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE dsx.price IS 'Price per million tokens, exact to 9 decimal places: flat (''2.5'') or tiered on the token volume (''graduated: 0: 3, 1000000000: 2.5'', ''volume: ...'')';
COMMENT ON FUNCTION dsx.price_in(cstring) IS 'Text input of dsx.price (22P02 bad syntax, 22023 bad value, 22003 out of range)';
COMMENT ON FUNCTION dsx.price_out(dsx.price) IS 'Canonical text output of dsx.price: trimmed decimals, lower-case kind';
COMMENT ON FUNCTION dsx.price_recv(internal) IS 'Binary input of dsx.price (validated like text input)';
COMMENT ON FUNCTION dsx.price_send(dsx.price) IS 'Binary output of dsx.price';

CREATE FUNCTION dsx.price_eq(dsx.price, dsx.price) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_price_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_ne(dsx.price, dsx.price) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_price_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_hash(dsx.price) RETURNS integer
    AS 'MODULE_PATHNAME', 'dsx_price_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.price_eq(dsx.price, dsx.price) IS 'True when both prices are the same (same canonical text)';
COMMENT ON FUNCTION dsx.price_ne(dsx.price, dsx.price) IS 'True when the prices differ';
COMMENT ON FUNCTION dsx.price_hash(dsx.price) IS 'Hash of a price, for hash aggregation and joins';
CREATE OPERATOR dsx.= (LEFTARG = dsx.price, RIGHTARG = dsx.price, FUNCTION = dsx.price_eq,
                       COMMUTATOR = OPERATOR(dsx.=), NEGATOR = OPERATOR(dsx.<>),
                       RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR dsx.<> (LEFTARG = dsx.price, RIGHTARG = dsx.price, FUNCTION = dsx.price_ne,
                        COMMUTATOR = OPERATOR(dsx.<>), NEGATOR = OPERATOR(dsx.=),
                        RESTRICT = neqsel, JOIN = neqjoinsel);
COMMENT ON OPERATOR dsx.=(dsx.price, dsx.price) IS 'Same price';
COMMENT ON OPERATOR dsx.<>(dsx.price, dsx.price) IS 'Different prices';
CREATE OPERATOR CLASS dsx.price_hash_ops DEFAULT FOR TYPE dsx.price USING hash AS
    OPERATOR 1 dsx.= (dsx.price, dsx.price),
    FUNCTION 1 dsx.price_hash(dsx.price);

CREATE FUNCTION dsx.charge(tokens bigint, p dsx.price) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_price_charge_tokens' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.charge(u dsx.usage, input_price dsx.price, output_price dsx.price) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_usage_charge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.rate(u dsx.usage, input_price dsx.price, output_price dsx.price, minor_units integer DEFAULT 2)
    RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_usage_rate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.charge(bigint, dsx.price) IS 'Exact, unrounded charge for tokens (>= 0) at price p per million tokens';
COMMENT ON FUNCTION dsx.charge(dsx.usage, dsx.price, dsx.price) IS 'Exact, unrounded charge of a usage summary: input tokens at input_price plus output tokens at output_price';
COMMENT ON FUNCTION dsx.rate(dsx.usage, dsx.price, dsx.price, integer) IS 'The amount of a rated line: dsx.charge(u, input_price, output_price) rounded once, half away from zero, to minor_units';
-- dsx 1.0 — part 40: pricing. Price plans (a dsx.price per model for input and output
-- tokens), which plan each customer is on at each factory, and dsx.rate_lines(), which
-- turns a period's usage of a factory into rounded revenue lines.

CREATE TABLE dsx.price_plans (
    plan         text NOT NULL CHECK (plan <> ''),
    model        text NOT NULL CHECK (model <> ''),
    input_price  dsx.price NOT NULL,
    output_price dsx.price NOT NULL,
    PRIMARY KEY (plan, model)
);
COMMENT ON TABLE dsx.price_plans IS 'Price plans: per plan and model, the price per million input tokens and per million output tokens';
COMMENT ON COLUMN dsx.price_plans.plan IS 'Plan name, as dsx.customer_plans refers to it';
COMMENT ON COLUMN dsx.price_plans.model IS 'Model the prices apply to, as usage events name it';
COMMENT ON COLUMN dsx.price_plans.input_price IS 'Price per million input tokens (flat, graduated or volume tiers on the period''s input tokens)';
COMMENT ON COLUMN dsx.price_plans.output_price IS 'Price per million output tokens (flat, graduated or volume tiers on the period''s output tokens)';

CREATE TABLE dsx.customer_plans (
    customer text NOT NULL CHECK (customer <> ''),
    factory  text NOT NULL REFERENCES dsx.factories,
    plan     text NOT NULL CHECK (plan <> ''),
    PRIMARY KEY (customer, factory)
);
COMMENT ON TABLE dsx.customer_plans IS 'The price plan each customer is on at each factory';
COMMENT ON COLUMN dsx.customer_plans.customer IS 'Customer, as usage events name it';
COMMENT ON COLUMN dsx.customer_plans.factory IS 'Factory the plan applies at';
COMMENT ON COLUMN dsx.customer_plans.plan IS 'Plan in dsx.price_plans';

SELECT pg_catalog.pg_extension_config_dump('dsx.price_plans', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.customer_plans', '');

CREATE FUNCTION dsx.rate_lines(factory text, period_start timestamptz, period_end timestamptz)
RETURNS TABLE(customer text, model text, input_tokens bigint, output_tokens bigint, amount numeric)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_factory    text := rate_lines.factory;
    v_minor      integer;
    v_start      date;
    v_end        date;
    v_period     text;
    v_plan       text;
    v_priced     boolean;
BEGIN
    SELECT c.minor_units INTO v_minor
      FROM dsx.factories f JOIN dsx.currencies c ON c.currency = f.currency
     WHERE f.factory = v_factory;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown factory "%"', v_factory
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'dsx.rate_lines rates the usage of a factory in dsx.factories.';
    END IF;

    -- Usage is kept per UTC day: a period must be whole UTC days to be rated exactly.
    v_start := (period_start AT TIME ZONE 'UTC')::date;
    v_end := (period_end AT TIME ZONE 'UTC')::date;
    IF (v_start::timestamp AT TIME ZONE 'UTC') <> period_start
       OR (v_end::timestamp AT TIME ZONE 'UTC') <> period_end THEN
        RAISE EXCEPTION 'rating period must start and end at midnight UTC'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The period is [%s, %s) in UTC.',
                                  to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
                                  to_char(period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')),
                  HINT = 'Usage is rolled up per UTC day; pass whole UTC days, e.g. ''2026-01-01 00:00+00''.';
    END IF;
    v_period := format('[%s, %s)', to_char(v_start, 'YYYY-MM-DD'), to_char(v_end, 'YYYY-MM-DD'));
    IF v_end < v_start THEN
        RAISE EXCEPTION 'rating period ends before it starts'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The period is %s.', v_period);
    END IF;

    -- One line per customer and model: tiers count that customer's volume of that model
    -- in the period; the exact charge is rounded once, half away from zero.
    FOR customer, model, input_tokens, output_tokens, amount, v_plan, v_priced IN
        SELECT l.customer, l.model, dsx.input_tokens(l.u), dsx.output_tokens(l.u),
               dsx.rate(l.u, pp.input_price, pp.output_price, v_minor),
               cp.plan, pp.plan IS NOT NULL
          FROM (SELECT d.customer, d.model, dsx.rollup(d.usage) AS u
                  FROM dsx.usage_daily d
                 WHERE d.factory = v_factory AND d.day >= v_start AND d.day < v_end
                 GROUP BY d.customer, d.model) l
          LEFT JOIN dsx.customer_plans cp ON cp.customer = l.customer AND cp.factory = v_factory
          LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = l.model
         ORDER BY l.customer, l.model
    LOOP
        IF v_plan IS NULL THEN
            RAISE EXCEPTION 'customer "%" has no price plan at factory "%"', customer, v_factory
                USING ERRCODE = 'no_data_found',
                      DETAIL = format('The customer used model "%s" in the period %s.', model, v_period),
                      HINT = 'Add the customer to dsx.customer_plans.';
        END IF;
        IF NOT v_priced THEN
            RAISE EXCEPTION 'plan "%" of customer "%" has no price for model "%"', v_plan, customer, model
                USING ERRCODE = 'no_data_found',
                      DETAIL = format('The customer used the model at factory "%s" in the period %s.', v_factory, v_period),
                      HINT = 'Add the model to the plan in dsx.price_plans.';
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION dsx.rate_lines(text, timestamptz, timestamptz) IS 'Revenue lines of a factory for the half-open period [period_start, period_end) of whole UTC days: one per customer and model, priced by the customer''s plan and rounded once to the currency''s minor units; usage without a plan or price is an error (P0002)';
-- dsx 1.0 — part 50: credit. Day counts (dsx.year_fraction, dsx.day_count, dsx.interest),
-- loan schedules (dsx.amortize), the credit facilities attached to agreements, their
-- schedules (dsx.facility_schedule) and positions (dsx.facility_position_at and the view
-- dsx.facility_position).

CREATE FUNCTION dsx.year_fraction(start date, "end" date, convention text) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_year_fraction' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.year_fraction(date, date, text) IS
'Year fraction from start to end under an ISDA 2006 day count: ACT/360, ACT/365F, ACT/ACT (ISDA), 30/360 (bond basis), 30E/360 (Eurobond basis) or 30U/360 (30/360 US with the end-of-February rules). Exact when the decimal terminates, else rounded at the 30th decimal place; negative when start is after end. Unknown convention: 22023';

CREATE FUNCTION dsx.day_count(start date, "end" date, convention text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_day_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.day_count(date, date, text) IS
'Days a day-count convention counts from start to end: actual days for the ACT conventions, 30-day months for 30/360, 30E/360 and 30U/360; negative when start is after end';

CREATE FUNCTION dsx.interest(amount numeric, annual_rate numeric, start date, "end" date,
                             day_count text DEFAULT '30/360', minor_units integer DEFAULT 2)
    RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_interest' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.interest(numeric, numeric, date, date, text, integer) IS
'Simple interest amount × annual_rate × year_fraction(start, end, day_count), computed exactly and rounded once, half away from zero, to minor_units (use this, not a rounded year_fraction, so that no rounding happens twice)';

CREATE FUNCTION dsx.amortize(principal numeric, annual_rate numeric, periods integer,
                             first_due date, method text DEFAULT 'annuity',
                             frequency text DEFAULT 'monthly', day_count text DEFAULT '30/360',
                             minor_units integer DEFAULT 2, grace_periods integer DEFAULT 0)
    RETURNS TABLE(period integer, due date, opening numeric, payment numeric,
                  interest numeric, principal numeric, closing numeric)
    AS 'MODULE_PATHNAME', 'dsx_amortize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 120;
COMMENT ON FUNCTION dsx.amortize(numeric, numeric, integer, date, text, text, text, integer, integer) IS
'Loan schedule, one row per period: method annuity (level payment), linear (equal principal) or bullet; frequency monthly, quarterly, semiannual or annual; interest = round(opening × annual_rate × year_fraction(previous due, due, day_count)); the first grace_periods periods pay interest only; the last period repays the opening balance, so the principals add up to principal exactly. Amounts rounded half away from zero to minor_units';

CREATE FUNCTION dsx.amortize_check(principal numeric, annual_rate numeric, periods integer,
                                   first_due date, method text DEFAULT 'annuity',
                                   frequency text DEFAULT 'monthly', day_count text DEFAULT '30/360',
                                   minor_units integer DEFAULT 2, grace_periods integer DEFAULT 0)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_amortize_check' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.amortize_check(numeric, numeric, integer, date, text, text, text, integer, integer) IS
'True when dsx.amortize can produce the schedule of these terms; otherwise raises the same error dsx.amortize would (for CHECK constraints)';

CREATE TABLE dsx.credit_facilities (
    facility      text PRIMARY KEY CHECK (facility <> ''),
    agreement     text NOT NULL UNIQUE,
    lender        text NOT NULL REFERENCES dsx.parties,
    principal     numeric NOT NULL,
    annual_rate   numeric NOT NULL,
    periods       integer NOT NULL,
    first_due     date NOT NULL,
    method        text NOT NULL DEFAULT 'annuity',
    frequency     text NOT NULL DEFAULT 'monthly',
    day_count     text NOT NULL DEFAULT '30/360',
    grace_periods integer NOT NULL DEFAULT 0,
    minor_units   integer NOT NULL DEFAULT 2,
    CONSTRAINT credit_facilities_schedule_check
        CHECK (dsx.amortize_check(principal, annual_rate, periods, first_due, method,
                                  frequency, day_count, minor_units, grace_periods))
);
COMMENT ON TABLE dsx.credit_facilities IS 'Credit facilities: the loan financing an agreement''s factory, whose schedule is the debt service due each period; a row is accepted only when dsx.amortize can produce its schedule';
COMMENT ON COLUMN dsx.credit_facilities.facility IS 'Facility identifier';
COMMENT ON COLUMN dsx.credit_facilities.agreement IS 'The agreement the facility finances (at most one facility per agreement)';
COMMENT ON COLUMN dsx.credit_facilities.lender IS 'The lending party (a party of kind lender)';
COMMENT ON COLUMN dsx.credit_facilities.principal IS 'Amount lent, in the agreement''s currency, a whole number of minor units';
COMMENT ON COLUMN dsx.credit_facilities.annual_rate IS 'Annual interest rate as a fraction: 0.08 for 8 %';
COMMENT ON COLUMN dsx.credit_facilities.periods IS 'Number of payments';
COMMENT ON COLUMN dsx.credit_facilities.first_due IS 'Due date of the first payment; a month end makes every due date a month end';
COMMENT ON COLUMN dsx.credit_facilities.method IS 'annuity (level payment), linear (equal principal) or bullet (principal at the end)';
COMMENT ON COLUMN dsx.credit_facilities.frequency IS 'monthly, quarterly, semiannual or annual';
COMMENT ON COLUMN dsx.credit_facilities.day_count IS 'Day count of the interest: ACT/360, ACT/365F, ACT/ACT, 30/360, 30E/360 or 30U/360';
COMMENT ON COLUMN dsx.credit_facilities.grace_periods IS 'Interest-only periods before amortization starts';
COMMENT ON COLUMN dsx.credit_facilities.minor_units IS 'Decimal places amounts are rounded to: the minor units of the agreement''s currency';
COMMENT ON CONSTRAINT credit_facilities_schedule_check ON dsx.credit_facilities IS 'The terms must produce a schedule: the same validation as dsx.amortize';

CREATE FUNCTION dsx.credit_facilities_check_lender() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
BEGIN
    SELECT p.kind INTO k FROM dsx.parties p WHERE p.party = NEW.lender;
    IF FOUND AND k IS DISTINCT FROM 'lender' THEN
        RAISE EXCEPTION 'party "%" is not a lender', NEW.lender
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Party "%s" is of kind %s.', NEW.lender, k),
                  HINT = 'Register the lender in dsx.parties with kind lender.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.credit_facilities_check_lender() IS 'Trigger function: refuses a credit facility whose lender is not a party of kind lender';
CREATE TRIGGER credit_facilities_lender BEFORE INSERT OR UPDATE OF lender ON dsx.credit_facilities
    FOR EACH ROW EXECUTE FUNCTION dsx.credit_facilities_check_lender();
COMMENT ON TRIGGER credit_facilities_lender ON dsx.credit_facilities IS 'The lender must be a party of kind lender';

SELECT pg_catalog.pg_extension_config_dump('dsx.credit_facilities', '');

CREATE FUNCTION dsx.facility_schedule(facility text)
    RETURNS TABLE(period integer, due date, opening numeric, payment numeric,
                  interest numeric, principal numeric, closing numeric)
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ROWS 120 AS $$
DECLARE
    f dsx.credit_facilities;
BEGIN
    SELECT c.* INTO f FROM dsx.credit_facilities c WHERE c.facility = facility_schedule.facility;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown credit facility "%"', facility_schedule.facility
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The facilities are listed in dsx.credit_facilities.';
    END IF;
    RETURN QUERY SELECT s.period, s.due, s.opening, s.payment, s.interest, s.principal, s.closing
        FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                          f.frequency, f.day_count, f.minor_units, f.grace_periods) s;
END
$$;
COMMENT ON FUNCTION dsx.facility_schedule(text) IS 'The schedule (dsx.amortize) of a credit facility; unknown facility: 22023';

CREATE FUNCTION dsx.facility_position_at(as_of date)
    RETURNS TABLE(facility text, agreement text, lender text, as_of date,
                  next_period integer, next_due date, next_payment numeric,
                  next_interest numeric, next_principal numeric,
                  outstanding_principal numeric, remaining_periods integer, maturity date)
    LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT f.facility, f.agreement, f.lender, $1,
           n.period, n.due, n.payment, n.interest, n.principal,
           COALESCE(n.opening, 0::numeric),
           CASE WHEN n.period IS NULL THEN 0 ELSE f.periods - n.period + 1 END,
           (SELECT pg_catalog.max(s.due)
              FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                                f.frequency, f.day_count, f.minor_units, f.grace_periods) s)
      FROM dsx.credit_facilities f
      LEFT JOIN LATERAL (
           SELECT s.period, s.due, s.opening, s.payment, s.interest, s.principal
             FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                               f.frequency, f.day_count, f.minor_units, f.grace_periods) s
            WHERE s.due >= $1
            ORDER BY s.period
            LIMIT 1) n ON true
$$;
COMMENT ON FUNCTION dsx.facility_position_at(date) IS 'Every credit facility as of a date: its next payment (the first due on or after the date) and the principal outstanding before it; after maturity the next_* columns are NULL and nothing is outstanding';

CREATE VIEW dsx.facility_position WITH (security_invoker = true) AS
    SELECT * FROM dsx.facility_position_at(CURRENT_DATE);
COMMENT ON VIEW dsx.facility_position IS 'Every credit facility today: next payment due and principal outstanding (dsx.facility_position_at(CURRENT_DATE))';
COMMENT ON COLUMN dsx.facility_position.facility IS 'Facility identifier';
COMMENT ON COLUMN dsx.facility_position.agreement IS 'The agreement the facility finances';
COMMENT ON COLUMN dsx.facility_position.lender IS 'The lending party';
COMMENT ON COLUMN dsx.facility_position.as_of IS 'The date of the position (today)';
COMMENT ON COLUMN dsx.facility_position.next_period IS 'Number of the next payment (the first due today or later); NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.next_due IS 'Due date of the next payment; NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.next_payment IS 'Amount of the next payment (interest plus principal); NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.next_interest IS 'Interest part of the next payment; NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.next_principal IS 'Principal part of the next payment; NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.outstanding_principal IS 'Principal not yet repaid by the payments due before today; 0 after maturity';
COMMENT ON COLUMN dsx.facility_position.remaining_periods IS 'Payments still to come, the next one included';
COMMENT ON COLUMN dsx.facility_position.maturity IS 'Due date of the last payment';
-- dsx 1.0 — part 60: settlement. Agreements, the monthly waterfall (SPEC section 6),
-- statements with their lines and shares, the append-only double-entry ledger, late usage,
-- verification from raw events, and scheduling through pg_cron.

CREATE TABLE dsx.agreements (
    agreement     text PRIMARY KEY CHECK (agreement <> ''),
    partner       text NOT NULL REFERENCES dsx.parties,
    vendor        text NOT NULL REFERENCES dsx.parties,
    factory       text NOT NULL UNIQUE,
    revenue_split dsx.split NOT NULL,
    starts        date NOT NULL CHECK (starts = date_trunc('month', starts)::date),
    settle_lag    interval NOT NULL DEFAULT '1 day' CHECK (settle_lag >= interval '0'),
    FOREIGN KEY (factory, partner) REFERENCES dsx.factories (factory, partner),
    CHECK (vendor <> partner)
);
COMMENT ON TABLE dsx.agreements IS 'One partner''s factory under the vendor''s programme: how its revenue is split and from which month it is settled';
COMMENT ON COLUMN dsx.agreements.agreement IS 'Agreement identifier';
COMMENT ON COLUMN dsx.agreements.partner IS 'The capital partner (must run the factory)';
COMMENT ON COLUMN dsx.agreements.vendor IS 'The hardware vendor giving credit support and taking a revenue share';
COMMENT ON COLUMN dsx.agreements.factory IS 'The factory whose usage the agreement settles (one agreement per factory)';
COMMENT ON COLUMN dsx.agreements.revenue_split IS 'Tiered split of the distributable amount; the names vendor and partner stand for this agreement''s vendor and partner, any other name must be a party';
COMMENT ON COLUMN dsx.agreements.starts IS 'First month settled (first day of a month)';
COMMENT ON COLUMN dsx.agreements.settle_lag IS 'How long after a period ends dsx.run_due_settlements() settles it, leaving late usage time to arrive';

-- The split's parties, resolved: vendor and partner stand for the agreement's own.
CREATE FUNCTION dsx.agreement_party(name text, vendor text, partner text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE name WHEN 'vendor' THEN vendor WHEN 'partner' THEN partner ELSE name END $$;
COMMENT ON FUNCTION dsx.agreement_party(text, text, text) IS 'The party a name in a revenue split stands for: vendor and partner resolve to the agreement''s own';

-- An agreement is valid only when every party its split names exists, once.
CREATE FUNCTION dsx.agreements_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
    twice   text;
BEGIN
    SELECT min(p) INTO missing
      FROM unnest(dsx.parties(NEW.revenue_split)) n,
           LATERAL dsx.agreement_party(n, NEW.vendor, NEW.partner) p
     WHERE NOT EXISTS (SELECT 1 FROM dsx.parties x WHERE x.party = p);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'revenue split of agreement "%" names unknown party "%"', NEW.agreement, missing
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Use vendor and partner for the agreement''s own, or add the party to dsx.parties.';
    END IF;
    SELECT p INTO twice
      FROM unnest(dsx.parties(NEW.revenue_split)) n,
           LATERAL dsx.agreement_party(n, NEW.vendor, NEW.partner) p
     GROUP BY p HAVING count(*) > 1 LIMIT 1;
    IF twice IS NOT NULL THEN
        RAISE EXCEPTION 'revenue split of agreement "%" names party "%" twice', NEW.agreement, twice
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The names vendor and partner stand for the agreement''s own vendor and partner.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM dsx.parties WHERE party = NEW.vendor AND kind = 'vendor') THEN
        RAISE EXCEPTION 'party "%" is not a vendor', NEW.vendor USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM dsx.parties WHERE party = NEW.partner AND kind = 'partner') THEN
        RAISE EXCEPTION 'party "%" is not a partner', NEW.partner USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM dsx.statements s WHERE s.agreement = OLD.agreement)
       AND (NEW.agreement, NEW.partner, NEW.vendor, NEW.factory, NEW.starts)
           IS DISTINCT FROM (OLD.agreement, OLD.partner, OLD.vendor, OLD.factory, OLD.starts) THEN
        RAISE EXCEPTION 'agreement "%" has settled periods: its parties, factory and start are fixed', OLD.agreement
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A new revenue split or settle lag applies from the next period settled.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.agreements_check() IS 'Trigger: an agreement''s split names known parties once each, its vendor is a vendor, and settled agreements keep their identity';

-- credit facilities belong to agreements
ALTER TABLE dsx.credit_facilities
    ADD CONSTRAINT credit_facilities_agreement_fkey FOREIGN KEY (agreement) REFERENCES dsx.agreements;

-- A facility rounds in its agreement's currency: left out, minor_units is the currency's;
-- another value is refused, so the schedule shown is the debt service settled.
ALTER TABLE dsx.credit_facilities ALTER COLUMN minor_units DROP DEFAULT;
COMMENT ON COLUMN dsx.credit_facilities.minor_units IS 'Decimal places every amount of the schedule is rounded to: the currency''s of the agreement''s factory (filled in when left out; another value is refused)';
CREATE FUNCTION dsx.credit_facilities_currency() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur text;
    mu  integer;
BEGIN
    SELECT c.currency, c.minor_units INTO cur, mu
      FROM dsx.agreements a
      JOIN dsx.factories f ON f.factory = a.factory
      JOIN dsx.currencies c ON c.currency = f.currency
     WHERE a.agreement = NEW.agreement;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'facility "%" names unknown agreement "%"', NEW.facility, NEW.agreement
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Create the agreement in dsx.agreements first.';
    END IF;
    IF NEW.minor_units IS NULL THEN
        NEW.minor_units := mu;
    ELSIF NEW.minor_units <> mu THEN
        RAISE EXCEPTION 'facility "%" rounds to % decimal places, but its agreement books in % (% decimal places)',
              NEW.facility, NEW.minor_units, cur, mu
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave minor_units out: it is taken from the currency.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.credit_facilities_currency() IS 'Trigger: a credit facility rounds to its agreement''s currency''s minor units';
CREATE TRIGGER credit_facilities_currency BEFORE INSERT OR UPDATE ON dsx.credit_facilities
    FOR EACH ROW EXECUTE FUNCTION dsx.credit_facilities_currency();

CREATE TABLE dsx.statements (
    agreement         text NOT NULL REFERENCES dsx.agreements,
    period_start      date NOT NULL,
    period_end        date NOT NULL,
    currency          text NOT NULL REFERENCES dsx.currencies,
    input_tokens      bigint NOT NULL,
    output_tokens     bigint NOT NULL,
    revenue           numeric NOT NULL,
    adjustments       numeric NOT NULL,
    gross             numeric NOT NULL,
    debt_service_due  numeric NOT NULL,
    debt_service_paid numeric NOT NULL,
    support_opening   numeric NOT NULL,
    support_drawn     numeric NOT NULL,
    support_interest  numeric NOT NULL,
    support_repaid    numeric NOT NULL,
    support_balance   numeric NOT NULL,
    distributable     numeric NOT NULL,
    vendor_share      numeric NOT NULL,
    partner_share     numeric NOT NULL,
    through_batch     bigint NOT NULL,
    settled_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (agreement, period_start),
    CHECK (gross = revenue + adjustments),
    CHECK (debt_service_due = debt_service_paid + support_drawn),
    CHECK (support_balance = support_opening + support_interest + support_drawn - support_repaid)
);
COMMENT ON TABLE dsx.statements IS 'One settled period of one agreement: the waterfall''s every figure, in the factory''s currency; closed once written';
COMMENT ON COLUMN dsx.statements.agreement IS 'Agreement settled';
COMMENT ON COLUMN dsx.statements.period_start IS 'First day of the settled month (UTC)';
COMMENT ON COLUMN dsx.statements.period_end IS 'First day of the next month: the period is [period_start, period_end)';
COMMENT ON COLUMN dsx.statements.currency IS 'Currency of every amount';
COMMENT ON COLUMN dsx.statements.input_tokens IS 'Input tokens of the period''s own lines';
COMMENT ON COLUMN dsx.statements.output_tokens IS 'Output tokens of the period''s own lines';
COMMENT ON COLUMN dsx.statements.revenue IS 'Sum of the period''s rated lines';
COMMENT ON COLUMN dsx.statements.adjustments IS 'Late usage for earlier, closed periods, re-rated: the difference from what was settled';
COMMENT ON COLUMN dsx.statements.gross IS 'revenue + adjustments';
COMMENT ON COLUMN dsx.statements.debt_service_due IS 'Facility payments due in the period (D)';
COMMENT ON COLUMN dsx.statements.debt_service_paid IS 'Part of D paid from revenue: min(max(gross, 0), D)';
COMMENT ON COLUMN dsx.statements.support_opening IS 'Credit support owed to the vendor at the start of the period (B)';
COMMENT ON COLUMN dsx.statements.support_drawn IS 'Shortfall the vendor''s credit support paid to the lender: D - paid';
COMMENT ON COLUMN dsx.statements.support_interest IS 'Interest on the opening balance at the facility rate and day count';
COMMENT ON COLUMN dsx.statements.support_repaid IS 'Repaid to the vendor from what remained, interest first';
COMMENT ON COLUMN dsx.statements.support_balance IS 'Credit support owed to the vendor at the end of the period';
COMMENT ON COLUMN dsx.statements.distributable IS 'gross - paid - repaid, allocated by the revenue split';
COMMENT ON COLUMN dsx.statements.vendor_share IS 'The vendor''s part of the distributable amount';
COMMENT ON COLUMN dsx.statements.partner_share IS 'The partner''s part of the distributable amount';
COMMENT ON COLUMN dsx.statements.through_batch IS 'Last ingest batch the statement saw: events of later batches are late usage';
COMMENT ON COLUMN dsx.statements.settled_at IS 'When the period was settled';

CREATE TABLE dsx.statement_lines (
    agreement     text NOT NULL,
    period_start  date NOT NULL,
    for_period    date NOT NULL,
    customer      text NOT NULL,
    model         text NOT NULL,
    input_tokens  bigint NOT NULL,
    output_tokens bigint NOT NULL,
    amount        numeric NOT NULL,
    plan          text NOT NULL,
    input_price   dsx.price NOT NULL,
    output_price  dsx.price NOT NULL,
    PRIMARY KEY (agreement, period_start, for_period, customer, model),
    FOREIGN KEY (agreement, period_start) REFERENCES dsx.statements DEFERRABLE INITIALLY DEFERRED,
    CHECK (for_period <= period_start)
);
CREATE INDEX statement_lines_for_period ON dsx.statement_lines (agreement, for_period);
COMMENT ON TABLE dsx.statement_lines IS 'Rated lines of a statement: the period''s own (for_period = period_start) and adjustments for late usage of earlier periods (for_period < period_start)';
COMMENT ON COLUMN dsx.statement_lines.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.statement_lines.period_start IS 'Statement the line belongs to';
COMMENT ON COLUMN dsx.statement_lines.for_period IS 'Period the usage belongs to: earlier than period_start for an adjustment';
COMMENT ON COLUMN dsx.statement_lines.customer IS 'Customer';
COMMENT ON COLUMN dsx.statement_lines.model IS 'Model';
COMMENT ON COLUMN dsx.statement_lines.input_tokens IS 'Input tokens (for an adjustment: the late tokens)';
COMMENT ON COLUMN dsx.statement_lines.output_tokens IS 'Output tokens (for an adjustment: the late tokens)';
COMMENT ON COLUMN dsx.statement_lines.plan IS 'Price plan the line was rated by (an adjustment: the plan its period was first booked with)';
COMMENT ON COLUMN dsx.statement_lines.input_price IS 'Price per million input tokens used, as it was then: a closed period is re-rated with the prices it was booked with, whatever plans say later';
COMMENT ON COLUMN dsx.statement_lines.output_price IS 'Price per million output tokens used, as it was then';
COMMENT ON COLUMN dsx.statement_lines.amount IS 'Rated amount, rounded to the currency''s minor unit (for an adjustment: re-rated minus settled)';

CREATE TABLE dsx.statement_shares (
    agreement    text NOT NULL,
    period_start date NOT NULL,
    party        text NOT NULL REFERENCES dsx.parties,
    amount       numeric NOT NULL,
    PRIMARY KEY (agreement, period_start, party),
    FOREIGN KEY (agreement, period_start) REFERENCES dsx.statements DEFERRABLE INITIALLY DEFERRED
);
COMMENT ON TABLE dsx.statement_shares IS 'Each party''s part of a statement''s distributable amount (dsx.allocate of the revenue split)';
COMMENT ON COLUMN dsx.statement_shares.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.statement_shares.period_start IS 'Statement';
COMMENT ON COLUMN dsx.statement_shares.party IS 'Party (vendor and partner resolved to the agreement''s own)';
COMMENT ON COLUMN dsx.statement_shares.amount IS 'The party''s part; the parts add up to the distributable amount exactly';

CREATE SEQUENCE dsx.ledger_txn_seq;
CREATE TABLE dsx.ledger_entries (
    txn_id       bigint NOT NULL,
    entry_no     integer NOT NULL,
    agreement    text NOT NULL,
    period_start date NOT NULL,
    account      text NOT NULL,
    amount       numeric NOT NULL,
    currency     text NOT NULL REFERENCES dsx.currencies,
    posted_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (txn_id, entry_no),
    FOREIGN KEY (agreement, period_start) REFERENCES dsx.statements DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX ledger_entries_statement ON dsx.ledger_entries (agreement, period_start);
COMMENT ON TABLE dsx.ledger_entries IS 'Append-only double-entry ledger: one balanced transaction per settlement, debits positive, credits negative; zero amounts are left out except the revenue pair, so every settlement has a transaction';
COMMENT ON COLUMN dsx.ledger_entries.txn_id IS 'Transaction: the entries of one settlement sum to zero';
COMMENT ON COLUMN dsx.ledger_entries.entry_no IS 'Entry within the transaction';
COMMENT ON COLUMN dsx.ledger_entries.agreement IS 'Agreement settled';
COMMENT ON COLUMN dsx.ledger_entries.period_start IS 'Period settled';
COMMENT ON COLUMN dsx.ledger_entries.account IS 'Account, e.g. income:revenue or payable:share:<party>';
COMMENT ON COLUMN dsx.ledger_entries.amount IS 'Debit (positive) or credit (negative)';
COMMENT ON COLUMN dsx.ledger_entries.currency IS 'Currency of the amount';
COMMENT ON COLUMN dsx.ledger_entries.posted_at IS 'When it was posted';

-- Closed books: what settlement wrote is never updated, deleted or truncated.
CREATE FUNCTION dsx.refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is refused: settled books are append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Corrections are booked by settling the next period (late usage becomes adjustment lines).';
END
$$;
COMMENT ON FUNCTION dsx.refuse_change() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on settled books';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.ledger_entries FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.ledger_entries FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statements FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statements FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statement_lines FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statement_lines FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statement_shares FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statement_shares FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER agreements_check BEFORE INSERT OR UPDATE ON dsx.agreements FOR EACH ROW EXECUTE FUNCTION dsx.agreements_check();

/*
 * What a line, share or ledger entry names must exist: its statement, its party, its
 * currency. The foreign keys above say so, and keep a dump's rows in restorable order
 * (pg_dump loads the data of an extension's tables in foreign-key order); but their
 * per-row checks cost about 4 us a row, queued to commit, which is most of the cost of
 * posting a month's books in bulk. The books are checked instead once per INSERT or COPY
 * statement, over all its rows at once, by the trigger below, for every writer (settlement
 * and anyone inserting directly); the foreign keys' per-row check triggers on these three
 * tables are disabled. The check is immediate: a statement must be written before its
 * lines, shares and entries. A statement cannot be deleted or changed once written
 * (refuse_change, and the foreign keys' own triggers on dsx.statements, which stay
 * enabled), so what the check saw stays true.
 */
CREATE FUNCTION dsx.books_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    con    text;   -- the foreign key a row breaks, and how
    detail text;
BEGIN
    SELECT TG_TABLE_NAME || '_agreement_period_start_fkey',
           format('Key (agreement, period_start)=(%s, %s) is not present in table "statements".',
                  n.agreement, n.period_start)
      INTO con, detail
      FROM (SELECT DISTINCT r.agreement, r.period_start FROM new_rows r) n
     WHERE NOT EXISTS (SELECT 1 FROM dsx.statements s
                        WHERE s.agreement = n.agreement AND s.period_start = n.period_start)
     LIMIT 1;
    IF con IS NULL AND TG_TABLE_NAME = 'statement_shares' THEN
        SELECT 'statement_shares_party_fkey',
               format('Key (party)=(%s) is not present in table "parties".', n.party)
          INTO con, detail
          FROM (SELECT DISTINCT r.party FROM new_rows r) n
         WHERE NOT EXISTS (SELECT 1 FROM dsx.parties p WHERE p.party = n.party)
         LIMIT 1;
    ELSIF con IS NULL AND TG_TABLE_NAME = 'ledger_entries' THEN
        SELECT 'ledger_entries_currency_fkey',
               format('Key (currency)=(%s) is not present in table "currencies".', n.currency)
          INTO con, detail
          FROM (SELECT DISTINCT r.currency FROM new_rows r) n
         WHERE NOT EXISTS (SELECT 1 FROM dsx.currencies c WHERE c.currency = n.currency)
         LIMIT 1;
    END IF;
    IF con IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', TG_TABLE_NAME, con
            USING ERRCODE = 'foreign_key_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                  CONSTRAINT = con, DETAIL = detail;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dsx.books_check() IS 'Trigger, once per INSERT or COPY on statement_lines, statement_shares and ledger_entries: every row names an existing statement (and party, currency), as their foreign keys say; 23503 otherwise';
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['statement_lines', 'statement_shares', 'ledger_entries'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER books_check AFTER INSERT ON dsx.%I REFERENCING NEW TABLE AS new_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION dsx.books_check()', t);
        EXECUTE pg_catalog.format('COMMENT ON TRIGGER books_check ON dsx.%I IS %L', t,
                                  'Every row inserted names an existing statement (and party, currency): the foreign keys, checked once per statement');
        -- the foreign keys' per-row check triggers (the only internal triggers of the table)
        EXECUTE pg_catalog.format('ALTER TABLE dsx.%I DISABLE TRIGGER ALL', t);
        EXECUTE pg_catalog.format('ALTER TABLE dsx.%I ENABLE TRIGGER USER', t);
    END LOOP;
END
$$;

SELECT pg_catalog.pg_extension_config_dump('dsx.agreements', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.statements', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.statement_lines', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.statement_shares', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ledger_entries', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ledger_txn_seq', '');

-- The month containing a date, as the half-open UTC period settlement uses.
CREATE FUNCTION dsx.period_end(period_start date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT (period_start + interval '1 month')::date $$;
COMMENT ON FUNCTION dsx.period_end(date) IS 'End (exclusive) of the monthly settlement period starting at period_start';

/*
 * The waterfall of one period, as a pure function of its inputs: everything settle()
 * and verify_settlement() compute past rating. Amounts in the currency's minor units.
 */
CREATE FUNCTION dsx.waterfall(
    gross numeric, debt_service_due numeric, support_opening numeric, support_interest numeric,
    OUT debt_service_paid numeric, OUT support_drawn numeric, OUT support_repaid numeric,
    OUT support_balance numeric, OUT distributable numeric)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT p, d - p, r, b + i + (d - p) - r, (g - p) - r
      FROM (SELECT gross AS g, debt_service_due AS d, support_opening AS b, support_interest AS i,
                   LEAST(GREATEST(gross, 0), debt_service_due) AS p) x,
           LATERAL (SELECT LEAST(GREATEST(x.g - x.p, 0), x.b + x.i) AS r) y
$$;
COMMENT ON FUNCTION dsx.waterfall(numeric, numeric, numeric, numeric) IS 'One period''s waterfall (SPEC section 6, steps 2-5): debt service paid from revenue, credit support drawn, repaid interest first, closing balance, and what is left to distribute';

-- Debt service due in [period_start, period_end) under an agreement's facility, rounded to
-- minor_units (the currency's, whatever the facility's own column says). Parameters are
-- qualified: dsx.credit_facilities has a minor_units column of its own.
CREATE FUNCTION dsx.debt_service_due(agreement text, period_start date, minor_units integer) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(sum(s.payment), 0)
      FROM dsx.credit_facilities f,
           LATERAL dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                                f.frequency, f.day_count, debt_service_due.minor_units, f.grace_periods) s
     WHERE f.agreement = debt_service_due.agreement
       AND s.due >= debt_service_due.period_start AND s.due < dsx.period_end(debt_service_due.period_start)
$$;
COMMENT ON FUNCTION dsx.debt_service_due(text, date, integer) IS 'Payments of the agreement''s credit facility schedule due in the settlement period starting at period_start';

-- Interest on a credit support balance over a period, at the facility's rate and day count.
CREATE FUNCTION dsx.support_interest(agreement text, balance numeric, period_start date, minor_units integer) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- parameters are qualified: dsx.credit_facilities has a minor_units column of its own
    SELECT COALESCE((SELECT dsx.interest(support_interest.balance, f.annual_rate, support_interest.period_start,
                                         dsx.period_end(support_interest.period_start), f.day_count,
                                         support_interest.minor_units)
                       FROM dsx.credit_facilities f WHERE f.agreement = support_interest.agreement), 0)
$$;
COMMENT ON FUNCTION dsx.support_interest(text, numeric, date, integer) IS 'round(B x facility rate x year fraction of the period in the facility''s day count), exact until that one rounding, half away from zero; 0 without a facility';

-- Shares of the distributable amount, with vendor and partner resolved.
CREATE FUNCTION dsx.agreement_shares(agreement text, distributable numeric, minor_units integer)
RETURNS TABLE(party text, amount numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT dsx.agreement_party(s.party, a.vendor, a.partner), s.amount
      FROM dsx.agreements a, LATERAL dsx.allocate(distributable, a.revenue_split, minor_units) s
     WHERE a.agreement = $1
$$;
COMMENT ON FUNCTION dsx.agreement_shares(text, numeric, integer) IS 'dsx.allocate of an amount by the agreement''s revenue split, with vendor and partner resolved to its parties';

-- The usage of a period per factory, customer and model, summed from the daily rollups, for
-- a set of factories. Planned for each call (EXECUTE, the factories a constant): one
-- factory's rollups are read through the index, a thousand factories' in one scan probing
-- a hash of the factories, by parallel workers where PostgreSQL has them (RETURN QUERY may
-- run in parallel; a query that writes may not).
CREATE FUNCTION dsx.period_rollups(factories text[], period_start date, period_end date)
RETURNS TABLE(factory text, customer text, model text, u dsx.usage)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT d.factory, d.customer, d.model, dsx.rollup(d.usage)
           FROM dsx.usage_daily d
          WHERE d.factory = ANY ($1) AND d.day >= $2 AND d.day < $3
          GROUP BY d.factory, d.customer, d.model'
        USING factories, period_start, period_end;
END
$$;
COMMENT ON FUNCTION dsx.period_rollups(text[], date, date) IS 'Usage of the half-open period [period_start, period_end) per factory, customer and model, for a set of factories: dsx.rollup of their daily rollups (what settlement rates)';

/*
 * Settle one monthly period for a set of agreements, with a handful of set-based
 * statements: the one implementation of settlement that dsx.settle (one agreement) and
 * dsx.run_due_settlements (every due agreement, period by period) share. Each agreement is
 * checked as dsx.settle documents (the first failing check raises, for the whole set); an
 * agreement whose period is already settled is skipped with a NOTICE. Returns how many
 * agreements it settled.
 */
CREATE FUNCTION dsx.settle_period(agreements text[], period_start date) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_start  date := settle_period.period_start;
    v_end    date;
    v_ags    text[];
    v_batch  bigint;
    v_late_a text[];
    v_late_p date[];
    v_n      integer;
    v_txn    bigint;
    v_factories text[];
    v_lines  dsx.statement_lines[];
    v_adj    dsx.statement_lines[];
    v_bad    text;
    v_bad_p  date;
    v_gross  numeric;
    v_paid   numeric;
    v_repaid numeric;
    v_shares numeric;
    bad      record;
BEGIN
    IF settle_period.agreements IS NULL OR v_start IS NULL
       OR pg_catalog.array_position(settle_period.agreements, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'dsx.settle needs an agreement and a period_start' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'dsx.settle runs in READ COMMITTED transactions'
            USING ERRCODE = 'active_sql_transaction',
                  DETAIL = 'Settlement waits for concurrent settlers and must then see what they wrote.';
    END IF;
    -- One settler per agreement at a time: the others wait here, then find the period
    -- settled. Rows are locked in agreement order, so concurrent settlers never deadlock.
    SELECT array_agg(x.agreement ORDER BY x.agreement) INTO v_ags
      FROM (SELECT g.agreement FROM dsx.agreements g
             WHERE g.agreement = ANY (settle_period.agreements)
             ORDER BY g.agreement FOR UPDATE) x;
    SELECT u.a AS agreement INTO bad
      FROM unnest(settle_period.agreements) WITH ORDINALITY u(a, i)
     WHERE u.a <> ALL (COALESCE(v_ags, '{}'))
     ORDER BY u.i LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown agreement "%"', bad.agreement USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_ags IS NULL THEN
        RETURN 0;                        -- an empty set
    END IF;
    IF v_start <> date_trunc('month', v_start)::date THEN
        RAISE EXCEPTION 'settlement periods are calendar months: % is not the first day of a month', v_start
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT g.agreement, g.starts INTO bad
      FROM dsx.agreements g WHERE g.agreement = ANY (v_ags) AND v_start < g.starts
     ORDER BY g.agreement LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'agreement "%" starts on %: there is no period %', bad.agreement, bad.starts, v_start
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR bad IN SELECT s.agreement FROM dsx.statements s
                WHERE s.agreement = ANY (v_ags) AND s.period_start = v_start ORDER BY s.agreement LOOP
        RAISE NOTICE 'agreement "%" period % is already settled: nothing changed', bad.agreement, v_start;
        v_ags := array_remove(v_ags, bad.agreement);
    END LOOP;
    IF cardinality(v_ags) = 0 THEN
        RETURN 0;
    END IF;
    v_end := dsx.period_end(v_start);
    IF (v_end::timestamp AT TIME ZONE 'UTC') > now() THEN
        RAISE EXCEPTION 'period % of agreement "%" has not ended', v_start, v_ags[1]
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The period ends at %s UTC.', v_end);
    END IF;
    SELECT g.agreement INTO bad
      FROM dsx.agreements g
     WHERE g.agreement = ANY (v_ags) AND v_start > g.starts
       AND NOT EXISTS (SELECT 1 FROM dsx.statements s
                        WHERE s.agreement = g.agreement AND s.period_start = (v_start - interval '1 month')::date)
     ORDER BY g.agreement LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'period % of agreement "%" cannot be settled before %', v_start, bad.agreement,
                (v_start - interval '1 month')::date
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Settle periods in order, or call dsx.run_due_settlements().';
    END IF;

    -- Wait for a running ingest and keep new ones out until we commit, so that every
    -- query below sees the same usage: that of batches up to v_batch.
    LOCK TABLE dsx.usage_daily IN SHARE MODE;
    v_batch := COALESCE((SELECT max(batch_id) FROM dsx.ingest_log), 0);

    SELECT array_agg(g.factory) INTO v_factories FROM dsx.agreements g WHERE g.agreement = ANY (v_ags);

    -- 1. the period's rated lines: one per agreement, customer and model, as dsx.rate_lines
    -- rates them; usage nobody priced is left to dsx.rate_lines to report, exactly. The
    -- lines are written with their statements, below: dsx.books_check wants the statement first.
    EXECUTE $q$
    WITH l AS MATERIALIZED (
        SELECT g.agreement, g.factory, r.customer, r.model, r.u, c.minor_units AS mu,
               pp.plan IS NOT NULL AS priced, pp.plan, pp.input_price, pp.output_price
          FROM dsx.period_rollups($1, $2, $3) r
          JOIN dsx.agreements g ON g.factory = r.factory
          JOIN dsx.factories f ON f.factory = g.factory
          JOIN dsx.currencies c ON c.currency = f.currency
          LEFT JOIN dsx.customer_plans cp ON cp.customer = r.customer AND cp.factory = r.factory
          LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = r.model
    )
    SELECT (SELECT min(l.agreement) FROM l WHERE NOT l.priced),
           (SELECT array_agg(ROW(l.agreement, $2, $2, l.customer, l.model, dsx.input_tokens(l.u),
                                 dsx.output_tokens(l.u), dsx.rate(l.u, l.input_price, l.output_price, l.mu),
                                 l.plan, l.input_price, l.output_price)::dsx.statement_lines
                             ORDER BY l.agreement, l.customer, l.model)
              FROM l WHERE l.priced)
    $q$ INTO v_bad, v_lines USING v_factories, v_start, v_end;
    IF v_bad IS NOT NULL THEN
        PERFORM FROM dsx.agreements g,
                     LATERAL dsx.rate_lines(g.factory, v_start::timestamp AT TIME ZONE 'UTC',
                                            v_end::timestamp AT TIME ZONE 'UTC')
         WHERE g.agreement = v_bad;
        RAISE EXCEPTION 'usage of agreement "%" in period % is not priced', v_bad, v_start
            USING ERRCODE = 'internal_error';      -- can't happen: dsx.rate_lines raised
    END IF;

    -- late usage: every closed period whose token totals in the rollups differ from what
    -- its lines booked is re-rated with everything now known; the difference from what was
    -- booked becomes adjustment lines (written with the statements, below)
    SELECT array_agg(s.agreement ORDER BY s.agreement, s.period_start),
           array_agg(s.period_start ORDER BY s.agreement, s.period_start)
      INTO v_late_a, v_late_p
      FROM dsx.statements s
      JOIN dsx.agreements g ON g.agreement = s.agreement
     WHERE s.agreement = ANY (v_ags) AND s.period_start < v_start
       AND (SELECT (COALESCE(sum(dsx.input_tokens(d.usage)), 0), COALESCE(sum(dsx.output_tokens(d.usage)), 0))
              FROM dsx.usage_daily d
             WHERE d.factory = g.factory AND d.day >= s.period_start AND d.day < s.period_end)
           IS DISTINCT FROM
           (SELECT (COALESCE(sum(l.input_tokens), 0), COALESCE(sum(l.output_tokens), 0))
              FROM dsx.statement_lines l
             WHERE l.agreement = s.agreement AND l.for_period = s.period_start);
    IF v_late_a IS NOT NULL THEN
        WITH late AS (
            SELECT u.a, u.p FROM unnest(v_late_a, v_late_p) u(a, p)
        ), l AS MATERIALIZED (
            -- a customer and model the period was booked for keep the prices it was booked
            -- with, whatever the plans say now; only one never booked takes today's plan
            SELECT r.a, r.p, r.factory, r.customer, r.model, r.u, r.mu,
                   COALESCE(bk.plan, pp.plan) AS plan,
                   bk.plan IS NOT NULL OR pp.plan IS NOT NULL AS priced,
                   COALESCE(bk.input_price, pp.input_price) AS input_price,
                   COALESCE(bk.output_price, pp.output_price) AS output_price
              FROM (SELECT late.a, late.p, g.factory, d.customer, d.model, c.minor_units AS mu,
                           dsx.rollup(d.usage) AS u
                      FROM late
                      JOIN dsx.agreements g ON g.agreement = late.a
                      JOIN dsx.factories f ON f.factory = g.factory
                      JOIN dsx.currencies c ON c.currency = f.currency
                      JOIN dsx.usage_daily d ON d.factory = g.factory AND d.day >= late.p
                                            AND d.day < dsx.period_end(late.p)
                     GROUP BY late.a, late.p, g.factory, d.customer, d.model, c.minor_units) r
              LEFT JOIN LATERAL (SELECT x.plan, x.input_price, x.output_price
                                   FROM dsx.statement_lines x
                                  WHERE x.agreement = r.a AND x.for_period = r.p
                                    AND x.customer = r.customer AND x.model = r.model
                                  ORDER BY x.period_start LIMIT 1) bk ON true
              LEFT JOIN dsx.customer_plans cp ON cp.customer = r.customer AND cp.factory = r.factory
              LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = r.model
        ), n AS (
            SELECT l.a, l.p, l.customer, l.model, dsx.input_tokens(l.u) AS input_tokens,
                   dsx.output_tokens(l.u) AS output_tokens, dsx.rate(l.u, l.input_price, l.output_price, l.mu) AS amount,
                   l.plan, l.input_price, l.output_price
              FROM l WHERE l.priced
        ), b AS (
            SELECT l.agreement AS a, l.for_period AS p, l.customer, l.model,
                   sum(l.input_tokens)::bigint AS input_tokens, sum(l.output_tokens)::bigint AS output_tokens,
                   sum(l.amount) AS amount, (array_agg(l.plan ORDER BY l.period_start))[1] AS plan,
                   (array_agg(l.input_price ORDER BY l.period_start))[1] AS input_price,
                   (array_agg(l.output_price ORDER BY l.period_start))[1] AS output_price
              FROM dsx.statement_lines l
              JOIN late ON l.agreement = late.a AND l.for_period = late.p
             GROUP BY l.agreement, l.for_period, l.customer, l.model
        ), adj AS (
            SELECT ROW(COALESCE(n.a, b.a), v_start, COALESCE(n.p, b.p), COALESCE(n.customer, b.customer),
                       COALESCE(n.model, b.model),
                       COALESCE(n.input_tokens, 0) - COALESCE(b.input_tokens, 0),
                       COALESCE(n.output_tokens, 0) - COALESCE(b.output_tokens, 0),
                       COALESCE(n.amount, 0) - COALESCE(b.amount, 0),
                       COALESCE(n.plan, b.plan), COALESCE(n.input_price, b.input_price),
                       COALESCE(n.output_price, b.output_price))::dsx.statement_lines AS line
              FROM n
              FULL JOIN b ON b.a = n.a AND b.p = n.p AND b.customer = n.customer AND b.model = n.model
             WHERE COALESCE(n.input_tokens, 0) <> COALESCE(b.input_tokens, 0)
                OR COALESCE(n.output_tokens, 0) <> COALESCE(b.output_tokens, 0)
                OR COALESCE(n.amount, 0) <> COALESCE(b.amount, 0)
        )
        SELECT (SELECT x.a FROM l x WHERE NOT x.priced ORDER BY x.a, x.p LIMIT 1),
               (SELECT x.p FROM l x WHERE NOT x.priced ORDER BY x.a, x.p LIMIT 1),
               (SELECT array_agg(adj.line ORDER BY (adj.line).agreement, (adj.line).for_period,
                                 (adj.line).customer, (adj.line).model) FROM adj)
          INTO v_bad, v_bad_p, v_adj;
        IF v_bad IS NOT NULL THEN
            PERFORM FROM dsx.agreements g,
                         LATERAL dsx.rate_lines(g.factory, v_bad_p::timestamp AT TIME ZONE 'UTC',
                                                dsx.period_end(v_bad_p)::timestamp AT TIME ZONE 'UTC')
             WHERE g.agreement = v_bad;
            RAISE EXCEPTION 'usage of agreement "%" in period % is not priced', v_bad, v_bad_p
                USING ERRCODE = 'internal_error';  -- can't happen: dsx.rate_lines raised
        END IF;
    END IF;

    -- 2.-5. debt service, credit support, repayment and the split; the statements, their
    -- lines and shares; the ledger: one balanced transaction per statement, numbered in
    -- agreement order. One statement: dsx.books_check runs when it ends, statements written.
    WITH ln AS MATERIALIZED (
        SELECT x.* FROM unnest(v_lines || v_adj) x
    ), ins_ln AS (
        INSERT INTO dsx.statement_lines SELECT * FROM ln
    ), tot AS (
        SELECT ln.agreement,
               sum(ln.amount) FILTER (WHERE ln.for_period = v_start) AS rev,
               sum(ln.amount) FILTER (WHERE ln.for_period < v_start) AS adj,
               sum(ln.input_tokens) FILTER (WHERE ln.for_period = v_start) AS input_tokens,
               sum(ln.output_tokens) FILTER (WHERE ln.for_period = v_start) AS output_tokens
          FROM ln GROUP BY ln.agreement
    ), ag AS MATERIALIZED (
        SELECT g.agreement, g.vendor, g.partner, g.revenue_split, f.currency, c.minor_units AS mu,
               COALESCE(pr.support_balance, 0) AS opening, cf.lender,
               COALESCE(tot.rev, 0) AS rev, COALESCE(tot.adj, 0) AS adj,
               COALESCE(tot.input_tokens, 0) AS input_tokens, COALESCE(tot.output_tokens, 0) AS output_tokens,
               -- the same rules verify_settlement recomputes with
               dsx.debt_service_due(g.agreement, v_start, c.minor_units) AS due,
               dsx.support_interest(g.agreement, COALESCE(pr.support_balance, 0), v_start, c.minor_units) AS interest
          FROM dsx.agreements g
          JOIN dsx.factories f ON f.factory = g.factory
          JOIN dsx.currencies c ON c.currency = f.currency
          LEFT JOIN dsx.statements pr ON v_start > g.starts AND pr.agreement = g.agreement
                                     AND pr.period_start = (v_start - interval '1 month')::date
          LEFT JOIN dsx.credit_facilities cf ON cf.agreement = g.agreement
          LEFT JOIN tot ON tot.agreement = g.agreement
         WHERE g.agreement = ANY (v_ags)
    ), wf AS MATERIALIZED (
        SELECT ag.*, ag.rev + ag.adj AS gross, w.*
          FROM ag, LATERAL dsx.waterfall(ag.rev + ag.adj, ag.due, ag.opening, ag.interest) w
    ), sh AS MATERIALIZED (
        SELECT wf.agreement, wf.vendor, wf.partner, x.ord,
               dsx.agreement_party(x.party, wf.vendor, wf.partner) AS party, x.amount
          FROM wf, LATERAL dsx.allocate(wf.distributable, wf.revenue_split, wf.mu) WITH ORDINALITY x(party, amount, ord)
    ), ins_sh AS (
        INSERT INTO dsx.statement_shares (agreement, period_start, party, amount)
        SELECT sh.agreement, v_start, sh.party, sh.amount FROM sh ORDER BY sh.agreement, sh.ord
    ), st AS MATERIALIZED (
        SELECT wf.*,
               COALESCE(t.vendor_share, 0) AS vendor_share, COALESCE(t.partner_share, 0) AS partner_share,
               COALESCE(t.shares, 0) AS shares
          FROM wf
          LEFT JOIN (SELECT sh.agreement,
                            sum(sh.amount) FILTER (WHERE sh.party = sh.vendor) AS vendor_share,
                            sum(sh.amount) FILTER (WHERE sh.party = sh.partner) AS partner_share,
                            sum(sh.amount) AS shares
                       FROM sh GROUP BY sh.agreement) t ON t.agreement = wf.agreement
    ), ins_st AS (
        INSERT INTO dsx.statements (agreement, period_start, period_end, currency, input_tokens, output_tokens,
            revenue, adjustments, gross, debt_service_due, debt_service_paid, support_opening, support_drawn,
            support_interest, support_repaid, support_balance, distributable, vendor_share, partner_share,
            through_batch)
        SELECT st.agreement, v_start, v_end, st.currency, st.input_tokens, st.output_tokens, st.rev, st.adj,
               st.gross, st.due, st.debt_service_paid, st.opening, st.support_drawn, st.interest,
               st.support_repaid, st.support_balance, st.distributable, st.vendor_share, st.partner_share, v_batch
          FROM st ORDER BY st.agreement
        RETURNING agreement
    ), txn AS MATERIALIZED (
        SELECT o.agreement, nextval('dsx.ledger_txn_seq') AS txn_id
          FROM (SELECT st.agreement FROM st ORDER BY st.agreement) o
    ), e AS (
        SELECT st.agreement, st.currency, e.ord, e.account, e.amount
          FROM st, LATERAL (VALUES
                (1, 'receivable:customers', st.gross),
                (2, 'income:revenue', -st.rev),
                (3, 'income:adjustments', -st.adj),
                (4, 'expense:debt_service', st.due),
                (5, 'payable:lender:' || st.lender, -st.debt_service_paid),
                (6, 'liability:credit_support:' || st.vendor, -st.support_drawn),
                (7, 'expense:credit_support_interest', st.interest),
                (8, 'liability:credit_support:' || st.vendor, -st.interest),
                (9, 'liability:credit_support:' || st.vendor, st.support_repaid),
                (10, 'payable:credit_support_repayment:' || st.vendor, -st.support_repaid),
                (11, 'distribution:revenue_share', st.distributable)) e(ord, account, amount)
        UNION ALL
        SELECT sh.agreement, st.currency, 12, 'payable:share:' || sh.party, -sh.amount
          FROM sh JOIN st ON st.agreement = sh.agreement
    ), ins_le AS (
        INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
        SELECT x.txn_id, x.entry_no, x.agreement, v_start, x.account, x.amount, x.currency
          FROM (SELECT t.txn_id, row_number() OVER (PARTITION BY t.txn_id ORDER BY e.ord, e.account) AS entry_no,
                       e.agreement, e.account, e.amount, e.currency
                  FROM e JOIN txn t ON t.agreement = e.agreement
                 WHERE e.amount <> 0 OR e.ord <= 2   -- a month without activity still posts its (zero) revenue
               ) x
         ORDER BY x.txn_id, x.entry_no
        RETURNING txn_id, amount
    )
    SELECT (SELECT count(*) FROM ins_st),
           (SELECT min(u.txn_id) FROM (SELECT i.txn_id FROM ins_le i GROUP BY i.txn_id HAVING sum(i.amount) <> 0) u),
           v.agreement, v.gross, v.debt_service_paid, v.support_repaid, v.shares
      INTO v_n, v_txn, v_bad, v_gross, v_paid, v_repaid, v_shares
      FROM (SELECT 1) one
      LEFT JOIN LATERAL (SELECT st.agreement, st.gross, st.debt_service_paid, st.support_repaid, st.shares
                           FROM st WHERE st.gross <> st.debt_service_paid + st.support_repaid + st.shares
                          ORDER BY st.agreement LIMIT 1) v ON true;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'waterfall invariant broken for agreement "%" period %: gross % <> % + % + %',
              v_bad, v_start, v_gross, v_paid, v_repaid, v_shares
            USING ERRCODE = 'internal_error';
    END IF;
    IF v_txn IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', v_txn USING ERRCODE = 'internal_error';
    END IF;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION dsx.settle_period(text[], date) IS 'Settle one monthly period for a set of agreements in a few set-based statements (what dsx.settle and dsx.run_due_settlements run): each agreement checked and locked as dsx.settle does, in agreement order; an agreement already settled is skipped with a NOTICE; returns how many it settled. Any error settles none of them';

CREATE FUNCTION dsx.settle(agreement text, period_start date) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF settle.agreement IS NULL OR settle.period_start IS NULL THEN
        RAISE EXCEPTION 'dsx.settle needs an agreement and a period_start' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN dsx.settle_period(ARRAY[settle.agreement], settle.period_start) = 1;
END
$$;
COMMENT ON FUNCTION dsx.settle(text, date) IS 'Settle one monthly period of an agreement: rate, re-rate late usage, run the waterfall, write the statement and post the ledger; returns false (and says so) when already settled';

CREATE FUNCTION dsx.run_due_settlements() RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r        record;
    ag       text;
    v_todo   text[];
    v_got    text[];
    v_chunk  text[];
    v_n      integer;
    v_failed text[] := '{}';
    v_more   boolean;
    settled  integer := 0;
    failed   integer := 0;
    msg      text;
    state    text;
BEGIN
    -- the agreements with a due period, in agreement order
    SELECT array_agg(g.agreement ORDER BY g.agreement) INTO v_todo
      FROM dsx.agreements g
     WHERE (dsx.period_end(COALESCE((SELECT (max(s.period_start) + interval '1 month')::date
                                       FROM dsx.statements s WHERE s.agreement = g.agreement), g.starts))
            ::timestamp AT TIME ZONE 'UTC') + g.settle_lag <= now();
    v_todo := COALESCE(v_todo, '{}');
    -- Agreements are locked in agreement order, as dsx.settle locks them, and each lock is
    -- held to the end of the transaction: concurrent runs queue rather than deadlock. The
    -- run takes, without waiting, the longest run of agreements no other transaction holds,
    -- settles them, then waits for the next one.
    WHILE cardinality(v_todo) > 0 LOOP
        v_n := 0;
        BEGIN
            SELECT array_agg(x.agreement ORDER BY x.agreement) INTO v_got
              FROM (SELECT g.agreement FROM dsx.agreements g
                     WHERE g.agreement = ANY (v_todo)
                     ORDER BY g.agreement FOR UPDATE SKIP LOCKED) x;
            -- how many of the next agreements it got (both lists are in agreement order)
            SELECT COALESCE(min(u.i) - 1, cardinality(v_todo)) INTO v_n
              FROM unnest(v_todo, v_got) WITH ORDINALITY u(t, g, i)
             WHERE u.t IS DISTINCT FROM u.g;
            IF v_n < COALESCE(cardinality(v_got), 0) THEN
                -- locked past an agreement another transaction holds: let go of them all
                RAISE EXCEPTION USING ERRCODE = 'DX001';
            END IF;
        EXCEPTION WHEN SQLSTATE 'DX001' THEN
            -- take the free run again, in order (waiting, should another settler take one)
            PERFORM FROM (SELECT g.agreement FROM dsx.agreements g
                           WHERE g.agreement = ANY (v_todo[1:v_n])
                           ORDER BY g.agreement FOR UPDATE) x;
        END;
        IF v_n = 0 THEN
            -- the next agreement is another transaction's: wait for it
            PERFORM FROM dsx.agreements g WHERE g.agreement = v_todo[1] FOR UPDATE;
            v_n := 1;
        END IF;
        v_chunk := v_todo[1:v_n];
        v_todo := v_todo[v_n + 1:];
        -- Rounds: each settles every agreement's first unsettled period that is due, one set
        -- per period, until none is due (known when no agreement had a further period due).
        LOOP
            v_more := false;
            FOR r IN
                SELECT n.p, array_agg(n.agreement ORDER BY n.agreement) AS ags,
                       bool_or((dsx.period_end(dsx.period_end(n.p))::timestamp AT TIME ZONE 'UTC')
                               + n.settle_lag <= now()) AS more
                  FROM (SELECT g.agreement, g.settle_lag,
                               COALESCE((SELECT (max(s.period_start) + interval '1 month')::date
                                           FROM dsx.statements s WHERE s.agreement = g.agreement), g.starts) AS p
                          FROM dsx.agreements g
                         WHERE g.agreement = ANY (v_chunk) AND g.agreement <> ALL (v_failed)) n
                 WHERE (dsx.period_end(n.p)::timestamp AT TIME ZONE 'UTC') + n.settle_lag <= now()
                 GROUP BY n.p ORDER BY n.p
            LOOP
                v_more := v_more OR r.more;
                BEGIN
                    settled := settled + dsx.settle_period(r.ags, r.p);
                EXCEPTION WHEN OTHERS THEN
                    -- the set failed: settle its agreements one by one, each in its own
                    -- subtransaction, so that one that cannot be settled (say, usage nobody
                    -- priced) stops there and the others carry on
                    FOREACH ag IN ARRAY r.ags LOOP
                        BEGIN
                            IF dsx.settle(ag, r.p) THEN
                                settled := settled + 1;
                            END IF;
                        EXCEPTION WHEN OTHERS THEN
                            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
                            RAISE WARNING 'agreement "%" was not settled from %: % (SQLSTATE %)', ag, r.p, msg, state
                                USING HINT = 'Correct the cause and run dsx.run_due_settlements() again; the other agreements were settled.';
                            failed := failed + 1;
                            v_failed := v_failed || ag;
                        END;
                    END LOOP;
                END;
            END LOOP;
            EXIT WHEN NOT v_more;
        END LOOP;
    END LOOP;
    IF settled = 0 AND failed = 0 THEN
        RAISE NOTICE 'no settlement was due';
    END IF;
    RETURN settled;
END
$$;
COMMENT ON FUNCTION dsx.run_due_settlements() IS 'Settle, in order, every period of every agreement that ended at least its settle_lag ago; returns how many it settled (0, and says so, when none was due); an agreement that fails is reported in a WARNING and left at its last settled period while the others are settled';

/*
 * Recompute a statement from raw events and configuration: the events of the batches the
 * statement saw, priced by the plans and the facility, split by the agreement's split.
 */
CREATE FUNCTION dsx.verify_settlement(agreement text, period_start date) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      dsx.statements;
    a      dsx.agreements;
    v_prev dsx.statements;
    v_mu   integer;
    v_prev_batch bigint;
    v_rev  numeric;
    v_adj  numeric;
    v_in   bigint;
    v_out  bigint;
    v_int  numeric;
    w      record;
    ok     boolean := true;
BEGIN
    SELECT * INTO s FROM dsx.statements t WHERE t.agreement = $1 AND t.period_start = $2;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agreement "%" has no statement for period %', $1, $2 USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO a FROM dsx.agreements g WHERE g.agreement = $1;
    SELECT c.minor_units INTO v_mu FROM dsx.currencies c WHERE c.currency = s.currency;
    SELECT * INTO v_prev FROM dsx.statements t
     WHERE t.agreement = $1 AND t.period_start = (s.period_start - interval '1 month')::date;
    v_prev_batch := COALESCE((SELECT max(t.through_batch) FROM dsx.statements t
                               WHERE t.agreement = $1 AND t.period_start < s.period_start), 0);

    -- each period's lines, rated from raw events as of a batch, at the prices the period was
    -- booked with (recorded on its lines); today's plan only where nothing was booked
    WITH lines AS (
        SELECT l.for_period, l.customer, l.model,
               dsx.input_tokens(l.u) AS input_tokens, dsx.output_tokens(l.u) AS output_tokens,
               dsx.rate(l.u, COALESCE(bk.input_price, pp.input_price),
                        COALESCE(bk.output_price, pp.output_price), v_mu) AS amount, l.asof
          FROM (SELECT date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')::date AS for_period,
                       e.customer, e.model, b.asof,
                       dsx.usage_agg(e.input_tokens, e.output_tokens, e.occurred_at) AS u
                  FROM dsx.usage_events e
                 CROSS JOIN (VALUES ('now', s.through_batch), ('before', v_prev_batch)) b(asof, batch)
                 WHERE e.factory = a.factory AND e.batch_id <= b.batch
                   AND e.occurred_at >= (a.starts::timestamp AT TIME ZONE 'UTC')
                   AND e.occurred_at < (s.period_end::timestamp AT TIME ZONE 'UTC')
                 GROUP BY 1, 2, 3, 4) l
          LEFT JOIN LATERAL (SELECT x.input_price, x.output_price
                               FROM dsx.statement_lines x
                              WHERE x.agreement = a.agreement AND x.for_period = l.for_period
                                AND x.customer = l.customer AND x.model = l.model
                                AND x.period_start <= s.period_start
                              ORDER BY x.period_start LIMIT 1) bk ON true
          LEFT JOIN dsx.customer_plans cp ON cp.customer = l.customer AND cp.factory = a.factory
          LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = l.model
    ), expected AS (
        -- the period's own lines, and for earlier periods what changed since the last statement
        SELECT n.for_period, COALESCE(n.customer, b.customer) AS customer, COALESCE(n.model, b.model) AS model,
               COALESCE(n.input_tokens, 0) - COALESCE(b.input_tokens, 0) AS input_tokens,
               COALESCE(n.output_tokens, 0) - COALESCE(b.output_tokens, 0) AS output_tokens,
               COALESCE(n.amount, 0) - COALESCE(b.amount, 0) AS amount
          FROM (SELECT * FROM lines WHERE asof = 'now') n
          FULL JOIN (SELECT * FROM lines WHERE asof = 'before' AND for_period < s.period_start) b
            USING (for_period, customer, model)
    ), expected_lines AS (
        SELECT * FROM expected
         WHERE for_period = s.period_start OR input_tokens <> 0 OR output_tokens <> 0 OR amount <> 0
    ), stored_lines AS (
        SELECT l.for_period, l.customer, l.model, l.input_tokens, l.output_tokens, l.amount
          FROM dsx.statement_lines l WHERE l.agreement = $1 AND l.period_start = $2
    )
    SELECT NOT EXISTS (SELECT * FROM expected_lines EXCEPT SELECT * FROM stored_lines)
       AND NOT EXISTS (SELECT * FROM stored_lines EXCEPT SELECT * FROM expected_lines),
           COALESCE((SELECT sum(amount) FROM expected_lines WHERE for_period = s.period_start), 0),
           COALESCE((SELECT sum(amount) FROM expected_lines WHERE for_period < s.period_start), 0),
           COALESCE((SELECT sum(input_tokens) FROM expected_lines WHERE for_period = s.period_start), 0),
           COALESCE((SELECT sum(output_tokens) FROM expected_lines WHERE for_period = s.period_start), 0)
      INTO ok, v_rev, v_adj, v_in, v_out;
    IF NOT ok THEN
        RAISE NOTICE 'statement lines differ from the raw events';
    END IF;

    v_int := dsx.support_interest(a.agreement, COALESCE(v_prev.support_balance, 0), s.period_start, v_mu);
    SELECT * INTO w FROM dsx.waterfall(v_rev + v_adj, dsx.debt_service_due(a.agreement, s.period_start, v_mu),
                                       COALESCE(v_prev.support_balance, 0), v_int);
    IF (s.revenue, s.adjustments, s.gross, s.input_tokens, s.output_tokens, s.debt_service_due,
        s.debt_service_paid, s.support_opening, s.support_drawn, s.support_interest, s.support_repaid,
        s.support_balance, s.distributable)
       IS DISTINCT FROM
       (v_rev, v_adj, v_rev + v_adj, v_in, v_out, w.debt_service_paid + w.support_drawn,
        w.debt_service_paid, COALESCE(v_prev.support_balance, 0), w.support_drawn, v_int, w.support_repaid,
        w.support_balance, w.distributable) THEN
        RAISE NOTICE 'statement figures differ from the recomputed waterfall';
        ok := false;
    END IF;
    IF EXISTS (SELECT party, amount FROM dsx.agreement_shares($1, w.distributable, v_mu) WHERE amount <> 0
               EXCEPT SELECT party, amount FROM dsx.statement_shares t WHERE t.agreement = $1 AND t.period_start = $2 AND amount <> 0)
       OR EXISTS (SELECT party, amount FROM dsx.statement_shares t WHERE t.agreement = $1 AND t.period_start = $2 AND amount <> 0
                  EXCEPT SELECT party, amount FROM dsx.agreement_shares($1, w.distributable, v_mu) WHERE amount <> 0) THEN
        RAISE NOTICE 'statement shares differ from the revenue split';
        ok := false;
    END IF;
    IF (SELECT COALESCE(sum(amount), 0) FROM dsx.ledger_entries l WHERE l.agreement = $1 AND l.period_start = $2) <> 0 THEN
        RAISE NOTICE 'ledger entries of the statement do not balance';
        ok := false;
    END IF;
    RETURN ok;
END
$$;
COMMENT ON FUNCTION dsx.verify_settlement(text, date) IS 'Recompute a settled statement from raw usage events (as of the batches it saw), the prices its periods were booked with, the facility and the split, and compare with what was stored: true when every line, figure, share and the ledger agree';

/*
 * Scheduling through pg_cron, a soft dependency: the functions look pg_cron up at run time
 * and explain how to enable it when it is missing.
 */
CREATE FUNCTION dsx.schedule_settlements(cron text DEFAULT '15 0 * * *') RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'dsx schedules settlements through pg_cron, which lives in the one database named by cron.database_name.',
                  HINT = format('Either CREATE EXTENSION pg_cron here (with shared_preload_libraries = ''pg_cron'' and cron.database_name = %L), '
                                'or, in the pg_cron database, run: SELECT cron.schedule_in_database(%L, %L, ''SELECT dsx.run_due_settlements()'', %L);',
                                current_database(), 'dsx-settlements-' || current_database(), cron, current_database());
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
      USING 'dsx-settlements', cron, 'SELECT dsx.run_due_settlements()';
    RETURN job;
END
$$;
COMMENT ON FUNCTION dsx.schedule_settlements(text) IS 'Register dsx.run_due_settlements() with pg_cron under the job name dsx-settlements (replacing its schedule) and return the job id; where pg_cron is not installed, the error''s hint gives the cron.schedule_in_database call (job dsx-settlements-<database>) to run in the pg_cron database';

CREATE FUNCTION dsx.unschedule_settlements() RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'undefined_object',
                  HINT = format('In the pg_cron database, run: SELECT cron.unschedule(%L);',
                                'dsx-settlements-' || current_database());
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'dsx-settlements') THEN
        RAISE NOTICE 'no dsx-settlements job is scheduled';
        RETURN false;
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' INTO done USING 'dsx-settlements';
    RETURN done;
END
$$;
COMMENT ON FUNCTION dsx.unschedule_settlements() IS 'Remove the pg_cron job dsx-settlements; false (and says so) when none is scheduled';
-- dsx 1.0 — part 70: what each party sees. Group roles, the role-to-party maps, row-level
-- security on every table a partner or vendor can read, privileges, and the views BI tools
-- query (dsx.partner_statements, dsx.partner_usage_daily, dsx.credit_support_position,
-- dsx.vendor_portfolio).
--
-- Who is who:
--   the extension owner   creates the extension; owns every table, so row-level security
--                         does not apply to it (tables are not FORCEd): administration.
--   dsx_operator          configures (parties, factories, plans, agreements, facilities,
--                         role maps), ingests, settles and schedules; sees every row.
--   dsx_loader            loads usage: writes dsx.usage_inbox and runs dsx.ingest().
--   dsx_partner           group of the login roles dsx.grant_partner() maps to a partner:
--                         reads that partner's rows only, writes nothing.
--   dsx_vendor            group of the login roles dsx.grant_vendor() maps to a vendor:
--                         reads the statements, credit support and factories of the
--                         vendor's agreements (not customer-level usage), writes nothing.
-- Roles are cluster-wide: they are created here when missing and kept when the extension
-- is dropped; a database that installs dsx later reuses them.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['dsx_operator', 'dsx_loader', 'dsx_partner', 'dsx_vendor'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by an install in another database
            END;
        END IF;
    END LOOP;
END
$$;

-- Operators map login roles to parties through dsx.grant_partner()/dsx.grant_vendor(),
-- which grant these groups: they need the ADMIN OPTION on them (PostgreSQL 15 gives it
-- only with membership, which adds nothing: an operator already reads every row). Granted
-- once per cluster, so that a second install says nothing.
DO $$
DECLARE
    g text;
BEGIN
    FOREACH g IN ARRAY ARRAY['dsx_partner', 'dsx_vendor'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                        WHERE m.roleid = g::regrole AND m.member = 'dsx_operator'::regrole AND m.admin_option) THEN
            EXECUTE pg_catalog.format('GRANT %I TO dsx_operator WITH ADMIN OPTION', g);
        END IF;
    END LOOP;
END
$$;

CREATE TABLE dsx.partner_roles (
    role       name PRIMARY KEY,
    partner    text NOT NULL REFERENCES dsx.parties,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE dsx.partner_roles IS 'Database roles mapped to a partner by dsx.grant_partner(): the role, its members and whoever SET ROLEs to it see that partner''s rows';
COMMENT ON COLUMN dsx.partner_roles.role IS 'Role name (a login role, or a group whose members inherit the mapping)';
COMMENT ON COLUMN dsx.partner_roles.partner IS 'The partner (a party of kind partner) whose rows the role sees';
COMMENT ON COLUMN dsx.partner_roles.granted_at IS 'When the mapping was made';
COMMENT ON COLUMN dsx.partner_roles.granted_by IS 'Role that made it';

CREATE TABLE dsx.vendor_roles (
    role       name PRIMARY KEY,
    vendor     text NOT NULL REFERENCES dsx.parties,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE dsx.vendor_roles IS 'Database roles mapped to a vendor by dsx.grant_vendor(): the role sees the agreements of that vendor across partners (statements, credit support, factories; not customer-level usage)';
COMMENT ON COLUMN dsx.vendor_roles.role IS 'Role name';
COMMENT ON COLUMN dsx.vendor_roles.vendor IS 'The vendor (a party of kind vendor) whose agreements the role sees';
COMMENT ON COLUMN dsx.vendor_roles.granted_at IS 'When the mapping was made';
COMMENT ON COLUMN dsx.vendor_roles.granted_by IS 'Role that made it';

SELECT pg_catalog.pg_extension_config_dump('dsx.partner_roles', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.vendor_roles', '');
-- Rows loaded but not yet ingested are user data too, and so is the position of the
-- identity behind dsx.usage_conflicts: a restored database must carry on numbering.
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_inbox', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_conflicts_conflict_id_seq', '');

/*
 * Whose rows the current role sees. These run with the caller's rights (a policy is
 * evaluated as the querying role) and decide from the maps and pg_has_role alone: a
 * caller's search_path, temporary objects or own rows change nothing, since every name is
 * qualified and the search_path pinned. Policies call them as (SELECT f()): once a query.
 */
CREATE FUNCTION dsx.current_partners() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(DISTINCT r.partner), '{}'::text[])
      FROM dsx.partner_roles r
      JOIN pg_catalog.pg_roles g ON g.rolname OPERATOR(pg_catalog.=) r.role
     WHERE pg_catalog.pg_has_role(g.oid, 'USAGE')
$$;
COMMENT ON FUNCTION dsx.current_partners() IS 'Partners whose rows the current role sees: those dsx.partner_roles maps to a role whose privileges it has (itself, or a group it inherits from)';

CREATE FUNCTION dsx.current_vendors() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(DISTINCT r.vendor), '{}'::text[])
      FROM dsx.vendor_roles r
      JOIN pg_catalog.pg_roles g ON g.rolname OPERATOR(pg_catalog.=) r.role
     WHERE pg_catalog.pg_has_role(g.oid, 'USAGE')
$$;
COMMENT ON FUNCTION dsx.current_vendors() IS 'Vendors whose agreements the current role sees: those dsx.vendor_roles maps to a role whose privileges it has';

CREATE FUNCTION dsx.current_factories() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(f.factory), '{}'::text[])
      FROM dsx.factories f
     WHERE f.partner OPERATOR(pg_catalog.=) ANY ((SELECT dsx.current_partners())::text[])
$$;
COMMENT ON FUNCTION dsx.current_factories() IS 'Factories of the current role''s partners: whose usage, customers and plans it sees';

CREATE FUNCTION dsx.current_agreements(with_vendor boolean DEFAULT true) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(a.agreement), '{}'::text[])
      FROM dsx.agreements a
     WHERE a.partner OPERATOR(pg_catalog.=) ANY ((SELECT dsx.current_partners())::text[])
        OR (with_vendor AND a.vendor OPERATOR(pg_catalog.=) ANY ((SELECT dsx.current_vendors())::text[]))
$$;
COMMENT ON FUNCTION dsx.current_agreements(boolean) IS 'Agreements the current role sees: those of its partners and, when with_vendor, those of its vendors';

/*
 * Mapping roles to parties. Run by the extension owner or a member of dsx_operator (who
 * holds the ADMIN OPTION on dsx_partner and dsx_vendor); with the caller's rights.
 */
CREATE FUNCTION dsx.grant_role_check(role name, party text, kind text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
BEGIN
    IF role IS NULL OR party IS NULL THEN
        RAISE EXCEPTION 'a role and a % are needed', kind USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create the login role first, e.g. CREATE ROLE ... LOGIN PASSWORD ...';
    END IF;
    IF role IN ('dsx_operator', 'dsx_loader', 'dsx_partner', 'dsx_vendor') THEN
        RAISE EXCEPTION 'role "%" is one of dsx''s own groups and cannot be mapped to a party', role
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT p.kind INTO k FROM dsx.parties p WHERE p.party = grant_role_check.party;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown party "%"', party
            USING ERRCODE = 'foreign_key_violation', HINT = 'The parties are listed in dsx.parties.';
    END IF;
    IF k <> kind THEN
        RAISE EXCEPTION 'party "%" is a %, not a %', party, k, kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.grant_role_check(name, text, text) IS 'Validation shared by dsx.grant_partner and dsx.grant_vendor: the role exists and is not a dsx group, the party exists and is of the kind';

-- Map a role to a party of the given kind (partner or vendor): one row in dsx.<kind>_roles
-- and membership of the group dsx_<kind>. The public grant_* and revoke_* functions below
-- are this, for one kind each.
CREATE FUNCTION dsx.map_role(role name, party text, kind text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mapped text;
    grp    text := 'dsx_' || kind;
BEGIN
    PERFORM dsx.grant_role_check(role, party, kind);
    EXECUTE pg_catalog.format('SELECT r.%I FROM dsx.%I r WHERE r.role = $1 FOR UPDATE', kind, kind || '_roles')
       INTO mapped USING role;
    IF mapped IS NOT NULL AND mapped <> party THEN
        RAISE EXCEPTION 'role "%" is already mapped to % "%"', role, kind, mapped
            USING ERRCODE = 'unique_violation',
                  HINT = pg_catalog.format('Call dsx.revoke_%s() first: a role sees one %s.', kind, kind);
    END IF;
    IF mapped IS NULL THEN
        EXECUTE pg_catalog.format('INSERT INTO dsx.%I (role, %I) VALUES ($1, $2)', kind || '_roles', kind)
          USING role, party;
    END IF;
    -- also when already mapped: after a restore into another cluster only the map came back
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                    WHERE m.roleid = grp::regrole
                      AND m.member = (SELECT g.oid FROM pg_catalog.pg_roles g WHERE g.rolname = role)) THEN
        EXECUTE pg_catalog.format('GRANT %I TO %I', grp, role);
    END IF;
    RETURN mapped IS NULL;
END
$$;
COMMENT ON FUNCTION dsx.map_role(name, text, text) IS 'Map a role to a party of kind partner or vendor (dsx.<kind>_roles) and make it a member of dsx_<kind>; true when newly mapped. What dsx.grant_partner and dsx.grant_vendor do';

CREATE FUNCTION dsx.unmap_role(role name, kind text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grp  text := 'dsx_' || kind;
    gone integer;
BEGIN
    EXECUTE pg_catalog.format('DELETE FROM dsx.%I r WHERE r.role = $1', kind || '_roles') USING role;
    GET DIAGNOSTICS gone = ROW_COUNT;
    IF gone = 0 THEN
        RAISE NOTICE 'role "%" is not mapped to a %', role, kind;
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = role)
       AND pg_catalog.pg_has_role(role, grp, 'MEMBER') THEN
        EXECUTE pg_catalog.format('REVOKE %I FROM %I', grp, role);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION dsx.unmap_role(name, text) IS 'Remove a role''s partner or vendor mapping and its membership of dsx_<kind>; false (and says so) when it had none. What dsx.revoke_partner and dsx.revoke_vendor do';

CREATE FUNCTION dsx.grant_partner(role name, partner text) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.map_role(role, partner, 'partner') $$;
CREATE FUNCTION dsx.revoke_partner(role name) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.unmap_role(role, 'partner') $$;
CREATE FUNCTION dsx.grant_vendor(role name, vendor text) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.map_role(role, vendor, 'vendor') $$;
CREATE FUNCTION dsx.revoke_vendor(role name) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.unmap_role(role, 'vendor') $$;
COMMENT ON FUNCTION dsx.grant_partner(name, text) IS 'Map a role to a partner and make it a member of dsx_partner: it can then read that partner''s rows through the views and tables, and nothing else; true when newly mapped, false when it already was (the membership is granted again). For the extension owner and dsx_operator';
COMMENT ON FUNCTION dsx.revoke_partner(name) IS 'Remove a role''s partner mapping and its membership of dsx_partner; false (and says so) when it had none. Revoke before dropping a role: the map is kept by name';
COMMENT ON FUNCTION dsx.grant_vendor(name, text) IS 'Map a role to a vendor and make it a member of dsx_vendor: it can then read the vendor''s agreements across partners (dsx.vendor_portfolio, statements, credit support), and nothing else; true when newly mapped. For the extension owner and dsx_operator';
COMMENT ON FUNCTION dsx.revoke_vendor(name) IS 'Remove a role''s vendor mapping and its membership of dsx_vendor; false (and says so) when it had none';

/*
 * Row-level security. Two permissive policies on each table a partner or vendor can read:
 * dsx_staff lets dsx_operator and dsx_loader see and write every row (their table
 * privileges decide what they may do), dsx_read lets dsx_partner and dsx_vendor members
 * read the rows of their parties. Any other role sees no row even if granted SELECT.
 */
ALTER TABLE dsx.parties ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.factories ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.price_plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.customer_plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.agreements ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.credit_facilities ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_conflicts ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statements ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statement_lines ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statement_shares ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.ledger_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.partner_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.vendor_roles ENABLE ROW LEVEL SECURITY;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['parties', 'factories', 'price_plans', 'customer_plans', 'agreements',
                             'credit_facilities', 'usage_events', 'usage_daily', 'usage_conflicts',
                             'statements', 'statement_lines', 'statement_shares', 'ledger_entries',
                             'partner_roles', 'vendor_roles'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE POLICY dsx_staff ON dsx.%I FOR ALL TO dsx_operator, dsx_loader USING (true) WITH CHECK (true)', t);
        EXECUTE pg_catalog.format(
            'COMMENT ON POLICY dsx_staff ON dsx.%I IS %L', t,
            'dsx_operator and dsx_loader see every row; their privileges decide what they may write');
    END LOOP;
END
$$;

-- a partner sees itself, its counterparties and its customers; a vendor the parties of its agreements
CREATE POLICY dsx_read ON dsx.parties FOR SELECT TO dsx_partner, dsx_vendor USING (
    parties.party = ANY ((SELECT dsx.current_partners())::text[])
    OR parties.party = ANY ((SELECT dsx.current_vendors())::text[])
    OR EXISTS (SELECT 1 FROM dsx.agreements a WHERE parties.party IN (a.partner, a.vendor))
    OR EXISTS (SELECT 1 FROM dsx.credit_facilities f WHERE f.lender = parties.party)
    OR EXISTS (SELECT 1 FROM dsx.customer_plans c WHERE c.customer = parties.party)
    OR EXISTS (SELECT 1 FROM dsx.statement_shares s WHERE s.party = parties.party));
CREATE POLICY dsx_read ON dsx.factories FOR SELECT TO dsx_partner, dsx_vendor USING (
    factories.partner = ANY ((SELECT dsx.current_partners())::text[])
    OR EXISTS (SELECT 1 FROM dsx.agreements a
                WHERE a.factory = factories.factory AND a.vendor = ANY ((SELECT dsx.current_vendors())::text[])));
CREATE POLICY dsx_read ON dsx.price_plans FOR SELECT TO dsx_partner, dsx_vendor USING (
    EXISTS (SELECT 1 FROM dsx.customer_plans c
             WHERE c.plan = price_plans.plan AND c.factory = ANY ((SELECT dsx.current_factories())::text[])));
CREATE POLICY dsx_read ON dsx.customer_plans FOR SELECT TO dsx_partner, dsx_vendor
    USING (factory = ANY ((SELECT dsx.current_factories())::text[]));
CREATE POLICY dsx_read ON dsx.usage_events FOR SELECT TO dsx_partner, dsx_vendor
    USING (factory = ANY ((SELECT dsx.current_factories())::text[]));
CREATE POLICY dsx_read ON dsx.usage_daily FOR SELECT TO dsx_partner, dsx_vendor
    USING (factory = ANY ((SELECT dsx.current_factories())::text[]));
CREATE POLICY dsx_read ON dsx.usage_conflicts FOR SELECT TO dsx_partner, dsx_vendor
    USING (factory = ANY ((SELECT dsx.current_factories())::text[]));
CREATE POLICY dsx_read ON dsx.agreements FOR SELECT TO dsx_partner, dsx_vendor
    USING (partner = ANY ((SELECT dsx.current_partners())::text[]) OR vendor = ANY ((SELECT dsx.current_vendors())::text[]));
CREATE POLICY dsx_read ON dsx.credit_facilities FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements())::text[]));
CREATE POLICY dsx_read ON dsx.statements FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements())::text[]));
CREATE POLICY dsx_read ON dsx.statement_lines FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements(false))::text[]));
CREATE POLICY dsx_read ON dsx.statement_shares FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements())::text[]));
CREATE POLICY dsx_read ON dsx.ledger_entries FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements())::text[]));
CREATE POLICY dsx_read ON dsx.partner_roles FOR SELECT TO dsx_partner, dsx_vendor
    USING (role IN (SELECT g.rolname FROM pg_catalog.pg_roles g WHERE pg_catalog.pg_has_role(g.oid, 'USAGE')));
CREATE POLICY dsx_read ON dsx.vendor_roles FOR SELECT TO dsx_partner, dsx_vendor
    USING (role IN (SELECT g.rolname FROM pg_catalog.pg_roles g WHERE pg_catalog.pg_has_role(g.oid, 'USAGE')));

COMMENT ON POLICY dsx_read ON dsx.parties IS 'Partners and vendors see their own party, the parties of their agreements, their lenders, their customers and the parties sharing their revenue';
COMMENT ON POLICY dsx_read ON dsx.factories IS 'Partners see their factories; vendors the factories of their agreements';
COMMENT ON POLICY dsx_read ON dsx.price_plans IS 'Partners see the plans their customers are on';
COMMENT ON POLICY dsx_read ON dsx.customer_plans IS 'Partners see the plans of their factories'' customers';
COMMENT ON POLICY dsx_read ON dsx.usage_events IS 'Partners see the events of their factories; vendors see no customer-level usage';
COMMENT ON POLICY dsx_read ON dsx.usage_daily IS 'Partners see the daily usage of their factories; vendors see no customer-level usage';
COMMENT ON POLICY dsx_read ON dsx.usage_conflicts IS 'Partners see the conflicting events of their factories';
COMMENT ON POLICY dsx_read ON dsx.agreements IS 'Partners and vendors see their agreements';
COMMENT ON POLICY dsx_read ON dsx.credit_facilities IS 'Partners and vendors see the facilities of their agreements';
COMMENT ON POLICY dsx_read ON dsx.statements IS 'Partners and vendors see the statements of their agreements';
COMMENT ON POLICY dsx_read ON dsx.statement_lines IS 'Partners see the customer lines of their statements; vendors do not';
COMMENT ON POLICY dsx_read ON dsx.statement_shares IS 'Partners and vendors see the shares of their statements';
COMMENT ON POLICY dsx_read ON dsx.ledger_entries IS 'Partners and vendors see the ledger of their agreements';
COMMENT ON POLICY dsx_read ON dsx.partner_roles IS 'A role sees its own mappings';
COMMENT ON POLICY dsx_read ON dsx.vendor_roles IS 'A role sees its own mappings';

-- Principal of a facility still owed after the payments due before a date, on the schedule
-- settlement charges (amounts in the minor units of the agreement's currency).
CREATE FUNCTION dsx.facility_outstanding(facility text, as_of date) RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE((SELECT x.closing
                       FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                                         f.frequency, f.day_count, c.minor_units, f.grace_periods) x
                      WHERE x.due < $2
                      ORDER BY x.period DESC
                      LIMIT 1), f.principal)
      FROM dsx.credit_facilities f
      JOIN dsx.agreements a ON a.agreement = f.agreement
      JOIN dsx.factories fa ON fa.factory = a.factory
      JOIN dsx.currencies c ON c.currency = fa.currency
     WHERE f.facility = $1
$$;
COMMENT ON FUNCTION dsx.facility_outstanding(text, date) IS 'Principal of a credit facility still owed to the lender after the payments due before as_of (the closing balance of the last one; the principal before the first): the schedule settlement charges, in the minor units of the agreement''s currency. NULL for a facility the caller cannot see';

/*
 * The views. security_invoker: the querying role's privileges and row-level security
 * apply to the tables beneath. Only built-in column types (BI drivers do not know dsx's).
 */
CREATE VIEW dsx.partner_statements WITH (security_invoker = true) AS
SELECT a.partner, s.agreement, a.factory, a.vendor, s.period_start, s.period_end, s.currency,
       s.input_tokens, s.output_tokens, s.revenue, s.adjustments, s.gross,
       s.debt_service_due, s.debt_service_paid, s.support_opening, s.support_drawn,
       s.support_interest, s.support_repaid, s.support_balance, s.distributable,
       s.vendor_share, s.partner_share,
       s.distributable - s.vendor_share - s.partner_share AS other_shares,
       s.settled_at
  FROM dsx.statements s
  JOIN dsx.agreements a ON a.agreement = s.agreement;
COMMENT ON VIEW dsx.partner_statements IS 'One row per agreement and settled monthly period: every figure of the waterfall (SPEC section 6), in the factory''s currency. gross = debt_service_paid + support_repaid + distributable; distributable = vendor_share + partner_share + other_shares';
COMMENT ON COLUMN dsx.partner_statements.partner IS 'The capital partner running the factory';
COMMENT ON COLUMN dsx.partner_statements.agreement IS 'Agreement settled';
COMMENT ON COLUMN dsx.partner_statements.factory IS 'The agreement''s factory';
COMMENT ON COLUMN dsx.partner_statements.vendor IS 'The vendor taking a revenue share and giving credit support';
COMMENT ON COLUMN dsx.partner_statements.period_start IS 'First day of the settled month (UTC)';
COMMENT ON COLUMN dsx.partner_statements.period_end IS 'First day of the next month: the period is [period_start, period_end)';
COMMENT ON COLUMN dsx.partner_statements.currency IS 'ISO 4217 currency of every amount in the row';
COMMENT ON COLUMN dsx.partner_statements.input_tokens IS 'Input tokens served in the period (its own lines, late usage excluded)';
COMMENT ON COLUMN dsx.partner_statements.output_tokens IS 'Output tokens served in the period (its own lines, late usage excluded)';
COMMENT ON COLUMN dsx.partner_statements.revenue IS 'Sum of the period''s rated customer lines, each rounded once to the minor unit';
COMMENT ON COLUMN dsx.partner_statements.adjustments IS 'Late usage of earlier, closed periods, re-rated: the difference from what was settled then';
COMMENT ON COLUMN dsx.partner_statements.gross IS 'revenue + adjustments';
COMMENT ON COLUMN dsx.partner_statements.debt_service_due IS 'Credit facility payments due in the period';
COMMENT ON COLUMN dsx.partner_statements.debt_service_paid IS 'Part of the debt service paid from gross: min(max(gross, 0), debt_service_due)';
COMMENT ON COLUMN dsx.partner_statements.support_opening IS 'Credit support owed to the vendor at the start of the period';
COMMENT ON COLUMN dsx.partner_statements.support_drawn IS 'Debt service shortfall the vendor''s credit support paid to the lender in the period';
COMMENT ON COLUMN dsx.partner_statements.support_interest IS 'Interest on the opening credit support balance, at the facility rate and day count';
COMMENT ON COLUMN dsx.partner_statements.support_repaid IS 'Repaid to the vendor from what remained after debt service, interest first';
COMMENT ON COLUMN dsx.partner_statements.support_balance IS 'Credit support owed to the vendor at the end of the period';
COMMENT ON COLUMN dsx.partner_statements.distributable IS 'gross - debt_service_paid - support_repaid: what the revenue split divides (negative: a claw-back)';
COMMENT ON COLUMN dsx.partner_statements.vendor_share IS 'The vendor''s part of the distributable amount';
COMMENT ON COLUMN dsx.partner_statements.partner_share IS 'The partner''s part of the distributable amount';
COMMENT ON COLUMN dsx.partner_statements.other_shares IS 'Parts of further parties the split names (0 for a vendor/partner split); their detail is in dsx.statement_shares';
COMMENT ON COLUMN dsx.partner_statements.settled_at IS 'When the period was settled; the row never changes afterwards';

CREATE VIEW dsx.partner_usage_daily WITH (security_invoker = true) AS
SELECT f.partner, d.factory, d.customer, d.model, d.day, f.currency,
       d.events, d.input_tokens, d.output_tokens, d.input_tokens + d.output_tokens AS total_tokens,
       CASE WHEN pp.plan IS NOT NULL THEN
              dsx.charge(d.month_input, pp.input_price) + dsx.charge(d.month_output, pp.output_price)
            - dsx.charge(d.month_input - d.input_tokens, pp.input_price)
            - dsx.charge(d.month_output - d.output_tokens, pp.output_price)
       END AS revenue
  FROM (SELECT u.factory, u.customer, u.model, u.day, u.events, u.input_tokens, u.output_tokens,
               (pg_catalog.sum(u.input_tokens) OVER w)::bigint AS month_input,
               (pg_catalog.sum(u.output_tokens) OVER w)::bigint AS month_output
          FROM (SELECT x.factory, x.customer, x.model, x.day, dsx.events(x.usage) AS events,
                       dsx.input_tokens(x.usage) AS input_tokens, dsx.output_tokens(x.usage) AS output_tokens
                  FROM dsx.usage_daily x) u
        WINDOW w AS (PARTITION BY u.factory, u.customer, u.model, pg_catalog.date_trunc('month', u.day::timestamp)
                     ORDER BY u.day)) d
  JOIN dsx.factories f ON f.factory = d.factory
  LEFT JOIN dsx.customer_plans cp ON cp.customer = d.customer AND cp.factory = d.factory
  LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = d.model;
COMMENT ON VIEW dsx.partner_usage_daily IS 'One row per factory, customer, model and UTC day of usage, with the revenue the day added to the month; live: late usage shows as soon as it is ingested. Settled figures are in dsx.partner_statements';
COMMENT ON COLUMN dsx.partner_usage_daily.partner IS 'The capital partner running the factory';
COMMENT ON COLUMN dsx.partner_usage_daily.factory IS 'Factory that served the tokens';
COMMENT ON COLUMN dsx.partner_usage_daily.customer IS 'Customer the tokens are billed to';
COMMENT ON COLUMN dsx.partner_usage_daily.model IS 'Model that served them';
COMMENT ON COLUMN dsx.partner_usage_daily.day IS 'UTC calendar day';
COMMENT ON COLUMN dsx.partner_usage_daily.currency IS 'ISO 4217 currency of revenue (the factory''s)';
COMMENT ON COLUMN dsx.partner_usage_daily.events IS 'Usage events of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.input_tokens IS 'Input tokens of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.output_tokens IS 'Output tokens of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.total_tokens IS 'input_tokens + output_tokens';
COMMENT ON COLUMN dsx.partner_usage_daily.revenue IS 'What the day added to the month''s exact charge for this customer and model at the customer''s current plan: charge(month-to-date tokens through the day) - charge(through the day before), tiers counted on the month''s volume. Exact and unrounded: the days of a month add up to the month''s exact charge, which the statement line rounds once to the minor unit. Can be negative under volume tiers (a day that lifts the month into a cheaper tier). NULL when the customer has no plan or no price for the model';

CREATE VIEW dsx.credit_support_position WITH (security_invoker = true) AS
SELECT a.partner, s.agreement, a.vendor, f.facility, f.lender, s.period_start, s.period_end, s.currency,
       s.debt_service_due, s.debt_service_paid, s.support_opening, s.support_drawn,
       s.support_interest, s.support_repaid, s.support_balance,
       dsx.facility_outstanding(f.facility, s.period_end) AS loan_outstanding
  FROM dsx.statements s
  JOIN dsx.agreements a ON a.agreement = s.agreement
  JOIN dsx.credit_facilities f ON f.agreement = s.agreement;
COMMENT ON VIEW dsx.credit_support_position IS 'One row per settled period of every agreement with a credit facility: the debt service due and how it was paid, and the vendor''s credit support (drawn, interest, repaid, balance). support_balance = support_opening + support_interest + support_drawn - support_repaid';
COMMENT ON COLUMN dsx.credit_support_position.partner IS 'The capital partner whose factory the facility finances';
COMMENT ON COLUMN dsx.credit_support_position.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.credit_support_position.vendor IS 'The vendor giving credit support';
COMMENT ON COLUMN dsx.credit_support_position.facility IS 'The credit facility';
COMMENT ON COLUMN dsx.credit_support_position.lender IS 'The lender, always paid in full';
COMMENT ON COLUMN dsx.credit_support_position.period_start IS 'First day of the settled month (UTC)';
COMMENT ON COLUMN dsx.credit_support_position.period_end IS 'First day of the next month';
COMMENT ON COLUMN dsx.credit_support_position.currency IS 'ISO 4217 currency of every amount in the row';
COMMENT ON COLUMN dsx.credit_support_position.debt_service_due IS 'Facility payments (interest and principal) due in the period';
COMMENT ON COLUMN dsx.credit_support_position.debt_service_paid IS 'Part of the debt service paid from the period''s revenue';
COMMENT ON COLUMN dsx.credit_support_position.support_opening IS 'Credit support owed to the vendor at the start of the period';
COMMENT ON COLUMN dsx.credit_support_position.support_drawn IS 'Drawn on the vendor''s credit support to pay the lender: debt_service_due - debt_service_paid';
COMMENT ON COLUMN dsx.credit_support_position.support_interest IS 'Interest accrued on the opening balance';
COMMENT ON COLUMN dsx.credit_support_position.support_repaid IS 'Repaid to the vendor in the period, interest first';
COMMENT ON COLUMN dsx.credit_support_position.support_balance IS 'Credit support owed to the vendor at the end of the period';
COMMENT ON COLUMN dsx.credit_support_position.loan_outstanding IS 'Facility principal still owed to the lender after the payments due before period_end (the facility schedule''s closing balance)';

CREATE VIEW dsx.vendor_portfolio WITH (security_invoker = true) AS
SELECT a.vendor, a.partner, a.agreement, a.factory, fa.region, fa.gpus::bigint AS gpus, fa.power_mw,
       fa.currency, a.starts,
       COALESCE(t.periods_settled, 0) AS periods_settled, t.first_period, l.period_start AS last_period,
       COALESCE(t.revenue, 0) AS revenue,
       COALESCE(t.vendor_share, 0) AS vendor_share_earned,
       COALESCE(t.partner_share, 0) AS partner_share_earned,
       COALESCE(t.support_drawn, 0) AS support_drawn_total,
       COALESCE(t.support_interest, 0) AS support_interest_total,
       COALESCE(t.support_repaid, 0) AS support_repaid_total,
       COALESCE(l.support_balance, 0) AS support_balance,
       o.loan_outstanding,
       COALESCE(l.support_balance, 0) + COALESCE(o.loan_outstanding, 0) AS credit_exposure,
       l.input_tokens + l.output_tokens AS last_period_tokens,
       CASE WHEN fa.gpus > 0 AND l.period_start IS NOT NULL THEN
            pg_catalog.round((l.input_tokens + l.output_tokens)::numeric
                             / (fa.gpus::numeric * (l.period_end - l.period_start) * 24), 2)
       END AS utilisation
  FROM dsx.agreements a
  JOIN dsx.factories fa ON fa.factory = a.factory
  LEFT JOIN LATERAL (
       SELECT pg_catalog.count(*) AS periods_settled, pg_catalog.min(s.period_start) AS first_period,
              pg_catalog.sum(s.gross) AS revenue, pg_catalog.sum(s.vendor_share) AS vendor_share,
              pg_catalog.sum(s.partner_share) AS partner_share, pg_catalog.sum(s.support_drawn) AS support_drawn,
              pg_catalog.sum(s.support_interest) AS support_interest, pg_catalog.sum(s.support_repaid) AS support_repaid
         FROM dsx.statements s WHERE s.agreement = a.agreement) t ON true
  LEFT JOIN LATERAL (
       SELECT s.period_start, s.period_end, s.support_balance, s.input_tokens, s.output_tokens
         FROM dsx.statements s WHERE s.agreement = a.agreement
        ORDER BY s.period_start DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (
       SELECT dsx.facility_outstanding(f.facility, COALESCE(l.period_end, a.starts)) AS loan_outstanding
         FROM dsx.credit_facilities f
        WHERE f.agreement = a.agreement) o ON true;
COMMENT ON VIEW dsx.vendor_portfolio IS 'The vendor''s view across partners, one row per agreement: what it earned, its credit support exposure, and how busy each factory was in its last settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.vendor IS 'The vendor';
COMMENT ON COLUMN dsx.vendor_portfolio.partner IS 'The capital partner';
COMMENT ON COLUMN dsx.vendor_portfolio.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.vendor_portfolio.factory IS 'The agreement''s factory';
COMMENT ON COLUMN dsx.vendor_portfolio.region IS 'Where the factory is';
COMMENT ON COLUMN dsx.vendor_portfolio.gpus IS 'GPUs installed in the factory';
COMMENT ON COLUMN dsx.vendor_portfolio.power_mw IS 'Factory power in megawatts';
COMMENT ON COLUMN dsx.vendor_portfolio.currency IS 'ISO 4217 currency of every amount in the row';
COMMENT ON COLUMN dsx.vendor_portfolio.starts IS 'First month the agreement settles';
COMMENT ON COLUMN dsx.vendor_portfolio.periods_settled IS 'Monthly periods settled so far';
COMMENT ON COLUMN dsx.vendor_portfolio.first_period IS 'First settled period (NULL before any)';
COMMENT ON COLUMN dsx.vendor_portfolio.last_period IS 'Latest settled period (NULL before any)';
COMMENT ON COLUMN dsx.vendor_portfolio.revenue IS 'Total gross revenue (revenue + adjustments) of the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.vendor_share_earned IS 'Total revenue share allocated to the vendor over the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.partner_share_earned IS 'Total revenue share allocated to the partner over the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.support_drawn_total IS 'Total credit support the vendor paid to the lender';
COMMENT ON COLUMN dsx.vendor_portfolio.support_interest_total IS 'Total interest accrued on credit support';
COMMENT ON COLUMN dsx.vendor_portfolio.support_repaid_total IS 'Total repaid to the vendor';
COMMENT ON COLUMN dsx.vendor_portfolio.support_balance IS 'Credit support owed to the vendor after the latest settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.loan_outstanding IS 'Facility principal still owed to the lender after the payments due before the end of the latest settled period (before the agreement starts when none is settled); NULL without a facility';
COMMENT ON COLUMN dsx.vendor_portfolio.credit_exposure IS 'support_balance + loan_outstanding: what the vendor is owed plus the principal it stands behind (future interest not included)';
COMMENT ON COLUMN dsx.vendor_portfolio.last_period_tokens IS 'Tokens (input + output) served in the latest settled period, late usage excluded';
COMMENT ON COLUMN dsx.vendor_portfolio.utilisation IS 'Tokens served per GPU-hour in the latest settled period: last_period_tokens / (gpus x hours in the period), rounded to 2 decimals; NULL before any settlement or without GPUs. A throughput measure, not a percentage: dsx does not know a GPU''s capacity';

/*
 * Privileges. PostgreSQL lets PUBLIC execute every new function: what writes (ingest,
 * settlement, scheduling, role maps) is kept for the owner and the groups below.
 */
REVOKE EXECUTE ON FUNCTION dsx.ingest(), dsx.ingest_rows(regclass, bigint, boolean), dsx.settle(text, date), dsx.settle_period(text[], date),
    dsx.run_due_settlements(), dsx.schedule_settlements(text), dsx.unschedule_settlements(),
    dsx.grant_partner(name, text), dsx.revoke_partner(name),
    dsx.grant_vendor(name, text), dsx.revoke_vendor(name), dsx.grant_role_check(name, text, text),
    dsx.map_role(name, text, text), dsx.unmap_role(name, text)
    FROM PUBLIC;

GRANT USAGE ON SCHEMA dsx TO dsx_operator, dsx_loader, dsx_partner, dsx_vendor;

-- partners and vendors: read, row-level security deciding which rows
GRANT SELECT ON dsx.currencies, dsx.parties, dsx.factories, dsx.price_plans, dsx.customer_plans,
    dsx.agreements, dsx.credit_facilities, dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts,
    dsx.statements, dsx.statement_lines, dsx.statement_shares, dsx.ledger_entries,
    dsx.partner_roles, dsx.vendor_roles, dsx.facility_position,
    dsx.partner_statements, dsx.partner_usage_daily, dsx.credit_support_position, dsx.vendor_portfolio
    TO dsx_partner, dsx_vendor;

-- loaders: the inbox, and what dsx.ingest() does with the caller's rights
GRANT SELECT, INSERT, DELETE, TRUNCATE ON dsx.usage_inbox TO dsx_loader, dsx_operator;
GRANT SELECT, INSERT ON dsx.usage_events, dsx.ingest_log TO dsx_loader, dsx_operator;
GRANT SELECT, INSERT, UPDATE ON dsx.usage_daily, dsx.usage_conflicts TO dsx_loader, dsx_operator;
GRANT SELECT ON dsx.factories TO dsx_loader;
GRANT USAGE, SELECT ON SEQUENCE dsx.ingest_batch_seq, dsx.usage_conflicts_conflict_id_seq TO dsx_loader, dsx_operator;
GRANT EXECUTE ON FUNCTION dsx.ingest(), dsx.ingest_rows(regclass, bigint, boolean) TO dsx_loader, dsx_operator;

-- operators: configuration, settlement (statements and ledger are append-only anyway)
GRANT SELECT, INSERT, UPDATE, DELETE ON dsx.currencies, dsx.parties, dsx.factories, dsx.price_plans,
    dsx.customer_plans, dsx.agreements, dsx.credit_facilities, dsx.partner_roles, dsx.vendor_roles
    TO dsx_operator;
-- settlement writes statements, lines, shares and the ledger; SELECT and INSERT on every
-- table and sequence of the schema, so that what settlement comes to use is covered
DO $$
DECLARE
    r regclass;
BEGIN
    FOR r IN SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('r', 'p') LOOP
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT ON %s TO dsx_operator', r);
    END LOOP;
    FOR r IN SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'S' LOOP
        EXECUTE pg_catalog.format('GRANT USAGE, SELECT ON SEQUENCE %s TO dsx_operator', r);
    END LOOP;
END
$$;
GRANT SELECT ON dsx.facility_position, dsx.partner_statements, dsx.partner_usage_daily,
    dsx.credit_support_position, dsx.vendor_portfolio TO dsx_operator;
GRANT EXECUTE ON FUNCTION dsx.settle(text, date), dsx.settle_period(text[], date),
    dsx.run_due_settlements(), dsx.schedule_settlements(text), dsx.unschedule_settlements(),
    dsx.grant_partner(name, text), dsx.revoke_partner(name),
    dsx.grant_vendor(name, text), dsx.revoke_vendor(name), dsx.grant_role_check(name, text, text),
    dsx.map_role(name, text, text), dsx.unmap_role(name, text)
    TO dsx_operator;
