-- dsx 1.0 — part 50: credit. Day counts (dsx.year_fraction, dsx.day_count, dsx.interest),
-- loan schedules (dsx.amortize), the credit facilities attached to agreements, their
-- schedules (dsx.facility_schedule) and positions (dsx.facility_position_at and the view
-- dsx.facility_position).

CREATE FUNCTION dsx.year_fraction(start date, "end" date, convention text) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_year_fraction' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.year_fraction(date, date, text) IS
'Year fraction from start to end under an ISDA 2006 day count: ACT/360, ACT/365F, ACT/ACT (ISDA), 30/360 (bond basis), 30E/360 (Eurobond basis) or 30U/360 (30/360 US with the end-of-February rules). Exact when the decimal terminates, else rounded at the 30th decimal place; negative when start is after end. Unknown convention: 22023';

CREATE FUNCTION dsx.day_count(start date, "end" date, convention text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_day_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.day_count(date, date, text) IS
'Days a day-count convention counts from start to end: actual days for the ACT conventions, 30-day months for 30/360, 30E/360 and 30U/360; negative when start is after end';

CREATE FUNCTION dsx.interest(amount numeric, annual_rate numeric, start date, "end" date,
                             day_count text DEFAULT '30/360', minor_units integer DEFAULT 2)
    RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_interest' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.interest(numeric, numeric, date, date, text, integer) IS
'Simple interest amount × annual_rate × year_fraction(start, end, day_count), computed exactly and rounded once, half away from zero, to minor_units (use this, not a rounded year_fraction, so that no rounding happens twice)';

CREATE FUNCTION dsx.amortize(principal numeric, annual_rate numeric, periods integer,
                             first_due date, method text DEFAULT 'annuity',
                             frequency text DEFAULT 'monthly', day_count text DEFAULT '30/360',
                             minor_units integer DEFAULT 2, grace_periods integer DEFAULT 0)
    RETURNS TABLE(period integer, due date, opening numeric, payment numeric,
                  interest numeric, principal numeric, closing numeric)
    AS 'MODULE_PATHNAME', 'dsx_amortize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 120;
COMMENT ON FUNCTION dsx.amortize(numeric, numeric, integer, date, text, text, text, integer, integer) IS
'Loan schedule, one row per period: method annuity (level payment), linear (equal principal) or bullet; frequency monthly, quarterly, semiannual or annual; interest = round(opening × annual_rate × year_fraction(previous due, due, day_count)); the first grace_periods periods pay interest only; the last period repays the opening balance, so the principals add up to principal exactly. Amounts rounded half away from zero to minor_units';

CREATE FUNCTION dsx.amortize_check(principal numeric, annual_rate numeric, periods integer,
                                   first_due date, method text DEFAULT 'annuity',
                                   frequency text DEFAULT 'monthly', day_count text DEFAULT '30/360',
                                   minor_units integer DEFAULT 2, grace_periods integer DEFAULT 0)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_amortize_check' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.amortize_check(numeric, numeric, integer, date, text, text, text, integer, integer) IS
'True when dsx.amortize can produce the schedule of these terms; otherwise raises the same error dsx.amortize would (for CHECK constraints)';

CREATE TABLE dsx.credit_facilities (
    facility      text PRIMARY KEY CHECK (facility <> ''),
    agreement     text NOT NULL UNIQUE,
    lender        text NOT NULL REFERENCES dsx.parties,
    principal     numeric NOT NULL,
    annual_rate   numeric NOT NULL,
    periods       integer NOT NULL,
    first_due     date NOT NULL,
    method        text NOT NULL DEFAULT 'annuity',
    frequency     text NOT NULL DEFAULT 'monthly',
    day_count     text NOT NULL DEFAULT '30/360',
    grace_periods integer NOT NULL DEFAULT 0,
    minor_units   integer NOT NULL DEFAULT 2,
    CONSTRAINT credit_facilities_schedule_check
        CHECK (dsx.amortize_check(principal, annual_rate, periods, first_due, method,
                                  frequency, day_count, minor_units, grace_periods))
);
COMMENT ON TABLE dsx.credit_facilities IS 'Credit facilities: the loan financing an agreement''s factory, whose schedule is the debt service due each period; a row is accepted only when dsx.amortize can produce its schedule';
COMMENT ON COLUMN dsx.credit_facilities.facility IS 'Facility identifier';
COMMENT ON COLUMN dsx.credit_facilities.agreement IS 'The agreement the facility finances (at most one facility per agreement)';
COMMENT ON COLUMN dsx.credit_facilities.lender IS 'The lending party (a party of kind lender)';
COMMENT ON COLUMN dsx.credit_facilities.principal IS 'Amount lent, in the agreement''s currency, a whole number of minor units';
COMMENT ON COLUMN dsx.credit_facilities.annual_rate IS 'Annual interest rate as a fraction: 0.08 for 8 %';
COMMENT ON COLUMN dsx.credit_facilities.periods IS 'Number of payments';
COMMENT ON COLUMN dsx.credit_facilities.first_due IS 'Due date of the first payment; a month end makes every due date a month end';
COMMENT ON COLUMN dsx.credit_facilities.method IS 'annuity (level payment), linear (equal principal) or bullet (principal at the end)';
COMMENT ON COLUMN dsx.credit_facilities.frequency IS 'monthly, quarterly, semiannual or annual';
COMMENT ON COLUMN dsx.credit_facilities.day_count IS 'Day count of the interest: ACT/360, ACT/365F, ACT/ACT, 30/360, 30E/360 or 30U/360';
COMMENT ON COLUMN dsx.credit_facilities.grace_periods IS 'Interest-only periods before amortization starts';
COMMENT ON COLUMN dsx.credit_facilities.minor_units IS 'Decimal places amounts are rounded to: the minor units of the agreement''s currency';
COMMENT ON CONSTRAINT credit_facilities_schedule_check ON dsx.credit_facilities IS 'The terms must produce a schedule: the same validation as dsx.amortize';

CREATE FUNCTION dsx.credit_facilities_check_lender() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
BEGIN
    SELECT p.kind INTO k FROM dsx.parties p WHERE p.party = NEW.lender;
    IF FOUND AND k IS DISTINCT FROM 'lender' THEN
        RAISE EXCEPTION 'party "%" is not a lender', NEW.lender
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Party "%s" is of kind %s.', NEW.lender, k),
                  HINT = 'Register the lender in dsx.parties with kind lender.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.credit_facilities_check_lender() IS 'Trigger function: refuses a credit facility whose lender is not a party of kind lender';
CREATE TRIGGER credit_facilities_lender BEFORE INSERT OR UPDATE OF lender ON dsx.credit_facilities
    FOR EACH ROW EXECUTE FUNCTION dsx.credit_facilities_check_lender();
COMMENT ON TRIGGER credit_facilities_lender ON dsx.credit_facilities IS 'The lender must be a party of kind lender';

SELECT pg_catalog.pg_extension_config_dump('dsx.credit_facilities', '');

CREATE FUNCTION dsx.facility_schedule(facility text)
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

CREATE FUNCTION dsx.facility_position_at(as_of date)
    RETURNS TABLE(facility text, agreement text, lender text, as_of date,
                  next_period integer, next_due date, next_payment numeric,
                  next_interest numeric, next_principal numeric,
                  outstanding_principal numeric, remaining_periods integer, maturity date)
    LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
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

CREATE VIEW dsx.facility_position WITH (security_invoker = true) AS
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
