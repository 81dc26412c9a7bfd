-- test/citus_scenario.sql — the books test/citus.sh keeps twice, on one node and on Citus,
-- and compares: five factories of three partners in three currencies, five agreements (one
-- starting a month later, one split with a third party), three credit facilities (one too
-- large for its revenue, so that credit support is drawn), four months of hourly meter
-- readings, late usage of a closed month, duplicates and conflicting payloads, a loader
-- ingesting its own factory, voids of closed months, and a refund month (usage voided
-- after it was settled, no new usage: the month's gross is negative). Each month is
-- settled in turn; test/citus.sh then runs dsx.run_due_settlements() for the rest (through
-- pg_cron on Citus). Local calendars, dated terms and two currencies too: factories in
-- Berlin (summer time from 29 March), Tokyo and New York, the Tokyo campus billing in yen
-- and settling in dollars at the month's average rate, a price amendment, a customer's
-- switch of plan and a split amendment, each from a month. Needs the role sc_loader (a
-- login), which test/citus.sh creates.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TABLE public.scenario_ingests (step integer, inserted bigint, duplicates bigint, conflicts bigint);

INSERT INTO dsx.parties (party, kind, display_name) VALUES
    ('sc-vendor', 'vendor', 'Vendor'), ('sc-pa', 'partner', 'Partner A'), ('sc-pb', 'partner', 'Partner B'),
    ('sc-pc', 'partner', 'Partner C'), ('sc-bank', 'lender', 'Bank'), ('sc-fund', 'lender', 'Fund'),
    ('sc-c1', 'customer', 'C1'), ('sc-c2', 'customer', 'C2'), ('sc-c3', 'customer', 'C3');
INSERT INTO dsx.factories (factory, partner, currency, region, gpus, power_mw, time_zone) VALUES
    ('sc-f1', 'sc-pa', 'USD', 'one', 4000, 6, 'UTC'), ('sc-f2', 'sc-pa', 'EUR', 'two', 2000, 3, 'Europe/Berlin'),
    ('sc-f3', 'sc-pb', 'JPY', 'three', 1000, 2, 'Asia/Tokyo'), ('sc-f4', 'sc-pc', 'USD', 'four', 3000, 5, 'UTC'),
    ('sc-f5', 'sc-pc', 'USD', 'five', 500, 1, 'America/New_York');
INSERT INTO dsx.price_plans (plan, model, input_price, output_price) VALUES
    ('sc-list', 'm-small', '0.50', '1.50'), ('sc-list', 'm-large', '3', '12'),
    ('sc-tier', 'm-small', 'graduated: 0: 0.40, 5000000000: 0.30', 'graduated: 0: 1.20, 2000000000: 1.00'),
    ('sc-tier', 'm-large', 'volume: 0: 2.50, 5000000000: 2.00', '10');
INSERT INTO dsx.customer_plans (customer, factory, plan)
SELECT c, f, CASE WHEN c = 'sc-c2' THEN 'sc-tier' ELSE 'sc-list' END
  FROM unnest(ARRAY['sc-c1', 'sc-c2', 'sc-c3']) c, unnest(ARRAY['sc-f1', 'sc-f2', 'sc-f3', 'sc-f4', 'sc-f5']) f;
-- from June the list price of m-large is lower, and sc-c3 moves to the tiered plan at sc-f1
INSERT INTO dsx.price_plans (plan, model, input_price, output_price, valid_from) VALUES
    ('sc-list', 'm-large', '2.75', '11', '2026-06-01');
INSERT INTO dsx.customer_plans (customer, factory, plan, valid_from) VALUES ('sc-c3', 'sc-f1', 'sc-tier', '2026-06-01');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts) VALUES
    ('sc-a1', 'sc-pa', 'sc-vendor', 'sc-f1', 'vendor=30%, partner=70%; from 2000000: vendor=20%, partner=80%', '2026-03-01'),
    ('sc-a2', 'sc-pa', 'sc-vendor', 'sc-f2', 'vendor=25%, partner=70%, sc-fund=5%', '2026-03-01'),
    ('sc-a3', 'sc-pb', 'sc-vendor', 'sc-f3', 'vendor=33.3333%, partner=66.6667%', '2026-03-01'),
    ('sc-a4', 'sc-pc', 'sc-vendor', 'sc-f4', 'vendor=40%, partner=60%', '2026-03-01'),
    ('sc-a5', 'sc-pc', 'sc-vendor', 'sc-f5', 'vendor=50%, partner=50%', '2026-04-01');
-- the yen campus settles in dollars at each month's average rate; sc-a4's split changes from May
UPDATE dsx.agreements SET settlement_currency = 'USD', fx_rule = 'period_average' WHERE agreement = 'sc-a3';
-- the vendor's credit support to sc-a1 bears 11 % ACT/360, not its facility's 8 % 30/360
UPDATE dsx.agreements SET support_rate = 0.11, support_day_count = 'ACT/360' WHERE agreement = 'sc-a1';
-- and keeps a reserve of the next three months' debt service
UPDATE dsx.agreements SET dsra_months = 3 WHERE agreement = 'sc-a1';
INSERT INTO dsx.agreement_splits (agreement, valid_from, revenue_split) VALUES ('sc-a4', '2026-05-01', 'vendor=35%, partner=65%');
INSERT INTO dsx.fx_rates (base, quote, rate_date, rate)
SELECT 'JPY', 'USD', d::date, 0.0066 + (extract(doy FROM d)::int % 17) * 0.0000137
  FROM generate_series(date '2026-02-25', date '2026-12-31', interval '4 days') d;
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method, frequency, day_count) VALUES
    ('sc-l1', 'sc-a1', 'sc-bank', 900000, 0.08, 24, '2026-03-31', 'annuity', 'monthly', '30/360'),
    ('sc-l3', 'sc-a3', 'sc-bank', 540000, 0.05, 36, '2026-04-30', 'linear', 'monthly', 'ACT/365F'),
    ('sc-l4', 'sc-a4', 'sc-fund', 40000000, 0.10, 12, '2026-03-31', 'annuity', 'monthly', '30/360');
-- behind sc-l4, a mezzanine facility the vendor does not support: its shortfalls are arrears
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, rank, supported)
VALUES ('sc-l4m', 'sc-a4', 'sc-bank', 5000000, 0.12, 12, '2026-03-31', 2, false);
-- sc-a4 pays power on sc-f4's metered energy and a fixed cost first, under a 1.25 lock-up;
-- sc-a1 pays a fixed cost that rises from May
UPDATE dsx.agreements SET lockup_dscr = 1.25 WHERE agreement = 'sc-a4';
INSERT INTO dsx.operating_costs (agreement, cost, kind, amount, valid_from) VALUES
    ('sc-a4', 'power', 'power', 91.5, '-infinity'), ('sc-a4', 'site', 'fixed', 150000, '-infinity'),
    ('sc-a1', 'site', 'fixed', 2500, '-infinity'), ('sc-a1', 'site', 'fixed', 2750.50, '2026-05-01');
SELECT count(*) FILTER (WHERE dsx.load_energy('sc-f4', d::date, 40 + (extract(doy FROM d)::int % 9) * 1.125)) AS days_metered
  FROM generate_series(date '2026-03-01', date '2026-07-31', interval '1 day') d;
SELECT dsx.grant_loader('sc_loader', 'sc-f2');

-- Hourly readings of every customer and model at the factories, in [from_ts, to_ts).
-- (PL/pgSQL: Citus plans no SQL function with parameters.)
CREATE FUNCTION pg_temp.load(tag text, from_ts timestamptz, to_ts timestamptz, factories text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens)
    SELECT tag || '-' || c || '-' || m || '-' || to_char(h, 'YYYYMMDDHH24'), h, f, c, m,
           (abs(hashtext(tag || f || c || m || h::text)) % 90000 + 1000)::bigint * 1000,
           (abs(hashtext(f || tag || m || c || h::text)) % 30000 + 100)::bigint * 1000
      FROM unnest(factories) f, unnest(ARRAY['sc-c1', 'sc-c2', 'sc-c3']) c, unnest(ARRAY['m-small', 'm-large']) m,
           generate_series(from_ts, to_ts - interval '1 hour', interval '1 hour') h;
END
$$;
CREATE FUNCTION pg_temp.ingest(step integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.scenario_ingests SELECT step, i.* FROM dsx.ingest() i;
END
$$;
-- Void the events a query names (the ids first, in a statement of their own).
CREATE FUNCTION pg_temp.void(factory text, ids text, reason text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    e text[];
BEGIN
    EXECUTE 'SELECT array_agg(event_id ORDER BY event_id) FROM (' || ids || ') x' INTO e;
    RETURN dsx.void_events(factory, e, reason);
END
$$;
CREATE FUNCTION pg_temp.settle_all(period date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    a text;
BEGIN
    FOR a IN SELECT g.agreement FROM dsx.agreements g WHERE g.starts <= period ORDER BY g.agreement LOOP
        PERFORM dsx.settle(a, period);
    END LOOP;
END
$$;

-- March
SELECT pg_temp.load('mar', '2026-03-01 00:00Z', '2026-04-01 00:00Z', ARRAY['sc-f1', 'sc-f2', 'sc-f3', 'sc-f4']);
SELECT pg_temp.ingest(1);
SELECT pg_temp.settle_all('2026-03-01');

-- April, with late March usage, 200 duplicates and 30 conflicting payloads
SELECT pg_temp.load('apr', '2026-04-01 00:00Z', '2026-05-01 00:00Z', ARRAY['sc-f1', 'sc-f2', 'sc-f3', 'sc-f4', 'sc-f5']);
SELECT pg_temp.load('late', '2026-03-20 00:00Z', '2026-03-22 00:00Z', ARRAY['sc-f1', 'sc-f2']);
INSERT INTO dsx.usage_inbox
SELECT event_id, occurred_at, factory, customer, model, input_tokens, output_tokens
  FROM dsx.usage_events WHERE factory = 'sc-f3' ORDER BY event_id LIMIT 200;
INSERT INTO dsx.usage_inbox
SELECT event_id, occurred_at, factory, customer, model, input_tokens + 1, output_tokens
  FROM dsx.usage_events WHERE factory = 'sc-f4' ORDER BY event_id LIMIT 30;
SELECT pg_temp.ingest(2);
SELECT pg_temp.settle_all('2026-04-01');

-- May: the loader ingests its own factory; then the rest; voids of closed months
SET ROLE sc_loader;
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens)
SELECT 'may-loader-' || i, timestamptz '2026-05-01 00:00Z' + i * interval '37 minutes', 'sc-f2', 'sc-c' || (1 + i % 3),
       CASE WHEN i % 2 = 0 THEN 'm-small' ELSE 'm-large' END, 1000000 + i * 17, 300000 + i * 5
  FROM generate_series(0, 1100) i;
SELECT * FROM dsx.ingest();
-- ... and resends 20 of its stored events, 8 of them with other tokens (duplicates and
-- conflicts, in the ingest log)
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens)
SELECT event_id, occurred_at, factory, customer, model, input_tokens + CASE WHEN n % 5 < 2 THEN 7 ELSE 0 END, output_tokens
  FROM (SELECT e.*, row_number() OVER (ORDER BY e.event_id) n FROM dsx.usage_events e
         WHERE e.factory = 'sc-f2' AND e.event_id LIKE 'may-loader-%') x
 WHERE n <= 20;
SELECT * FROM dsx.ingest();
RESET ROLE;
SELECT pg_temp.load('may', '2026-05-01 00:00Z', '2026-06-01 00:00Z', ARRAY['sc-f1', 'sc-f3', 'sc-f4', 'sc-f5']);
SELECT pg_temp.ingest(3);
SELECT pg_temp.void('sc-f1', $$SELECT event_id FROM dsx.usage_events
                               WHERE factory = 'sc-f1' AND occurred_at < '2026-04-01' ORDER BY event_id LIMIT 40$$, 'meter fault');
SELECT pg_temp.void('sc-f3', $$SELECT event_id FROM dsx.usage_events
                               WHERE factory = 'sc-f3' AND occurred_at >= '2026-04-01' AND occurred_at < '2026-05-01'
                               ORDER BY event_id LIMIT 25$$, 'test traffic');
SELECT pg_temp.settle_all('2026-05-01');

-- June, the refund month of sc-f4: its May usage of one customer voided, and none new
SELECT pg_temp.load('jun', '2026-06-01 00:00Z', '2026-07-01 00:00Z', ARRAY['sc-f1', 'sc-f2', 'sc-f3', 'sc-f5']);
SELECT pg_temp.ingest(4);
SELECT pg_temp.void('sc-f4', $$SELECT event_id FROM dsx.usage_events WHERE factory = 'sc-f4' AND customer = 'sc-c1'
                                 AND occurred_at >= '2026-05-01' AND occurred_at < '2026-06-01'$$, 'refunded');
SELECT pg_temp.settle_all('2026-06-01');

-- July, and a late June reading; the months after are settled by dsx.run_due_settlements()
SELECT pg_temp.load('jul', '2026-07-01 00:00Z', '2026-08-01 00:00Z', ARRAY['sc-f1', 'sc-f2', 'sc-f3', 'sc-f4', 'sc-f5']);
SELECT pg_temp.load('late-jun', '2026-06-30 20:00Z', '2026-06-30 23:00Z', ARRAY['sc-f2']);
SELECT pg_temp.ingest(5);
