-- The vendor's credit support as a loan of its own: agreements.support_rate and
-- support_day_count, else the facility's rate and day count (as in 1.0). Checked against
-- interest computed by hand, then the refusals.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('su-vendor', 'vendor', 'V'), ('su-p', 'partner', 'P'), ('su-bank', 'lender', 'B');
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('su-f1', 'su-p', 'USD'), ('su-f2', 'su-p', 'USD');
INSERT INTO dsx.price_plans VALUES ('su-plan', 'm', '1', '0');
INSERT INTO dsx.customer_plans VALUES ('c', 'su-f1', 'su-plan'), ('c', 'su-f2', 'su-plan');
-- su-a1: support at 12 % ACT/365F; su-a2: no terms of its own, the facility's 6 % 30/360
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag, support_rate, support_day_count)
VALUES ('su-a1', 'su-p', 'su-vendor', 'su-f1', 'vendor=30%, partner=70%', '2026-01-01', '100 years', 0.12, 'ACT/365F'),
       ('su-a2', 'su-p', 'su-vendor', 'su-f2', 'vendor=30%, partner=70%', '2026-01-01', '100 years', NULL, NULL);
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('su-l1', 'su-a1', 'su-bank', 100000.00, 0.06, 12, '2026-01-31'),
       ('su-l2', 'su-a2', 'su-bank', 100000.00, 0.06, 12, '2026-01-31');
SELECT agreement, t.* FROM (VALUES ('su-a1'), ('su-a2')) v(agreement), LATERAL dsx.support_terms(v.agreement) t ORDER BY 1;
-- January $5,000 against a payment of $8,606.64: $3,606.64 drawn; February $20,000
INSERT INTO dsx.usage_inbox
SELECT 'e-' || f || '-' || m, m::timestamptz + interval '10 days', f, 'c', 'm', n, 0
  FROM (VALUES ('su-f1'), ('su-f2')) x(f), (VALUES ('2026-01-01', 5000000000), ('2026-02-01', 20000000000)) y(m, n);
SELECT inserted FROM dsx.ingest();
SELECT agreement, dsx.settle(agreement, '2026-01-01'), dsx.settle(agreement, '2026-02-01') FROM (VALUES ('su-a1'), ('su-a2')) v(agreement);
-- by hand: 3,606.64 x 0.12 x 28 / 365 = 33.2008... -> 33.20 (su-a1); 3,606.64 x 0.06 x 30 / 360
-- = 18.0332 -> 18.03 (su-a2, the facility's terms, as 1.0 computes it)
SELECT agreement, period_start, support_opening, support_drawn, support_interest, support_repaid, support_balance, distributable
  FROM dsx.statements WHERE agreement LIKE 'su-%' ORDER BY 1, 2;
SELECT (SELECT support_interest FROM dsx.statements WHERE agreement = 'su-a1' AND period_start = '2026-02-01') = 33.20
   AND (SELECT support_interest FROM dsx.statements WHERE agreement = 'su-a2' AND period_start = '2026-02-01') = 18.03
       AS matches_the_hand_computation;
SELECT agreement, period_start, dsx.verify_settlement(agreement, period_start) FROM dsx.statements WHERE agreement LIKE 'su-%' ORDER BY 1, 2;
-- a rate without a day count, a day count dsx does not know, a negative rate are refused
-- (23514); once a period is settled the terms are fixed (55000)
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('su-f3', 'su-p', 'USD');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
VALUES ('su-a3', 'su-p', 'su-vendor', 'su-f3', 'vendor=30%, partner=70%', '2026-01-01', '100 years');
\set VERBOSITY sqlstate
UPDATE dsx.agreements SET support_rate = 0.1 WHERE agreement = 'su-a3';
UPDATE dsx.agreements SET support_rate = 0.1, support_day_count = 'ACT/999' WHERE agreement = 'su-a3';
UPDATE dsx.agreements SET support_rate = -0.1, support_day_count = 'ACT/360' WHERE agreement = 'su-a3';
UPDATE dsx.agreements SET support_rate = 0.1, support_day_count = 'ACT/360' WHERE agreement = 'su-a2';
UPDATE dsx.agreements SET support_rate = NULL, support_day_count = NULL WHERE agreement = 'su-a1';
\set VERBOSITY terse
UPDATE dsx.agreements SET support_rate = 0.1, support_day_count = 'ACT/360' WHERE agreement = 'su-a3';   -- not settled
SELECT agreement, support_rate, support_day_count FROM dsx.agreements WHERE agreement LIKE 'su-%' ORDER BY 1;
-- without a facility nothing is drawn; the terms still say what the support would cost
SELECT * FROM dsx.support_terms('su-a3');
-- su-a4 inherits the terms of its only supported facility, of rank 2: January draws,
-- February bears interest on the draw, both settled. A supported facility above it at other
-- terms would change the interest February bore, even with its only payment years ahead:
-- refused (55000), as is moving one above it; above it at the same terms, or below it, is
-- accepted. (A change that alters no settled interest, such as one before any interest was
-- booked, changes only the periods to come.)
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('su-f4', 'su-p', 'USD');
INSERT INTO dsx.customer_plans VALUES ('c', 'su-f4', 'su-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
VALUES ('su-a4', 'su-p', 'su-vendor', 'su-f4', 'vendor=30%, partner=70%', '2026-01-01', '100 years');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, rank)
VALUES ('su-l4', 'su-a4', 'su-bank', 100000.00, 0.06, 12, '2026-01-31', 2);
INSERT INTO dsx.usage_inbox VALUES ('e-su-f4', '2026-01-11', 'su-f4', 'c', 'm', 5000000000, 0),
    ('e-su-f4-2', '2026-02-11', 'su-f4', 'c', 'm', 20000000000, 0);
SELECT inserted FROM dsx.ingest();
SELECT dsx.settle('su-a4', '2026-01-01'), dsx.settle('su-a4', '2026-02-01');
SELECT period_start, support_drawn, support_interest FROM dsx.statements WHERE agreement = 'su-a4' ORDER BY 1;
\set VERBOSITY sqlstate
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, rank)
VALUES ('su-l4-top', 'su-a4', 'su-bank', 1000.00, 0.01, 1, '2028-06-30', 1);
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, rank, day_count)
VALUES ('su-l4-top', 'su-a4', 'su-bank', 1000.00, 0.06, 1, '2028-06-30', 1, 'ACT/360');
\set VERBOSITY terse
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, rank)
VALUES ('su-l4-same', 'su-a4', 'su-bank', 1000.00, 0.06, 1, '2028-06-30', 1),
       ('su-l4-below', 'su-a4', 'su-bank', 1000.00, 0.01, 1, '2028-06-30', 3);
DELETE FROM dsx.credit_facilities WHERE facility = 'su-l4-same';   -- su-l4's terms again: the same
\set VERBOSITY sqlstate
UPDATE dsx.credit_facilities SET rank = 1 WHERE facility = 'su-l4-below';
\set VERBOSITY terse
SELECT * FROM dsx.support_terms('su-a4');
SELECT period_start, dsx.verify_settlement('su-a4', period_start) FROM dsx.statements WHERE agreement = 'su-a4' ORDER BY 1;
