-- schema/80-views.sql — the views BI tools read (built-in column types only,
-- security_invoker).

/*
 * Every column of a view has a built-in type with a declared size, so that ODBC and JDBC
 * drivers report a finite precision and scale that hold every value (an unbounded numeric
 * is reported as the driver's default, numeric(28,6) for psqlODBC, and rounded to it):
 *   amounts        numeric(38,6)  each rounded to its currency's minor unit (0 to 6
 *                                 decimals); 32 digits before the point, where the largest
 *                                 line dsx can rate (2^63 tokens at the highest price, 10^9
 *                                 a million) has 22
 *   DSCR           numeric(38,4)  to 4 decimals, as settled
 *   FX rates       numeric(38,24) the rate a period converted at, shown to 24 decimals
 *                                 (the conversion itself used the exact rate)
 *   utilisation    numeric(38,2), power numeric(38,6) (shown to 6 decimals)
 *   prices         text           a flat price or its tiers (dsx.price reads them back)
 *   tokens bigint; counts integer or bigint; days and periods date; instants timestamptz.
 * Amounts, DSCR and tokens hold exactly what the books hold. A value too large for its
 * column (an FX rate of 10^14, a customer's month of more than 2^63 tokens) is an error
 * (22003) for whoever reads its row, never a wrap.
 */

CREATE OR REPLACE VIEW dsx.facility_position WITH (security_invoker = true) AS
    SELECT p.facility, p.agreement, p.lender, p.as_of, p.next_period, p.next_due,
           p.next_payment::numeric(38,6) AS next_payment, p.next_interest::numeric(38,6) AS next_interest,
           p.next_principal::numeric(38,6) AS next_principal,
           p.outstanding_principal::numeric(38,6) AS outstanding_principal, p.remaining_periods, p.maturity
      FROM dsx.facility_position_at(CURRENT_DATE) p;
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
       s.input_tokens, s.output_tokens, s.revenue::numeric(38,6) AS revenue, s.adjustments::numeric(38,6) AS adjustments,
       s.gross::numeric(38,6) AS gross,
       s.debt_service_due::numeric(38,6) AS debt_service_due, s.debt_service_paid::numeric(38,6) AS debt_service_paid,
       s.support_opening::numeric(38,6) AS support_opening, s.support_drawn::numeric(38,6) AS support_drawn,
       s.support_interest::numeric(38,6) AS support_interest, s.support_repaid::numeric(38,6) AS support_repaid,
       s.support_balance::numeric(38,6) AS support_balance, s.distributable::numeric(38,6) AS distributable,
       s.vendor_share::numeric(38,6) AS vendor_share, s.partner_share::numeric(38,6) AS partner_share,
       (s.distributable - s.vendor_share - s.partner_share)::numeric(38,6) AS other_shares,
       s.settled_at,
       s.billing_currency, s.revenue_billing::numeric(38,6) AS revenue_billing,
       s.adjustments_billing::numeric(38,6) AS adjustments_billing,
       (s.revenue_billing + s.adjustments_billing)::numeric(38,6) AS gross_billing,
       s.fx_rate::numeric(38,24) AS fx_rate, s.split_valid_from,
       s.opex_due::numeric(38,6) AS opex_due, s.opex_paid::numeric(38,6) AS opex_paid,
       s.opex_arrears::numeric(38,6) AS opex_arrears, s.cfads::numeric(38,6) AS cfads,
       s.debt_arrears::numeric(38,6) AS debt_arrears, s.reserve_drawn::numeric(38,6) AS reserve_drawn,
       s.reserve_topup::numeric(38,6) AS reserve_topup, s.reserve_released::numeric(38,6) AS reserve_released,
       s.reserve_balance::numeric(38,6) AS reserve_balance, s.lockup_trapped::numeric(38,6) AS lockup_trapped,
       s.lockup_released::numeric(38,6) AS lockup_released, s.lockup_balance::numeric(38,6) AS lockup_balance,
       s.dscr::numeric(38,4) AS dscr
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

/*
 * Daily usage whose revenue adds up to the books. A month's revenue for a customer and
 * model is its booked amount when the month is settled (the factory's agreement has a
 * statement for it): the month's own line plus every adjustment line later statements
 * booked for it (0 when nothing was); otherwise a provisional line, the month rated now at
 * the price in force and rounded once. That amount is spread over the month's days by
 * largest remainder, in minor units, weighted by what each day added to the month's exact
 * charge (at the booked prices when settled): each day gets floor(amount x weight / total)
 * and the units left over go to the days with the largest remainders, the earlier day
 * first on a tie. Weights that total 0 fall back to the days' tokens, then to equal parts.
 * A settled month with no usage left (all of it voided since) shows its booked amount on
 * its first day, with no tokens, until a statement books the reversal. The days of a month
 * therefore add up exactly to its lines.
 */
-- The books partner_usage_daily reads, each in a query of its own: the months settled per
-- factory, and what the lines of each month hold per customer and model with the prices of
-- its first line. (On Citus the books are local to the coordinator and the usage is
-- distributed; a join of the two under row-level security in one query is beyond Citus's
-- planner, so the view joins their results.) The caller's rights: row-level security
-- applies.
CREATE OR REPLACE FUNCTION dsx.settled_months() RETURNS TABLE(factory text, period_start date)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT a.factory, s.period_start FROM dsx.statements s JOIN dsx.agreements a ON a.agreement = s.agreement;
END
$$;
COMMENT ON FUNCTION dsx.settled_months() IS 'The settled months of every factory the caller may see (for dsx.partner_usage_daily)';
CREATE OR REPLACE FUNCTION dsx.booked_months()
RETURNS TABLE(factory text, for_period date, customer text, model text, amount numeric,
              input_price dsx.price, output_price dsx.price)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT a.factory, l.for_period, l.customer, l.model, pg_catalog.sum(l.amount),
           (pg_catalog.array_agg(l.input_price ORDER BY l.period_start))[1],
           (pg_catalog.array_agg(l.output_price ORDER BY l.period_start))[1]
      FROM dsx.statement_lines l JOIN dsx.agreements a ON a.agreement = l.agreement
     GROUP BY a.factory, l.for_period, l.customer, l.model;
END
$$;
COMMENT ON FUNCTION dsx.booked_months() IS 'What the statement lines the caller may see hold for each factory, month, customer and model (the month''s own line and the adjustments booked for it since), with the prices of its first line (for dsx.partner_usage_daily)';

CREATE OR REPLACE VIEW dsx.partner_usage_daily WITH (security_invoker = true) AS
WITH d AS (
    SELECT u.factory, u.customer, u.model, u.day, u.month, u.events, u.input_tokens, u.output_tokens,
           (pg_catalog.sum(u.input_tokens) OVER w)::bigint AS mtd_input,
           (pg_catalog.sum(u.output_tokens) OVER w)::bigint AS mtd_output
      FROM (SELECT x.factory, x.customer, x.model, x.day, pg_catalog.date_trunc('month', x.day::timestamp)::date AS month,
                   dsx.events(x.usage) AS events, dsx.input_tokens(x.usage) AS input_tokens,
                   dsx.output_tokens(x.usage) AS output_tokens
              FROM dsx.usage_daily x) u
    WINDOW w AS (PARTITION BY u.factory, u.customer, u.model, u.month ORDER BY u.day)
), bm AS (
    -- (read once, for both parts of the view; lines exist only for settled months)
    SELECT * FROM dsx.booked_months()
), w AS (
    SELECT d.*, f.partner, f.currency, c.minor_units AS mu, s.factory IS NOT NULL AS settled, b.amount AS booked,
           COALESCE(b.input_price, p.input_price::dsx.price) AS ip,
           COALESCE(b.output_price, p.output_price::dsx.price) AS op
      FROM d
      JOIN dsx.factories f ON f.factory = d.factory
      JOIN dsx.currencies c ON c.currency = f.currency
      LEFT JOIN dsx.settled_months() s ON s.factory = d.factory AND s.period_start = d.month
      LEFT JOIN bm b ON b.factory = d.factory AND b.for_period = d.month AND b.customer = d.customer AND b.model = d.model
      LEFT JOIN dsx.price_versions p ON p.factory = d.factory AND p.customer = d.customer AND p.model = d.model
                                    AND p.valid_from <= d.month AND d.month < p.valid_until
), x AS (
    -- each day's exact revenue: what it added to the month's charge
    SELECT w.*,
           dsx.charge(w.mtd_input, w.ip) + dsx.charge(w.mtd_output, w.op)
           - dsx.charge(w.mtd_input - w.input_tokens, w.ip) - dsx.charge(w.mtd_output - w.output_tokens, w.op) AS exact
      FROM w
), t AS (
    SELECT x.*,
           pg_catalog.sum(x.exact) OVER g AS exact_total,
           pg_catalog.sum(x.input_tokens + x.output_tokens) OVER g AS tokens_total,
           pg_catalog.count(*) OVER g AS days
      FROM x
    WINDOW g AS (PARTITION BY x.factory, x.customer, x.model, x.month)
), q AS (
    -- the month's amount in minor units, each day's weight, their total made positive
    SELECT t.*, m.units, m.weight * pg_catalog.sign(m.total) AS weight, abs(m.total) AS total
      FROM t
     CROSS JOIN LATERAL (
           SELECT CASE WHEN t.settled THEN COALESCE(t.booked, 0) ELSE pg_catalog.round(t.exact_total, t.mu) END
                  * 10::numeric ^ t.mu AS units,
                  CASE WHEN t.exact_total <> 0 THEN t.exact
                       WHEN t.tokens_total <> 0 THEN (t.input_tokens + t.output_tokens)::numeric ELSE 1 END AS weight,
                  CASE WHEN t.exact_total <> 0 THEN t.exact_total
                       WHEN t.tokens_total <> 0 THEN t.tokens_total::numeric ELSE t.days::numeric END AS total) m
), r AS (
    -- floor(units x weight / total) and its remainder, exactly
    SELECT q.*, fl.part, q.units * q.weight - fl.part * q.total AS remainder
      FROM q
     CROSS JOIN LATERAL (SELECT pg_catalog.div(q.units * q.weight, q.total)
                                - CASE WHEN pg_catalog.mod(q.units * q.weight, q.total) < 0 THEN 1 ELSE 0 END AS part) fl
), al AS (
    SELECT r.*,
           r.units - pg_catalog.sum(r.part) OVER g AS left_over,
           pg_catalog.row_number() OVER (PARTITION BY r.factory, r.customer, r.model, r.month
                                         ORDER BY r.remainder DESC, r.day) AS place
      FROM r
    WINDOW g AS (PARTITION BY r.factory, r.customer, r.model, r.month)
)
SELECT al.partner, al.factory, al.customer, al.model, al.day, al.currency,
       al.events, al.input_tokens, al.output_tokens, al.input_tokens + al.output_tokens AS total_tokens,
       (CASE WHEN al.settled OR al.ip IS NOT NULL THEN
             (al.part + CASE WHEN al.place <= al.left_over THEN 1 ELSE 0 END) / 10::numeric ^ al.mu
        END)::numeric(38,6) AS revenue,
       al.settled
  FROM al
UNION ALL
-- a settled month whose usage was all voided since keeps what the books hold for it, on its
-- first day, until a statement books the reversal
SELECT f.partner, b.factory, b.customer, b.model, b.for_period, f.currency, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
       b.amount::numeric(38,6), true
  FROM bm b
  JOIN dsx.factories f ON f.factory = b.factory
  LEFT JOIN (SELECT x.factory, x.customer, x.model, pg_catalog.date_trunc('month', x.day::timestamp)::date AS month
               FROM dsx.usage_daily x GROUP BY 1, 2, 3, 4) u
         ON u.factory = b.factory AND u.customer = b.customer AND u.model = b.model AND u.month = b.for_period
 WHERE u.factory IS NULL AND b.amount <> 0;
COMMENT ON VIEW dsx.partner_usage_daily IS 'One row per factory, customer, model and local day of usage (the factory''s time zone), with the day''s part of its month''s revenue: of the amount the books hold for the month when it is settled, else of a provisional line (the month rated now, at the price in force, rounded once), spread over the days by largest remainder weighted by what each day added to the month''s exact charge. The days of a month add up exactly to its lines (dsx.partner_revenue_lines); live: usage shows as soon as it is ingested';
COMMENT ON COLUMN dsx.partner_usage_daily.partner IS 'The capital partner running the factory';
COMMENT ON COLUMN dsx.partner_usage_daily.factory IS 'Factory that served the tokens';
COMMENT ON COLUMN dsx.partner_usage_daily.customer IS 'Customer the tokens are billed to';
COMMENT ON COLUMN dsx.partner_usage_daily.model IS 'Model that served them';
COMMENT ON COLUMN dsx.partner_usage_daily.day IS 'Local calendar day of the factory';
COMMENT ON COLUMN dsx.partner_usage_daily.currency IS 'ISO 4217 currency of revenue (the factory''s billing currency)';
COMMENT ON COLUMN dsx.partner_usage_daily.events IS 'Usage events of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.input_tokens IS 'Input tokens of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.output_tokens IS 'Output tokens of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.total_tokens IS 'input_tokens + output_tokens';
COMMENT ON COLUMN dsx.partner_usage_daily.revenue IS 'The day''s part of its month''s revenue for the customer and model, in the minor unit: settled, of what the books hold for the month (its line and the adjustment lines booked for it since; 0 when none), weighted at the prices it was booked with; not settled, of the month rated now and rounded once. The days of a month add up to the month exactly. NULL for a month not settled whose usage no plan prices';
COMMENT ON COLUMN dsx.partner_usage_daily.settled IS 'True when the month is settled (the revenue is the books''); false for a provisional figure that changes as usage arrives';

CREATE OR REPLACE VIEW dsx.partner_revenue_lines WITH (security_invoker = true) AS
SELECT a.partner, l.agreement, a.factory, l.period_start, l.for_period, l.for_period < l.period_start AS adjustment,
       l.customer, l.model, l.input_tokens, l.output_tokens, l.amount::numeric(38,6) AS amount,
       s.billing_currency AS currency, l.plan, l.input_price::text AS input_price, l.output_price::text AS output_price
  FROM dsx.statement_lines l
  JOIN dsx.statements s ON s.agreement = l.agreement AND s.period_start = l.period_start
  JOIN dsx.agreements a ON a.agreement = l.agreement;
COMMENT ON VIEW dsx.partner_revenue_lines IS 'One row per line of every statement: a customer and model''s usage of a period, rated and rounded once, in the billing currency. Summed per statement, amount gives its revenue_billing (lines of its own period) and adjustments_billing (adjustment lines); summed per for_period, what the books hold for a month, which dsx.partner_usage_daily spreads over its days';
COMMENT ON COLUMN dsx.partner_revenue_lines.partner IS 'The capital partner running the factory';
COMMENT ON COLUMN dsx.partner_revenue_lines.agreement IS 'Agreement whose statement holds the line';
COMMENT ON COLUMN dsx.partner_revenue_lines.factory IS 'The agreement''s factory';
COMMENT ON COLUMN dsx.partner_revenue_lines.period_start IS 'The statement''s period (first day of its local month)';
COMMENT ON COLUMN dsx.partner_revenue_lines.for_period IS 'The period the usage belongs to: period_start for the statement''s own lines, an earlier closed period for an adjustment';
COMMENT ON COLUMN dsx.partner_revenue_lines.adjustment IS 'True for an adjustment line: late usage or a void of the closed period for_period, re-rated at the prices it was booked with, less what was booked';
COMMENT ON COLUMN dsx.partner_revenue_lines.customer IS 'Customer billed';
COMMENT ON COLUMN dsx.partner_revenue_lines.model IS 'Model that served the tokens';
COMMENT ON COLUMN dsx.partner_revenue_lines.input_tokens IS 'Input tokens (for an adjustment, the change)';
COMMENT ON COLUMN dsx.partner_revenue_lines.output_tokens IS 'Output tokens (for an adjustment, the change)';
COMMENT ON COLUMN dsx.partner_revenue_lines.amount IS 'The line''s amount, rounded once to the billing currency''s minor unit (for an adjustment, the change)';
COMMENT ON COLUMN dsx.partner_revenue_lines.currency IS 'ISO 4217 billing currency of amount (the statement''s billing_currency)';
COMMENT ON COLUMN dsx.partner_revenue_lines.plan IS 'The customer''s plan the line was rated under';
COMMENT ON COLUMN dsx.partner_revenue_lines.input_price IS 'Price per million input tokens the line was rated at, as text (a flat price or its tiers)';
COMMENT ON COLUMN dsx.partner_revenue_lines.output_price IS 'Price per million output tokens the line was rated at, as text (a flat price or its tiers)';

CREATE OR REPLACE VIEW dsx.credit_support_position WITH (security_invoker = true) AS
SELECT a.partner, s.agreement, a.vendor, f.facility, f.lender, s.period_start, s.period_end, s.currency,
       s.debt_service_due::numeric(38,6) AS debt_service_due, s.debt_service_paid::numeric(38,6) AS debt_service_paid,
       s.support_opening::numeric(38,6) AS support_opening, s.support_drawn::numeric(38,6) AS support_drawn,
       s.support_interest::numeric(38,6) AS support_interest, s.support_repaid::numeric(38,6) AS support_repaid,
       s.support_balance::numeric(38,6) AS support_balance,
       (SELECT pg_catalog.sum(dsx.facility_outstanding(c.facility, s.period_end))
          FROM dsx.credit_facilities c WHERE c.agreement = s.agreement)::numeric(38,6) AS loan_outstanding,
       s.debt_arrears::numeric(38,6) AS debt_arrears, s.reserve_opening::numeric(38,6) AS reserve_opening,
       s.reserve_drawn::numeric(38,6) AS reserve_drawn, s.reserve_topup::numeric(38,6) AS reserve_topup,
       s.reserve_released::numeric(38,6) AS reserve_released, s.reserve_balance::numeric(38,6) AS reserve_balance,
       s.opex_due::numeric(38,6) AS opex_due, s.opex_paid::numeric(38,6) AS opex_paid,
       s.opex_arrears::numeric(38,6) AS opex_arrears, s.cfads::numeric(38,6) AS cfads, s.dscr::numeric(38,4) AS dscr,
       s.lockup_trapped::numeric(38,6) AS lockup_trapped, s.lockup_released::numeric(38,6) AS lockup_released,
       s.lockup_balance::numeric(38,6) AS lockup_balance
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
SELECT a.vendor, a.partner, a.agreement, a.factory, fa.region, fa.gpus::bigint AS gpus, fa.power_mw::numeric(38,6) AS power_mw,
       a.settlement_currency AS currency, a.starts,
       COALESCE(t.periods_settled, 0) AS periods_settled, t.first_period, l.period_start AS last_period,
       COALESCE(t.revenue, 0)::numeric(38,6) AS revenue,
       COALESCE(t.vendor_share, 0)::numeric(38,6) AS vendor_share_earned,
       COALESCE(t.partner_share, 0)::numeric(38,6) AS partner_share_earned,
       COALESCE(t.support_drawn, 0)::numeric(38,6) AS support_drawn_total,
       COALESCE(t.support_interest, 0)::numeric(38,6) AS support_interest_total,
       COALESCE(t.support_repaid, 0)::numeric(38,6) AS support_repaid_total,
       COALESCE(l.support_balance, 0)::numeric(38,6) AS support_balance,
       o.loan_outstanding::numeric(38,6) AS loan_outstanding,
       (COALESCE(l.support_balance, 0) + COALESCE(o.loan_outstanding, 0))::numeric(38,6) AS credit_exposure,
       l.input_tokens + l.output_tokens AS last_period_tokens,
       CASE WHEN fa.gpus > 0 AND l.period_start IS NOT NULL THEN
            pg_catalog.round((l.input_tokens + l.output_tokens)::numeric
                             / (fa.gpus::numeric * pg_catalog.date_part('epoch', dsx.local_midnight(l.period_end, fa.time_zone)
                                                                             - dsx.local_midnight(l.period_start, fa.time_zone))::numeric / 3600), 2)
       END::numeric(38,2) AS utilisation,
       fa.currency AS billing_currency, COALESCE(t.revenue_billing, 0)::numeric(38,6) AS revenue_billing, fa.time_zone,
       COALESCE(l.reserve_balance, 0)::numeric(38,6) AS reserve_balance,
       COALESCE(l.lockup_balance, 0)::numeric(38,6) AS lockup_balance,
       l.dscr::numeric(38,4) AS last_dscr, COALESCE(l.debt_arrears, 0)::numeric(38,6) AS debt_arrears,
       COALESCE(l.opex_arrears, 0)::numeric(38,6) AS opex_arrears,
       COALESCE(t.opex_paid, 0)::numeric(38,6) AS opex_paid_total,
       COALESCE(t.lockup_trapped, 0)::numeric(38,6) AS lockup_trapped_total
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
