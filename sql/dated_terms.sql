-- Dated terms: price, plan and split versions, each from a month on; the version in force
-- rates and splits a period, late usage of a closed period keeps its booked prices (a
-- customer and model never booked there takes the version in force for it), and a row
-- reaching into a settled period is refused.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('dt-vendor', 'vendor', 'V'), ('dt-p', 'partner', 'P'), ('dt-fund', 'partner', 'F');
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('dt-f', 'dt-p', 'USD');
-- dt-std: 1.00 per million input tokens, 2.00 from March; dt-new: 5.00
INSERT INTO dsx.price_plans (plan, model, input_price, output_price, valid_from) VALUES
    ('dt-std', 'm', '1', '0', '-infinity'), ('dt-std', 'm', '2', '0', '2026-03-01'), ('dt-new', 'm', '5', '0', '-infinity'),
    ('dt-std', 'm2', '7', '0', '-infinity'), ('dt-std', 'm2', '8', '0', '2026-03-01');
-- c1 on dt-std throughout; c2 on dt-std, then dt-new from March
INSERT INTO dsx.customer_plans (customer, factory, plan, valid_from) VALUES
    ('c1', 'dt-f', 'dt-std', '-infinity'), ('c2', 'dt-f', 'dt-std', '-infinity'), ('c2', 'dt-f', 'dt-new', '2026-03-01');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
VALUES ('dt-a', 'dt-p', 'dt-vendor', 'dt-f', 'vendor=30%, partner=70%', '2026-01-01', '100 years');
-- the split changes from March (vendor 50 %) and from April (a fund takes 10 %)
INSERT INTO dsx.agreement_splits VALUES ('dt-a', '2026-03-01', 'vendor=50%, partner=50%'),
                                        ('dt-a', '2026-04-01', 'vendor=40%, partner=50%, dt-fund=10%');
SELECT plan, model, input_price, valid_from, valid_until FROM dsx.price_versions WHERE factory = 'dt-f' ORDER BY customer, valid_from;
SELECT customer, plan, input_price FROM dsx.price_in_force('dt-f', 'c2', 'm', '2026-02-01') , (VALUES ('c2')) c(customer)
UNION ALL SELECT 'c2', plan, input_price FROM dsx.price_in_force('dt-f', 'c2', 'm', '2026-03-01');
SELECT * FROM dsx.split_in_force('dt-a', '2026-02-01') UNION ALL SELECT * FROM dsx.split_in_force('dt-a', '2026-03-01')
UNION ALL SELECT * FROM dsx.split_in_force('dt-a', '2026-06-01');

-- ten million input tokens for each customer in each of January to April
INSERT INTO dsx.usage_inbox
SELECT 'e-' || c || '-' || m, ('2026-0' || m || '-10 12:00Z')::timestamptz, 'dt-f', c, 'm', 10000000, 0
  FROM (VALUES ('c1'), ('c2')) x(c), generate_series(1, 4) m;
SELECT * FROM dsx.ingest();
SELECT dsx.settle('dt-a', p::date) FROM generate_series('2026-01-01'::date, '2026-03-01', '1 month') p;
-- January and February at 1.00 for both and the agreement's split; March: c1 at 2.00, c2
-- at 5.00 on its new plan, and the March split
SELECT period_start, customer, amount, plan, input_price FROM dsx.statement_lines WHERE agreement = 'dt-a' ORDER BY 1, 2;
SELECT period_start, revenue, split_valid_from, vendor_share, partner_share FROM dsx.statements WHERE agreement = 'dt-a' ORDER BY 1;

-- late usage for February: c1's five million tokens of m keep February's booked 1.00; its
-- million tokens of m2, never booked in February, are priced by the version in force for
-- February (7.00, not March's 8.00)
INSERT INTO dsx.usage_inbox VALUES ('late-c1', '2026-02-20Z', 'dt-f', 'c1', 'm', 5000000, 0),
                                   ('late-m2', '2026-02-20Z', 'dt-f', 'c1', 'm2', 1000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('dt-a', '2026-04-01');
SELECT for_period, customer, input_tokens, amount, plan, input_price FROM dsx.statement_lines
 WHERE agreement = 'dt-a' AND period_start = '2026-04-01' ORDER BY 1, 2;
SELECT period_start, revenue, adjustments, split_valid_from, vendor_share, partner_share FROM dsx.statements
 WHERE agreement = 'dt-a' AND period_start = '2026-04-01';
SELECT party, amount FROM dsx.statement_shares WHERE agreement = 'dt-a' AND period_start = '2026-04-01' ORDER BY party;
SELECT period_start, dsx.verify_settlement('dt-a', period_start) FROM dsx.statements WHERE agreement = 'dt-a' ORDER BY 1;

-- late usage of c3, a customer with no plan in force for February (it is on a plan from
-- April), cannot be priced: May's settlement says so (P0002) and settles nothing; a plan
-- for February can no longer be added, so the event is voided
INSERT INTO dsx.customer_plans (customer, factory, plan, valid_from) VALUES ('c3', 'dt-f', 'dt-std', '2026-05-01');
INSERT INTO dsx.usage_inbox VALUES ('late-c3', '2026-02-21Z', 'dt-f', 'c3', 'm', 1000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('dt-a', '2026-05-01');
SELECT dsx.void_events('dt-f', ARRAY['late-c3'], 'meter of another factory');

-- Closed books stay closed: rows whose validity covers a settled period (January to April)
-- are refused, inserted, changed or deleted; a row from May on is accepted
\set VERBOSITY sqlstate
INSERT INTO dsx.price_plans VALUES ('dt-std', 'm', '3', '0', '2026-04-01');
INSERT INTO dsx.price_plans VALUES ('dt-std', 'm', '3', '0', '2026-02-01');
UPDATE dsx.price_plans SET input_price = '2.5' WHERE plan = 'dt-std' AND valid_from = '2026-03-01';
UPDATE dsx.price_plans SET valid_from = '2026-05-01' WHERE plan = 'dt-std' AND valid_from = '2026-03-01';
DELETE FROM dsx.price_plans WHERE plan = 'dt-std' AND valid_from = '2026-03-01';
INSERT INTO dsx.customer_plans VALUES ('c1', 'dt-f', 'dt-new', '2026-04-01');
DELETE FROM dsx.customer_plans WHERE customer = 'c2' AND valid_from = '2026-03-01';
INSERT INTO dsx.agreement_splits VALUES ('dt-a', '2026-02-01', 'vendor=10%, partner=90%');
UPDATE dsx.agreement_splits SET revenue_split = 'vendor=45%, partner=55%' WHERE valid_from = '2026-03-01';
DELETE FROM dsx.agreement_splits WHERE agreement = 'dt-a' AND valid_from = '2026-04-01';
UPDATE dsx.agreements SET revenue_split = 'vendor=20%, partner=80%' WHERE agreement = 'dt-a';
-- not a first of the month; before or at the agreement's start; unknown or repeated parties
INSERT INTO dsx.price_plans VALUES ('dt-std', 'm', '3', '0', '2026-05-15');
INSERT INTO dsx.customer_plans VALUES ('c1', 'dt-f', 'dt-new', '2026-05-02');
INSERT INTO dsx.agreement_splits VALUES ('dt-a', '2026-05-15', 'vendor=10%, partner=90%');
INSERT INTO dsx.agreement_splits VALUES ('dt-a', '2026-01-01', 'vendor=10%, partner=90%');
INSERT INTO dsx.agreement_splits VALUES ('dt-a', '2026-05-01', 'vendor=10%, nobody=90%');
INSERT INTO dsx.agreement_splits VALUES ('dt-a', '2026-05-01', 'vendor=10%, dt-vendor=90%');
INSERT INTO dsx.agreement_splits VALUES ('nosuch', '2026-05-01', 'vendor=10%, partner=90%');
\set VERBOSITY terse
INSERT INTO dsx.price_plans VALUES ('dt-std', 'm', '3', '0', '2026-05-01');
INSERT INTO dsx.customer_plans VALUES ('c1', 'dt-f', 'dt-new', '2026-06-01');
INSERT INTO dsx.agreement_splits VALUES ('dt-a', '2026-05-01', 'vendor=35%, partner=65%');
UPDATE dsx.agreement_splits SET revenue_split = 'vendor=36%, partner=64%' WHERE agreement = 'dt-a' AND valid_from = '2026-05-01';
SELECT dsx.settle('dt-a', '2026-05-01');
SELECT period_start, split_valid_from, distributable, vendor_share, partner_share FROM dsx.statements
 WHERE agreement = 'dt-a' AND period_start = '2026-05-01';
SELECT plan, input_price, valid_from, valid_until FROM dsx.price_versions WHERE factory = 'dt-f' AND customer = 'c1' ORDER BY valid_from;
-- every version is in the history, with its date in the key
SELECT table_name, operation, row_key FROM dsx.config_history
 WHERE table_name IN ('price_plans', 'agreement_splits') AND (row_key->>'plan' = 'dt-std' OR row_key->>'agreement' = 'dt-a')
 ORDER BY change_id;
SELECT period_start, dsx.verify_settlement('dt-a', period_start) FROM dsx.statements WHERE agreement = 'dt-a' ORDER BY 1;

-- a version from 'infinity' would never apply; TRUNCATE would remove the versions settled
-- periods were settled with (refused once any period is settled)
\set VERBOSITY sqlstate
INSERT INTO dsx.price_plans VALUES ('dt-std', 'm', '3', '0', 'infinity');
INSERT INTO dsx.customer_plans VALUES ('c9', 'dt-f', 'dt-new', 'infinity');
INSERT INTO dsx.agreement_splits VALUES ('dt-a', 'infinity', 'vendor=10%, partner=90%');
BEGIN;
TRUNCATE dsx.price_plans CASCADE;
ROLLBACK;
BEGIN;
TRUNCATE dsx.customer_plans;
ROLLBACK;
BEGIN;
TRUNCATE dsx.agreement_splits;
ROLLBACK;
BEGIN;
TRUNCATE dsx.fx_rates;
ROLLBACK;
\set VERBOSITY terse
SELECT count(*) > 0 AS versions_kept FROM dsx.agreement_splits WHERE agreement = 'dt-a';
-- an agreement not yet settled cannot move its start onto or past its amendments
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('dt-g', 'dt-p', 'USD');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
VALUES ('dt-b', 'dt-p', 'dt-vendor', 'dt-g', 'vendor=30%, partner=70%', '2026-01-01', '100 years');
INSERT INTO dsx.agreement_splits VALUES ('dt-b', '2026-03-01', 'vendor=50%, partner=50%');
\set VERBOSITY sqlstate
UPDATE dsx.agreements SET starts = '2026-03-01' WHERE agreement = 'dt-b';
\set VERBOSITY terse
UPDATE dsx.agreements SET starts = '2026-02-01' WHERE agreement = 'dt-b';
SELECT agreement, starts FROM dsx.agreements WHERE agreement = 'dt-b';
