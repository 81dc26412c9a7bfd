-- The lock-up covenant: with a threshold, when CFADS (gross less the costs paid) falls
-- below lockup_dscr x the period's scheduled debt service, compared exactly, what is left
-- after the lenders, the reserve and the vendor is trapped; once the test passes (or
-- nothing is scheduled) the whole balance is released. DSCR on every statement, rounded to
-- 4 decimals. Zero, negative and huge gross. Against figures computed by hand.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('lk-vendor', 'vendor', 'V'), ('lk-p', 'partner', 'P'), ('lk-bank', 'lender', 'B');
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('lk-f', 'lk-p', 'USD');
INSERT INTO dsx.price_plans VALUES ('lk-plan', 'm', '1', '0');
INSERT INTO dsx.customer_plans VALUES ('c', 'lk-f', 'lk-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag, lockup_dscr)
VALUES ('lk-a', 'lk-p', 'lk-vendor', 'lk-f', 'vendor=30%, partner=70%', '2026-01-01', '100 years', 1.20);
-- $1,000 a month, January to April, interest free; a fixed cost of $500
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method)
VALUES ('lk-loan', 'lk-a', 'lk-bank', 4000, 0, 4, '2026-01-31', 'linear');
INSERT INTO dsx.operating_costs (agreement, cost, kind, amount) VALUES ('lk-a', 'site', 'fixed', 500);
-- gross: $2,000, $1,600, $1,700, $1,699.99, nothing, a refund of $300, $1,000,000,000,000
INSERT INTO dsx.usage_inbox
SELECT 'e' || m, m::timestamptz + interval '5 days', 'lk-f', 'c', 'm', n, 0
  FROM (VALUES ('2026-01-01', 2000000000), ('2026-02-01', 1600000000), ('2026-03-01', 1700000000),
               ('2026-04-01', 1699990000), ('2026-07-01', 1000000000000000000)) v(m, n);
SELECT inserted FROM dsx.ingest();
SELECT count(*) FILTER (WHERE dsx.settle('lk-a', p::date)) AS settled
  FROM generate_series(date '2026-01-01', date '2026-05-01', interval '1 month') p;
-- a refund in June: February's usage voided after February was settled
SELECT dsx.void_events('lk-f', ARRAY['e2026-02-01'], 'refund') IS NOT NULL AS voided;
SELECT dsx.settle('lk-a', '2026-06-01'), dsx.settle('lk-a', '2026-07-01');
-- by hand:
--   January  $2,000: costs $500, CFADS 1,500 = 1.5 x 1,000: passes; $500 distributed
--   February $1,600: CFADS 1,100 < 1.2 x 1,000: $100 left after the lender is trapped
--   March    $1,700: CFADS 1,200, not below 1,200: passes; the $100 released: $300
--   April $1,699.99: CFADS 1,199.99: the DSCR shows 1.2000 but the test (exact) fails:
--                    $199.99 trapped
--   May          $0: nothing scheduled, no test: the $199.99 released; the $500 of costs carried
--   June     -$1,600 (February's $1,600 refunded): costs carried ($1,000); -$1,600 clawed back
--   July  $1e12: costs and their $1,000 of arrears paid; no test: the rest distributed
SELECT period_start, gross, opex_paid, opex_arrears, cfads, debt_service_due, dscr, lockup_opening, lockup_trapped,
       lockup_released, lockup_balance, distributable
  FROM dsx.statements WHERE agreement = 'lk-a' ORDER BY 1;
SELECT array_agg(lockup_balance ORDER BY period_start) = '{0,100,0,199.99,0,0,0}'::numeric[]
   AND array_agg(distributable ORDER BY period_start) = '{500,0,300,0,199.99,-1600,999999998500}'::numeric[]
   AND array_agg(dscr ORDER BY period_start)::text = '{1.5000,1.1000,1.2000,1.2000,NULL,NULL,NULL}'
       AS matches_the_hand_computation
  FROM dsx.statements WHERE agreement = 'lk-a';
-- the invariant: gross = costs paid + debt paid + support repaid + trapped - released + shares
SELECT count(*) AS invariant_broken FROM dsx.statements s
 WHERE s.agreement = 'lk-a'
   AND s.gross <> s.opex_paid + s.debt_service_paid + s.reserve_topup - s.reserve_released + s.support_repaid
                  + s.lockup_trapped - s.lockup_released
                  + (SELECT COALESCE(sum(amount), 0) FROM dsx.statement_shares h WHERE h.agreement = s.agreement AND h.period_start = s.period_start);
-- the lock-up account follows the statements' balance
SELECT s.period_start, COALESCE(sum(sum(l.amount)) OVER (ORDER BY s.period_start), 0) = s.lockup_balance AS lockup_account_agrees
  FROM dsx.statements s LEFT JOIN dsx.ledger_entries l
    ON l.agreement = s.agreement AND l.period_start = s.period_start AND l.account = 'asset:lockup'
 WHERE s.agreement = 'lk-a' GROUP BY s.period_start, s.lockup_balance ORDER BY 1;
SELECT count(*) AS unbalanced FROM (SELECT txn_id FROM dsx.ledger_entries WHERE agreement = 'lk-a' GROUP BY txn_id, currency HAVING sum(amount) <> 0) x;
SELECT bool_and(dsx.verify_settlement(agreement, period_start)) AS all_verify FROM dsx.statements WHERE agreement = 'lk-a';
-- the views show it
SELECT period_start, cfads, dscr, lockup_trapped, lockup_balance, opex_arrears FROM dsx.credit_support_position
 WHERE agreement = 'lk-a' ORDER BY 1;
SELECT last_dscr, lockup_balance, lockup_trapped_total, opex_paid_total, opex_arrears FROM dsx.vendor_portfolio WHERE agreement = 'lk-a';
-- refusals: a negative threshold (23514); once settled, the lock-up is fixed (55000)
\set VERBOSITY sqlstate
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('lk-g', 'lk-p', 'USD');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, lockup_dscr)
VALUES ('lk-b', 'lk-p', 'lk-vendor', 'lk-g', 'vendor=30%, partner=70%', '2026-01-01', -1);
UPDATE dsx.agreements SET lockup_dscr = 1.1 WHERE agreement = 'lk-a';
\set VERBOSITY terse
