-- schema/21-credit.sql — credit arithmetic: day counts (dsx.year_fraction, dsx.day_count),
-- simple interest, loan schedules (dsx.amortize) and their validation.

CREATE OR REPLACE FUNCTION dsx.year_fraction(start date, "end" date, convention text) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_year_fraction' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.year_fraction(date, date, text) IS
'Year fraction from start to end under an ISDA 2006 day count: ACT/360, ACT/365F, ACT/ACT (ISDA), 30/360 (bond basis), 30E/360 (Eurobond basis) or 30U/360 (30/360 US with the end-of-February rules). Exact when the decimal terminates, else rounded at the 30th decimal place; negative when start is after end. Unknown convention: 22023';

CREATE OR REPLACE FUNCTION dsx.day_count(start date, "end" date, convention text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_day_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.day_count(date, date, text) IS
'Days a day-count convention counts from start to end: actual days for the ACT conventions, 30-day months for 30/360, 30E/360 and 30U/360; negative when start is after end';

CREATE OR REPLACE FUNCTION dsx.interest(amount numeric, annual_rate numeric, start date, "end" date,
                             day_count text DEFAULT '30/360', minor_units integer DEFAULT 2)
    RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_interest' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.interest(numeric, numeric, date, date, text, integer) IS
'Simple interest amount × annual_rate × year_fraction(start, end, day_count), computed exactly and rounded once, half away from zero, to minor_units (use this, not a rounded year_fraction, so that no rounding happens twice)';

CREATE OR REPLACE FUNCTION dsx.amortize(principal numeric, annual_rate numeric, periods integer,
                             first_due date, method text DEFAULT 'annuity',
                             frequency text DEFAULT 'monthly', day_count text DEFAULT '30/360',
                             minor_units integer DEFAULT 2, grace_periods integer DEFAULT 0)
    RETURNS TABLE(period integer, due date, opening numeric, payment numeric,
                  interest numeric, principal numeric, closing numeric)
    AS 'MODULE_PATHNAME', 'dsx_amortize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 120;
COMMENT ON FUNCTION dsx.amortize(numeric, numeric, integer, date, text, text, text, integer, integer) IS
'Loan schedule, one row per period: method annuity (level payment), linear (equal principal) or bullet; frequency monthly, quarterly, semiannual or annual; interest = round(opening × annual_rate × year_fraction(previous due, due, day_count)); the first grace_periods periods pay interest only; the last period repays the opening balance, so the principals add up to principal exactly. Amounts rounded half away from zero to minor_units';

CREATE OR REPLACE FUNCTION dsx.amortize_check(principal numeric, annual_rate numeric, periods integer,
                                   first_due date, method text DEFAULT 'annuity',
                                   frequency text DEFAULT 'monthly', day_count text DEFAULT '30/360',
                                   minor_units integer DEFAULT 2, grace_periods integer DEFAULT 0)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_amortize_check' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.amortize_check(numeric, numeric, integer, date, text, text, text, integer, integer) IS
'True when dsx.amortize can produce the schedule of these terms; otherwise raises the same error dsx.amortize would (for CHECK constraints)';
