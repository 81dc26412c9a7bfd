-- schema/35-integrity.tables.sql — tables 1.1 adds for integrity and least privilege: the
-- loader-to-factory map, voided events and the configuration history. Created once (an
-- update from 1.0 creates them from this file too).

CREATE TABLE dsx.loader_roles (
    role       name NOT NULL,
    factory    text NOT NULL REFERENCES dsx.factories,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by name NOT NULL DEFAULT SESSION_USER,
    PRIMARY KEY (role, factory)
);
COMMENT ON TABLE dsx.loader_roles IS 'Database roles mapped to the factories whose usage they may load, see and ingest, by dsx.grant_loader(): a member of dsx_loader with no mapping loads nothing';
COMMENT ON COLUMN dsx.loader_roles.role IS 'Role name (a login role, or a group whose members inherit the mapping)';
COMMENT ON COLUMN dsx.loader_roles.factory IS 'A factory whose usage the role may load';
COMMENT ON COLUMN dsx.loader_roles.granted_at IS 'When the mapping was made';
COMMENT ON COLUMN dsx.loader_roles.granted_by IS 'Login that made it';

CREATE TABLE dsx.usage_voids (
    factory   text NOT NULL,
    event_id  text NOT NULL,
    batch_id  bigint NOT NULL,
    voided_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    voided_by name NOT NULL,
    reason    text NOT NULL CHECK (reason <> ''),
    PRIMARY KEY (factory, event_id)
);
CREATE INDEX usage_voids_batch ON dsx.usage_voids (batch_id);
COMMENT ON TABLE dsx.usage_voids IS 'Stored events taken out of the books by dsx.void_events(): the event stays in dsx.usage_events, the rollup loses it, and the next settlement books the difference of a closed period as adjustment lines; written only by dsx';
COMMENT ON COLUMN dsx.usage_voids.factory IS 'Factory of the voided event';
COMMENT ON COLUMN dsx.usage_voids.event_id IS 'The voided event';
COMMENT ON COLUMN dsx.usage_voids.batch_id IS 'Batch number of the void (from the same sequence as ingest batches), so that a statement can be recomputed as of the batches it saw';
COMMENT ON COLUMN dsx.usage_voids.voided_at IS 'When it was voided';
COMMENT ON COLUMN dsx.usage_voids.voided_by IS 'Login that voided it';
COMMENT ON COLUMN dsx.usage_voids.reason IS 'Why';

CREATE TABLE dsx.config_history (
    change_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_by name NOT NULL,
    table_name text NOT NULL,
    operation  text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    row_key    jsonb NOT NULL,
    old_row    jsonb,
    new_row    jsonb
);
CREATE INDEX config_history_table_key ON dsx.config_history (table_name, changed_at);
COMMENT ON TABLE dsx.config_history IS 'Every insert, update and delete on dsx''s configuration tables: who, when, the table, the key, the old and the new row; append-only, written only by dsx''s triggers';
COMMENT ON COLUMN dsx.config_history.change_id IS 'Order of the changes';
COMMENT ON COLUMN dsx.config_history.changed_at IS 'Transaction time of the change';
COMMENT ON COLUMN dsx.config_history.changed_by IS 'The real login (session_user) that made it';
COMMENT ON COLUMN dsx.config_history.table_name IS 'The configuration table changed';
COMMENT ON COLUMN dsx.config_history.operation IS 'INSERT, UPDATE or DELETE';
COMMENT ON COLUMN dsx.config_history.row_key IS 'The row''s primary key columns and values (of the new row; of the old for a delete)';
COMMENT ON COLUMN dsx.config_history.old_row IS 'The row before (NULL for an insert)';
COMMENT ON COLUMN dsx.config_history.new_row IS 'The row after (NULL for a delete)';

SELECT pg_catalog.pg_extension_config_dump('dsx.loader_roles', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_voids', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.config_history', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.config_history_change_id_seq', '');
