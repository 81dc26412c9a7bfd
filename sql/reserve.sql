-- The debt service reserve (DSRA): topped up from the period's cash toward the payments
-- scheduled in the next dsra_months periods, drawn before credit support, and released
-- once it is above its target (all of it after the last payment). Month by month against
-- figures computed by hand; the ledger; verification; refusals.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('rs-vendor', 'vendor', 'V'), ('rs-p', 'partner', 'P'), ('rs-bank', 'lender', 'B');
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('rs-f', 'rs-p', 'USD');
INSERT INTO dsx.price_plans VALUES ('rs-plan', 'm', '1', '0');
INSERT INTO dsx.customer_plans VALUES ('c', 'rs-f', 'rs-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag, dsra_months)
VALUES ('rs-a', 'rs-p', 'rs-vendor', 'rs-f', 'vendor=30%, partner=70%', '2026-01-01', '100 years', 2);
-- $1,000 a month, January to June, interest free
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method)
VALUES ('rs-loan', 'rs-a', 'rs-bank', 6000, 0, 6, '2026-01-31', 'linear');
-- revenue: $5,000, $300, nothing, $600, $10,000, $2,000
INSERT INTO dsx.usage_inbox
SELECT 'e' || m, m::timestamptz + interval '5 days', 'rs-f', 'c', 'm', n, 0
  FROM (VALUES ('2026-01-01', 5000000000), ('2026-02-01', 300000000), ('2026-04-01', 600000000),
               ('2026-05-01', 10000000000), ('2026-06-01', 2000000000)) v(m, n);
SELECT inserted FROM dsx.ingest();
SELECT count(*) FILTER (WHERE dsx.settle('rs-a', p::date)) AS settled
  FROM generate_series(date '2026-01-01', date '2026-06-01', interval '1 month') p;
-- by hand (target: the payments of the next two months):
--   January  $5,000: $1,000 paid; the reserve topped up to its $2,000 target; $2,000 left
--   February   $300: $300 paid from cash, $700 from the reserve ($1,300 left); nothing to top up
--   March        $0: $1,000 from the reserve ($300 left)
--   April      $600: $600 from cash, the reserve's last $300, $100 drawn on credit support
--   May     $10,000: $1,000 paid; the target is June's $1,000 alone: topped up by $1,000;
--                    the vendor repaid $100; $7,900 left
--   June    $2,000: the last $1,000 paid; nothing more scheduled: the reserve's $1,000 is
--                    released; $2,000 left
SELECT period_start, gross, debt_service_paid, reserve_opening, reserve_drawn, support_drawn, reserve_topup,
       reserve_released, reserve_balance, support_repaid, distributable
  FROM dsx.statements WHERE agreement = 'rs-a' ORDER BY 1;
SELECT array_agg(reserve_balance ORDER BY period_start) = '{2000,1300,300,0,1000,0}'::numeric[]
   AND array_agg(distributable ORDER BY period_start) = '{2000,0,0,0,7900,2000}'::numeric[]
   AND array_agg(support_drawn ORDER BY period_start) = '{0,0,0,100,0,0}'::numeric[] AS matches_the_hand_computation
  FROM dsx.statements WHERE agreement = 'rs-a';
-- the invariant with the reserve: gross = paid + topped up - released + repaid + shares
SELECT count(*) AS invariant_broken FROM dsx.statements s
 WHERE s.agreement = 'rs-a'
   AND s.gross <> s.debt_service_paid + s.reserve_topup - s.reserve_released + s.support_repaid
                  + (SELECT COALESCE(sum(amount), 0) FROM dsx.statement_shares h WHERE h.agreement = s.agreement AND h.period_start = s.period_start);
SELECT period_start, paid_from_revenue, paid_from_reserve, paid_by_support FROM dsx.statement_debt WHERE agreement = 'rs-a' ORDER BY 1;
-- the reserve account in the ledger: its balance is the statement's, month by month
SELECT s.period_start, sum(sum(l.amount)) OVER (ORDER BY s.period_start) = s.reserve_balance AS reserve_account_agrees
  FROM dsx.statements s LEFT JOIN dsx.ledger_entries l
    ON l.agreement = s.agreement AND l.period_start = s.period_start AND l.account = 'asset:debt_service_reserve'
 WHERE s.agreement = 'rs-a' GROUP BY s.period_start, s.reserve_balance ORDER BY 1;
SELECT count(*) AS unbalanced FROM (SELECT txn_id FROM dsx.ledger_entries WHERE agreement = 'rs-a' GROUP BY txn_id, currency HAVING sum(amount) <> 0) x;
SELECT bool_and(dsx.verify_settlement(agreement, period_start)) AS all_verify FROM dsx.statements WHERE agreement = 'rs-a';
-- refusals: a negative or absurd reserve (23514); once settled, the reserve's terms are fixed (55000)
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('rs-g', 'rs-p', 'USD');
\set VERBOSITY sqlstate
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, dsra_months)
VALUES ('rs-b', 'rs-p', 'rs-vendor', 'rs-g', 'vendor=30%, partner=70%', '2026-01-01', -1);
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, dsra_months)
VALUES ('rs-b', 'rs-p', 'rs-vendor', 'rs-g', 'vendor=30%, partner=70%', '2026-01-01', 121);
UPDATE dsx.agreements SET dsra_months = 3 WHERE agreement = 'rs-a';
\set VERBOSITY terse
-- A settled month's reserve was sized on the payments scheduled for the dsra_months after
-- it: no facility may gain, lose or move a payment there (55000), booked or not; one whose
-- payments all fall later may come, change and go. (rs-a: June settled, 2 months: the
-- window runs to 2026-09-01.)
\set VERBOSITY sqlstate
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method, rank)
VALUES ('rs-new', 'rs-a', 'rs-bank', 1200, 0, 12, '2026-08-15', 'linear', 2);
\set VERBOSITY terse
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method, rank)
VALUES ('rs-new', 'rs-a', 'rs-bank', 1200, 0, 12, '2026-08-15', 'linear', 2);
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method, rank)
VALUES ('rs-later', 'rs-a', 'rs-bank', 1200, 0, 12, '2026-09-15', 'linear', 2);
UPDATE dsx.credit_facilities SET first_due = '2026-07-20' WHERE facility = 'rs-later';
UPDATE dsx.credit_facilities SET principal = 1300 WHERE facility = 'rs-later';
DELETE FROM dsx.credit_facilities WHERE facility = 'rs-later';
SELECT bool_and(dsx.verify_settlement(agreement, period_start)) AS all_still_verify FROM dsx.statements WHERE agreement = 'rs-a';
