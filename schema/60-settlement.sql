-- schema/60-settlement.sql — the pure parts of settlement: periods, the waterfall, debt
-- service due, support interest, shares of an agreement, a period's rollups.

-- The month containing a date, as the half-open UTC period settlement uses.
CREATE OR REPLACE FUNCTION dsx.period_end(period_start date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT (period_start + interval '1 month')::date $$;
COMMENT ON FUNCTION dsx.period_end(date) IS 'End (exclusive) of the monthly settlement period starting at period_start';

-- The month a day belongs to (its first day): the settlement period of a day's usage.
CREATE OR REPLACE FUNCTION dsx.month_of(day date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.date_trunc('month', $1::timestamp)::date $$;
COMMENT ON FUNCTION dsx.month_of(date) IS 'The first day of the month of a day: the period a day''s usage settles in';

/*
 * The waterfall of one period, as a pure function of its inputs: everything settle()
 * and verify_settlement() compute past rating. Amounts in the currency's minor units.
 */
CREATE OR REPLACE FUNCTION dsx.waterfall(
    gross numeric, debt_service_due numeric, support_opening numeric, support_interest numeric,
    OUT debt_service_paid numeric, OUT support_drawn numeric, OUT support_repaid numeric,
    OUT support_balance numeric, OUT distributable numeric)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT p, d - p, r, b + i + (d - p) - r, (g - p) - r
      FROM (SELECT gross AS g, debt_service_due AS d, support_opening AS b, support_interest AS i,
                   LEAST(GREATEST(gross, 0), debt_service_due) AS p) x,
           LATERAL (SELECT LEAST(GREATEST(x.g - x.p, 0), x.b + x.i) AS r) y
$$;
COMMENT ON FUNCTION dsx.waterfall(numeric, numeric, numeric, numeric) IS 'One period''s waterfall (SPEC section 6, steps 2-5): debt service paid from revenue, credit support drawn, repaid interest first, closing balance, and what is left to distribute';

-- Debt service due in [period_start, period_end) under an agreement's facility, rounded to
-- minor_units (the currency's, whatever the facility's own column says). Parameters are
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

-- Interest on a credit support balance over a period, at the facility's rate and day count.
CREATE OR REPLACE FUNCTION dsx.support_interest(agreement text, balance numeric, period_start date, minor_units integer) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- parameters are qualified: dsx.credit_facilities has a minor_units column of its own
    SELECT COALESCE((SELECT dsx.interest(support_interest.balance, f.annual_rate, support_interest.period_start,
                                         dsx.period_end(support_interest.period_start), f.day_count,
                                         support_interest.minor_units)
                       FROM dsx.credit_facilities f WHERE f.agreement = support_interest.agreement), 0)
$$;
COMMENT ON FUNCTION dsx.support_interest(text, numeric, date, integer) IS 'round(B x facility rate x year fraction of the period in the facility''s day count), exact until that one rounding, half away from zero; 0 without a facility';

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
