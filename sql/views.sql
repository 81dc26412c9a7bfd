-- The party views on a two-partner scenario: what dsx.partner_statements,
-- dsx.partner_usage_daily, dsx.credit_support_position and dsx.vendor_portfolio show, that
-- their figures agree with the statements and the raw usage, and what each mapped role
-- sees. Names start with vw- so that no other test's rows mix in.
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

INSERT INTO dsx.parties (party, kind, display_name) VALUES
    ('vw-vendor', 'vendor', 'View Vendor'), ('vw-alpha', 'partner', 'Alpha Cloud'),
    ('vw-beta', 'partner', 'Beta Compute'), ('vw-bank', 'lender', 'View Bank');
INSERT INTO dsx.factories (factory, partner, currency, region, gpus, power_mw) VALUES
    ('vw-alpha-dc', 'vw-alpha', 'USD', 'Sydney', 1000, 20),
    ('vw-beta-dc', 'vw-beta', 'JPY', 'Tokyo', 500, 8.5);
INSERT INTO dsx.price_plans (plan, model, input_price, output_price) VALUES
    ('vw-flat', 'vw-m', '1', '2'),
    ('vw-grad', 'vw-m', 'graduated: 0: 3.00, 1000000000: 2.50', '4'),
    ('vw-yen', 'vw-m', 'volume: 0: 150, 1000000000: 100', '300');
INSERT INTO dsx.customer_plans (customer, factory, plan) VALUES
    ('vw-c1', 'vw-alpha-dc', 'vw-flat'), ('vw-c2', 'vw-alpha-dc', 'vw-grad'),
    ('vw-c3', 'vw-beta-dc', 'vw-yen');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts) VALUES
    ('vw-alpha-ag', 'vw-alpha', 'vw-vendor', 'vw-alpha-dc',
     'vendor=30%, partner=70%; from 1000: vendor=20%, partner=80%', '2026-01-01'),
    ('vw-beta-ag', 'vw-beta', 'vw-vendor', 'vw-beta-dc', 'vendor=25%, partner=75%', '2026-01-01');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due,
                                   method, minor_units) VALUES
    ('vw-alpha-loan', 'vw-alpha-ag', 'vw-bank', 12000, 0.12, 12, '2026-01-31', 'annuity', 2),
    ('vw-beta-loan', 'vw-beta-ag', 'vw-bank', 300000, 0.06, 6, '2026-01-31', 'linear', 0);

-- January to March. vw-c2 crosses its graduated tier on 11 January; vw-c3 crosses its
-- volume tier on 6 January, which makes every January token cheaper.
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens) VALUES
    ('a1', '2026-01-10 08:00Z', 'vw-alpha-dc', 'vw-c1', 'vw-m', 3000000000, 0),
    ('a2', '2026-01-11 09:00Z', 'vw-alpha-dc', 'vw-c1', 'vw-m', 2000000000, 1000000000),
    ('a3', '2026-01-10 10:00Z', 'vw-alpha-dc', 'vw-c2', 'vw-m', 600000000, 0),
    ('a4', '2026-01-11 11:00Z', 'vw-alpha-dc', 'vw-c2', 'vw-m', 400000000, 0),
    ('a5', '2026-01-11 23:00Z', 'vw-alpha-dc', 'vw-c2', 'vw-m', 200000000, 0),
    ('a6', '2026-02-10 10:00Z', 'vw-alpha-dc', 'vw-c1', 'vw-m', 400000000, 0),
    ('a7', '2026-03-03 10:00Z', 'vw-alpha-dc', 'vw-c2', 'vw-m', 1000000000, 500000000),
    ('b1', '2026-01-05 00:00Z', 'vw-beta-dc', 'vw-c3', 'vw-m', 800000000, 0),
    ('b2', '2026-01-06 00:00Z', 'vw-beta-dc', 'vw-c3', 'vw-m', 300000000, 0),
    ('b3', '2026-02-14 00:00Z', 'vw-beta-dc', 'vw-c3', 'vw-m', 500000000, 100000000),
    ('b4', '2026-03-31 23:59:59Z', 'vw-beta-dc', 'vw-c3', 'vw-m', 100000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle(a, p)
  FROM (VALUES ('vw-alpha-ag'), ('vw-beta-ag')) g(a), (VALUES (date '2026-01-01'), ('2026-02-01')) q(p)
 ORDER BY a, p;
-- late usage for January, settled with March
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens) VALUES
    ('a8', '2026-01-31 23:00Z', 'vw-alpha-dc', 'vw-c1', 'vw-m', 100000000, 50000000);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('vw-alpha-ag', '2026-03-01'), dsx.settle('vw-beta-ag', '2026-03-01');

-- dsx.partner_statements: every figure of every statement
SELECT partner, agreement, factory, vendor, period_start, period_end, currency, input_tokens, output_tokens,
       revenue, adjustments, gross
  FROM dsx.partner_statements WHERE agreement LIKE 'vw-%' ORDER BY agreement, period_start;
SELECT agreement, period_start, debt_service_due AS due, debt_service_paid AS paid,
       support_opening AS opening, support_drawn AS drawn, support_interest AS interest,
       support_repaid AS repaid, support_balance AS balance, distributable, vendor_share, partner_share,
       other_shares, settled_at IS NOT NULL AS settled
  FROM dsx.partner_statements WHERE agreement LIKE 'vw-%' ORDER BY agreement, period_start;
-- the view is the statements, one row each, and the waterfall adds up
SELECT count(*) AS statements,
       count(*) FILTER (WHERE gross = debt_service_paid + support_repaid + distributable) AS waterfall_adds_up,
       count(*) FILTER (WHERE distributable = vendor_share + partner_share + other_shares) AS shares_add_up,
       count(*) FILTER (WHERE dsx.verify_settlement(agreement, period_start)) AS verified
  FROM dsx.partner_statements WHERE agreement LIKE 'vw-%';
SELECT (SELECT count(*) FROM dsx.partner_statements) = (SELECT count(*) FROM dsx.statements) AS one_row_per_statement;

-- dsx.partner_usage_daily: one row per factory, customer, model and day
SELECT partner, factory, customer, model, day, currency, events, input_tokens, output_tokens, total_tokens, revenue
  FROM dsx.partner_usage_daily WHERE factory LIKE 'vw-%' ORDER BY factory, customer, day;
-- a month's daily revenues add up to the exact charge; rounded once, that is the month's
-- line as finally settled (the period's own line plus its late-usage adjustments)
SELECT d.factory, d.customer, m.month, m.exact, l.settled, round(m.exact, c.minor_units) = l.settled AS same
  FROM (SELECT DISTINCT factory, customer FROM dsx.partner_usage_daily WHERE factory LIKE 'vw-%') d
  JOIN dsx.factories f USING (factory)
  JOIN dsx.currencies c USING (currency)
 CROSS JOIN LATERAL (SELECT date_trunc('month', u.day)::date AS month, sum(u.revenue) AS exact
                       FROM dsx.partner_usage_daily u
                      WHERE u.factory = d.factory AND u.customer = d.customer GROUP BY 1) m
 CROSS JOIN LATERAL (SELECT sum(sl.amount) AS settled
                       FROM dsx.statement_lines sl JOIN dsx.agreements a USING (agreement)
                      WHERE a.factory = d.factory AND sl.customer = d.customer AND sl.for_period = m.month) l
 ORDER BY 1, 2, 3;
-- and its tokens are those of the raw events
SELECT (SELECT sum(total_tokens) FROM dsx.partner_usage_daily WHERE factory LIKE 'vw-%')
     = (SELECT sum(input_tokens + output_tokens) FROM dsx.usage_events WHERE factory LIKE 'vw-%') AS tokens_match_events;

-- dsx.credit_support_position: the vendor's support per period, the lender's principal left
SELECT partner, agreement, vendor, facility, lender, period_start, period_end, currency,
       debt_service_due, debt_service_paid, support_opening, support_drawn, support_interest,
       support_repaid, support_balance, loan_outstanding
  FROM dsx.credit_support_position WHERE agreement LIKE 'vw-%' ORDER BY agreement, period_start;
-- the principal left is the facility schedule's closing balance after the periods due so far
SELECT period, due, closing FROM dsx.facility_schedule('vw-beta-loan') WHERE period <= 3 ORDER BY period;

-- dsx.vendor_portfolio: one row per agreement
SELECT vendor, partner, agreement, factory, region, gpus, power_mw, currency, starts, periods_settled,
       first_period, last_period
  FROM dsx.vendor_portfolio WHERE vendor = 'vw-vendor' ORDER BY agreement;
SELECT agreement, revenue, vendor_share_earned, partner_share_earned, support_drawn_total,
       support_interest_total, support_repaid_total, support_balance, loan_outstanding, credit_exposure,
       last_period_tokens, utilisation
  FROM dsx.vendor_portfolio WHERE vendor = 'vw-vendor' ORDER BY agreement;
-- the totals are those of the statements; utilisation is tokens per GPU-hour of March (744 h)
SELECT p.agreement,
       p.revenue = (SELECT sum(gross) FROM dsx.partner_statements s WHERE s.agreement = p.agreement) AS revenue_ok,
       p.vendor_share_earned = (SELECT sum(vendor_share) FROM dsx.partner_statements s WHERE s.agreement = p.agreement) AS share_ok,
       p.utilisation = round(p.last_period_tokens / (p.gpus * 744.0), 2) AS utilisation_ok
  FROM dsx.vendor_portfolio p WHERE vendor = 'vw-vendor' ORDER BY 1;

-- an agreement with nothing settled yet is in the portfolio with zeros
INSERT INTO dsx.parties VALUES ('vw-gamma', 'partner', 'Gamma');
INSERT INTO dsx.factories VALUES ('vw-gamma-dc', 'vw-gamma', 'USD', 'Perth', 0, 1);
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts)
VALUES ('vw-gamma-ag', 'vw-gamma', 'vw-vendor', 'vw-gamma-dc', 'vendor=10%, partner=90%', '2026-06-01');
SELECT agreement, periods_settled, last_period, revenue, vendor_share_earned, support_balance,
       loan_outstanding, credit_exposure, last_period_tokens, utilisation
  FROM dsx.vendor_portfolio WHERE agreement = 'vw-gamma-ag';

-- What each mapped role sees, all in a transaction rolled back (roles are cluster-wide).
BEGIN;
CREATE ROLE regress_vw_alpha;
CREATE ROLE regress_vw_beta;
CREATE ROLE regress_vw_vendor;
CREATE ROLE regress_vw_nobody;
SELECT dsx.grant_partner('regress_vw_alpha', 'vw-alpha') AS alpha,
       dsx.grant_partner('regress_vw_beta', 'vw-beta') AS beta,
       dsx.grant_vendor('regress_vw_vendor', 'vw-vendor') AS vendor;
GRANT dsx_partner TO regress_vw_nobody;   -- a member of the group, but mapped to nobody
SET ROLE regress_vw_alpha;
SELECT partner, agreement, period_start, gross, partner_share FROM dsx.partner_statements ORDER BY 2, 3;
SELECT partner, factory, customer, day, revenue FROM dsx.partner_usage_daily ORDER BY 2, 3, 4;
SELECT agreement, period_start, support_balance, loan_outstanding FROM dsx.credit_support_position ORDER BY 1, 2;
SELECT vendor, partner, agreement, revenue FROM dsx.vendor_portfolio ORDER BY 3;
SELECT party FROM dsx.parties ORDER BY 1;
RESET ROLE;
SET ROLE regress_vw_beta;
SELECT partner, agreement, period_start, gross, partner_share FROM dsx.partner_statements ORDER BY 2, 3;
SELECT partner, factory, customer, day, revenue FROM dsx.partner_usage_daily ORDER BY 2, 3, 4;
SELECT agreement, period_start, support_balance, loan_outstanding FROM dsx.credit_support_position ORDER BY 1, 2;
SELECT party FROM dsx.parties ORDER BY 1;
RESET ROLE;
SET ROLE regress_vw_vendor;
SELECT vendor, partner, agreement, revenue, vendor_share_earned, credit_exposure, utilisation
  FROM dsx.vendor_portfolio ORDER BY agreement;
SELECT partner, agreement, count(*) AS periods FROM dsx.partner_statements GROUP BY 1, 2 ORDER BY 2;
SELECT count(*) AS usage_rows_seen_by_vendor FROM dsx.partner_usage_daily;
RESET ROLE;
SET ROLE regress_vw_nobody;
SELECT (SELECT count(*) FROM dsx.partner_statements) AS statements, (SELECT count(*) FROM dsx.partner_usage_daily) AS usage,
       (SELECT count(*) FROM dsx.vendor_portfolio) AS portfolio, (SELECT count(*) FROM dsx.parties) AS parties;
RESET ROLE;
ROLLBACK;
