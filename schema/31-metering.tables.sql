-- schema/31-metering.tables.sql — metering tables: the inbox loaders write, the stored events,
-- conflicts kept aside, the daily rollup and the ingest log. Created once.

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
    conflict_id            bigint GENERATED ALWAYS AS IDENTITY,
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
            incoming_input_tokens, incoming_output_tokens),
    -- every key holds the factory: on Citus the table is distributed by it
    PRIMARY KEY (factory, conflict_id)
);
COMMENT ON TABLE dsx.usage_conflicts IS 'Events whose id was already stored with a different payload: both payloads kept, never merged';
COMMENT ON COLUMN dsx.usage_conflicts.conflict_id IS 'Surrogate key (with the factory: on Citus each worker numbers its own, so only the pair is unique)';
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
    ingested_by name NOT NULL DEFAULT SESSION_USER,
    inserted    bigint NOT NULL,
    duplicates  bigint NOT NULL,
    conflicts   bigint NOT NULL
);
COMMENT ON TABLE dsx.ingest_log IS 'One row per dsx.ingest() call that moved anything: what it stored, skipped and set aside';
COMMENT ON COLUMN dsx.ingest_log.batch_id IS 'Batch number';
COMMENT ON COLUMN dsx.ingest_log.ingested_at IS 'Transaction time of the ingest';
COMMENT ON COLUMN dsx.ingest_log.ingested_by IS 'The real login (session_user) that ran it, whatever role it acted as';
COMMENT ON COLUMN dsx.ingest_log.inserted IS 'New events stored';
COMMENT ON COLUMN dsx.ingest_log.duplicates IS 'Events already stored with the same payload';
COMMENT ON COLUMN dsx.ingest_log.conflicts IS 'Events set aside in dsx.usage_conflicts';


SELECT pg_catalog.pg_extension_config_dump('dsx.usage_events', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_conflicts', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_daily', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ingest_log', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ingest_batch_seq', '');

-- Rows loaded but not yet ingested are user data too, and so is the position of the
-- identity behind dsx.usage_conflicts: a restored database must carry on numbering.
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_inbox', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_conflicts_conflict_id_seq', '');
