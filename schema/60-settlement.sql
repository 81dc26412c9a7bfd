-- schema/60-settlement.sql — the pure parts of settlement: periods, the waterfall, debt
-- service due, support interest, shares of an agreement, a period's rollups.

-- The month containing a date, as the half-open period settlement uses (local dates).
CREATE OR REPLACE FUNCTION dsx.period_end(period_start date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT (period_start + interval '1 month')::date $$;
COMMENT ON FUNCTION dsx.period_end(date) IS 'End (exclusive) of the monthly settlement period starting at period_start: the first day of the next month';

-- Local midnight of a day in a time zone, as an instant: where a factory's day, and its
-- period, starts. A daylight-saving change makes a day 23 or 25 hours long.
CREATE OR REPLACE FUNCTION dsx.local_midnight(day date, time_zone text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    -- Where clocks go back across midnight (America/Havana, 1 November), midnight comes
    -- twice and PostgreSQL reads it as the later: the day starts at the earlier, when the
    -- instant before the later one is already on that day.
    SELECT CASE WHEN pg_catalog.isfinite($1) AND pg_catalog.timezone($2, x.m - interval '1 microsecond')::date = $1
                THEN x.m - interval '1 microsecond' - (pg_catalog.timezone($2, x.m - interval '1 microsecond') - $1::timestamp)
                ELSE x.m END
      FROM (SELECT pg_catalog.timezone($2, $1::timestamp) AS m) x
$$;
COMMENT ON FUNCTION dsx.local_midnight(date, text) IS 'The first instant of the day in the time zone (the earlier, where midnight comes twice): a factory''s period [period_start, period_end) of local days is [local_midnight(period_start), local_midnight(period_end))';

-- The month a day belongs to (its first day): the settlement period of a day's usage.
CREATE OR REPLACE FUNCTION dsx.month_of(day date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.date_trunc('month', $1::timestamp)::date $$;
COMMENT ON FUNCTION dsx.month_of(date) IS 'The first day of the month of a day: the period a day''s usage settles in';


/*
 * The full priority of payments of one period (1.1), a pure function of its inputs: what
 * settlement and projection both run once the period's figures are known. Every amount
 * is in the settlement currency, in its minor units; avail starts at gross and each step
 * pays from it min(max(avail, 0), x):
 *   1. operating costs due and their arrears;            CFADS = gross - opex paid
 *      (costs due below zero, a credit, are "paid" negatively: they add to avail)
 *   2. each facility in rank order (the arrays are in rank order): its scheduled payment
 *      and arrears, from avail, then from the reserve while it lasts, then by credit
 *      support when supported, else carried as its arrears;
 *   3. the reserve: the excess over its target released, or topped up toward it;
 *   4. the vendor repaid, up to the opening support balance and its interest;
 *   5. lock-up: with a threshold and debt service scheduled, CFADS below threshold x
 *      scheduled (exactly) traps what is left; otherwise the lock-up balance is released;
 *   6. distributable = what is left.
 * Interest on the support balance and the reserve's target are inputs: they depend on
 * dates and terms, not on this period's cash.
 */
CREATE OR REPLACE FUNCTION dsx.priority_of_payments(
    gross numeric, opex_due numeric, opex_arrears_in numeric,
    scheduled numeric[], arrears_in numeric[], supported boolean[],
    reserve_opening numeric, reserve_target numeric,
    support_opening numeric, support_interest numeric,
    lockup_dscr numeric, lockup_opening numeric,
    OUT opex_paid numeric, OUT opex_arrears numeric, OUT cfads numeric,
    OUT paid numeric[], OUT from_reserve numeric[], OUT by_support numeric[], OUT arrears numeric[],
    OUT debt_service_due numeric, OUT debt_service_paid numeric, OUT reserve_drawn numeric,
    OUT support_drawn numeric, OUT reserve_topup numeric, OUT reserve_release numeric,
    OUT reserve_balance numeric, OUT support_repaid numeric, OUT support_balance numeric,
    OUT dscr numeric, OUT lockup_trapped numeric, OUT lockup_released numeric,
    OUT lockup_balance numeric, OUT distributable numeric)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    avail   numeric := gross;
    reserve numeric := reserve_opening;
    n       integer := COALESCE(array_length(scheduled, 1), 0);
    owed    numeric;
    x       numeric;
    sched   numeric := 0;
BEGIN
    -- every input but the lock-up threshold (NULL: no test) is required
    IF num_nulls(gross, opex_due, opex_arrears_in, scheduled, arrears_in, supported, reserve_opening,
                 reserve_target, support_opening, support_interest, lockup_opening) > 0
       OR array_position(scheduled, NULL) IS NOT NULL OR array_position(arrears_in, NULL) IS NOT NULL
       OR array_position(supported, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'priority_of_payments: only the lock-up threshold may be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF array_lower(scheduled, 1) <> 1 OR array_lower(arrears_in, 1) <> 1 OR array_lower(supported, 1) <> 1
       OR array_ndims(scheduled) > 1 OR array_ndims(arrears_in) > 1 OR array_ndims(supported) > 1 THEN
        RAISE EXCEPTION 'priority_of_payments takes one-dimensional arrays that start at element 1'
            USING ERRCODE = 'array_subscript_error';
    END IF;
    IF COALESCE(array_length(arrears_in, 1), 0) <> n OR COALESCE(array_length(supported, 1), 0) <> n THEN
        RAISE EXCEPTION 'priority_of_payments: % scheduled payments, % arrears and % supported flags',
              n, COALESCE(array_length(arrears_in, 1), 0), COALESCE(array_length(supported, 1), 0)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- costs due may be negative (a period's energy metered down after it closed): a credit
    -- that flows back into avail
    IF opex_arrears_in < 0 OR reserve_opening < 0 OR reserve_target < 0 OR support_opening < 0
       OR support_interest < 0 OR lockup_opening < 0 OR lockup_dscr < 0 THEN
        RAISE EXCEPTION 'priority_of_payments: arrears, balances, interest, target and threshold must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- 1. operating costs
    owed := opex_due + opex_arrears_in;
    opex_paid := LEAST(GREATEST(avail, 0), owed);
    opex_arrears := owed - opex_paid;
    avail := avail - opex_paid;
    cfads := gross - opex_paid;
    -- 2. debt service, most senior first
    paid := '{}'; from_reserve := '{}'; by_support := '{}'; arrears := '{}';
    debt_service_due := 0; debt_service_paid := 0; reserve_drawn := 0; support_drawn := 0;
    FOR k IN 1 .. n LOOP
        IF scheduled[k] < 0 OR arrears_in[k] < 0 THEN
            RAISE EXCEPTION 'priority_of_payments: facility % has a negative payment or arrears', k
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        sched := sched + scheduled[k];
        owed := scheduled[k] + arrears_in[k];
        debt_service_due := debt_service_due + owed;
        x := LEAST(GREATEST(avail, 0), owed);
        paid := paid || x;
        avail := avail - x;
        owed := owed - x;
        x := LEAST(reserve, owed);
        from_reserve := from_reserve || x;
        reserve := reserve - x;
        owed := owed - x;
        IF supported[k] THEN
            by_support := by_support || owed;
            arrears := arrears || 0::numeric;
        ELSE
            by_support := by_support || 0::numeric;
            arrears := arrears || owed;
        END IF;
        debt_service_paid := debt_service_paid + paid[k];
        reserve_drawn := reserve_drawn + from_reserve[k];
        support_drawn := support_drawn + by_support[k];
    END LOOP;
    -- 3. the reserve toward its target
    reserve_release := GREATEST(reserve - reserve_target, 0);
    reserve_topup := LEAST(GREATEST(avail, 0), GREATEST(reserve_target - reserve, 0));
    avail := avail + reserve_release - reserve_topup;
    reserve_balance := reserve - reserve_release + reserve_topup;
    -- 4. the vendor, interest first
    support_repaid := LEAST(GREATEST(avail, 0), support_opening + support_interest);
    avail := avail - support_repaid;
    support_balance := support_opening + support_interest + support_drawn - support_repaid;
    -- 5. lock-up
    -- the test compares exactly; the ratio is shown to 4 decimals
    dscr := CASE WHEN sched > 0 THEN round(cfads / sched, 4) END;
    IF lockup_dscr IS NOT NULL AND sched > 0 AND cfads < lockup_dscr * sched THEN
        lockup_trapped := GREATEST(avail, 0);
        lockup_released := 0;
    ELSE
        lockup_trapped := 0;
        lockup_released := lockup_opening;
    END IF;
    avail := avail - lockup_trapped + lockup_released;
    lockup_balance := lockup_opening + lockup_trapped - lockup_released;
    -- 6. what is left
    distributable := avail;
END
$$;
COMMENT ON FUNCTION dsx.priority_of_payments(numeric, numeric, numeric, numeric[], numeric[], boolean[], numeric,
                                             numeric, numeric, numeric, numeric, numeric) IS
'One period''s full priority of payments (1.1): operating costs, each facility in rank order (from revenue, the reserve, then credit support or arrears), the reserve toward its target, the vendor repaid, the lock-up test on CFADS / scheduled debt service, and what is left to distribute; a pure function of its inputs';
/*
 * The waterfall of one period as 1.0 has it (one supported facility, no costs, reserve or
 * lock-up): the full priority of payments below with those steps empty, so that there is
 * one implementation. Amounts in the currency's minor units.
 */
CREATE OR REPLACE FUNCTION dsx.waterfall(
    gross numeric, debt_service_due numeric, support_opening numeric, support_interest numeric,
    OUT debt_service_paid numeric, OUT support_drawn numeric, OUT support_repaid numeric,
    OUT support_balance numeric, OUT distributable numeric)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT p.debt_service_paid, p.support_drawn, p.support_repaid, p.support_balance, p.distributable
      FROM dsx.priority_of_payments(gross, 0, 0, ARRAY[debt_service_due], ARRAY[0::numeric], ARRAY[true],
                                    0, 0, support_opening, support_interest, NULL, 0) p
$$;
COMMENT ON FUNCTION dsx.waterfall(numeric, numeric, numeric, numeric) IS 'One period''s waterfall (SPEC section 6, steps 2-5): debt service paid from revenue, credit support drawn, repaid interest first, closing balance, and what is left to distribute';

-- Debt service due in [period_start, period_end) under an agreement's facility, rounded to
-- minor_units (the settlement currency's, whatever the facility's own column says). Parameters are
-- qualified: dsx.credit_facilities has a minor_units column of its own.
CREATE OR REPLACE FUNCTION dsx.debt_service_due(agreement text, period_start date, minor_units integer) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(sum(s.payment), 0)
      FROM dsx.credit_facilities f,
           LATERAL dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                                f.frequency, f.day_count, debt_service_due.minor_units, f.grace_periods) s
     WHERE f.agreement = debt_service_due.agreement
       AND s.due >= debt_service_due.period_start AND s.due < dsx.period_end(debt_service_due.period_start)
$$;
COMMENT ON FUNCTION dsx.debt_service_due(text, date, integer) IS 'Payments of the agreement''s credit facility schedule due in the settlement period starting at period_start';

/*
 * One period of an agreement through the full priority of payments: its facilities in rank
 * order (each one's scheduled payments in the period, rounded to the settlement currency's
 * minor units, and the arrears it carries in: arrears_in, the rows of dsx.statement_debt of
 * the period before), the reserve's target (every facility's payments scheduled in the
 * agreement's dsra_months next periods) and its lock-up threshold, with the period's gross,
 * operating costs and opening balances given. Settlement writes what this returns,
 * verification recomputes it, and dsx.project runs it forward: one implementation. A
 * facility owed nothing in the period has no part (so that one added for later periods
 * changes nothing of earlier ones).
 */
-- The credit facilities of a set of agreements, each agreement's as one array (in no order:
-- the waterfall ranks them). A function of its own with its search_path, not inlined: Citus
-- plans the query on its reference table by itself.
CREATE OR REPLACE FUNCTION dsx.facilities_of(agreements text[])
RETURNS TABLE(agreement text, facilities dsx.facility_terms[])
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.agreement, array_agg(ROW(c.facility, c.rank, c.lender, c.supported, c.principal, c.annual_rate, c.periods,
                                      c.first_due, c.method, c.frequency, c.day_count, c.grace_periods)::dsx.facility_terms)
      FROM dsx.credit_facilities c
     WHERE c.agreement = ANY (facilities_of.agreements)
     GROUP BY c.agreement
$$;
COMMENT ON FUNCTION dsx.facilities_of(text[]) IS 'The credit facilities of a set of agreements as the waterfall reads them: per agreement that has any, an array of dsx.facility_terms';

CREATE OR REPLACE FUNCTION dsx.period_waterfall_of(facilities dsx.facility_terms[], dsra_months integer,
                                                   lockup_dscr numeric, agreement text, period_start date,
                                                   gross numeric, opex_due numeric, opex_arrears_in numeric,
                                                   support_opening numeric, support_interest numeric,
                                                   reserve_opening numeric, lockup_opening numeric,
                                                   arrears_in dsx.statement_debt[], minor_units integer)
RETURNS TABLE(debt dsx.statement_debt[], opex_paid numeric, opex_arrears numeric, cfads numeric,
              debt_service_due numeric, debt_service_paid numeric, support_drawn numeric, debt_arrears numeric,
              support_repaid numeric, support_balance numeric, reserve_target numeric, reserve_drawn numeric,
              reserve_topup numeric, reserve_released numeric, reserve_balance numeric, dscr numeric,
              lockup_trapped numeric, lockup_released numeric, lockup_balance numeric, distributable numeric)
-- One SELECT in SQL that reads no table, neither strict nor with settings of its own: so
-- PostgreSQL inlines it into the query that calls it (settlement runs it once per statement,
-- inside one query), on one node and on a Citus coordinator alike (Citus refuses an inlined
-- function that reads its tables).
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
    -- each facility's part, in rank order: the rows of dsx.statement_debt
    SELECT ARRAY(SELECT ROW($4, $5, f.facilities[k], f.ranks[k], f.supported[k], f.lenders[k], f.scheduled[k],
                            f.arrears_opening[k], f.scheduled[k] + f.arrears_opening[k], p.paid[k],
                            p.from_reserve[k], p.by_support[k], p.arrears[k])::dsx.statement_debt
                   FROM pg_catalog.generate_subscripts(f.facilities, 1) k ORDER BY k),
           p.opex_paid, p.opex_arrears, p.cfads, p.debt_service_due, p.debt_service_paid, p.support_drawn,
           (SELECT COALESCE(sum(x), 0) FROM pg_catalog.unnest(p.arrears) x),
           p.support_repaid, p.support_balance, f.reserve_target, p.reserve_drawn, p.reserve_topup,
           p.reserve_release, p.reserve_balance, p.dscr, p.lockup_trapped, p.lockup_released, p.lockup_balance,
           p.distributable
      -- each facility's schedule, once: its payments in the period and in the dsra_months
      -- periods ahead, and the arrears it brings in
      FROM (SELECT COALESCE(array_agg(c.facility ORDER BY c.rank) FILTER (WHERE c.owed), '{}') AS facilities,
                   COALESCE(array_agg(c.rank ORDER BY c.rank) FILTER (WHERE c.owed), '{}') AS ranks,
                   COALESCE(array_agg(c.lender ORDER BY c.rank) FILTER (WHERE c.owed), '{}') AS lenders,
                   COALESCE(array_agg(c.supported ORDER BY c.rank) FILTER (WHERE c.owed), '{}') AS supported,
                   COALESCE(array_agg(c.scheduled ORDER BY c.rank) FILTER (WHERE c.owed), '{}') AS scheduled,
                   COALESCE(array_agg(c.arrears ORDER BY c.rank) FILTER (WHERE c.owed), '{}') AS arrears_opening,
                   COALESCE(sum(c.ahead), 0) AS reserve_target
              FROM (SELECT c.facility, c.rank, c.lender, c.supported, x.scheduled, x.ahead,
                           COALESCE(d.arrears, 0) AS arrears, x.scheduled <> 0 OR COALESCE(d.arrears, 0) <> 0 AS owed
                      FROM pg_catalog.unnest($1) c
                     CROSS JOIN LATERAL (
                           SELECT COALESCE(sum(y.payment) FILTER (WHERE y.due >= $5 AND y.due < dsx.period_end($5)), 0) AS scheduled,
                                  COALESCE(sum(y.payment) FILTER (WHERE y.due >= dsx.period_end($5)
                                                                    AND y.due < (dsx.period_end($5) + $2 * interval '1 month')::date), 0) AS ahead
                             FROM dsx.amortize(c.principal, c.annual_rate, c.periods, c.first_due, c.method,
                                               c.frequency, c.day_count, $14, c.grace_periods) y) x
                      LEFT JOIN pg_catalog.unnest($13) d ON d.facility = c.facility) c) f
     CROSS JOIN LATERAL dsx.priority_of_payments($6, $7, $8, f.scheduled, f.arrears_opening, f.supported,
                                                 $11, f.reserve_target, $9, $10, $3, $12) p
$$;
COMMENT ON FUNCTION dsx.period_waterfall_of(dsx.facility_terms[], integer, numeric, text, date, numeric, numeric,
                                            numeric, numeric, numeric, numeric, numeric, dsx.statement_debt[], integer) IS
'dsx.period_waterfall given the agreement''s facilities (dsx.facility_terms), dsra_months and lockup_dscr rather than reading them: what settlement''s query runs, for every agreement at once';

CREATE OR REPLACE FUNCTION dsx.period_waterfall(agreement text, period_start date, gross numeric,
                                                opex_due numeric, opex_arrears_in numeric,
                                                support_opening numeric, support_interest numeric,
                                                reserve_opening numeric, lockup_opening numeric,
                                                arrears_in dsx.statement_debt[], minor_units integer)
RETURNS TABLE(debt dsx.statement_debt[], opex_paid numeric, opex_arrears numeric, cfads numeric,
              debt_service_due numeric, debt_service_paid numeric, support_drawn numeric, debt_arrears numeric,
              support_repaid numeric, support_balance numeric, reserve_target numeric, reserve_drawn numeric,
              reserve_topup numeric, reserve_released numeric, reserve_balance numeric, dscr numeric,
              lockup_trapped numeric, lockup_released numeric, lockup_balance numeric, distributable numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT w.*
      FROM dsx.agreements g
      LEFT JOIN dsx.facilities_of(ARRAY[g.agreement]) t ON true
     CROSS JOIN LATERAL dsx.period_waterfall_of(
               COALESCE(t.facilities, '{}'), g.dsra_months,
               g.lockup_dscr, g.agreement, period_waterfall.period_start, period_waterfall.gross,
               period_waterfall.opex_due, period_waterfall.opex_arrears_in, period_waterfall.support_opening,
               period_waterfall.support_interest, period_waterfall.reserve_opening, period_waterfall.lockup_opening,
               period_waterfall.arrears_in, period_waterfall.minor_units) w
     WHERE g.agreement = period_waterfall.agreement;
END
$$;
COMMENT ON FUNCTION dsx.period_waterfall(text, date, numeric, numeric, numeric, numeric, numeric, numeric, numeric,
                                         dsx.statement_debt[], integer) IS
'An agreement''s period through dsx.priority_of_payments (one row; none for an unknown agreement): its facilities in rank order (scheduled payments, the arrears of arrears_in), the reserve''s target (the payments scheduled in its dsra_months next periods) and lock-up threshold, with the gross, costs and opening balances given; what settlement writes, verification recomputes and dsx.project runs forward';

/*
 * Operating costs. The costs in force for a period are each cost's version with the latest
 * valid_from on or before it; a fixed cost charges its amount, a power cost its amount per
 * MWh of the energy given (the factory's metered energy of the period's local days). The
 * period's O is the total of its costs rounded once (dsx.opex_of).
 */
CREATE OR REPLACE FUNCTION dsx.cost_lines(agreement text, for_period date, mwh numeric)
RETURNS TABLE(cost text, kind text, price numeric, mwh numeric, amount numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.cost, c.kind, c.amount,
           CASE WHEN c.kind = 'power' THEN cost_lines.mwh END,
           CASE WHEN c.kind = 'power' THEN c.amount * cost_lines.mwh ELSE c.amount END
      FROM (SELECT DISTINCT ON (o.cost) o.cost, o.kind, o.amount
              FROM dsx.operating_costs o
             WHERE o.agreement = cost_lines.agreement AND o.valid_from <= cost_lines.for_period
             ORDER BY o.cost, o.valid_from DESC) c
     ORDER BY c.cost
$$;
COMMENT ON FUNCTION dsx.cost_lines(text, date, numeric) IS 'The operating costs of an agreement in force for a period (the version of each with the latest valid_from on or before it), charged: a fixed cost its amount, a power cost its amount x mwh; exact';

-- A factory's metered energy over a period's local days, from each day's latest reading up
-- to a reading_id (what a statement saw).
CREATE OR REPLACE FUNCTION dsx.period_energy(factory text, period_start date, through_reading bigint) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(sum(d.mwh), 0)
      FROM (SELECT DISTINCT ON (r.day) r.mwh
              FROM dsx.energy_readings r
             WHERE r.factory = period_energy.factory AND r.day >= period_energy.period_start
               AND r.day < dsx.period_end(period_energy.period_start) AND r.reading_id <= period_energy.through_reading
             ORDER BY r.day, r.reading_id DESC) d
$$;
COMMENT ON FUNCTION dsx.period_energy(text, date, bigint) IS 'MWh a factory drew over the local days of a period: the sum of each day''s latest reading up to through_reading';

/*
 * The operating costs a statement charges, from its cost lines: its own period's total
 * rounded once, plus for each earlier period a line adjusts, the rounded total of that
 * period with the adjustment minus its rounded total as booked before (so that what a
 * period is charged over all statements is always its exact total of now, rounded once).
 */
CREATE OR REPLACE FUNCTION dsx.opex_of(agreement text, period_start date, costs dsx.statement_costs[], minor_units integer)
RETURNS TABLE(opex_due numeric, opex_adjustments numeric)
-- one row; a set, in SQL and without settings of its own, so that settlement's query inlines it
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
    WITH mine AS (
        SELECT c.for_period, sum(c.amount) AS amount FROM unnest(opex_of.costs) c
         WHERE c.agreement = opex_of.agreement AND c.period_start = opex_of.period_start
         GROUP BY c.for_period
    ), adj AS (
        SELECT round(b.amount + m.amount, opex_of.minor_units) - round(b.amount, opex_of.minor_units) AS amount
          FROM mine m
         CROSS JOIN LATERAL (SELECT COALESCE(sum(t.amount), 0) AS amount FROM dsx.statement_costs t
                              WHERE t.agreement = opex_of.agreement AND t.for_period = m.for_period
                                AND t.period_start < opex_of.period_start) b
         WHERE m.for_period < opex_of.period_start
    )
    SELECT round(COALESCE((SELECT round(m.amount, opex_of.minor_units) FROM mine m WHERE m.for_period = opex_of.period_start), 0)
                 + COALESCE((SELECT sum(adj.amount) FROM adj), 0), opex_of.minor_units),
           round(COALESCE((SELECT sum(adj.amount) FROM adj), 0), opex_of.minor_units)
$$;
COMMENT ON FUNCTION dsx.opex_of(text, date, dsx.statement_costs[], integer) IS 'A statement''s operating costs from its cost lines: the period''s total rounded once, plus for each closed period an energy adjustment names, that period''s total now rounded less its total as booked before rounded; and that adjustment part';

-- The terms the credit support bears interest at: the agreement's support_rate and
-- support_day_count, else the rate and day count of its most senior supported facility;
-- no row without either.
CREATE OR REPLACE FUNCTION dsx.support_terms(agreement text, OUT annual_rate numeric, OUT day_count text)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE
ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(a.support_rate, f.annual_rate), COALESCE(a.support_day_count, f.day_count)
      FROM dsx.agreements a
      LEFT JOIN LATERAL (SELECT c.annual_rate, c.day_count FROM dsx.credit_facilities c
                          WHERE c.agreement = a.agreement AND c.supported ORDER BY c.rank LIMIT 1) f ON true
     WHERE a.agreement = support_terms.agreement AND COALESCE(a.support_rate, f.annual_rate) IS NOT NULL
$$;
COMMENT ON FUNCTION dsx.support_terms(text) IS 'Rate and day count of an agreement''s credit support: its support_rate and support_day_count, else those of its most senior supported facility; no row when it has neither';

-- Interest on a credit support balance over a period, at given support terms (none: 0);
-- and the same at an agreement's own terms. Settlement reads every agreement's terms in
-- one query and projection once per run, then apply the first.
CREATE OR REPLACE FUNCTION dsx.support_interest_at(balance numeric, annual_rate numeric, day_count text,
                                                   period_start date, minor_units integer) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT COALESCE(dsx.interest($1, $2, $4, dsx.period_end($4), $3, $5), 0)
$$;
COMMENT ON FUNCTION dsx.support_interest_at(numeric, numeric, text, date, integer) IS 'round(balance x annual_rate x year fraction of the period starting at period_start in day_count), exact until that one rounding, half away from zero; 0 without a rate';
CREATE OR REPLACE FUNCTION dsx.support_interest(agreement text, balance numeric, period_start date, minor_units integer) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT dsx.support_interest_at(support_interest.balance, t.annual_rate, t.day_count, support_interest.period_start,
                                   support_interest.minor_units)
      FROM (SELECT) one LEFT JOIN dsx.support_terms(support_interest.agreement) t ON true
$$;
COMMENT ON FUNCTION dsx.support_interest(text, numeric, date, integer) IS 'round(B x support rate x year fraction of the period in the support day count (dsx.support_terms)), exact until that one rounding, half away from zero; 0 without support terms';

-- The revenue split in force for a period: the agreement's dsx.agreement_splits row with the
-- latest valid_from on or before the period, else agreements.revenue_split (valid_from NULL).
CREATE OR REPLACE FUNCTION dsx.split_in_force(agreement text, period_start date)
RETURNS TABLE(valid_from date, revenue_split dsx.split)
LANGUAGE sql STABLE PARALLEL SAFE
ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.valid_from, COALESCE(x.revenue_split, g.revenue_split)
      FROM dsx.agreements g
      LEFT JOIN LATERAL (SELECT s.valid_from, s.revenue_split FROM dsx.agreement_splits s
                          WHERE s.agreement = g.agreement AND s.valid_from <= $2
                          ORDER BY s.valid_from DESC LIMIT 1) x ON true
     WHERE g.agreement = $1
$$;
COMMENT ON FUNCTION dsx.split_in_force(text, date) IS 'The revenue split of an agreement for the period starting at period_start: its amendment (dsx.agreement_splits) with the latest valid_from on or before it, else agreements.revenue_split (valid_from NULL)';

/*
 * Currencies. A billing-currency amount becomes a settlement-currency amount at the
 * period's rate, rounded once, half away from zero. For period_average the rate is the mean
 * of the days' rates, which need not be a terminating decimal: the conversion is carried out
 * on the exact fraction amount x (sum of the rates) / days.
 */
CREATE OR REPLACE FUNCTION dsx.convert(amount numeric, rate_sum numeric, days integer, minor_units integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    -- |n| / d rounded half away from zero is floor((2|n| + d) / 2d), an exact integer division
    SELECT pg_catalog.round(pg_catalog.sign(n) * pg_catalog.div(2 * abs(n) + $3, 2 * $3) / 10::numeric ^ $4, $4)
      FROM (SELECT $1 * $2 * 10::numeric ^ $4 AS n) x
$$;
COMMENT ON FUNCTION dsx.convert(numeric, numeric, integer, integer) IS 'amount x rate_sum / days, rounded once (half away from zero) to minor_units, exactly: a conversion at a rate (days 1) or at the mean of days rates';

-- The rate of a pair on a day: the latest on or before it. No row when there is none.
CREATE OR REPLACE FUNCTION dsx.fx_rate_on(base text, quote text, day date) RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.rate FROM dsx.fx_rates r
     WHERE r.base = $1 AND r.quote = $2 AND r.rate_date <= $3
     ORDER BY r.rate_date DESC LIMIT 1
$$;
COMMENT ON FUNCTION dsx.fx_rate_on(text, text, date) IS 'The rate of one unit of base in quote in force on a day (that of the latest rate_date on or before it); NULL when there is none';

-- The rate a period converts at, by an FX rule: the sum of the rates and how many days they
-- stand for (period_end: the last local day's rate, 1; period_average: every local day's).
-- A day without a rate refuses the settlement (55000), naming the pair and the day. The same
-- currency on both sides converts nothing: all NULL.
CREATE OR REPLACE FUNCTION dsx.period_fx(base text, quote text, fx_rule text, period_start date,
                                         OUT rate_sum numeric, OUT days integer, OUT rate numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_missing date;
    v_last    date := dsx.period_end(period_fx.period_start) - 1;
BEGIN
    IF base = quote THEN
        RETURN;          -- nothing to convert: all NULL
    END IF;
    IF fx_rule = 'period_end' THEN
        rate_sum := dsx.fx_rate_on(base, quote, v_last);
        days := 1;
        v_missing := CASE WHEN rate_sum IS NULL THEN v_last END;
    ELSE
        SELECT sum(x.r), count(*)::integer, min(x.d) FILTER (WHERE x.r IS NULL)
          INTO rate_sum, days, v_missing
          FROM (SELECT g.d::date AS d, dsx.fx_rate_on(base, quote, g.d::date) AS r
                  FROM pg_catalog.generate_series(period_fx.period_start::timestamp, v_last::timestamp, interval '1 day') g(d)) x;
    END IF;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'no FX rate % to % for %', base, quote, v_missing
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The period %s converts %s to %s at %s; no rate of the pair is dated on or before %s.',
                                  period_fx.period_start, base, quote,
                                  CASE fx_rule WHEN 'period_end' THEN 'the rate of its last day'
                                               ELSE 'the mean of its days'' rates' END, v_missing),
                  HINT = format('Add the rate to dsx.fx_rates (base %s, quote %s, rate_date on or before %s).', base, quote, v_missing);
    END IF;
    -- the mean shown: to 20 decimal places, or to 16 significant digits when the mean is
    -- so small that 20 places would keep fewer (conversion uses the exact fraction)
    rate := CASE WHEN days = 1 THEN rate_sum
                 ELSE pg_catalog.round(rate_sum / days,
                                       LEAST(1000, GREATEST(20, 15 - pg_catalog.floor(pg_catalog.log(rate_sum / days))::integer))) END;
    IF rate <= 0 THEN
        RAISE EXCEPTION 'FX rate % to % for the period % is too small to show', base, quote, period_fx.period_start
            USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.period_fx(text, text, text, date) IS 'The rate a period starting at period_start converts base to quote at, by an FX rule: rate_sum over days (period_end: the rate of the last local day, 1; period_average: every local day''s rate), and the rate shown (their mean, to 20 decimal places or 16 significant digits, whichever is finer); 55000 naming the pair and the day when a day has no rate';

-- Shares of the distributable amount by an agreement's split, with the names vendor and
-- partner resolved to its parties. Pure (the caller reads the agreement): a function that
-- read a table could not be inlined into settlement's queries on Citus.
CREATE OR REPLACE FUNCTION dsx.agreement_shares(revenue_split dsx.split, vendor text, partner text,
                                                distributable numeric, minor_units integer)
RETURNS TABLE(party text, amount numeric)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT dsx.agreement_party(s.party, $2, $3), s.amount FROM dsx.allocate($4, $1, $5) s
$$;
COMMENT ON FUNCTION dsx.agreement_shares(dsx.split, text, text, numeric, integer) IS 'dsx.allocate of an amount by an agreement''s revenue split, with vendor and partner resolved to the agreement''s parties';

-- The usage of a period per factory, customer and model, summed from the daily rollups, for
-- a set of factories. Planned for each call (EXECUTE, the factories a constant): one
-- factory's rollups are read through the index, a thousand factories' in one scan probing
-- a hash of the factories, by parallel workers where PostgreSQL has them (RETURN QUERY may
-- run in parallel; a query that writes may not).
CREATE OR REPLACE FUNCTION dsx.period_rollups(factories text[], period_start date, period_end date)
RETURNS TABLE(factory text, customer text, model text, u dsx.usage)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT d.factory, d.customer, d.model, dsx.rollup(d.usage)
           FROM dsx.usage_daily d
          WHERE d.factory = ANY ($1) AND d.day >= $2 AND d.day < $3
          GROUP BY d.factory, d.customer, d.model'
        USING factories, period_start, period_end;
END
$$;
COMMENT ON FUNCTION dsx.period_rollups(text[], date, date) IS 'Usage of the half-open period [period_start, period_end) per factory, customer and model, for a set of factories: dsx.rollup of their daily rollups (what settlement rates)';
