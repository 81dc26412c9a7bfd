-- Local calendars, dated terms and two currencies, property test: three hundred generated
-- agreements, each on a factory in a zone of its own (DST north and south, half and
-- quarter hours, both sides of the date line), billing in one of four currencies and
-- settling in the same or another, by either FX rule, at rates that change on random days;
-- price versions, customer plan switches and split amendments from random months; usage
-- crowding the local midnights that open and close each month, some of it late. Settled
-- in stages, the rest by dsx.run_due_settlements(); every statement is then checked
-- against a reference written from the spec (sections 6, 10 and 11) that reads only the
-- generated configuration, the raw events with their batch numbers and PostgreSQL's own
-- time zone rules, and never dsx's functions (except dsx.amortize for a facility's
-- schedule, which has its own tests). Deterministic (setseed); prints only counts and
-- booleans. Everything is named tp_*.
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT setseed(0.1111);

-- Four currencies of the test's own, so that its rates are no other test's: a dollar
-- (TPD) and a euro (TPE) of two decimals, a rupiah (TPR) and a yen (TPY) of none.
INSERT INTO dsx.currencies VALUES ('TPD', 2, 'test dollar'), ('TPE', 2, 'test euro'), ('TPR', 0, 'test rupiah'),
    ('TPY', 0, 'test yen');
CREATE TEMP TABLE tp_cur (currency text PRIMARY KEY, mu int, scale numeric);
INSERT INTO tp_cur VALUES ('TPD', 2, 1), ('TPE', 2, 0.9), ('TPR', 0, 16000), ('TPY', 0, 150);
-- one unit of base in quote, around which the generated rates move
CREATE TEMP TABLE tp_pair (base text, quote text, around numeric, PRIMARY KEY (base, quote));
INSERT INTO tp_pair VALUES ('TPR', 'TPD', 0.0000625), ('TPR', 'TPE', 0.0000562), ('TPY', 'TPD', 0.00667),
    ('TPY', 'TPE', 0.0060), ('TPE', 'TPD', 1.11), ('TPD', 'TPE', 0.9);

CREATE TEMP TABLE tp_cfg AS
SELECT i,
       'tp_a' || lpad(i::text, 3, '0') AS agreement,
       'tp_f' || lpad(i::text, 3, '0') AS factory,
       'tp_p' || (1 + i % 20) AS partner,
       (ARRAY['UTC', 'Asia/Jakarta', 'Australia/Sydney', 'America/New_York', 'Asia/Kathmandu', 'Pacific/Chatham',
              'America/St_Johns', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Europe/London', 'Australia/Lord_Howe',
              'America/Santiago'])[1 + floor(random() * 12)::int] AS zone,
       (ARRAY['TPD', 'TPE', 'TPR', 'TPR', 'TPY'])[1 + floor(random() * 5)::int] AS billing,
       random() < 0.35 AS same_currency,
       CASE WHEN random() < 0.5 THEN 'period_end' ELSE 'period_average' END AS fx_rule,
       (ARRAY[date '2026-03-01', '2026-04-01'])[1 + floor(random() * 2)::int] AS starts,
       round(power(10::numeric, (2 + random() * 3)::numeric)) AS size,       -- monthly revenue, in dollars
       random() < 0.6 AS financed
  FROM generate_series(1, 300) i;
ALTER TABLE tp_cfg ADD COLUMN settlement text, ADD COLUMN mu_b int, ADD COLUMN mu_s int;
UPDATE tp_cfg SET settlement = CASE WHEN same_currency THEN billing WHEN billing = 'TPD' THEN 'TPE'
                                    WHEN billing = 'TPE' THEN 'TPD'
                                    ELSE (ARRAY['TPD', 'TPE'])[1 + i % 2] END;
UPDATE tp_cfg c SET mu_b = b.mu, mu_s = s.mu FROM tp_cur b, tp_cur s WHERE b.currency = c.billing AND s.currency = c.settlement;

-- Rates: every pair has one on 15 February and then on about one day in three until the
-- end of November, each a random move of up to 5 % with eleven significant digits.
CREATE TEMP TABLE tp_rate AS
SELECT p.base, p.quote, d::date AS rate_date,
       round(p.around * (0.95 + random() * 0.1)::numeric, 10 - floor(log(p.around))::int) AS rate
  FROM tp_pair p, generate_series(date '2026-02-15', date '2026-11-30', interval '1 day') d
 WHERE d = '2026-02-15' OR random() < 0.3;

-- Split: the vendor's share in hundredths of a percent, then up to two amendments from
-- months after the start.
CREATE TEMP TABLE tp_split AS
SELECT i, '-infinity'::date AS valid_from, (1 + floor(random() * 9998))::int AS vendor_bp FROM tp_cfg;
INSERT INTO tp_split
SELECT DISTINCT ON (i, m) i, m, (1 + floor(random() * 9998))::int
  FROM (SELECT c.i, (c.starts + (1 + floor(random() * 5)::int) * interval '1 month')::date AS m
          FROM tp_cfg c, generate_series(1, 2) k WHERE random() < 0.45) x
 ORDER BY i, m;
CREATE FUNCTION pg_temp.tp_split_text(bp int) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT 'vendor=' || (bp / 100.0)::numeric(5, 2) || '%, partner=' || ((10000 - bp) / 100.0)::numeric(5, 2) || '%' $$;

-- Plans per billing currency, two models, flat prices per million tokens (up to nine
-- decimals); half the plan-model pairs change price from a month between April and July.
CREATE TEMP TABLE tp_price AS
SELECT c.currency, 'tp_plan_' || c.currency || k AS plan, 'tp_m' || m AS model, '-infinity'::date AS valid_from,
       round((random() * 10 * c.scale)::numeric, floor(random() * 10)::int) AS input_price,
       round((random() * 30 * c.scale)::numeric, floor(random() * 10)::int) AS output_price
  FROM tp_cur c, generate_series(1, 4) k, generate_series(1, 2) m;
INSERT INTO tp_price
SELECT currency, plan, model, (date '2026-04-01' + floor(random() * 4)::int * interval '1 month')::date,
       round(input_price * (0.5 + random())::numeric, 9), round(output_price * (0.5 + random())::numeric, 9)
  FROM tp_price WHERE random() < 0.5;
-- Customers: two to four per factory, each on a plan from the beginning, some switching
-- to another from a month between April and July.
CREATE TEMP TABLE tp_cust AS
SELECT c.i, 'tp_c' || n AS customer, '-infinity'::date AS valid_from,
       'tp_plan_' || c.billing || (1 + floor(random() * 4)::int) AS plan
  FROM tp_cfg c, generate_series(1, 4) n WHERE n <= 2 OR random() < 0.5;
INSERT INTO tp_cust
SELECT u.i, u.customer, (date '2026-04-01' + floor(random() * 4)::int * interval '1 month')::date,
       'tp_plan_' || c.billing || (1 + floor(random() * 4)::int)
  FROM tp_cust u JOIN tp_cfg c USING (i) WHERE random() < 0.4;

-- Facilities in the settlement currency: a few months of revenue, any method and day count.
CREATE TEMP TABLE tp_fac AS
SELECT c.i, 'tp_fac' || c.i AS facility,
       round(c.size * s.scale * (1 + random() * 5)::numeric, c.mu_s) AS principal,
       round((random() * 0.12)::numeric, 4) AS annual_rate,
       3 + floor(random() * 10)::int AS periods,
       c.starts - 15 + floor(random() * 75)::int AS first_due,
       (ARRAY['annuity', 'linear', 'bullet'])[1 + floor(random() * 3)::int] AS method,
       (ARRAY['30/360', 'ACT/360', 'ACT/365F', 'ACT/ACT'])[1 + floor(random() * 4)::int] AS day_count,
       c.mu_s
  FROM tp_cfg c JOIN tp_cur s ON s.currency = c.settlement WHERE c.financed;

INSERT INTO dsx.parties VALUES ('tp_v', 'vendor', 'TP vendor'), ('tp_bank', 'lender', 'TP bank');
INSERT INTO dsx.parties SELECT 'tp_p' || k, 'partner', 'TP partner ' || k FROM generate_series(1, 20) k;
INSERT INTO dsx.factories (factory, partner, currency, region, time_zone)
SELECT factory, partner, billing, 'tp', zone FROM tp_cfg ORDER BY i;
INSERT INTO dsx.price_plans (plan, model, input_price, output_price, valid_from)
SELECT plan, model, input_price::text::dsx.price, output_price::text::dsx.price, valid_from FROM tp_price;
INSERT INTO dsx.customer_plans (customer, factory, plan, valid_from)
SELECT u.customer, c.factory, u.plan, u.valid_from FROM tp_cust u JOIN tp_cfg c USING (i);
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag,
                            settlement_currency, fx_rule)
SELECT c.agreement, c.partner, 'tp_v', c.factory, pg_temp.tp_split_text(s.vendor_bp)::dsx.split, c.starts,
       (floor(random() * 3) || ' days')::interval, c.settlement, c.fx_rule
  FROM tp_cfg c JOIN tp_split s ON s.i = c.i AND s.valid_from = '-infinity' ORDER BY c.i;
INSERT INTO dsx.agreement_splits (agreement, valid_from, revenue_split)
SELECT c.agreement, s.valid_from, pg_temp.tp_split_text(s.vendor_bp)::dsx.split
  FROM tp_split s JOIN tp_cfg c USING (i) WHERE s.valid_from > '-infinity';
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due,
                                   method, day_count)
SELECT f.facility, c.agreement, 'tp_bank', f.principal, f.annual_rate, f.periods, f.first_due, f.method, f.day_count
  FROM tp_fac f JOIN tp_cfg c USING (i);
INSERT INTO dsx.fx_rates SELECT base, quote, rate_date, rate FROM tp_rate;
SELECT count(*) AS agreements,
       count(DISTINCT zone) AS zones,
       count(*) FILTER (WHERE billing <> settlement) > 150 AS mostly_two_currencies,
       count(DISTINCT (billing, settlement, fx_rule)) > 10 AS many_currency_rules,
       (SELECT count(*) FROM tp_split WHERE valid_from > '-infinity') > 80 AS many_split_amendments,
       (SELECT count(*) FROM tp_price WHERE valid_from > '-infinity') > 10 AS price_amendments,
       (SELECT count(*) FROM tp_cust WHERE valid_from > '-infinity') > 100 AS plan_switches
  FROM tp_cfg;

-- Usage, February to July: per customer and month a few events spread over the local
-- month, and as many within 30 hours of a local midnight that opens or closes one.
-- Months to May arrive on time (batch 1) or late (2); June and July in batch 2; batch 3
-- brings late events of April to July after those are settled.
CREATE TEMP TABLE tp_events AS
WITH m AS (SELECT c.i, c.factory, c.zone, c.size, (SELECT scale FROM tp_cur WHERE currency = c.billing) AS scale,
                  mo::date AS month, (mo::timestamp AT TIME ZONE c.zone) AS opens,
                  ((mo + interval '1 month')::timestamp AT TIME ZONE c.zone) AS closes
             FROM tp_cfg c, generate_series(date '2026-02-01', date '2026-07-01', interval '1 month') mo),
     e AS (SELECT m.*, u.customer, 'tp_m' || (1 + floor(random() * 2)::int) AS model, n, random() AS r
             FROM m JOIN (SELECT DISTINCT i, customer FROM tp_cust) u USING (i), generate_series(1, 4) n)
SELECT e.factory, 'tp-' || e.month || '-' || e.customer || '-' || e.n AS event_id,
       CASE WHEN e.n <= 2 THEN e.opens + floor(e.r * extract(epoch FROM e.closes - e.opens)) * interval '1 second'
            WHEN e.n = 3 THEN e.opens + (floor(e.r * 216000) - 108000) * interval '1 second'
            ELSE e.closes + (floor(e.r * 216000) - 108000) * interval '1 second' END AS occurred_at,
       e.customer, e.model,
       floor(random() * e.size * 100000)::bigint AS input_tokens,
       floor(random() * e.size * 20000)::bigint AS output_tokens,
       e.month
  FROM e;
ALTER TABLE tp_events ADD COLUMN arrives int;
UPDATE tp_events SET arrives = CASE WHEN month >= '2026-06-01' THEN 2 WHEN random() < 0.85 THEN 1 ELSE 2 END;
INSERT INTO tp_events
SELECT factory, event_id || '-late', occurred_at + interval '1 second', customer, model,
       input_tokens / 3, output_tokens / 3, month, 3
  FROM tp_events WHERE month >= '2026-04-01' AND random() < 0.1;
SELECT count(*) > 15000 AS thousands_of_events,
       count(*) FILTER (WHERE arrives > 1 AND month < '2026-06-01') > 1000 AS late_for_settled_months,
       count(*) FILTER (WHERE arrives = 3) > 500 AS late_after_june
  FROM tp_events;

-- Stage 1: batch 1; every agreement settles its months to May.
INSERT INTO dsx.usage_inbox
SELECT event_id, occurred_at, factory, customer, model, input_tokens, output_tokens
  FROM tp_events WHERE arrives = 1 ORDER BY factory, occurred_at;
SELECT inserted = (SELECT count(*) FROM tp_events WHERE arrives = 1) AS batch1_stored FROM dsx.ingest();
SELECT count(*) FILTER (WHERE dsx.settle(c.agreement, p::date)) AS settled_to_may
  FROM tp_cfg c, generate_series(c.starts, date '2026-05-01', interval '1 month') p;
-- Stage 2: batch 2; June and July.
INSERT INTO dsx.usage_inbox
SELECT event_id, occurred_at, factory, customer, model, input_tokens, output_tokens
  FROM tp_events WHERE arrives = 2 ORDER BY factory, occurred_at;
SELECT inserted = (SELECT count(*) FROM tp_events WHERE arrives = 2) AS batch2_stored FROM dsx.ingest();
SELECT count(*) FILTER (WHERE dsx.settle(c.agreement, p::date)) AS settled_june_july
  FROM tp_cfg c, generate_series(date '2026-06-01', date '2026-07-01', interval '1 month') p;
-- Stage 3: batch 3; the scheduler's function settles what is due, counted from local
-- midnight at the end of each factory's month plus its settle_lag.
INSERT INTO dsx.usage_inbox
SELECT event_id, occurred_at, factory, customer, model, input_tokens, output_tokens
  FROM tp_events WHERE arrives = 3 ORDER BY factory, occurred_at;
SELECT inserted = (SELECT count(*) FROM tp_events WHERE arrives = 3) AS batch3_stored FROM dsx.ingest();
-- Exactly the due periods have statements: a period is due once its local end plus the
-- settle_lag has passed (one transaction: the same now() for dsx and the reference).
BEGIN;
SELECT dsx.run_due_settlements() > 0 AS run_due_settled;
CREATE TEMP TABLE tp_st AS
SELECT s.*, c.i, c.mu_b, c.mu_s FROM dsx.statements s JOIN tp_cfg c USING (agreement);
SELECT count(*) > 2000 AS thousands_of_statements,
       (SELECT array_agg(agreement || ' ' || period_start ORDER BY agreement, period_start) FROM tp_st) IS NOT DISTINCT FROM
       (SELECT array_agg(c.agreement || ' ' || p::date ORDER BY c.agreement, p)
          FROM tp_cfg c JOIN dsx.agreements a USING (agreement),
               generate_series(c.starts, date_trunc('month', now())::date, interval '1 month') p
         WHERE ((p + interval '1 month')::timestamp AT TIME ZONE c.zone) + a.settle_lag <= now()) AS exactly_the_due_periods,
       count(*) FILTER (WHERE fx_rate IS NOT NULL) > 1000 AS converted_often,
       count(*) FILTER (WHERE adjustments_billing <> 0 AND fx_rate IS NOT NULL) > 200 AS late_usage_converted,
       count(*) FILTER (WHERE split_valid_from IS NOT NULL) > 200 AS amended_splits_used,
       count(*) FILTER (WHERE support_drawn > 0) > 50 AS support_drawn
  FROM tp_st;
COMMIT;

-- The reference. Each raw event's local month, from the factory's zone.
CREATE TEMP TABLE tp_raw AS
SELECT c.i, date_trunc('month', e.occurred_at AT TIME ZONE c.zone)::date AS month, e.customer, e.model,
       e.batch_id, e.input_tokens, e.output_tokens
  FROM dsx.usage_events e JOIN tp_cfg c USING (factory);
CREATE INDEX ON tp_raw (i, month);
-- A month's rated lines as known through a batch: per customer and model, the plan the
-- customer is on for that month and that plan's prices for it (the latest valid_from on
-- or before the month), rounded once to the billing currency's minor unit.
CREATE FUNCTION pg_temp.tp_revenue(ci int, m date, batch bigint) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(sum(round((l.inp * pp.input_price + l.outp * pp.output_price) / 1000000, c.mu_b)), 0)
      FROM tp_cfg c
      JOIN (SELECT r.customer, r.model, sum(r.input_tokens) AS inp, sum(r.output_tokens) AS outp
              FROM tp_raw r WHERE r.i = ci AND r.month = m AND r.batch_id <= batch GROUP BY 1, 2) l ON true
      JOIN LATERAL (SELECT u.plan FROM tp_cust u WHERE u.i = c.i AND u.customer = l.customer AND u.valid_from <= m
                     ORDER BY u.valid_from DESC LIMIT 1) u ON true
      JOIN LATERAL (SELECT p.* FROM tp_price p WHERE p.plan = u.plan AND p.model = l.model AND p.valid_from <= m
                     ORDER BY p.valid_from DESC LIMIT 1) pp ON true
     WHERE c.i = ci
$$;
-- The rate of a pair on a day: the latest on or before it.
CREATE FUNCTION pg_temp.tp_rate_on(b text, q text, d date) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT rate FROM tp_rate WHERE base = b AND quote = q AND rate_date <= d ORDER BY rate_date DESC LIMIT 1
$$;
-- Per statement: the billing figures, the rate as a sum of day rates over a number of
-- days (period_end: the last local day's rate over 1; period_average: every day's), the
-- split in force and the debt service due.
CREATE TEMP TABLE tp_ref1 AS
WITH st AS (
    SELECT s.i, s.period_start, s.through_batch,
           COALESCE((SELECT max(x.through_batch) FROM tp_st x WHERE x.i = s.i AND x.period_start < s.period_start), 0) AS prev_batch
      FROM tp_st s
)
SELECT st.i, st.period_start, c.billing, c.settlement, c.mu_s,
       pg_temp.tp_revenue(st.i, st.period_start, st.through_batch) AS revenue_billing,
       (SELECT COALESCE(sum(pg_temp.tp_revenue(st.i, p::date, st.through_batch)
                            - pg_temp.tp_revenue(st.i, p::date, st.prev_batch)), 0)
          FROM generate_series(c.starts, st.period_start - interval '1 month', interval '1 month') p) AS adjustments_billing,
       CASE WHEN c.billing = c.settlement THEN NULL
            WHEN c.fx_rule = 'period_end'
                 THEN pg_temp.tp_rate_on(c.billing, c.settlement, (st.period_start + interval '1 month - 1 day')::date)
            ELSE (SELECT sum(pg_temp.tp_rate_on(c.billing, c.settlement, d::date))
                    FROM generate_series(st.period_start, st.period_start + interval '1 month - 1 day', interval '1 day') d) END AS rate_sum,
       CASE WHEN c.fx_rule = 'period_end' THEN 1
            ELSE (st.period_start + interval '1 month')::date - st.period_start END AS rate_days,
       (SELECT max(valid_from) FROM tp_split x WHERE x.i = st.i AND x.valid_from <= st.period_start) AS split_from,
       (SELECT COALESCE(sum(a.payment), 0)
          FROM tp_fac f, dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method, 'monthly',
                                      f.day_count, f.mu_s, 0) a
         WHERE f.i = st.i AND a.due >= st.period_start AND a.due < st.period_start + interval '1 month') AS due
  FROM st JOIN tp_cfg c USING (i);
-- Conversion: each of revenue and adjustments once, rounded once (half away from zero).
ALTER TABLE tp_ref1 ADD COLUMN revenue numeric, ADD COLUMN adjustments numeric;
UPDATE tp_ref1 SET revenue = CASE WHEN rate_sum IS NULL THEN revenue_billing
                                  ELSE round(revenue_billing * rate_sum / rate_days, mu_s) END,
                   adjustments = CASE WHEN rate_sum IS NULL THEN adjustments_billing
                                      ELSE round(adjustments_billing * rate_sum / rate_days, mu_s) END;
-- The waterfall month after month from a zero support balance at the start (SPEC 6):
-- debt service paid from gross as far as it goes, the rest drawn from credit support;
-- what remains repays the support balance and its interest (the month's local days at the
-- facility's day count), and the rest is distributed.
CREATE FUNCTION pg_temp.tp_step(gross_in numeric, due_in numeric, opening_in numeric, interest_in numeric,
    OUT opening numeric, OUT interest numeric, OUT gross numeric, OUT due numeric, OUT paid numeric,
    OUT drawn numeric, OUT repaid numeric, OUT closing numeric, OUT distributable numeric)
LANGUAGE sql IMMUTABLE AS $$
    SELECT $3, $4, $1, $2, p.paid, $2 - p.paid, q.repaid, $3 + $4 + ($2 - p.paid) - q.repaid, $1 - p.paid - q.repaid
      FROM (SELECT LEAST(GREATEST($1, 0), $2) AS paid) p,
           LATERAL (SELECT LEAST(GREATEST($1 - p.paid, 0), $3 + $4) AS repaid) q
$$;
CREATE TEMP TABLE tp_ref AS
WITH RECURSIVE w AS (
    SELECT r.i, r.period_start, x.*
      FROM tp_ref1 r JOIN tp_cfg c USING (i), LATERAL pg_temp.tp_step(r.revenue + r.adjustments, r.due, 0, 0) x
     WHERE r.period_start = c.starts
    UNION ALL
    SELECT n.i, n.period_start, x.*
      FROM w JOIN tp_ref1 n ON n.i = w.i AND n.period_start = (w.period_start + interval '1 month')::date
      LEFT JOIN tp_fac f ON f.i = n.i
      CROSS JOIN LATERAL (
          SELECT COALESCE(round(w.closing * f.annual_rate
                                * CASE WHEN f.day_count LIKE 'ACT/%' THEN (n.period_start + interval '1 month')::date - n.period_start ELSE 30 END
                                / CASE f.day_count WHEN 'ACT/365F' THEN 365
                                                   WHEN 'ACT/ACT' THEN (date_trunc('year', n.period_start) + interval '1 year')::date
                                                                       - date_trunc('year', n.period_start)::date
                                                   ELSE 360 END, f.mu_s), 0) AS interest) y
      CROSS JOIN LATERAL pg_temp.tp_step(n.revenue + n.adjustments, n.due, w.closing, y.interest) x
)
SELECT * FROM w;

CREATE TEMP VIEW tp_vs_ref AS
SELECT count(r.i) = (SELECT count(*) FROM tp_st) AS reference_covers_every_statement,
       count(*) FILTER (WHERE (s.billing_currency, s.currency, s.revenue_billing, s.adjustments_billing, s.revenue, s.adjustments)
                              IS DISTINCT FROM (r1.billing, r1.settlement, r1.revenue_billing, r1.adjustments_billing,
                                                r1.revenue, r1.adjustments)) AS conversion_differs,
       count(*) FILTER (WHERE (s.fx_rate IS NULL) <> (r1.rate_sum IS NULL)
                           OR abs(s.fx_rate - r1.rate_sum / r1.rate_days) >= 1e-20) AS rate_differs,
       count(*) FILTER (WHERE s.split_valid_from IS DISTINCT FROM NULLIF(r1.split_from, '-infinity')) AS split_version_differs,
       count(*) FILTER (WHERE (s.gross, s.debt_service_due, s.debt_service_paid, s.support_opening, s.support_drawn,
                               s.support_interest, s.support_repaid, s.support_balance, s.distributable)
                              IS DISTINCT FROM (r.gross, r.due, r.paid, r.opening, r.drawn, r.interest, r.repaid,
                                                r.closing, r.distributable)) AS waterfall_differs,
       -- two parties, largest remainder: the vendor's share is its exact part to within one
       -- minor unit, and the two shares make up the distributable amount
       count(*) FILTER (WHERE abs(s.vendor_share - s.distributable * sp.vendor_bp / 10000) >= power(10::numeric, -s.mu_s)
                           OR s.vendor_share + s.partner_share <> s.distributable) AS shares_differ
  FROM tp_st s
  LEFT JOIN tp_ref1 r1 USING (i, period_start)
  LEFT JOIN tp_ref r USING (i, period_start)
  LEFT JOIN tp_split sp ON sp.i = s.i AND sp.valid_from = r1.split_from;
SELECT * FROM tp_vs_ref;
-- control: the same comparison notices a missing reference row, a rate off in the 20th
-- decimal, a split version and a cent
BEGIN;
DELETE FROM tp_ref WHERE (i, period_start) = (SELECT i, period_start FROM tp_ref ORDER BY i, period_start LIMIT 1);
UPDATE tp_ref1 SET rate_sum = rate_sum + 2e-20 * rate_days
 WHERE (i, period_start) = (SELECT i, period_start FROM tp_ref1 WHERE rate_sum IS NOT NULL ORDER BY i DESC, period_start LIMIT 1);
UPDATE tp_ref1 SET split_from = '-infinity'
 WHERE (i, period_start) = (SELECT i, period_start FROM tp_ref1 WHERE split_from > '-infinity' ORDER BY i, period_start LIMIT 1);
UPDATE tp_ref1 SET revenue = revenue + 0.01
 WHERE (i, period_start) = (SELECT i, period_start FROM tp_ref1 WHERE mu_s = 2 ORDER BY i DESC, period_start DESC LIMIT 1);
SELECT * FROM tp_vs_ref;
ROLLBACK;

-- Every event is booked in its local month, whichever statement carried it: the lines of
-- each month add up to the reference's rating of everything that arrived.
SELECT count(*) AS months_booked_wrong
  FROM (SELECT c.i, p::date AS month FROM tp_cfg c,
               generate_series(c.starts, (SELECT max(period_start) FROM tp_st s WHERE s.i = c.i), interval '1 month') p) m
 WHERE (SELECT COALESCE(sum(l.amount), 0) FROM dsx.statement_lines l JOIN tp_cfg c USING (agreement)
         WHERE c.i = m.i AND l.for_period = m.month)
       <> pg_temp.tp_revenue(m.i, m.month, (SELECT max(through_batch) FROM tp_st s WHERE s.i = m.i));
-- The rollup's days are local days: per factory and local day, the raw events' tokens.
SELECT count(*) AS days_differ
  FROM (SELECT f.factory, d.day, sum(dsx.input_tokens(d.usage)) AS inp, sum(dsx.output_tokens(d.usage)) AS outp
          FROM dsx.usage_daily d JOIN tp_cfg f USING (factory) GROUP BY 1, 2) d
  FULL JOIN (SELECT c.factory, (e.occurred_at AT TIME ZONE c.zone)::date AS day,
                    sum(e.input_tokens) AS inp, sum(e.output_tokens) AS outp
               FROM dsx.usage_events e JOIN tp_cfg c USING (factory) GROUP BY 1, 2) e USING (factory, day)
 WHERE (d.inp, d.outp) IS DISTINCT FROM (e.inp, e.outp);

-- The ledger of each statement balances in each currency; the receivable is the gross in
-- the billing currency; the conversion account takes the billing gross out in the billing
-- currency and puts the converted gross in, in the settlement currency.
SELECT count(*) AS ledger_broken
  FROM tp_st s
  LEFT JOIN LATERAL (
        SELECT bool_and(t.total = 0) AS balanced, count(*) AS currencies
          FROM (SELECT currency, sum(amount) AS total FROM dsx.ledger_entries l
                 WHERE l.agreement = s.agreement AND l.period_start = s.period_start GROUP BY currency) t) b ON true
  LEFT JOIN LATERAL (
        SELECT sum(amount) FILTER (WHERE account = 'receivable:customers' AND currency = s.billing_currency) AS receivable,
               sum(amount) FILTER (WHERE account = 'fx:conversion' AND currency = s.billing_currency) AS out_billing,
               sum(amount) FILTER (WHERE account = 'fx:conversion' AND currency = s.currency) AS in_settlement,
               count(*) FILTER (WHERE currency NOT IN (s.billing_currency, s.currency)) AS stray
          FROM dsx.ledger_entries l WHERE l.agreement = s.agreement AND l.period_start = s.period_start) e ON true
 WHERE NOT b.balanced OR e.stray > 0
    OR COALESCE(e.receivable, 0) <> s.revenue_billing + s.adjustments_billing
    OR (s.fx_rate IS NOT NULL AND (b.currencies <> 2 OR COALESCE(e.out_billing, 0) <> -(s.revenue_billing + s.adjustments_billing)
                                   OR COALESCE(e.in_settlement, 0) <> s.gross))
    OR (s.fx_rate IS NULL AND (b.currencies <> 1 OR e.out_billing IS NOT NULL));

-- Closed books stay closed: for sixty settled periods (of those to October, which are due
-- whatever the day the test runs), a new price version, a plan switch, a split amendment
-- and a rate dated inside them are each refused with 55000; the same rows dated after the
-- last settled period (next month but one) are accepted.
CREATE TEMP TABLE tp_try AS
SELECT s.i, s.agreement, c.factory, s.period_start, s.billing_currency, s.currency,
       (SELECT u.plan FROM tp_cust u WHERE u.i = s.i ORDER BY u.customer, u.valid_from LIMIT 1) AS plan,
       (SELECT u.customer FROM tp_cust u WHERE u.i = s.i ORDER BY u.customer LIMIT 1) AS customer
  FROM tp_st s JOIN tp_cfg c USING (i) WHERE s.period_start > c.starts AND s.period_start < date '2026-11-01'
 ORDER BY md5(s.agreement || s.period_start) LIMIT 60;
CREATE FUNCTION pg_temp.tp_state(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'accepted';
EXCEPTION WHEN others THEN
    RETURN SQLSTATE;
END
$$;
SELECT what, outcome, count(*)
  FROM tp_try t,
       LATERAL (VALUES
         ('price inside', pg_temp.tp_state(format('INSERT INTO dsx.price_plans (plan, model, input_price, output_price, valid_from) VALUES (%L, %L, %L, %L, %L) ON CONFLICT DO NOTHING',
                                                  t.plan, 'tp_m_new', '1', '1', t.period_start))),
         ('plan inside', pg_temp.tp_state(format('INSERT INTO dsx.customer_plans (customer, factory, plan, valid_from) VALUES (%L, %L, %L, %L)',
                                                 'tp_c_new', t.factory, t.plan, t.period_start))),
         ('split inside', pg_temp.tp_state(format('INSERT INTO dsx.agreement_splits VALUES (%L, %L, %L) ON CONFLICT (agreement, valid_from) DO UPDATE SET revenue_split = excluded.revenue_split',
                                                  t.agreement, t.period_start, 'vendor=50%, partner=50%'))),
         ('rate inside', CASE WHEN t.billing_currency = t.currency THEN 'same currency'
                              ELSE pg_temp.tp_state(format('INSERT INTO dsx.fx_rates VALUES (%L, %L, %L, 1) ON CONFLICT (base, quote, rate_date) DO UPDATE SET rate = 1',
                                                           t.billing_currency, t.currency, t.period_start + 9)) END),
         ('split after', pg_temp.tp_state(format('INSERT INTO dsx.agreement_splits VALUES (%L, %L, %L) ON CONFLICT DO NOTHING',
                                                 t.agreement, date_trunc('month', now() + interval '2 months')::date, 'vendor=50%, partner=50%'))),
         ('plan after', pg_temp.tp_state(format('INSERT INTO dsx.customer_plans (customer, factory, plan, valid_from) VALUES (%L, %L, %L, %L) ON CONFLICT DO NOTHING',
                                                t.customer, t.factory, t.plan, date_trunc('month', now() + interval '2 months')::date)))) v(what, outcome)
 GROUP BY 1, 2 ORDER BY 1, 2;

-- And dsx's own recomputation agrees with every statement.
SELECT count(*) FILTER (WHERE NOT dsx.verify_settlement(agreement, period_start)) AS not_verified FROM tp_st;
