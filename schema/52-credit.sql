-- schema/52-credit.sql — credit facilities: their schedules, positions and outstanding
-- principal.

CREATE OR REPLACE FUNCTION dsx.facility_schedule(facility text)
    RETURNS TABLE(period integer, due date, opening numeric, payment numeric,
                  interest numeric, principal numeric, closing numeric)
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ROWS 120 AS $$
DECLARE
    f dsx.credit_facilities;
BEGIN
    SELECT c.* INTO f FROM dsx.credit_facilities c WHERE c.facility = facility_schedule.facility;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown credit facility "%"', facility_schedule.facility
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The facilities are listed in dsx.credit_facilities.';
    END IF;
    RETURN QUERY SELECT s.period, s.due, s.opening, s.payment, s.interest, s.principal, s.closing
        FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                          f.frequency, f.day_count, f.minor_units, f.grace_periods) s;
END
$$;
COMMENT ON FUNCTION dsx.facility_schedule(text) IS 'The schedule (dsx.amortize) of a credit facility; unknown facility: 22023';

CREATE OR REPLACE FUNCTION dsx.facility_position_at(as_of date)
    RETURNS TABLE(facility text, agreement text, lender text, as_of date,
                  next_period integer, next_due date, next_payment numeric,
                  next_interest numeric, next_principal numeric,
                  outstanding_principal numeric, remaining_periods integer, maturity date)
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    -- pinned, which also keeps it from being inlined: on Citus the facilities are a
    -- reference table, which Citus cannot plan inside an inlined function
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT f.facility, f.agreement, f.lender, $1,
           n.period, n.due, n.payment, n.interest, n.principal,
           COALESCE(n.opening, 0::numeric),
           CASE WHEN n.period IS NULL THEN 0 ELSE f.periods - n.period + 1 END,
           (SELECT pg_catalog.max(s.due)
              FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                                f.frequency, f.day_count, f.minor_units, f.grace_periods) s)
      FROM dsx.credit_facilities f
      LEFT JOIN LATERAL (
           SELECT s.period, s.due, s.opening, s.payment, s.interest, s.principal
             FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                               f.frequency, f.day_count, f.minor_units, f.grace_periods) s
            WHERE s.due >= $1
            ORDER BY s.period
            LIMIT 1) n ON true
$$;
COMMENT ON FUNCTION dsx.facility_position_at(date) IS 'Every credit facility as of a date: its next payment (the first due on or after the date) and the principal outstanding before it; after maturity the next_* columns are NULL and nothing is outstanding';


-- Principal of a facility still owed after the payments due before a date, on the schedule
-- settlement charges (amounts in the minor units of the agreement's currency).
CREATE OR REPLACE FUNCTION dsx.facility_outstanding(facility text, as_of date) RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE((SELECT x.closing
                       FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                                         f.frequency, f.day_count, c.minor_units, f.grace_periods) x
                      WHERE x.due < $2
                      ORDER BY x.period DESC
                      LIMIT 1), f.principal)
      FROM dsx.credit_facilities f
      JOIN dsx.agreements a ON a.agreement = f.agreement
      JOIN dsx.factories fa ON fa.factory = a.factory
      JOIN dsx.currencies c ON c.currency = fa.currency
     WHERE f.facility = $1
$$;
COMMENT ON FUNCTION dsx.facility_outstanding(text, date) IS 'Principal of a credit facility still owed to the lender after the payments due before as_of (the closing balance of the last one; the principal before the first): the schedule settlement charges, in the minor units of the agreement''s currency. NULL for a facility the caller cannot see';
