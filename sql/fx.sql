-- Two currencies: a Batam factory bills in rupiah (0 decimals) and settles with its vendor
-- and lender in US dollars (2 decimals). The worked statement of docs/currencies.md, checked
-- against the figures computed there by hand; both FX rules on a month with several rates;
-- late usage converted at the rate of the period that books it; the ledger balanced per
-- currency; the reverse direction (dollars billed, rupiah settled); a missing rate;
-- refusals.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('fx-vendor', 'vendor', 'V'), ('fx-p', 'partner', 'P'), ('fx-bank', 'lender', 'B');
INSERT INTO dsx.factories (factory, partner, currency, region, time_zone) VALUES
    ('fx-batam', 'fx-p', 'IDR', 'Batam', 'Asia/Jakarta'),     -- period_end
    ('fx-batam2', 'fx-p', 'IDR', 'Batam', 'Asia/Jakarta'),    -- period_average
    ('fx-us', 'fx-p', 'USD', 'Oregon', 'America/Los_Angeles'),  -- billed in dollars, settled in rupiah
    ('fx-sg', 'fx-p', 'SGD', 'Singapore', 'Asia/Singapore');  -- no SGD rate at all
-- IDR 15,000 per million input tokens, IDR 45,000 per million output tokens; $1 per million
INSERT INTO dsx.price_plans VALUES ('fx-idr', 'm', '15000', '45000'), ('fx-usd', 'm', '1', '0');
INSERT INTO dsx.customer_plans VALUES ('acme', 'fx-batam', 'fx-idr'), ('zeta', 'fx-batam', 'fx-idr'),
    ('acme', 'fx-batam2', 'fx-idr'), ('zeta', 'fx-batam2', 'fx-idr'), ('acme', 'fx-us', 'fx-usd'), ('acme', 'fx-sg', 'fx-usd');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag, settlement_currency, fx_rule)
VALUES ('fx-a', 'fx-p', 'fx-vendor', 'fx-batam', 'vendor=30%, partner=70%', '2026-01-01', '100 years', 'USD', 'period_end'),
       ('fx-b', 'fx-p', 'fx-vendor', 'fx-batam2', 'vendor=30%, partner=70%', '2026-01-01', '100 years', 'USD', 'period_average'),
       ('fx-c', 'fx-p', 'fx-vendor', 'fx-us', 'vendor=30%, partner=70%', '2026-01-01', '100 years', 'IDR', DEFAULT),
       ('fx-d', 'fx-p', 'fx-vendor', 'fx-sg', 'vendor=30%, partner=70%', '2026-01-01', '100 years', 'USD', DEFAULT);
-- the facility is in dollars, the agreement's settlement currency (filled in)
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('fx-loan', 'fx-a', 'fx-bank', 100000.00, 0.06, 12, '2026-01-31');
SELECT facility, currency, minor_units FROM dsx.credit_facilities WHERE facility = 'fx-loan';
SELECT agreement, settlement_currency, fx_rule FROM dsx.agreements WHERE agreement LIKE 'fx-%' ORDER BY 1;
-- one rupiah is 0.0000625 dollars from 1 January, 0.00006 from the 16th, 0.00006123456
-- from the 31st; one dollar is 16,337.5 rupiah
INSERT INTO dsx.fx_rates VALUES ('IDR', 'USD', '2026-01-01', 0.0000625), ('IDR', 'USD', '2026-01-16', 0.00006),
                                ('IDR', 'USD', '2026-01-31', 0.00006123456), ('USD', 'IDR', '2026-01-01', 16337.5);

-- January, local days of Jakarta: acme 10,000,000,000 input tokens (IDR 150,000,000), zeta
-- 3,333,333,333 output tokens (IDR 149,999,999.985, a line of IDR 150,000,000); the first
-- event is at 23:30 on 31 December UTC, 06:30 on 1 January in Batam
INSERT INTO dsx.usage_inbox
SELECT 'e-' || f || '-' || x.id, x.at, f, x.customer, 'm', x.i, x.o
  FROM (VALUES ('fx-batam'), ('fx-batam2')) b(f),
       (VALUES ('1', '2025-12-31 23:30Z'::timestamptz, 'acme', 10000000000, 0),
               ('2', '2026-01-20 12:00Z', 'zeta', 0, 3333333333)) x(id, at, customer, i, o);
INSERT INTO dsx.usage_inbox VALUES ('u1', '2026-01-10 12:00Z', 'fx-us', 'acme', 'm', 10010000, 0),
                                   ('s1', '2026-01-10 12:00Z', 'fx-sg', 'acme', 'm', 1000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('fx-a', '2026-01-01'), dsx.settle('fx-b', '2026-01-01'), dsx.settle('fx-c', '2026-01-01');

-- The worked statement (docs/currencies.md): lines in rupiah, the waterfall in dollars
SELECT customer, input_tokens, output_tokens, amount FROM dsx.statement_lines
 WHERE agreement = 'fx-a' AND period_start = '2026-01-01' ORDER BY customer;
SELECT billing_currency, revenue_billing, adjustments_billing, fx_rate, currency, revenue, adjustments, gross,
       debt_service_due, debt_service_paid, support_drawn, distributable, vendor_share, partner_share
  FROM dsx.statements WHERE agreement = 'fx-a' AND period_start = '2026-01-01';
-- by hand: 300,000,000 x 0.00006123456 = 18,370.368 -> $18,370.37; the annuity payment of
-- $100,000 at 6 % over 12 months is $8,606.64; distributable 18,370.37 - 8,606.64 =
-- 9,763.73; 30 % is 2,929.119 and 70 % 6,834.611: the cent left after the floors goes to
-- the larger remainder, the vendor's
SELECT (revenue_billing, fx_rate, revenue, debt_service_paid, distributable, vendor_share, partner_share)
     = (300000000::numeric, 0.00006123456, 18370.37, 8606.64, 9763.73, 2929.12, 6834.61) AS matches_the_hand_computation
  FROM dsx.statements WHERE agreement = 'fx-a' AND period_start = '2026-01-01';
SELECT entry_no, account, amount, currency FROM dsx.ledger_entries
 WHERE agreement = 'fx-a' AND period_start = '2026-01-01' ORDER BY entry_no;

-- period_average: 15 days at 0.0000625, 15 at 0.00006 and the 31st at 0.00006123456, a
-- sum of 0.00189873456 over 31 days; 300,000,000 x 0.00189873456 / 31 = 18,374.8505806...
-- -> $18,374.85, from the exact fraction (the mean, 0.0000612495019354838709677..., does not
-- end; the statement shows it to 20 places)
SELECT revenue_billing, fx_rate, revenue FROM dsx.statements WHERE agreement = 'fx-b';
SELECT (revenue, fx_rate) = (18374.85, 0.00006124950193548387) AS matches_the_hand_computation
  FROM dsx.statements WHERE agreement = 'fx-b';
-- the reverse: $10.01 x 16,337.5 = IDR 163,538.375 -> IDR 163,538, split 49,061 / 114,477
SELECT billing_currency, revenue_billing, fx_rate, currency, revenue, vendor_share, partner_share
  FROM dsx.statements WHERE agreement = 'fx-c';

-- February: a new rate from the 27th; acme's February IDR 15,000,000 and IDR 1,500,000 of
-- late January usage are both converted at February's rate: $900.00 and $90.00 (January's
-- rate would have made the adjustment $91.85)
INSERT INTO dsx.fx_rates VALUES ('IDR', 'USD', '2026-02-27', 0.00006);
INSERT INTO dsx.usage_inbox VALUES ('f1', '2026-02-10 12:00Z', 'fx-batam', 'acme', 'm', 1000000000, 0),
                                   ('late', '2026-01-30 12:00Z', 'fx-batam', 'acme', 'm', 100000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('fx-a', '2026-02-01');
SELECT period_start, for_period, customer, amount FROM dsx.statement_lines WHERE agreement = 'fx-a' AND period_start = '2026-02-01' ORDER BY 2;
SELECT revenue_billing, adjustments_billing, fx_rate, revenue, adjustments, gross, debt_service_paid, support_drawn, support_balance
  FROM dsx.statements WHERE agreement = 'fx-a' AND period_start = '2026-02-01';
-- every transaction balances in each currency; every statement verifies
SELECT count(*) AS transactions_by_currency, count(*) FILTER (WHERE total = 0) AS balanced
  FROM (SELECT txn_id, currency, sum(amount) AS total FROM dsx.ledger_entries WHERE agreement LIKE 'fx-%' GROUP BY 1, 2) t;
SELECT agreement, period_start, dsx.verify_settlement(agreement, period_start) FROM dsx.statements WHERE agreement LIKE 'fx-%' ORDER BY 1, 2;
-- the views show both currencies
SELECT agreement, period_start, currency, gross, billing_currency, gross_billing, fx_rate
  FROM dsx.partner_statements WHERE agreement LIKE 'fx-%' ORDER BY 1, 2;
SELECT agreement, currency, revenue, billing_currency, revenue_billing, time_zone FROM dsx.vendor_portfolio WHERE agreement LIKE 'fx-%' ORDER BY 1;

-- conversions round once, half away from zero, exactly
SELECT dsx.convert(1, 0.5, 1, 0) AS half_up, dsx.convert(-1, 0.5, 1, 0) AS half_down, dsx.convert(-3, 0.5, 1, 0) AS minus_1_5,
       dsx.convert(1, 1, 3, 2) AS third, dsx.convert(2, 1, 3, 2) AS two_thirds, dsx.convert(1, 1, 8, 2) AS eighth,
       dsx.convert(123456789012345, 0.00006123456, 1, 2) AS large, dsx.convert(0, 0.5, 31, 2) AS zero;

-- a missing rate: SGD to USD has none; the settlement is refused naming the pair and the
-- day, and dsx.run_due_settlements warns and settles the others
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT dsx.settle('fx-d', '2026-01-01');
\set VERBOSITY terse
BEGIN;
UPDATE dsx.agreements SET settle_lag = '0' WHERE agreement IN ('fx-c', 'fx-d');
SELECT dsx.run_due_settlements() > 0 AS settled_the_others;
SELECT agreement, count(*) > 1 AS settled_on FROM dsx.statements WHERE agreement IN ('fx-c', 'fx-d') GROUP BY 1 ORDER BY 1;
ROLLBACK;

-- refusals
\set VERBOSITY sqlstate
INSERT INTO dsx.fx_rates VALUES ('IDR', 'USD', '2026-01-20', 0.00007);           -- inside settled January
UPDATE dsx.fx_rates SET rate = 0.00007 WHERE base = 'IDR' AND rate_date = '2026-01-16';
DELETE FROM dsx.fx_rates WHERE base = 'IDR' AND rate_date = '2026-02-27';        -- covered settled February
INSERT INTO dsx.fx_rates VALUES ('IDR', 'USD', '2026-03-01', 0);
INSERT INTO dsx.fx_rates VALUES ('IDR', 'USD', '2026-03-01', 'NaN');
INSERT INTO dsx.fx_rates VALUES ('IDR', 'USD', '2026-03-01', 'Infinity');
INSERT INTO dsx.fx_rates VALUES ('IDR', 'IDR', '2026-03-01', 1);
INSERT INTO dsx.fx_rates VALUES ('IDR', 'XXX', '2026-03-01', 1);
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, fx_rule)
VALUES ('fx-z', 'fx-p', 'fx-vendor', 'fx-sg', 'vendor=30%, partner=70%', '2026-01-01', 'monthly');
UPDATE dsx.agreements SET settlement_currency = 'EUR' WHERE agreement = 'fx-a';   -- settled
UPDATE dsx.agreements SET fx_rule = 'period_average' WHERE agreement = 'fx-a';    -- settled
UPDATE dsx.agreements SET settlement_currency = 'EUR' WHERE agreement = 'fx-d';   -- nothing settled, no facility: accepted
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, currency)
VALUES ('fx-loan2', 'fx-b', 'fx-bank', 1000, 0.05, 12, '2026-01-31', 'IDR');
\set VERBOSITY terse
INSERT INTO dsx.fx_rates VALUES ('IDR', 'USD', '2026-03-05', 0.000061);         -- after the settled periods
SELECT agreement, settlement_currency FROM dsx.agreements WHERE agreement = 'fx-d';

-- a currency's minor units are fixed once statements or facilities are in it
\set VERBOSITY sqlstate
UPDATE dsx.currencies SET minor_units = 0 WHERE currency = 'USD';
UPDATE dsx.currencies SET minor_units = 3 WHERE currency = 'IDR';
\set VERBOSITY terse
BEGIN;
UPDATE dsx.currencies SET minor_units = 3 WHERE currency = 'SGD';                -- nothing in SGD yet
SELECT minor_units FROM dsx.currencies WHERE currency = 'SGD';
ROLLBACK;

-- a mean rate far below 20 decimal places is shown to 16 significant digits, and converts
-- exactly: $1,000,000 at about 3.9e-25 units of a 3-decimal currency is 0.000
INSERT INTO dsx.currencies VALUES ('XFX', 3, 'test currency of three decimals');
INSERT INTO dsx.factories (factory, partner, currency, region) VALUES ('fx-tiny', 'fx-p', 'USD', 'x');
INSERT INTO dsx.customer_plans VALUES ('acme', 'fx-tiny', 'fx-usd');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag, settlement_currency, fx_rule)
VALUES ('fx-t', 'fx-p', 'fx-vendor', 'fx-tiny', 'vendor=30%, partner=70%', '2026-01-01', '100 years', 'XFX', 'period_average');
INSERT INTO dsx.fx_rates VALUES ('USD', 'XFX', '2025-12-01', 1e-30), ('USD', 'XFX', '2026-01-20', 0.000000000000000000000001);
INSERT INTO dsx.usage_inbox VALUES ('t1', '2026-01-10 12:00Z', 'fx-tiny', 'acme', 'm', 1000000000000, 0);
SELECT inserted FROM dsx.ingest();
SELECT dsx.settle('fx-t', '2026-01-01');
SELECT revenue_billing, fx_rate, revenue, dsx.verify_settlement(agreement, period_start)
  FROM dsx.statements WHERE agreement = 'fx-t';
