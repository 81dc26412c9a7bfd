-- The full waterfall, one statement line by line: the April statement of docs/waterfall.md,
-- after a good February and a bad March, against the figures computed there by hand.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('ww-vendor', 'vendor', 'Vendor'), ('ww-partner', 'partner', 'Partner'),
       ('ww-senior', 'lender', 'Senior lender'), ('ww-mezz', 'lender', 'Mezzanine lender');
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('ww-f', 'ww-partner', 'USD');
INSERT INTO dsx.price_plans VALUES ('ww-plan', 'm', '1', '0');
INSERT INTO dsx.customer_plans VALUES ('c', 'ww-f', 'ww-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag,
                            support_rate, support_day_count, dsra_months, lockup_dscr)
VALUES ('ww-a', 'ww-partner', 'ww-vendor', 'ww-f', 'vendor=30%, partner=70%', '2026-02-01', '100 years',
        0.12, 'ACT/360', 1, 1.30);
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method, rank, supported)
VALUES ('ww-senior-loan', 'ww-a', 'ww-senior', 120000, 0, 12, '2026-02-28', 'linear', 1, true),
       ('ww-mezz-loan', 'ww-a', 'ww-mezz', 60000, 0, 12, '2026-02-28', 'linear', 2, false);
INSERT INTO dsx.operating_costs (agreement, cost, kind, amount) VALUES ('ww-a', 'site', 'fixed', 20000),
       ('ww-a', 'grid', 'power', 80);
SELECT count(*) FILTER (WHERE dsx.load_energy('ww-f', d::date, 10)) AS days_metered
  FROM generate_series(date '2026-02-01', date '2026-04-30', interval '1 day') d;
-- gross: $65,000 in February, $30,000 in March, $100,000 in April
INSERT INTO dsx.usage_inbox
SELECT 'e' || m, m::timestamptz + interval '9 days', 'ww-f', 'c', 'm', n, 0
  FROM (VALUES ('2026-02-01', 65000000000), ('2026-03-01', 30000000000), ('2026-04-01', 100000000000)) v(m, n);
SELECT inserted FROM dsx.ingest();
SELECT dsx.settle('ww-a', '2026-02-01'), dsx.settle('ww-a', '2026-03-01'), dsx.settle('ww-a', '2026-04-01');
-- the three statements
SELECT period_start, gross, opex_due, opex_paid, opex_arrears, cfads, debt_service_due, debt_service_paid,
       reserve_drawn, support_drawn, debt_arrears, reserve_topup, reserve_balance, support_interest, support_repaid,
       support_balance, dscr, lockup_trapped, distributable, vendor_share, partner_share
  FROM dsx.statements WHERE agreement = 'ww-a' ORDER BY 1;
SELECT period_start, facility, rank, scheduled, arrears_opening, due, paid_from_revenue, paid_from_reserve,
       paid_by_support, arrears
  FROM dsx.statement_debt WHERE agreement = 'ww-a' ORDER BY 1, rank;
-- April, line by line, as docs/waterfall.md computes it by hand
SELECT x.line, x.by_hand, x.stored, x.by_hand = x.stored AS agrees
  FROM dsx.statements s,
       LATERAL (VALUES
           ('1 gross', 100000.00, s.gross),
           ('2 costs due: 20,000 + 300 MWh x 80', 44000.00, s.opex_due),
           ('2 costs carried in from March', 14800.00, s.opex_arrears_opening),
           ('2 costs paid', 58800.00, s.opex_paid),
           ('2 CFADS = 100,000 - 58,800', 41200.00, s.cfads),
           ('3 debt service due: 10,000 + 5,000 + 5,000 arrears', 20000.00, s.debt_service_due),
           ('3 paid from cash', 20000.00, s.debt_service_paid),
           ('3 arrears left', 0.00, s.debt_arrears),
           ('4 interest: 2,400 x 12% x 30/360', 24.00, s.support_interest),
           ('5 reserve topped up to May''s 15,000', 15000.00, s.reserve_topup),
           ('6 vendor repaid: 2,400 + 24', 2424.00, s.support_repaid),
           ('6 support balance', 0.00, s.support_balance),
           ('7 DSCR = 41,200 / 15,000', 2.7467, s.dscr),
           ('7 trapped', 0.00, s.lockup_trapped),
           ('8 distributable', 3776.00, s.distributable),
           ('8 vendor 30%', 1132.80, s.vendor_share),
           ('8 partner 70%', 2643.20, s.partner_share)) x(line, by_hand, stored)
 WHERE s.agreement = 'ww-a' AND s.period_start = '2026-04-01';
-- the invariant, in April's figures: 100,000 = 58,800 + 20,000 + 15,000 + 2,424 + 3,776
SELECT gross = opex_paid + debt_service_paid + reserve_topup - reserve_released + support_repaid
               + lockup_trapped - lockup_released + vendor_share + partner_share AS invariant
  FROM dsx.statements WHERE agreement = 'ww-a' AND period_start = '2026-04-01';
-- April's ledger transaction
SELECT entry_no, account, amount FROM dsx.ledger_entries WHERE agreement = 'ww-a' AND period_start = '2026-04-01' ORDER BY entry_no;
SELECT bool_and(dsx.verify_settlement('ww-a', period_start)) AS all_verify FROM dsx.statements WHERE agreement = 'ww-a';
-- the projection runs the same three months again, storing nothing, to the same figures
SELECT count(*) AS periods,
       count(*) FILTER (WHERE (p.opex_paid, p.cfads, p.debt_service_paid, p.reserve_balance, p.support_balance,
                               p.dscr, p.lockup_balance, p.distributable, p.vendor_share, p.partner_share)
                              IS DISTINCT FROM
                              (s.opex_paid, s.cfads, s.debt_service_paid, s.reserve_balance, s.support_balance,
                               s.dscr, s.lockup_balance, s.distributable, s.vendor_share, s.partner_share)) AS differing
  FROM dsx.project('ww-a', '{65000,30000,100000}', '{42400,44800,44000}', '2026-02-01') p
  JOIN dsx.statements s ON s.agreement = 'ww-a' AND s.period_start = p.period_start;
