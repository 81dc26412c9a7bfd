-- Ranked facilities: a senior facility the vendor's credit support stands behind and a
-- mezzanine one it does not. Each month's cash pays them in rank order; the senior's
-- shortfall is drawn on credit support, the mezzanine's carried as its arrears and paid
-- first thing next time there is cash. Every figure against one computed by hand, the
-- ledger per facility, verification, and the facility refusals once settled.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('rd-vendor', 'vendor', 'V'), ('rd-p', 'partner', 'P'),
    ('rd-bank', 'lender', 'Senior bank'), ('rd-fund', 'lender', 'Mezzanine fund');
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('rd-f', 'rd-p', 'USD');
INSERT INTO dsx.price_plans VALUES ('rd-plan', 'm', '1', '0');
INSERT INTO dsx.customer_plans VALUES ('c', 'rd-f', 'rd-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag, support_rate, support_day_count)
VALUES ('rd-a', 'rd-p', 'rd-vendor', 'rd-f', 'vendor=30%, partner=70%', '2026-01-01', '100 years', 0.12, 'ACT/360');
-- interest free, equal principal: the senior $1,000 a month, the mezzanine $500
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method, rank, supported)
VALUES ('rd-sen', 'rd-a', 'rd-bank', 12000, 0, 12, '2026-01-31', 'linear', 1, true),
       ('rd-mez', 'rd-a', 'rd-fund', 6000, 0, 12, '2026-01-31', 'linear', 2, false);
SELECT facility, rank, supported, currency FROM dsx.credit_facilities WHERE agreement = 'rd-a' ORDER BY rank;
-- revenue: January $1,200, February $600, March $5,000
INSERT INTO dsx.usage_inbox VALUES ('j', '2026-01-10 12:00Z', 'rd-f', 'c', 'm', 1200000000, 0),
                                   ('f', '2026-02-10 12:00Z', 'rd-f', 'c', 'm', 600000000, 0),
                                   ('m', '2026-03-10 12:00Z', 'rd-f', 'c', 'm', 5000000000, 0);
SELECT inserted FROM dsx.ingest();
SELECT dsx.settle('rd-a', '2026-01-01'), dsx.settle('rd-a', '2026-02-01'), dsx.settle('rd-a', '2026-03-01');
-- by hand:
--   January: the senior's $1,000 paid; the mezzanine gets the other $200, $300 carried.
--   February: the senior gets all $600, credit support pays its other $400; the mezzanine's
--     $500 and $300 of arrears go unpaid: $800 carried.
--   March: the senior's $1,000 and the mezzanine's $1,300 paid; of the $2,700 left the
--     vendor is repaid $400 and 400 x 12 % x 31 / 360 = $4.1333 -> $4.13 of interest;
--     $2,295.87 is distributed: 30 % is 688.761 -> $688.76, 70 % 1,607.109 -> $1,607.11.
SELECT period_start, gross, debt_service_due, debt_service_paid, support_drawn, debt_arrears,
       support_interest, support_repaid, support_balance, distributable, vendor_share, partner_share
  FROM dsx.statements WHERE agreement = 'rd-a' ORDER BY 1;
SELECT period_start, rank, facility, lender, supported, scheduled, arrears_opening, due, paid_from_revenue,
       paid_from_reserve, paid_by_support, arrears
  FROM dsx.statement_debt WHERE agreement = 'rd-a' ORDER BY 1, 2;
SELECT (SELECT array_agg(debt_arrears ORDER BY period_start) FROM dsx.statements WHERE agreement = 'rd-a') = '{300,800,0}'::numeric[]
   AND (SELECT (support_interest, support_repaid, distributable, vendor_share, partner_share)
              = (4.13::numeric, 404.13::numeric, 2295.87::numeric, 688.76::numeric, 1607.11::numeric)
          FROM dsx.statements WHERE agreement = 'rd-a' AND period_start = '2026-03-01') AS matches_the_hand_computation;
-- the ledger: each lender paid from the period's cash, the mezzanine's arrears carried and
-- settled, credit support drawn; every transaction balanced
SELECT period_start, entry_no, account, amount FROM dsx.ledger_entries WHERE agreement = 'rd-a' ORDER BY 1, 2;
SELECT count(*) AS unbalanced FROM (SELECT txn_id FROM dsx.ledger_entries WHERE agreement = 'rd-a' GROUP BY txn_id, currency HAVING sum(amount) <> 0) x;
SELECT period_start, dsx.verify_settlement('rd-a', period_start) FROM dsx.statements WHERE agreement = 'rd-a' ORDER BY 1;

-- a rank taken; once its debt service is booked a facility's terms stay and it stays; a
-- new facility with a payment due in a settled period; TRUNCATE
\set VERBOSITY sqlstate
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, rank)
VALUES ('rd-x', 'rd-a', 'rd-bank', 100, 0, 1, '2026-06-30', 2);
UPDATE dsx.credit_facilities SET principal = 13000 WHERE facility = 'rd-sen';
UPDATE dsx.credit_facilities SET supported = true WHERE facility = 'rd-mez';
DELETE FROM dsx.credit_facilities WHERE facility = 'rd-mez';
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, rank)
VALUES ('rd-x', 'rd-a', 'rd-bank', 100, 0, 1, '2026-02-28', 3);
BEGIN;
TRUNCATE dsx.credit_facilities;
ROLLBACK;
\set VERBOSITY terse
-- a junior facility from April on is accepted, and April pays it third
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method, rank, supported)
VALUES ('rd-jun', 'rd-a', 'rd-fund', 300, 0, 3, '2026-04-30', 'linear', 3, false);
INSERT INTO dsx.usage_inbox VALUES ('a', '2026-04-10 12:00Z', 'rd-f', 'c', 'm', 1550000000, 0);
SELECT inserted FROM dsx.ingest();
SELECT dsx.settle('rd-a', '2026-04-01');
SELECT rank, facility, due, paid_from_revenue, paid_by_support, arrears FROM dsx.statement_debt
 WHERE agreement = 'rd-a' AND period_start = '2026-04-01' ORDER BY rank;
SELECT dsx.verify_settlement('rd-a', '2026-04-01');
-- the facility added for later periods changes nothing of the earlier ones
SELECT bool_and(dsx.verify_settlement(agreement, period_start)) AS all_verify FROM dsx.statements WHERE agreement = 'rd-a';
-- without terms of its own, the support bears the rate of the most senior supported
-- facility: here the 9 % of rank 2, not the unsupported rank 1's 4 %
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('rd-g', 'rd-p', 'USD');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
VALUES ('rd-b', 'rd-p', 'rd-vendor', 'rd-g', 'vendor=30%, partner=70%', '2026-01-01', '100 years');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, day_count, rank, supported)
VALUES ('rd-b1', 'rd-b', 'rd-fund', 1000, 0.04, 12, '2026-01-31', 'ACT/360', 1, false),
       ('rd-b2', 'rd-b', 'rd-bank', 1000, 0.09, 12, '2026-01-31', '30/360', 2, true);
SELECT * FROM dsx.support_terms('rd-b');
