-- dsx.amortize: published payment examples, hand-checked schedules for every method,
-- frequency and day count, invariants over hundreds of generated loans checked against
-- independent SQL formulas, edge cases and every error.
SET datestyle = ISO;

-- Runs a statement and reports its SQLSTATE and message instead of failing.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Published level payments (30/360 on the 15th: every month is exactly 1/12 of a year).
--   15,000 at 8 % over 60 months: PMT = 304.1459... (numpy-financial, Excel)
--   10,000 at 8 % over 10 months: 1,037.03 (Excel's PMT documentation)
--   200,000 at 7.5 % over 15 years: 1,854.0247... (numpy-financial's pmt documentation)
--   200,000 at 6.5 % over 30 years: 1,264.14 (the usual mortgage table)
SELECT p.principal, p.rate, p.months, s.payment AS level_payment, s.interest AS first_interest
  FROM (VALUES (15000, 0.08, 60), (10000, 0.08, 10), (200000, 0.075, 180), (200000, 0.065, 360))
       p(principal, rate, months),
       LATERAL dsx.amortize(p.principal, p.rate, p.months, '2024-01-15') s
 WHERE s.period = 1;

-- Hand-checked schedules (each also recomputed with exact fractions outside PostgreSQL).
-- annuity, monthly, 30/360: i = 1 %, PMT = 256.28; the last period pays 253.75 + 2.54.
SELECT * FROM dsx.amortize(1000, 0.12, 4, '2024-01-15');
-- annuity, monthly, 30/360 with month ends: the bond basis counts 30, 29, 32 and 30 days.
SELECT * FROM dsx.amortize(15000, 0.08, 4, '2024-01-31');
-- linear, quarterly, ACT/365F, one grace period: 91, 91, 92, 92 days.
SELECT * FROM dsx.amortize(1000, 0.06, 4, '2024-03-31', 'linear', 'quarterly', 'ACT/365F', 2, 1);
-- bullet, semiannual, ACT/ACT, rupiah (no minor unit): 2024 is a leap year.
SELECT * FROM dsx.amortize(1000000000, 0.09, 4, '2024-06-30', 'bullet', 'semiannual', 'ACT/ACT', 0);
-- annuity, annual, 30E/360, one grace period, from a month end.
SELECT * FROM dsx.amortize(50000, 0.05, 4, '2025-03-31', 'annuity', 'annual', '30E/360', 2, 1);
-- annuity, quarterly, 30U/360 from 29 February: every due date a month end.
SELECT * FROM dsx.amortize(1000000, 0.07, 6, '2024-02-29', 'annuity', 'quarterly', '30U/360');
-- linear, monthly, ACT/360, day 30 clamped to 29 February, 3 minor units.
SELECT * FROM dsx.amortize(1000, 0.05, 3, '2024-01-30', 'linear', 'monthly', 'ACT/360', 3);
-- annuity, semiannual, 30/360, 6 minor units.
SELECT * FROM dsx.amortize(1234.567891, 0.0425, 3, '2024-05-10', 'annuity', 'semiannual', '30/360', 6);
-- zero rate: payment = principal / periods, the last period takes the remainder.
SELECT * FROM dsx.amortize(1000, 0, 3, '2024-01-15');
-- one period, every method.
SELECT m, s.* FROM unnest(ARRAY['annuity', 'linear', 'bullet']) m,
       LATERAL dsx.amortize(500, 0.1, 1, '2024-12-31', m, 'annual', 'ACT/365F') s;
-- zero principal.
SELECT * FROM dsx.amortize(0, 0.05, 2, '2024-01-15');
-- named arguments and case-insensitive names.
SELECT * FROM dsx.amortize(principal => 1000, annual_rate => 0.05, periods => 2,
                           first_due => '2023-02-28', frequency => 'Monthly',
                           method => 'LINEAR', day_count => 'act/360');
-- NULL in, no rows out (STRICT).
SELECT count(*) AS rows FROM dsx.amortize(NULL, 0.05, 12, '2024-01-15');

-- 600 generated loans: every method, frequency, day count, minor units 0 to 6, grace
-- periods, month ends, zero rates, tiny and large principals.
SELECT setseed(0.25);
CREATE TEMP TABLE loans AS
SELECT id, mu, round((random() * 10 ^ floor(random() * 10))::numeric, mu) AS principal,
       CASE WHEN random() < 0.06 THEN 0
            ELSE round((random() * 0.2)::numeric, (ARRAY[2, 3, 4, 5, 9])[1 + floor(random() * 5)::int]) END AS rate,
       periods,
       (ARRAY['annuity', 'linear', 'bullet'])[1 + floor(random() * 3)::int] AS method,
       frequency,
       (ARRAY['ACT/360', 'ACT/365F', 'ACT/ACT', '30/360', '30E/360', '30U/360'])[1 + floor(random() * 6)::int] AS day_count,
       CASE WHEN random() < 0.7 THEN 0 ELSE floor(random() * least(periods, 13))::int END AS grace,
       CASE WHEN random() < 0.35
            THEN (date_trunc('month', d) + interval '1 month - 1 day')::date ELSE d END AS first_due
  FROM (SELECT id, mu, frequency, d,
               -- up to 30 years: 360 months, or 40 periods of any frequency
               1 + floor(random() * (CASE WHEN frequency = 'monthly' AND random() < 0.4 THEN 360 ELSE 40 END))::int AS periods
          FROM (SELECT id, (ARRAY[0, 2, 2, 2, 3, 6])[1 + floor(random() * 6)::int] AS mu,
                       (ARRAY['monthly', 'quarterly', 'semiannual', 'annual'])[1 + floor(random() * 4)::int] AS frequency,
                       date '1995-01-01' + floor(random() * 14000)::int AS d
                  FROM generate_series(1, 600) id) g0) g;
ALTER TABLE loans ADD COLUMN months int;
UPDATE loans SET months = CASE frequency WHEN 'monthly' THEN 1 WHEN 'quarterly' THEN 3
                                         WHEN 'semiannual' THEN 6 ELSE 12 END;
SELECT count(*) AS loans, count(DISTINCT (method, frequency, day_count)) AS combinations,
       count(*) FILTER (WHERE grace > 0) AS with_grace, count(*) FILTER (WHERE rate = 0) AS zero_rate,
       count(*) FILTER (WHERE periods >= 120) AS long_loans, sum(periods) AS periods
  FROM loans;

CREATE TEMP TABLE sched AS
SELECT l.id, s.*
  FROM loans l, LATERAL dsx.amortize(l.principal, l.rate, l.periods, l.first_due, l.method,
                                     l.frequency, l.day_count, l.mu, l.grace) s;

-- Each row beside its loan, its previous due date and the next row's opening; the due
-- dates are recomputed with PostgreSQL's own month arithmetic (which clamps to month end).
CREATE TEMP VIEW checked AS
SELECT l.*, s.period, s.due, s.opening, s.payment, s.interest, s.principal AS repaid, s.closing,
       lead(s.opening) OVER w AS next_opening,
       coalesce(lag(s.due) OVER w, x.due_before) AS previous_due, x.expected_due
  FROM sched s JOIN loans l USING (id),
       LATERAL (SELECT CASE WHEN l.first_due = (date_trunc('month', l.first_due) + interval '1 month - 1 day')::date
                            THEN (date_trunc('month', l.first_due) + make_interval(months => (s.period - 1) * l.months + 1) - interval '1 day')::date
                            ELSE (l.first_due + make_interval(months => (s.period - 1) * l.months))::date END AS expected_due,
                       CASE WHEN l.first_due = (date_trunc('month', l.first_due) + interval '1 month - 1 day')::date
                            THEN (date_trunc('month', l.first_due) - make_interval(months => l.months - 1) - interval '1 day')::date
                            ELSE (l.first_due - make_interval(months => l.months))::date END AS due_before) x
WINDOW w AS (PARTITION BY s.id ORDER BY s.period);

-- Row invariants: each must count 0.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE payment <> interest + repaid) AS payment_not_interest_plus_principal,
       count(*) FILTER (WHERE closing <> opening - repaid) AS closing_not_opening_minus_principal,
       count(*) FILTER (WHERE next_opening <> closing) AS opening_not_previous_closing,
       count(*) FILTER (WHERE period = 1 AND opening <> principal) AS first_opening_not_principal,
       count(*) FILTER (WHERE period = periods AND (closing <> 0 OR repaid <> opening)) AS last_not_closed,
       count(*) FILTER (WHERE period <= grace AND period < periods AND repaid <> 0) AS grace_repays,
       count(*) FILTER (WHERE method = 'bullet' AND period < periods AND repaid <> 0) AS bullet_repays_early,
       count(*) FILTER (WHERE due <> expected_due) AS wrong_due_date,
       count(*) FILTER (WHERE scale(opening) <> mu OR scale(payment) <> mu OR scale(interest) <> mu
                              OR scale(repaid) <> mu OR scale(closing) <> mu) AS wrong_scale
  FROM checked;

-- The amounts are written in numeric's binary format directly (src/amortize.c): each
-- must be exactly what numeric's own input makes of its text, for every minor unit from
-- 0 to 6, negative amounts and amounts near the 64-bit limit included.
SELECT count(*) AS amounts,
       count(*) FILTER (WHERE numeric_send(a) <> numeric_send(a::text::numeric)) AS not_canonical
  FROM (SELECT unnest(ARRAY[opening, payment, interest, principal, closing]) AS a FROM sched
        UNION ALL
        SELECT unnest(ARRAY[s.opening, s.payment, s.interest, s.principal, s.closing])
          FROM generate_series(0, 6) mu,
               LATERAL (VALUES (0.02), (1), (10000), (123456789.123456), (9000000000000)) p(p),
               LATERAL dsx.amortize(round(p.p, mu), 0.05, 7, '2024-01-15', 'linear', 'monthly',
                                    'ACT/365F', mu) s
        UNION ALL
        SELECT unnest(ARRAY[s.opening, s.payment, s.interest, s.principal, s.closing])
          FROM dsx.amortize(9223372036854775.80, 0, 2, '2024-01-15', 'linear') s) t;

-- Loan invariants: as many rows as periods, numbered 1..n, principals sum to the principal.
SELECT count(*) AS loans,
       count(*) FILTER (WHERE n <> periods OR first_period <> 1 OR last_period <> periods) AS wrong_rows,
       count(*) FILTER (WHERE repaid <> principal) AS principals_do_not_sum,
       count(*) FILTER (WHERE paid <> principal + interest) AS payments_do_not_sum
  FROM (SELECT l.id, l.periods, l.principal, count(s.*) AS n, min(s.period) AS first_period,
               max(s.period) AS last_period, sum(s.principal) AS repaid,
               sum(s.payment) AS paid, sum(s.interest) AS interest
          FROM loans l LEFT JOIN sched s USING (id) GROUP BY l.id, l.periods, l.principal) t;

-- Interest = round(opening × rate × year fraction), recomputed exactly in SQL: actual days
-- for ACT/360 and ACT/365F, dsx.day_count for the 30/360 family, and for ACT/ACT the days
-- on each side of 1 January over that year's length. round(x, 60) keeps the division
-- exact enough that the rounding to minor units happens once.
CREATE FUNCTION pg_temp.year_days(d date) RETURNS integer LANGUAGE sql AS
$$ SELECT make_date(extract(year FROM d)::int + 1, 1, 1) - make_date(extract(year FROM d)::int, 1, 1) $$;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE interest <> round(round(opening * rate * yf_num, 60) / yf_den, mu)) AS wrong_interest
  FROM (SELECT c.*,
               CASE WHEN day_count IN ('ACT/360', 'ACT/365F') THEN (due - previous_due)::numeric
                    WHEN day_count = 'ACT/ACT' THEN
                         CASE WHEN previous_due >= jan1
                              THEN (due - previous_due) * (133590 / pg_temp.year_days(due))
                              ELSE (jan1 - previous_due) * (133590 / pg_temp.year_days(previous_due))
                                   + (due - jan1) * (133590 / pg_temp.year_days(due)) END
                    ELSE dsx.day_count(previous_due, due, day_count) END AS yf_num,
               CASE day_count WHEN 'ACT/360' THEN 360 WHEN 'ACT/365F' THEN 365
                              WHEN 'ACT/ACT' THEN 133590 ELSE 360 END AS yf_den
          FROM (SELECT *, make_date(extract(year FROM due)::int, 1, 1) AS jan1 FROM checked) c) t;

-- Level payment and equal principal against the textbook formulas, computed separately
-- with 70 decimals: annuity PMT = P·i / (1 − (1+i)^−n), linear P / n, n = periods − grace.
-- (a row that pays the loan off before its last period, closing at 0, pays only what was left)
SELECT count(*) FILTER (WHERE method = 'annuity') AS annuity_rows,
       count(*) FILTER (WHERE method = 'annuity' AND rate > 0 AND closing <> 0 AND payment <>
                        round(principal * i / (1 - (1 + i) ^ (-(periods - grace))), mu)) AS wrong_level_payment,
       count(*) FILTER (WHERE method = 'annuity' AND rate = 0 AND closing <> 0 AND payment <>
                        round(round(principal, 60) / (periods - grace), mu)) AS wrong_zero_rate_payment,
       count(*) FILTER (WHERE method = 'linear') AS linear_rows,
       count(*) FILTER (WHERE method = 'linear' AND closing <> 0 AND repaid <> round(round(principal, 60) / (periods - grace), mu)) AS wrong_linear_principal
  FROM (SELECT *, round(rate, 70) / (12 / months) AS i FROM checked) c
 WHERE period > grace AND period < periods;

-- Month ends: from 28 February 2023 (a month end) every due date is a month end; from
-- 30 January the day is kept and clamped; quarterly from 31 January.
SELECT a.due AS from_feb_28_2023, b.due AS from_jan_30_2024, c.due AS quarterly_from_jan_31
  FROM dsx.amortize(100, 0, 5, '2023-02-28', 'linear') a
  JOIN dsx.amortize(100, 0, 5, '2024-01-30', 'linear') b USING (period)
  JOIN dsx.amortize(100, 0, 5, '2024-01-31', 'linear', 'quarterly') c USING (period);

-- Rounding a payment smaller than the minor unit: round(P / n) = 0.01 would take the
-- balance below zero; a period never repays more than is left, so it stops at zero.
SELECT * FROM dsx.amortize(0.02, 0, 4, '2024-01-15', 'linear');

-- Errors.
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(-1, 0.05, 12, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize('NaN', 0.05, 12, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize('Infinity', 0.05, 12, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000.005, 0.05, 12, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000.5, 0.05, 12, '2024-01-15', minor_units => 0)$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1e20, 0.05, 12, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, -0.01, 12, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 'NaN', 12, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.0000000000000000001, 12, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 0, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, -3, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '2024-01-15', grace_periods => -1)$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '2024-01-15', grace_periods => 12)$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '2024-01-15', 'linear', grace_periods => 20)$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '2024-01-15', 'bullet', grace_periods => 12)$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '2024-01-15', minor_units => -1)$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '2024-01-15', minor_units => 7)$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '2024-01-15', 'balloon')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '2024-01-15', frequency => 'weekly')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '2024-01-15', day_count => 'ACT/365')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, 'infinity')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 12, '5874897-06-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(1000, 0.05, 2147483647, '2024-01-15', frequency => 'annual')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(92233720368547758.07, 0.1, 1, '2024-01-15')$$);
SELECT pg_temp.err($$SELECT * FROM dsx.amortize(92233720368547758.07, 0.999999999999999999, 2, '2024-01-15', 'bullet', day_count => 'ACT/ACT')$$);
-- dsx.amortize_check raises the same errors and is true otherwise.
SELECT dsx.amortize_check(1000, 0.05, 12, '2024-01-15') AS valid;
SELECT pg_temp.err($$SELECT dsx.amortize_check(1000, 0.05, 12, '2024-01-15', 'balloon')$$);

-- A rounded level larger than what is left of a tiny loan never repays past zero: 0.05 over
-- 7 linear periods is 0.01 a period until the balance is gone, then nothing.
SELECT period, opening, payment, principal, closing
  FROM dsx.amortize(0.05, 0, 7, '2026-01-31', 'linear');
SELECT count(*) AS negative_balances
  FROM dsx.amortize(100, 0, 120, '2026-01-31', 'linear', minor_units => 0)
 WHERE closing < 0 OR principal < 0;
