-- Demo report: revenue per partner, factory, customer and model, the facilities'
-- schedules, and the settled statements month by month.
\pset footer off
\echo
\echo '== October 2026 revenue per partner, factory, customer and model (settled lines, billing currency) =='
\echo '   each line: the month''s tokens priced by the customer''s plan in force for October, rounded once'
\echo '   (Sharon AI''s list price of open-70b fell from October: 0.55 / 0.75 instead of 0.60 / 0.80)'
SELECT a.partner, a.factory, l.customer, l.model, l.plan, s.billing_currency AS currency,
       to_char(l.input_tokens + l.output_tokens, 'FM999G999G999G999G999') AS tokens,
       to_char(l.amount, 'FM999G999G999G999G990D00') AS revenue
  FROM dsx.statement_lines l
  JOIN dsx.statements s ON s.agreement = l.agreement AND s.period_start = l.period_start
  JOIN dsx.agreements a ON a.agreement = l.agreement
 WHERE l.for_period = date '2026-10-01'
 ORDER BY 1, 2, l.amount DESC;

\echo '== Credit facilities: first payments and totals =='
SELECT f.facility, f.agreement, to_char(f.principal, 'FM999G999G999G990') AS principal,
       f.annual_rate, f.periods, f.method,
       to_char(s.payment, 'FM999G999G990D00') AS monthly_payment,
       to_char(t.interest, 'FM999G999G999G990D00') AS total_interest,
       to_char(t.principal, 'FM999G999G999G990D00') AS total_principal, t.last_due
  FROM dsx.credit_facilities f
 CROSS JOIN LATERAL (SELECT * FROM dsx.facility_schedule(f.facility) WHERE period = 1) s
 CROSS JOIN LATERAL (SELECT sum(x.interest) AS interest, sum(x.principal) AS principal, max(x.due) AS last_due
                       FROM dsx.facility_schedule(f.facility) x) t
 ORDER BY 1;
\echo '== Sharon AI facility, first three periods =='
SELECT period, due, opening, payment, interest, principal, closing
  FROM dsx.facility_schedule('sharon-ai-senior') WHERE period <= 3;

\echo '== Firmus bills in rupiah and settles in dollars: each month converted once, at its last day''s rate =='
SELECT agreement, period_start AS period, billing_currency,
       to_char(revenue_billing + adjustments_billing, 'FM999G999G999G999G990') AS gross_billing,
       fx_rate, currency, to_char(gross, 'FM999G999G990D00') AS gross,
       COALESCE(split_valid_from::text, 'the agreement''s') AS split_from
  FROM dsx.statements WHERE billing_currency <> currency ORDER BY 1, 2;

\echo '== Settled statements (settlement currency, USD): the waterfall month by month =='
\echo '   August is the ramp-up: revenue falls short of debt service, credit support is drawn;'
\echo '   September and October repay it, interest first, then the split applies.'
SELECT agreement, period_start AS period,
       to_char(gross, 'FM999G999G990D00') AS gross,
       to_char(debt_service_due, 'FM999G999G990D00') AS debt_service,
       to_char(support_drawn, 'FM999G999G990D00') AS support_drawn,
       to_char(support_interest, 'FM999G990D00') AS interest,
       to_char(support_repaid, 'FM999G999G990D00') AS repaid,
       to_char(support_balance, 'FM999G999G990D00') AS balance,
       to_char(vendor_share, 'FM999G999G990D00') AS vendor_share,
       to_char(partner_share, 'FM999G999G990D00') AS partner_share
  FROM dsx.statements ORDER BY 1, 2;

\echo '== Firmus is project-financed: costs first, then the senior and mezzanine lenders, the reserve, the vendor, the lock-up =='
\echo '   power is metered per local day (MWh x $85) with $8 M a month for the site; the reserve is funded toward six'
\echo '   months of debt service before the vendor is repaid; below a DSCR of 1.20 distributions are trapped'
SELECT period_start AS period, to_char(gross, 'FM999G999G990D00') AS gross,
       to_char(opex_paid, 'FM999G999G990D00') AS costs_paid, to_char(opex_arrears, 'FM999G999G990D00') AS costs_carried,
       to_char(cfads, 'FM999G999G990D00') AS cfads, dscr,
       to_char(reserve_topup, 'FM999G999G990D00') AS reserve_topup, to_char(reserve_drawn, 'FM999G999G990D00') AS reserve_drawn,
       to_char(reserve_balance, 'FM999G999G990D00') AS reserve,
       to_char(support_balance, 'FM999G999G990D00') AS support_balance,
       to_char(lockup_trapped, 'FM999G999G990D00') AS trapped, to_char(distributable, 'FM999G999G990D00') AS distributable
  FROM dsx.statements WHERE agreement = 'dsx-firmus' ORDER BY 1;
\echo '   each facility, in rank order'
SELECT period_start AS period, facility, rank, supported,
       to_char(due, 'FM999G999G990D00') AS due, to_char(paid_from_revenue, 'FM999G999G990D00') AS from_cash,
       to_char(paid_from_reserve, 'FM999G999G990D00') AS from_reserve, to_char(paid_by_support, 'FM999G999G990D00') AS by_support,
       to_char(arrears, 'FM999G999G990D00') AS arrears
  FROM dsx.statement_debt WHERE agreement = 'dsx-firmus' ORDER BY 1, rank;
