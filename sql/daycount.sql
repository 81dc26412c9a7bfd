-- dsx.year_fraction, dsx.day_count and dsx.interest: ISDA 2006 §4.16 day counts against
-- the published cases of QuantLib (test-suite/daycounters.cpp) and OpenGamma Strata
-- (DayCountTest.java), properties over generated dates, and every error.

SET datestyle = ISO;

-- Runs a statement and reports its SQLSTATE and message instead of failing.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Simple values: a terminating fraction is exact, a repeating one has 30 decimals.
SELECT c, dsx.year_fraction('2024-01-01', '2024-07-01', c) AS half_year,
          dsx.year_fraction('2024-07-01', '2024-01-01', c) AS reversed,
          dsx.year_fraction('2024-03-15', '2024-03-15', c) AS same_day
  FROM unnest(ARRAY['ACT/360', 'ACT/365F', 'ACT/ACT', '30/360', '30E/360', '30U/360']) c;

-- QuantLib testActualActual, the ISDA cases (expected to 12 places, tolerance 1e-10),
-- and the exact rationals they approximate (fraction × 133590 = 365 × 366 × fraction).
WITH cases(s, e, expected, num133590) AS (VALUES
    (date '2003-11-01', date '2004-05-01', 0.497724380567, 66491),
    ('1999-02-01', '1999-07-01', 0.410958904110, 150 * 366),
    ('1999-07-01', '2000-07-01', 1.001377348600, 184 * 366 + 182 * 365),
    ('2002-08-15', '2003-07-15', 0.915068493151, 334 * 366),
    ('2003-07-15', '2004-01-15', 0.504004790778, 170 * 366 + 14 * 365),
    ('1999-07-30', '2000-01-30', 0.503892506924, 155 * 366 + 29 * 365),
    ('2000-01-30', '2000-06-30', 0.415300546448, 152 * 365))
SELECT s, e, dsx.year_fraction(s, e, 'ACT/ACT') AS fraction,
       abs(dsx.year_fraction(s, e, 'ACT/ACT') - expected) < 1e-10 AS quantlib_ok,
       abs(dsx.year_fraction(s, e, 'ACT/ACT') * 133590 - num133590) < 1e-24 AS exact_ok
  FROM cases;

-- QuantLib testThirty360_BondBasis (ISDA's 2008 30/360 examples), day counts.
WITH cases(s, e, days) AS (VALUES
    (date '2006-08-20', date '2007-02-20', 180), ('2007-02-20', '2007-08-20', 180),
    ('2007-08-20', '2008-02-20', 180), ('2008-02-20', '2008-08-20', 180),
    ('2008-08-20', '2009-02-20', 180), ('2009-02-20', '2009-08-20', 180),
    ('2006-08-31', '2007-02-28', 178), ('2007-02-28', '2007-08-31', 183),
    ('2007-08-31', '2008-02-29', 179), ('2008-02-29', '2008-08-31', 182),
    ('2008-08-31', '2009-02-28', 178), ('2009-02-28', '2009-08-31', 183),
    ('2006-01-31', '2006-02-28', 28), ('2006-01-30', '2006-02-28', 28),
    ('2006-02-28', '2006-03-03', 5), ('2006-02-14', '2006-02-28', 14),
    ('2006-09-30', '2006-10-31', 30), ('2006-10-31', '2006-11-28', 28),
    ('2007-08-31', '2008-02-28', 178), ('2008-02-28', '2008-08-28', 180),
    ('2008-02-28', '2008-08-30', 182), ('2008-02-28', '2008-08-31', 183),
    ('2007-02-26', '2008-02-28', 362), ('2007-02-26', '2008-02-29', 363),
    ('2008-02-29', '2009-02-28', 359), ('2008-02-28', '2008-03-30', 32),
    ('2008-02-28', '2008-03-31', 33))
SELECT count(*) AS cases,
       count(*) FILTER (WHERE dsx.day_count(s, e, '30/360') <> days) AS wrong_days,
       count(*) FILTER (WHERE abs(dsx.year_fraction(s, e, '30/360') * 360 - days) >= 1e-26) AS wrong_fractions
  FROM cases;

-- QuantLib testThirty360_EurobondBasis, day counts.
WITH cases(s, e, days) AS (VALUES
    (date '2006-08-20', date '2007-02-20', 180), ('2007-02-20', '2007-08-20', 180),
    ('2007-08-20', '2008-02-20', 180), ('2008-02-20', '2008-08-20', 180),
    ('2008-08-20', '2009-02-20', 180), ('2009-02-20', '2009-08-20', 180),
    ('2006-02-28', '2006-08-31', 182), ('2006-08-31', '2007-02-28', 178),
    ('2007-02-28', '2007-08-31', 182), ('2007-08-31', '2008-02-29', 179),
    ('2008-02-29', '2008-08-31', 181), ('2008-08-31', '2009-02-28', 178),
    ('2009-02-28', '2009-08-31', 182), ('2009-08-31', '2010-02-28', 178),
    ('2010-02-28', '2010-08-31', 182), ('2010-08-31', '2011-02-28', 178),
    ('2011-02-28', '2011-08-31', 182), ('2011-08-31', '2012-02-29', 179),
    ('2006-01-31', '2006-02-28', 28), ('2006-01-30', '2006-02-28', 28),
    ('2006-02-28', '2006-03-03', 5), ('2006-02-14', '2006-02-28', 14),
    ('2006-09-30', '2006-10-31', 30), ('2006-10-31', '2006-11-28', 28),
    ('2007-08-31', '2008-02-28', 178), ('2008-02-28', '2008-08-28', 180),
    ('2008-02-28', '2008-08-30', 182), ('2008-02-28', '2008-08-31', 182),
    ('2007-02-26', '2008-02-28', 362), ('2007-02-26', '2008-02-29', 363),
    ('2008-02-29', '2009-02-28', 359), ('2008-02-28', '2008-03-30', 32),
    ('2008-02-28', '2008-03-31', 32))
SELECT count(*) AS cases,
       count(*) FILTER (WHERE dsx.day_count(s, e, '30E/360') <> days) AS wrong_days,
       count(*) FILTER (WHERE abs(dsx.year_fraction(s, e, '30E/360') * 360 - days) >= 1e-26) AS wrong_fractions
  FROM cases;

-- Strata DayCountTest: 30U/360 with the end-of-February rules (its EOM column), and
-- 30/360 bond basis (Strata's THIRTY_360_ISDA) and 30E/360 on the same dates.
WITH cases(s, e, days_30u, days_30, days_30e) AS (VALUES
    (date '2011-12-28', date '2012-02-28', 60, 60, 60),
    ('2011-12-28', '2012-02-29', 61, 61, 61), ('2011-12-28', '2012-03-01', 63, 63, 63),
    ('2011-12-28', '2016-02-28', 1500, 1500, 1500), ('2011-12-28', '2016-02-29', 1501, 1501, 1501),
    ('2011-12-28', '2016-03-01', 1503, 1503, 1503), ('2012-02-28', '2012-03-28', 30, 30, 30),
    ('2012-02-29', '2012-03-28', 28, 29, 29), ('2012-02-29', '2012-03-30', 30, 31, 31),
    ('2012-02-29', '2012-03-31', 30, 32, 31), ('2012-02-29', '2013-02-28', 360, 359, 359),
    ('2011-02-28', '2012-02-28', 358, 360, 360), ('2011-02-28', '2012-02-29', 360, 361, 361),
    ('2012-02-29', '2016-02-29', 1440, 1440, 1440), ('2012-03-01', '2012-03-28', 27, 27, 27),
    ('2012-05-30', '2013-08-29', 449, 449, 449), ('2012-05-29', '2013-08-30', 451, 451, 451),
    ('2012-05-30', '2013-08-30', 450, 450, 450), ('2012-05-29', '2013-08-31', 452, 452, 451),
    ('2012-05-30', '2013-08-31', 450, 450, 450), ('2012-05-31', '2013-08-30', 450, 450, 450),
    ('2012-05-31', '2013-08-31', 450, 450, 450))
SELECT count(*) AS cases,
       count(*) FILTER (WHERE dsx.day_count(s, e, '30U/360') <> days_30u) AS wrong_30u,
       count(*) FILTER (WHERE dsx.day_count(s, e, '30/360') <> days_30) AS wrong_30,
       count(*) FILTER (WHERE dsx.day_count(s, e, '30E/360') <> days_30e) AS wrong_30e,
       count(*) FILTER (WHERE abs(dsx.year_fraction(s, e, '30U/360') * 360 - days_30u) >= 1e-26) AS wrong_30u_fraction
  FROM cases;

-- Strata DayCountTest: ACT/ACT ISDA, ACT/360 and ACT/365F as exact rationals
-- (numerators over 365 × 366 = 133590 for ACT/ACT).
WITH cases(s, e, actact133590, days) AS (VALUES
    (date '2011-12-28', date '2012-02-28', 4 * 366 + 58 * 365, 62),
    ('2011-12-28', '2012-02-29', 4 * 366 + 59 * 365, 63),
    ('2011-12-28', '2012-03-01', 4 * 366 + 60 * 365, 64),
    ('2011-12-28', '2016-02-28', 4 * 366 + 58 * 365 + 4 * 133590, 62 + 366 + 365 + 365 + 365),
    ('2011-12-28', '2016-02-29', 4 * 366 + 59 * 365 + 4 * 133590, 63 + 366 + 365 + 365 + 365),
    ('2011-12-28', '2016-03-01', 4 * 366 + 60 * 365 + 4 * 133590, 64 + 366 + 365 + 365 + 365),
    ('2012-02-29', '2012-03-29', 29 * 365, 29),
    ('2012-02-29', '2012-03-28', 28 * 365, 28),
    ('2012-03-01', '2012-03-28', 27 * 365, 27))
SELECT count(*) AS cases,
       count(*) FILTER (WHERE abs(dsx.year_fraction(s, e, 'ACT/ACT') * 133590 - actact133590) >= 1e-24) AS wrong_actact,
       count(*) FILTER (WHERE abs(dsx.year_fraction(s, e, 'ACT/360') * 360 - days) >= 1e-26) AS wrong_act360,
       count(*) FILTER (WHERE abs(dsx.year_fraction(s, e, 'ACT/365F') * 365 - days) >= 1e-26) AS wrong_act365f,
       count(*) FILTER (WHERE dsx.day_count(s, e, 'ACT/ACT') <> days) AS wrong_actual_days
  FROM cases;

-- Properties over 5,000 generated date pairs in 1900-2100.
SELECT setseed(0.4);
CREATE TEMP TABLE pairs AS
SELECT date '1900-01-01' + (random() * 73000)::int AS s,
       date '1900-01-01' + (random() * 73000)::int AS e
  FROM generate_series(1, 5000);
INSERT INTO pairs  -- month ends and leap days, where the 30/360 rules differ
SELECT (date_trunc('month', s) + interval '1 month - 1 day')::date,
       (date_trunc('month', e) + interval '1 month - 1 day')::date FROM pairs LIMIT 1000;
SELECT count(*) AS pairs,
       -- start after end gives the negative of the fraction from end to start
       count(*) FILTER (WHERE dsx.year_fraction(s, e, c.c) <> -dsx.year_fraction(e, s, c.c)) AS not_antisymmetric,
       -- the ACT conventions count actual days
       count(*) FILTER (WHERE c.c = 'ACT/360' AND dsx.day_count(s, e, c.c) <> e - s) AS wrong_actual
  FROM pairs, LATERAL (SELECT unnest(ARRAY['ACT/360', 'ACT/365F', 'ACT/ACT', '30/360', '30E/360', '30U/360'])) c(c);
-- ACT/ACT: additive over a year boundary, whole calendar years count exactly 1 each.
SELECT count(*) FILTER (WHERE abs(dsx.year_fraction(s, e, 'ACT/ACT')
                                  - dsx.year_fraction(s, make_date(extract(year FROM greatest(s, e))::int, 1, 1), 'ACT/ACT')
                                  - dsx.year_fraction(make_date(extract(year FROM greatest(s, e))::int, 1, 1), e, 'ACT/ACT')) > 1e-28) AS not_additive,
       count(*) FILTER (WHERE dsx.year_fraction(make_date(extract(year FROM s)::int, 1, 1),
                                                make_date(extract(year FROM e)::int, 1, 1), 'ACT/ACT')
                              <> extract(year FROM e) - extract(year FROM s)) AS whole_years_wrong
  FROM pairs;
-- 30/360 family: the month-and-day formula after each convention's adjustments.
SELECT count(*) FILTER (WHERE dsx.day_count(s, e, '30E/360') <>
           360 * (extract(year FROM e) - extract(year FROM s)) + 30 * (extract(month FROM e) - extract(month FROM s))
           + least(extract(day FROM e), 30) - least(extract(day FROM s), 30)) AS wrong_30e
  FROM pairs WHERE s <= e;

-- Case-insensitive names and the ACT/ACT ISDA alias.
SELECT dsx.year_fraction('2024-01-01', '2025-01-01', 'act/act isda') AS leap_year,
       dsx.year_fraction('2023-01-01', '2024-01-01', 'Act/365f') AS common_year;
-- NULL in, NULL out.
SELECT dsx.year_fraction(NULL, '2024-01-01', 'ACT/360') IS NULL AS null_start,
       dsx.year_fraction('2024-01-01', '2024-01-02', NULL) IS NULL AS null_convention;

-- dsx.interest: exact, rounded once, half away from zero.
SELECT dsx.interest(1.00, 0.06, '2024-01-15', '2024-02-15') AS half_cent_up,          -- 0.005
       dsx.interest(-1.00, 0.06, '2024-01-15', '2024-02-15') AS half_cent_down,       -- -0.005
       dsx.interest(1.00, 0.06, '2024-01-15', '2024-02-14') AS below_half,            -- 29/360 × 0.06
       dsx.interest(1000000, 0.0825, '2024-01-01', '2024-04-01', 'ACT/365F') AS act365f,
       dsx.interest(1000000, 0.0825, '2024-01-01', '2024-04-01', 'ACT/ACT', 0) AS act_act_idr,
       dsx.interest(1000000, 0.0825, '2024-04-01', '2024-01-01', 'ACT/360', 6) AS reversed;

-- Errors.
SELECT pg_temp.err($$SELECT dsx.year_fraction('2024-01-01', '2024-02-01', 'ACT/365')$$);
SELECT pg_temp.err($$SELECT dsx.year_fraction('2024-01-01', '2024-02-01', '')$$);
SELECT pg_temp.err($$SELECT dsx.day_count('2024-01-01', '2024-02-01', 'BUS/252')$$);
SELECT pg_temp.err($$SELECT dsx.year_fraction('-infinity', '2024-02-01', 'ACT/360')$$);
SELECT pg_temp.err($$SELECT dsx.day_count('2024-01-01', 'infinity', '30/360')$$);
SELECT pg_temp.err($$SELECT dsx.interest(1, 0.05, '2024-01-01', '2024-02-01', 'ACT/366')$$);
SELECT pg_temp.err($$SELECT dsx.interest(1, 0.05, '2024-01-01', '2024-02-01', 'ACT/360', 7)$$);
SELECT pg_temp.err($$SELECT dsx.interest('NaN', 0.05, '2024-01-01', '2024-02-01')$$);
SELECT pg_temp.err($$SELECT dsx.interest(1, 'Infinity', '2024-01-01', '2024-02-01')$$);
