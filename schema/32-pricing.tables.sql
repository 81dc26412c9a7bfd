-- schema/32-pricing.tables.sql — pricing tables: price plans and which plan each customer is
-- on at each factory. Created once.

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
