-- schema/80-views.sql — the views BI tools read (built-in column types only,
-- security_invoker).

CREATE OR REPLACE VIEW dsx.facility_position WITH (security_invoker = true) AS
    SELECT * FROM dsx.facility_position_at(CURRENT_DATE);
COMMENT ON VIEW dsx.facility_position IS 'Every credit facility today: next payment due and principal outstanding (dsx.facility_position_at(CURRENT_DATE))';
COMMENT ON COLUMN dsx.facility_position.facility IS 'Facility identifier';
COMMENT ON COLUMN dsx.facility_position.agreement IS 'The agreement the facility finances';
COMMENT ON COLUMN dsx.facility_position.lender IS 'The lending party';
COMMENT ON COLUMN dsx.facility_position.as_of IS 'The date of the position (today)';
COMMENT ON COLUMN dsx.facility_position.next_period IS 'Number of the next payment (the first due today or later); NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.next_due IS 'Due date of the next payment; NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.next_payment IS 'Amount of the next payment (interest plus principal); NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.next_interest IS 'Interest part of the next payment; NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.next_principal IS 'Principal part of the next payment; NULL after maturity';
COMMENT ON COLUMN dsx.facility_position.outstanding_principal IS 'Principal not yet repaid by the payments due before today; 0 after maturity';
COMMENT ON COLUMN dsx.facility_position.remaining_periods IS 'Payments still to come, the next one included';
COMMENT ON COLUMN dsx.facility_position.maturity IS 'Due date of the last payment';

/*
 * The views. security_invoker: the querying role's privileges and row-level security
 * apply to the tables beneath. Only built-in column types (BI drivers do not know dsx's).
 */
CREATE OR REPLACE VIEW dsx.partner_statements WITH (security_invoker = true) AS
SELECT a.partner, s.agreement, a.factory, a.vendor, s.period_start, s.period_end, s.currency,
       s.input_tokens, s.output_tokens, s.revenue, s.adjustments, s.gross,
       s.debt_service_due, s.debt_service_paid, s.support_opening, s.support_drawn,
       s.support_interest, s.support_repaid, s.support_balance, s.distributable,
       s.vendor_share, s.partner_share,
       s.distributable - s.vendor_share - s.partner_share AS other_shares,
       s.settled_at,
       s.billing_currency, s.revenue_billing, s.adjustments_billing, s.revenue_billing + s.adjustments_billing AS gross_billing,
       s.fx_rate, s.split_valid_from,
       s.opex_due, s.opex_paid, s.opex_arrears, s.cfads, s.debt_arrears, s.reserve_drawn, s.reserve_topup,
       s.reserve_released, s.reserve_balance, s.lockup_trapped, s.lockup_released, s.lockup_balance, s.dscr
  FROM dsx.statements s
  JOIN dsx.agreements a ON a.agreement = s.agreement;
COMMENT ON VIEW dsx.partner_statements IS 'One row per agreement and settled monthly period (a local month of the factory): every figure of the waterfall in the settlement currency, and revenue and adjustments also in the billing currency with the rate between them. gross = opex_paid + debt_service_paid + reserve_topup - reserve_released + support_repaid + lockup_trapped - lockup_released + distributable (without costs, reserve or lock-up: debt_service_paid + support_repaid + distributable); distributable = vendor_share + partner_share + other_shares';
COMMENT ON COLUMN dsx.partner_statements.opex_due IS 'Operating costs of the period (with energy adjustments of closed periods)';
COMMENT ON COLUMN dsx.partner_statements.opex_paid IS 'Operating costs paid, before any lender';
COMMENT ON COLUMN dsx.partner_statements.opex_arrears IS 'Operating costs left unpaid, carried to the next period';
COMMENT ON COLUMN dsx.partner_statements.cfads IS 'Cash flow available for debt service: gross - opex_paid';
COMMENT ON COLUMN dsx.partner_statements.debt_arrears IS 'Debt service of unsupported facilities left unpaid, carried to the next period';
COMMENT ON COLUMN dsx.partner_statements.reserve_drawn IS 'Debt service the reserve paid';
COMMENT ON COLUMN dsx.partner_statements.reserve_topup IS 'Paid into the debt service reserve';
COMMENT ON COLUMN dsx.partner_statements.reserve_released IS 'Reserve above its target released into the period''s cash';
COMMENT ON COLUMN dsx.partner_statements.reserve_balance IS 'Debt service reserve at the end of the period';
COMMENT ON COLUMN dsx.partner_statements.lockup_trapped IS 'Cash trapped by the lock-up (DSCR below the threshold)';
COMMENT ON COLUMN dsx.partner_statements.lockup_released IS 'Trapped cash released into the distribution';
COMMENT ON COLUMN dsx.partner_statements.lockup_balance IS 'Cash trapped at the end of the period';
COMMENT ON COLUMN dsx.partner_statements.dscr IS 'cfads / scheduled debt service, to 4 decimals; NULL when nothing is scheduled';
COMMENT ON COLUMN dsx.partner_statements.billing_currency IS 'Currency the customers were billed in (of the statement lines)';
COMMENT ON COLUMN dsx.partner_statements.revenue_billing IS 'revenue in the billing currency: the sum of the period''s lines';
COMMENT ON COLUMN dsx.partner_statements.adjustments_billing IS 'adjustments in the billing currency: the sum of the adjustment lines';
COMMENT ON COLUMN dsx.partner_statements.gross_billing IS 'revenue_billing + adjustments_billing';
COMMENT ON COLUMN dsx.partner_statements.fx_rate IS 'Settlement-currency units per billing-currency unit the period converted at; NULL when both currencies are the same';
COMMENT ON COLUMN dsx.partner_statements.split_valid_from IS 'The revenue split used: from this amendment on (NULL: the agreement''s own split)';
COMMENT ON COLUMN dsx.partner_statements.partner IS 'The capital partner running the factory';
COMMENT ON COLUMN dsx.partner_statements.agreement IS 'Agreement settled';
COMMENT ON COLUMN dsx.partner_statements.factory IS 'The agreement''s factory';
COMMENT ON COLUMN dsx.partner_statements.vendor IS 'The vendor taking a revenue share and giving credit support';
COMMENT ON COLUMN dsx.partner_statements.period_start IS 'First day of the settled month, a local month of the factory';
COMMENT ON COLUMN dsx.partner_statements.period_end IS 'First day of the next month: the period is [period_start, period_end)';
COMMENT ON COLUMN dsx.partner_statements.currency IS 'Settlement currency: of every amount in the row but the *_billing ones';
COMMENT ON COLUMN dsx.partner_statements.input_tokens IS 'Input tokens served in the period (its own lines, late usage excluded)';
COMMENT ON COLUMN dsx.partner_statements.output_tokens IS 'Output tokens served in the period (its own lines, late usage excluded)';
COMMENT ON COLUMN dsx.partner_statements.revenue IS 'Sum of the period''s rated customer lines (each rounded once to the billing currency''s minor unit), converted once to the settlement currency';
COMMENT ON COLUMN dsx.partner_statements.adjustments IS 'Late usage of earlier, closed periods, re-rated: the difference from what was settled then';
COMMENT ON COLUMN dsx.partner_statements.gross IS 'revenue + adjustments';
COMMENT ON COLUMN dsx.partner_statements.debt_service_due IS 'Credit facility payments due in the period';
COMMENT ON COLUMN dsx.partner_statements.debt_service_paid IS 'Part of the debt service paid from gross: min(max(gross, 0), debt_service_due)';
COMMENT ON COLUMN dsx.partner_statements.support_opening IS 'Credit support owed to the vendor at the start of the period';
COMMENT ON COLUMN dsx.partner_statements.support_drawn IS 'Debt service shortfall the vendor''s credit support paid to the lender in the period';
COMMENT ON COLUMN dsx.partner_statements.support_interest IS 'Interest on the opening credit support balance, at the facility rate and day count';
COMMENT ON COLUMN dsx.partner_statements.support_repaid IS 'Repaid to the vendor from what remained after debt service, interest first';
COMMENT ON COLUMN dsx.partner_statements.support_balance IS 'Credit support owed to the vendor at the end of the period';
COMMENT ON COLUMN dsx.partner_statements.distributable IS 'gross - debt_service_paid - support_repaid: what the revenue split divides (negative: a claw-back)';
COMMENT ON COLUMN dsx.partner_statements.vendor_share IS 'The vendor''s part of the distributable amount';
COMMENT ON COLUMN dsx.partner_statements.partner_share IS 'The partner''s part of the distributable amount';
COMMENT ON COLUMN dsx.partner_statements.other_shares IS 'Parts of further parties the split names (0 for a vendor/partner split); their detail is in dsx.statement_shares';
COMMENT ON COLUMN dsx.partner_statements.settled_at IS 'When the period was settled; the row never changes afterwards';

CREATE OR REPLACE VIEW dsx.partner_usage_daily WITH (security_invoker = true) AS
SELECT f.partner, d.factory, d.customer, d.model, d.day, f.currency,
       d.events, d.input_tokens, d.output_tokens, d.input_tokens + d.output_tokens AS total_tokens,
       CASE WHEN p.input_price IS NOT NULL THEN
              dsx.charge(d.month_input, p.input_price) + dsx.charge(d.month_output, p.output_price)
            - dsx.charge(d.month_input - d.input_tokens, p.input_price)
            - dsx.charge(d.month_output - d.output_tokens, p.output_price)
       END AS revenue
  FROM (SELECT u.factory, u.customer, u.model, u.day, u.events, u.input_tokens, u.output_tokens,
               (pg_catalog.sum(u.input_tokens) OVER w)::bigint AS month_input,
               (pg_catalog.sum(u.output_tokens) OVER w)::bigint AS month_output
          FROM (SELECT x.factory, x.customer, x.model, x.day, dsx.events(x.usage) AS events,
                       dsx.input_tokens(x.usage) AS input_tokens, dsx.output_tokens(x.usage) AS output_tokens
                  FROM dsx.usage_daily x) u
        WINDOW w AS (PARTITION BY u.factory, u.customer, u.model, pg_catalog.date_trunc('month', u.day::timestamp)
                     ORDER BY u.day)) d
  JOIN dsx.factories f ON f.factory = d.factory
  LEFT JOIN dsx.price_versions p ON p.factory = d.factory AND p.customer = d.customer AND p.model = d.model
                                AND p.valid_from <= d.day AND d.day < p.valid_until;
COMMENT ON VIEW dsx.partner_usage_daily IS 'One row per factory, customer, model and local day of usage (the factory''s time zone), priced by the version in force for its month, with the revenue the day added to the month; live: late usage shows as soon as it is ingested. Settled figures are in dsx.partner_statements';
COMMENT ON COLUMN dsx.partner_usage_daily.partner IS 'The capital partner running the factory';
COMMENT ON COLUMN dsx.partner_usage_daily.factory IS 'Factory that served the tokens';
COMMENT ON COLUMN dsx.partner_usage_daily.customer IS 'Customer the tokens are billed to';
COMMENT ON COLUMN dsx.partner_usage_daily.model IS 'Model that served them';
COMMENT ON COLUMN dsx.partner_usage_daily.day IS 'Local calendar day of the factory';
COMMENT ON COLUMN dsx.partner_usage_daily.currency IS 'ISO 4217 currency of revenue (the factory''s)';
COMMENT ON COLUMN dsx.partner_usage_daily.events IS 'Usage events of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.input_tokens IS 'Input tokens of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.output_tokens IS 'Output tokens of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.total_tokens IS 'input_tokens + output_tokens';
COMMENT ON COLUMN dsx.partner_usage_daily.revenue IS 'What the day added to the month''s exact charge for this customer and model at the customer''s plan in force for the month: charge(month-to-date tokens through the day) - charge(through the day before), tiers counted on the month''s volume. Exact and unrounded: the days of a month add up to the month''s exact charge, which the statement line rounds once to the minor unit. Can be negative under volume tiers (a day that lifts the month into a cheaper tier). NULL when the customer has no plan or no price for the model';

CREATE OR REPLACE VIEW dsx.credit_support_position WITH (security_invoker = true) AS
SELECT a.partner, s.agreement, a.vendor, f.facility, f.lender, s.period_start, s.period_end, s.currency,
       s.debt_service_due, s.debt_service_paid, s.support_opening, s.support_drawn,
       s.support_interest, s.support_repaid, s.support_balance,
       (SELECT pg_catalog.sum(dsx.facility_outstanding(c.facility, s.period_end))
          FROM dsx.credit_facilities c WHERE c.agreement = s.agreement) AS loan_outstanding,
       s.debt_arrears, s.reserve_opening, s.reserve_drawn, s.reserve_topup, s.reserve_released, s.reserve_balance,
       s.opex_due, s.opex_paid, s.opex_arrears, s.cfads, s.dscr, s.lockup_trapped, s.lockup_released, s.lockup_balance
  FROM dsx.statements s
  JOIN dsx.agreements a ON a.agreement = s.agreement
  JOIN LATERAL (SELECT c.facility, c.lender FROM dsx.credit_facilities c
                 WHERE c.agreement = s.agreement ORDER BY c.rank LIMIT 1) f ON true;
COMMENT ON VIEW dsx.credit_support_position IS 'One row per settled period of every agreement with a credit facility: the debt service due and how it was paid, and the vendor''s credit support (drawn, interest, repaid, balance). support_balance = support_opening + support_interest + support_drawn - support_repaid';
COMMENT ON COLUMN dsx.credit_support_position.partner IS 'The capital partner whose factory the facility finances';
COMMENT ON COLUMN dsx.credit_support_position.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.credit_support_position.vendor IS 'The vendor giving credit support';
COMMENT ON COLUMN dsx.credit_support_position.facility IS 'The most senior credit facility (rank 1 first; dsx.statement_debt has each facility''s figures)';
COMMENT ON COLUMN dsx.credit_support_position.lender IS 'Its lender';
COMMENT ON COLUMN dsx.credit_support_position.period_start IS 'First day of the settled month, a local month of the factory';
COMMENT ON COLUMN dsx.credit_support_position.period_end IS 'First day of the next month';
COMMENT ON COLUMN dsx.credit_support_position.currency IS 'ISO 4217 currency of every amount in the row';
COMMENT ON COLUMN dsx.credit_support_position.debt_service_due IS 'Facility payments (interest and principal) due in the period, over every facility, with arrears brought in';
COMMENT ON COLUMN dsx.credit_support_position.debt_service_paid IS 'Part of the debt service paid from the period''s revenue';
COMMENT ON COLUMN dsx.credit_support_position.support_opening IS 'Credit support owed to the vendor at the start of the period';
COMMENT ON COLUMN dsx.credit_support_position.support_drawn IS 'Drawn on the vendor''s credit support to pay the lenders of supported facilities what the period''s cash did not';
COMMENT ON COLUMN dsx.credit_support_position.support_interest IS 'Interest accrued on the opening balance';
COMMENT ON COLUMN dsx.credit_support_position.support_repaid IS 'Repaid to the vendor in the period, interest first';
COMMENT ON COLUMN dsx.credit_support_position.support_balance IS 'Credit support owed to the vendor at the end of the period';
COMMENT ON COLUMN dsx.credit_support_position.debt_arrears IS 'Debt service of unsupported facilities left unpaid in the period, carried to the next';
COMMENT ON COLUMN dsx.credit_support_position.reserve_opening IS 'Debt service reserve at the start of the period';
COMMENT ON COLUMN dsx.credit_support_position.reserve_drawn IS 'Debt service the reserve paid (before credit support)';
COMMENT ON COLUMN dsx.credit_support_position.reserve_topup IS 'Paid into the reserve toward its target';
COMMENT ON COLUMN dsx.credit_support_position.reserve_released IS 'Reserve above its target released into the period''s cash';
COMMENT ON COLUMN dsx.credit_support_position.reserve_balance IS 'Debt service reserve at the end of the period';
COMMENT ON COLUMN dsx.credit_support_position.opex_due IS 'Operating costs of the period (with energy adjustments of closed periods)';
COMMENT ON COLUMN dsx.credit_support_position.opex_paid IS 'Operating costs paid, before any lender';
COMMENT ON COLUMN dsx.credit_support_position.opex_arrears IS 'Operating costs left unpaid, carried to the next period';
COMMENT ON COLUMN dsx.credit_support_position.cfads IS 'Cash flow available for debt service: gross - opex_paid';
COMMENT ON COLUMN dsx.credit_support_position.dscr IS 'cfads / the period''s scheduled debt service, to 4 decimals; NULL when nothing is scheduled';
COMMENT ON COLUMN dsx.credit_support_position.lockup_trapped IS 'Cash trapped by the lock-up (DSCR below the agreement''s lockup_dscr)';
COMMENT ON COLUMN dsx.credit_support_position.lockup_released IS 'Trapped cash released (the test passed)';
COMMENT ON COLUMN dsx.credit_support_position.lockup_balance IS 'Cash trapped at the end of the period';
COMMENT ON COLUMN dsx.credit_support_position.loan_outstanding IS 'Principal still owed to the lenders after the payments due before period_end, over every facility of the agreement (the schedules'' closing balances)';

CREATE OR REPLACE VIEW dsx.vendor_portfolio WITH (security_invoker = true) AS
SELECT a.vendor, a.partner, a.agreement, a.factory, fa.region, fa.gpus::bigint AS gpus, fa.power_mw,
       a.settlement_currency AS currency, a.starts,
       COALESCE(t.periods_settled, 0) AS periods_settled, t.first_period, l.period_start AS last_period,
       COALESCE(t.revenue, 0) AS revenue,
       COALESCE(t.vendor_share, 0) AS vendor_share_earned,
       COALESCE(t.partner_share, 0) AS partner_share_earned,
       COALESCE(t.support_drawn, 0) AS support_drawn_total,
       COALESCE(t.support_interest, 0) AS support_interest_total,
       COALESCE(t.support_repaid, 0) AS support_repaid_total,
       COALESCE(l.support_balance, 0) AS support_balance,
       o.loan_outstanding,
       COALESCE(l.support_balance, 0) + COALESCE(o.loan_outstanding, 0) AS credit_exposure,
       l.input_tokens + l.output_tokens AS last_period_tokens,
       CASE WHEN fa.gpus > 0 AND l.period_start IS NOT NULL THEN
            pg_catalog.round((l.input_tokens + l.output_tokens)::numeric
                             / (fa.gpus::numeric * pg_catalog.date_part('epoch', dsx.local_midnight(l.period_end, fa.time_zone)
                                                                             - dsx.local_midnight(l.period_start, fa.time_zone))::numeric / 3600), 2)
       END AS utilisation,
       fa.currency AS billing_currency, COALESCE(t.revenue_billing, 0) AS revenue_billing, fa.time_zone,
       COALESCE(l.reserve_balance, 0) AS reserve_balance, COALESCE(l.lockup_balance, 0) AS lockup_balance,
       l.dscr AS last_dscr, COALESCE(l.debt_arrears, 0) AS debt_arrears, COALESCE(l.opex_arrears, 0) AS opex_arrears,
       COALESCE(t.opex_paid, 0) AS opex_paid_total, COALESCE(t.lockup_trapped, 0) AS lockup_trapped_total
  FROM dsx.agreements a
  JOIN dsx.factories fa ON fa.factory = a.factory
  LEFT JOIN LATERAL (
       SELECT pg_catalog.count(*) AS periods_settled, pg_catalog.min(s.period_start) AS first_period,
              pg_catalog.sum(s.gross) AS revenue, pg_catalog.sum(s.revenue_billing + s.adjustments_billing) AS revenue_billing,
              pg_catalog.sum(s.vendor_share) AS vendor_share,
              pg_catalog.sum(s.partner_share) AS partner_share, pg_catalog.sum(s.support_drawn) AS support_drawn,
              pg_catalog.sum(s.support_interest) AS support_interest, pg_catalog.sum(s.support_repaid) AS support_repaid,
              pg_catalog.sum(s.opex_paid) AS opex_paid, pg_catalog.sum(s.lockup_trapped) AS lockup_trapped
         FROM dsx.statements s WHERE s.agreement = a.agreement) t ON true
  LEFT JOIN LATERAL (
       SELECT s.period_start, s.period_end, s.support_balance, s.input_tokens, s.output_tokens,
              s.reserve_balance, s.lockup_balance, s.dscr, s.debt_arrears, s.opex_arrears
         FROM dsx.statements s WHERE s.agreement = a.agreement
        ORDER BY s.period_start DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (
       SELECT pg_catalog.sum(dsx.facility_outstanding(f.facility, COALESCE(l.period_end, a.starts))) AS loan_outstanding
         FROM dsx.credit_facilities f
        WHERE f.agreement = a.agreement) o ON true;
COMMENT ON VIEW dsx.vendor_portfolio IS 'The vendor''s view across partners, one row per agreement: what it earned, its credit support exposure, and how busy each factory was in its last settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.vendor IS 'The vendor';
COMMENT ON COLUMN dsx.vendor_portfolio.partner IS 'The capital partner';
COMMENT ON COLUMN dsx.vendor_portfolio.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.vendor_portfolio.factory IS 'The agreement''s factory';
COMMENT ON COLUMN dsx.vendor_portfolio.region IS 'Where the factory is';
COMMENT ON COLUMN dsx.vendor_portfolio.gpus IS 'GPUs installed in the factory';
COMMENT ON COLUMN dsx.vendor_portfolio.power_mw IS 'Factory power in megawatts';
COMMENT ON COLUMN dsx.vendor_portfolio.currency IS 'Settlement currency of the agreement: of every amount in the row but revenue_billing';
COMMENT ON COLUMN dsx.vendor_portfolio.billing_currency IS 'Currency the factory bills its customers in';
COMMENT ON COLUMN dsx.vendor_portfolio.revenue_billing IS 'Gross revenue of every settled period in the billing currency (revenue is the same converted, period by period)';
COMMENT ON COLUMN dsx.vendor_portfolio.time_zone IS 'Time zone of the factory''s local days and months';
COMMENT ON COLUMN dsx.vendor_portfolio.starts IS 'First month the agreement settles';
COMMENT ON COLUMN dsx.vendor_portfolio.periods_settled IS 'Monthly periods settled so far';
COMMENT ON COLUMN dsx.vendor_portfolio.first_period IS 'First settled period (NULL before any)';
COMMENT ON COLUMN dsx.vendor_portfolio.last_period IS 'Latest settled period (NULL before any)';
COMMENT ON COLUMN dsx.vendor_portfolio.revenue IS 'Total gross revenue (revenue + adjustments) of the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.vendor_share_earned IS 'Total revenue share allocated to the vendor over the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.partner_share_earned IS 'Total revenue share allocated to the partner over the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.support_drawn_total IS 'Total credit support the vendor paid to the lender';
COMMENT ON COLUMN dsx.vendor_portfolio.support_interest_total IS 'Total interest accrued on credit support';
COMMENT ON COLUMN dsx.vendor_portfolio.support_repaid_total IS 'Total repaid to the vendor';
COMMENT ON COLUMN dsx.vendor_portfolio.support_balance IS 'Credit support owed to the vendor after the latest settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.loan_outstanding IS 'Facility principal still owed to the lender after the payments due before the end of the latest settled period (before the agreement starts when none is settled); NULL without a facility';
COMMENT ON COLUMN dsx.vendor_portfolio.credit_exposure IS 'support_balance + loan_outstanding: what the vendor is owed plus the principal it stands behind (future interest not included)';
COMMENT ON COLUMN dsx.vendor_portfolio.last_period_tokens IS 'Tokens (input + output) served in the latest settled period, late usage excluded';
COMMENT ON COLUMN dsx.vendor_portfolio.reserve_balance IS 'Debt service reserve after the latest settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.lockup_balance IS 'Cash trapped by the lock-up after the latest settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.last_dscr IS 'DSCR of the latest settled period (NULL when nothing was scheduled, or before any)';
COMMENT ON COLUMN dsx.vendor_portfolio.debt_arrears IS 'Debt service of unsupported facilities unpaid after the latest settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.opex_arrears IS 'Operating costs unpaid after the latest settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.opex_paid_total IS 'Operating costs paid over the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.lockup_trapped_total IS 'Cash trapped by the lock-up over the settled periods (released or not)';
COMMENT ON COLUMN dsx.vendor_portfolio.utilisation IS 'Tokens served per GPU-hour in the latest settled period: last_period_tokens / (gpus x hours in the period), rounded to 2 decimals; NULL before any settlement or without GPUs. A throughput measure, not a percentage: dsx does not know a GPU''s capacity';

-- What blocks a settlement: usage no plan prices, per factory, customer, model and month.
CREATE OR REPLACE VIEW dsx.unpriced_usage WITH (security_invoker = true) AS
SELECT u.factory, f.partner, a.agreement, u.customer, u.model, u.period_start, cp.plan,
       u.events, u.input_tokens, u.output_tokens
  FROM (SELECT d.factory, d.customer, d.model, pg_catalog.date_trunc('month', d.day::timestamp)::date AS period_start,
               pg_catalog.sum(dsx.events(d.usage))::bigint AS events,
               pg_catalog.sum(dsx.input_tokens(d.usage))::bigint AS input_tokens,
               pg_catalog.sum(dsx.output_tokens(d.usage))::bigint AS output_tokens
          FROM dsx.usage_daily d
         GROUP BY 1, 2, 3, 4) u
  JOIN dsx.factories f ON f.factory = u.factory
  LEFT JOIN dsx.agreements a ON a.factory = u.factory
  LEFT JOIN LATERAL (SELECT c.plan FROM dsx.customer_plans c
                      WHERE c.factory = u.factory AND c.customer = u.customer AND c.valid_from <= u.period_start
                      ORDER BY c.valid_from DESC LIMIT 1) cp ON true
  -- priced is what dsx.line_price says: a price the period was booked with, else one in
  -- force for the period; written as joins (a function reading the books could be sent to
  -- a Citus worker)
  LEFT JOIN dsx.price_versions p ON p.factory = u.factory AND p.customer = u.customer AND p.model = u.model
                                AND p.valid_from <= u.period_start AND u.period_start < p.valid_until
  LEFT JOIN (SELECT DISTINCT l.agreement, l.for_period, l.customer, l.model FROM dsx.statement_lines l) b
         ON b.agreement = a.agreement AND b.for_period = u.period_start AND b.customer = u.customer AND b.model = u.model
 WHERE p.plan IS NULL AND b.agreement IS NULL
   AND (a.agreement IS NULL OR u.period_start >= a.starts);   -- before its start an agreement settles nothing
COMMENT ON VIEW dsx.unpriced_usage IS 'Usage no plan prices, per factory, customer, model and month: what makes a settlement fail with P0002 (a customer without a plan at the factory, or a plan without a price for the model). For operators and auditors';
COMMENT ON COLUMN dsx.unpriced_usage.factory IS 'Factory that served the tokens';
COMMENT ON COLUMN dsx.unpriced_usage.partner IS 'The partner running the factory';
COMMENT ON COLUMN dsx.unpriced_usage.agreement IS 'The agreement settling the factory (NULL when none does yet: the usage will block its first settlement); usage of months before the agreement starts is not listed, since it is never settled';
COMMENT ON COLUMN dsx.unpriced_usage.customer IS 'Customer the tokens are billed to';
COMMENT ON COLUMN dsx.unpriced_usage.model IS 'Model that served them';
COMMENT ON COLUMN dsx.unpriced_usage.period_start IS 'First day of the local month of the usage';
COMMENT ON COLUMN dsx.unpriced_usage.plan IS 'The customer''s plan at the factory in force for the month; NULL when it has none (else the plan lacks a price for the model then)';
COMMENT ON COLUMN dsx.unpriced_usage.events IS 'Usage events of the month';
COMMENT ON COLUMN dsx.unpriced_usage.input_tokens IS 'Input tokens of the month';
COMMENT ON COLUMN dsx.unpriced_usage.output_tokens IS 'Output tokens of the month';
