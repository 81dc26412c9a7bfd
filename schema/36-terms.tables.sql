-- schema/36-terms.tables.sql — what 1.1 adds for local calendars, dated terms and two
-- currencies: the factory's time zone, dated price plans, customer plans and splits, the
-- agreement's settlement currency and FX rule, the FX rates, and the statement's figures in
-- both currencies. Created once, by a fresh install and by the update from 1.0 alike (the
-- columns are added to 1.0's tables, in the same order either way).

-- A factory's days and months are those of its time zone (an IANA name PostgreSQL knows;
-- checked by dsx.factories_check). 1.0's factories are UTC: nothing changes for them.
ALTER TABLE dsx.factories ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
COMMENT ON COLUMN dsx.factories.time_zone IS 'IANA time zone of the campus (e.g. Asia/Jakarta): its usage days and settlement months are local; fixed once the factory has usage';
COMMENT ON COLUMN dsx.factories.currency IS 'Billing currency: what its customers are charged in, and the currency of the statement lines';

-- Dated terms: a plan's prices and a customer's plan apply from valid_from (the first day
-- of a month, or -infinity for always) until the next version's.
ALTER TABLE dsx.price_plans ADD COLUMN valid_from date NOT NULL DEFAULT '-infinity'
        CONSTRAINT price_plans_valid_from_check
        CHECK (valid_from = '-infinity' OR (valid_from < 'infinity' AND valid_from = date_trunc('month', valid_from)::date)),
    DROP CONSTRAINT price_plans_pkey,
    ADD CONSTRAINT price_plans_pkey PRIMARY KEY (plan, model, valid_from);
COMMENT ON COLUMN dsx.price_plans.valid_from IS 'First period (first day of a local month) these prices apply to, until the next version of the plan and model; -infinity: from the beginning';

ALTER TABLE dsx.customer_plans ADD COLUMN valid_from date NOT NULL DEFAULT '-infinity'
        CONSTRAINT customer_plans_valid_from_check
        CHECK (valid_from = '-infinity' OR (valid_from < 'infinity' AND valid_from = date_trunc('month', valid_from)::date)),
    DROP CONSTRAINT customer_plans_pkey,
    ADD CONSTRAINT customer_plans_pkey PRIMARY KEY (customer, factory, valid_from);
COMMENT ON COLUMN dsx.customer_plans.valid_from IS 'First period (first day of a local month) the customer is on this plan at the factory, until its next row; -infinity: from the beginning';

-- The agreement settles in its settlement currency (default its factory's billing
-- currency), converting the billing currency's revenue by its FX rule.
ALTER TABLE dsx.agreements
    ADD COLUMN settlement_currency text REFERENCES dsx.currencies,
    ADD COLUMN fx_rule text NOT NULL DEFAULT 'period_end'
        CONSTRAINT agreements_fx_rule_check CHECK (fx_rule IN ('period_end', 'period_average'));
UPDATE dsx.agreements a SET settlement_currency = f.currency FROM dsx.factories f WHERE f.factory = a.factory;
ALTER TABLE dsx.agreements ALTER COLUMN settlement_currency SET NOT NULL;
COMMENT ON COLUMN dsx.agreements.settlement_currency IS 'Currency the agreement settles in: debt service, credit support, shares and the waterfall (filled in with the factory''s billing currency when left out)';
COMMENT ON COLUMN dsx.agreements.fx_rule IS 'How billing-currency revenue is converted: period_end (the rate of the period''s last local day) or period_average (the exact mean of every local day''s rate)';
COMMENT ON COLUMN dsx.agreements.revenue_split IS 'Tiered split of the distributable amount until the first dsx.agreement_splits row; the names vendor and partner stand for this agreement''s vendor and partner, any other name must be a party';

-- A facility is denominated in the settlement currency of its agreement.
ALTER TABLE dsx.credit_facilities ADD COLUMN currency text REFERENCES dsx.currencies;
UPDATE dsx.credit_facilities cf SET currency = a.settlement_currency FROM dsx.agreements a WHERE a.agreement = cf.agreement;
ALTER TABLE dsx.credit_facilities ALTER COLUMN currency SET NOT NULL;
COMMENT ON COLUMN dsx.credit_facilities.currency IS 'Currency of the facility: its agreement''s settlement currency (filled in when left out; another is refused)';
COMMENT ON COLUMN dsx.credit_facilities.minor_units IS 'Decimal places every amount of the schedule is rounded to: those of the facility''s currency (filled in when left out; another value is refused)';

CREATE TABLE dsx.agreement_splits (
    agreement     text NOT NULL REFERENCES dsx.agreements,
    valid_from    date NOT NULL CHECK (valid_from > '-infinity' AND valid_from < 'infinity' AND valid_from = date_trunc('month', valid_from)::date),
    revenue_split dsx.split NOT NULL,
    PRIMARY KEY (agreement, valid_from)
);
COMMENT ON TABLE dsx.agreement_splits IS 'Amendments of an agreement''s revenue split, each from a period on: before the first, agreements.revenue_split applies';
COMMENT ON COLUMN dsx.agreement_splits.agreement IS 'Agreement amended';
COMMENT ON COLUMN dsx.agreement_splits.valid_from IS 'First period the split applies to (first day of a local month after the agreement starts), until the next amendment';
COMMENT ON COLUMN dsx.agreement_splits.revenue_split IS 'The split from then on (vendor and partner stand for the agreement''s own)';

CREATE TABLE dsx.fx_rates (
    base      text NOT NULL REFERENCES dsx.currencies,
    quote     text NOT NULL REFERENCES dsx.currencies,
    rate_date date NOT NULL CHECK (rate_date > '-infinity' AND rate_date < 'infinity'),
    rate      numeric NOT NULL CONSTRAINT fx_rates_rate_check CHECK (rate > 0 AND rate < 1e15),   -- NaN and Infinity too
    PRIMARY KEY (base, quote, rate_date),
    CHECK (base <> quote)
);
COMMENT ON TABLE dsx.fx_rates IS 'Exchange rates: one unit of base is rate units of quote, from rate_date until the pair''s next rate; settlement uses the direct pair billing currency to settlement currency';
COMMENT ON COLUMN dsx.fx_rates.base IS 'Currency converted from (a factory''s billing currency)';
COMMENT ON COLUMN dsx.fx_rates.quote IS 'Currency converted to (an agreement''s settlement currency)';
COMMENT ON COLUMN dsx.fx_rates.rate_date IS 'Day the rate applies from (a local date of the factories that use it)';
COMMENT ON COLUMN dsx.fx_rates.rate IS 'Units of quote per unit of base, exact (> 0 and < 10^15: not NaN or Infinity)';

-- The statement in both currencies. currency, revenue, adjustments, gross and every figure
-- of the waterfall are in the settlement currency; the lines are in the billing currency.
ALTER TABLE dsx.statements
    ADD COLUMN billing_currency text REFERENCES dsx.currencies,
    ADD COLUMN revenue_billing numeric,
    ADD COLUMN adjustments_billing numeric,
    ADD COLUMN fx_rate numeric,
    ADD COLUMN split_valid_from date;
-- a 1.0 statement was settled in its factory's one currency (the books are append-only:
-- their triggers stand aside for this one fill-in, which changes no figure)
ALTER TABLE dsx.statements DISABLE TRIGGER USER;
UPDATE dsx.statements SET billing_currency = currency, revenue_billing = revenue, adjustments_billing = adjustments;
ALTER TABLE dsx.statements ENABLE TRIGGER USER;
ALTER TABLE dsx.statements ALTER COLUMN billing_currency SET NOT NULL,
    ALTER COLUMN revenue_billing SET NOT NULL, ALTER COLUMN adjustments_billing SET NOT NULL,
    ADD CONSTRAINT statements_fx_check
        CHECK ((fx_rate IS NULL) = (billing_currency = currency) AND (fx_rate IS NULL OR fx_rate > 0)
               AND (fx_rate IS NOT NULL OR (revenue, adjustments) = (revenue_billing, adjustments_billing)));
COMMENT ON COLUMN dsx.statements.currency IS 'Settlement currency: of revenue, adjustments, gross and every figure of the waterfall';
COMMENT ON COLUMN dsx.statements.period_start IS 'First day of the settled month (the factory''s local calendar)';
COMMENT ON COLUMN dsx.statements.period_end IS 'First day of the next month: the period is [local midnight of period_start, local midnight of period_end)';
COMMENT ON COLUMN dsx.statements.revenue IS 'Sum of the period''s rated lines, converted once to the settlement currency';
COMMENT ON COLUMN dsx.statements.adjustments IS 'Late usage for earlier, closed periods, re-rated (the difference from what was settled), converted once to the settlement currency';
COMMENT ON COLUMN dsx.statements.billing_currency IS 'Currency of the lines: the factory''s billing currency';
COMMENT ON COLUMN dsx.statements.revenue_billing IS 'Sum of the period''s own lines, in the billing currency';
COMMENT ON COLUMN dsx.statements.adjustments_billing IS 'Sum of the adjustment lines, in the billing currency';
COMMENT ON COLUMN dsx.statements.fx_rate IS 'Settlement-currency units per billing-currency unit the period converted at (for period_average the exact mean, shown to 20 decimal places); NULL when both currencies are the same';
COMMENT ON COLUMN dsx.statements.split_valid_from IS 'The revenue split used: valid_from of its dsx.agreement_splits row, NULL for agreements.revenue_split';

SELECT pg_catalog.pg_extension_config_dump('dsx.agreement_splits', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.fx_rates', '');
