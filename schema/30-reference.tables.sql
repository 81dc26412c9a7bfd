-- schema/30-reference.tables.sql — the schema's reference data: currencies, parties,
-- factories. Created once.

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
