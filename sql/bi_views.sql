-- What BI tools see: every view column of a built-in type with a declared size, and daily
-- revenue that reconciles to the cent. Generated data: forty factories billing in a
-- currency of two decimals or of none, three customers and two models each, graduated and
-- volume tiers (so a day's exact revenue varies, and can be negative), random usage over
-- four months. Three months settled, then a price change for the open month, late usage
-- and voids of settled months, and the fourth month settled. At each stage: the days of a
-- month add up to what the books hold for it (its line and the adjustment lines booked for
-- it since), the lines to each statement, an open month to its provisional line (rated
-- at the price in force, rounded once, computed here from the raw rollup), every day to
-- within one minor unit of its exact share; settled days never move with a price change.
-- Deterministic (setseed); prints only counts and booleans. Everything is named bv_*.
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT setseed(0.2718);

-- The catalogue: no view column is an unbounded numeric or of a dsx type; amounts are
-- numeric(38,6).
SELECT count(*) FILTER (WHERE a.atttypid = 'numeric'::regtype AND a.atttypmod = -1) AS unbounded_numeric,
       count(*) FILTER (WHERE t.typnamespace = 'dsx'::regnamespace) AS dsx_typed,
       count(*) FILTER (WHERE a.atttypid NOT IN ('text'::regtype, 'date'::regtype, 'timestamptz'::regtype, 'bigint'::regtype,
                                                 'integer'::regtype, 'boolean'::regtype, 'numeric'::regtype, 'name'::regtype))
           AS other_types,
       count(DISTINCT c.relname) AS views
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
 WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'v';
SELECT format_type(a.atttypid, a.atttypmod) AS numeric_type, count(*) AS columns
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'v' AND a.atttypid = 'numeric'::regtype
 GROUP BY 1 ORDER BY 1;

INSERT INTO dsx.currencies VALUES ('BVD', 2, 'BI test dollar'), ('BVY', 0, 'BI test yen');
INSERT INTO dsx.parties VALUES ('bv_v', 'vendor', 'BV vendor'), ('bv_p', 'partner', 'BV partner');
CREATE TEMP TABLE bv_f AS
SELECT i, 'bv_f' || lpad(i::text, 2, '0') AS factory, CASE WHEN i % 3 = 0 THEN 'BVY' ELSE 'BVD' END AS currency,
       CASE WHEN i % 3 = 0 THEN 0 ELSE 2 END AS mu
  FROM generate_series(1, 40) i;
INSERT INTO dsx.factories (factory, partner, currency, region, time_zone)
SELECT factory, 'bv_p', currency, 'bv', CASE WHEN i % 2 = 0 THEN 'Asia/Jakarta' ELSE 'America/New_York' END FROM bv_f;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag, settlement_currency)
SELECT factory, 'bv_p', 'bv_v', factory, 'vendor=25%, partner=75%', '2026-06-01', '100 years', currency FROM bv_f;
-- graduated and volume tiers with a cheaper top tier, prices of up to nine decimals
INSERT INTO dsx.price_plans (plan, model, input_price, output_price) VALUES
    ('bv_grad', 'bv_m1', 'graduated: 0: 3.123456789, 20000000: 2.5', 'graduated: 0: 12, 5000000: 9.75'),
    ('bv_grad', 'bv_m2', '0.7', 'volume: 0: 4, 3000000: 3.3'),
    ('bv_vol', 'bv_m1', 'volume: 0: 2.999999999, 10000000: 1.25', 'volume: 0: 15, 4000000: 6'),
    ('bv_vol', 'bv_m2', '1.000000001', '2.5');
INSERT INTO dsx.customer_plans (customer, factory, plan)
SELECT 'bv_c' || c, f.factory, CASE WHEN (f.i + c) % 2 = 0 THEN 'bv_grad' ELSE 'bv_vol' END
  FROM bv_f f, generate_series(1, 3) c;

-- Usage: on most days of June to September, one to three events per customer and model;
-- a tenth of September's events held back (they arrive after September is settled).
CREATE TEMP TABLE bv_events AS
SELECT f.factory, 'ev' || f.i || '-' || c || '-' || m || '-' || d::date || '-' || k AS event_id,
       (d::date + time '10:00' + k * interval '3 hours') AT TIME ZONE
           CASE WHEN f.i % 2 = 0 THEN 'Asia/Jakarta' ELSE 'America/New_York' END AS occurred_at,
       'bv_c' || c AS customer, 'bv_m' || m AS model,
       (random() * 3000000)::bigint AS input_tokens, (random() * 800000)::bigint AS output_tokens,
       d >= '2026-08-01' AND d < '2026-09-01' AND random() < 0.1 AS late
  FROM bv_f f, generate_series(1, 3) c, generate_series(1, 2) m,
       generate_series(date '2026-06-01', date '2026-09-30', interval '1 day') d, generate_series(1, 3) k
 WHERE random() < 0.45;
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens)
SELECT event_id, occurred_at, factory, customer, model, input_tokens, output_tokens FROM bv_events WHERE NOT late;
SELECT inserted > 0 AS ingested FROM dsx.ingest();
SELECT count(*) FILTER (WHERE dsx.settle(factory, p::date)) AS settled
  FROM bv_f, generate_series(date '2026-06-01', date '2026-08-01', interval '1 month') p;

-- The checks, for the bv_ factories at any stage.
-- (1) every month's days against what the books hold for it (settled) or its provisional
--     line: the month rated here from the raw rollup at the price in force, rounded once;
-- (2) each day in the minor unit and within one minor unit of its exact share of that
--     amount (a largest-remainder allocation never moves a day by a whole unit);
-- (3) every statement's own lines and adjustment lines against its revenue and adjustments.
CREATE FUNCTION pg_temp.bv_check() RETURNS TABLE(months bigint, settled_months bigint, days_off bigint, not_in_minor_units bigint,
                                                 beyond_a_unit bigint, statements_off bigint)
LANGUAGE sql AS $$
    WITH days AS (
        SELECT d.*, date_trunc('month', d.day)::date AS month, f.mu
          FROM dsx.partner_usage_daily d JOIN bv_f f USING (factory)
    ), roll AS (
        SELECT u.factory, u.customer, u.model, date_trunc('month', u.day)::date AS month, dsx.rollup(u.usage) AS u
          FROM dsx.usage_daily u WHERE u.factory LIKE 'bv\_%' GROUP BY 1, 2, 3, 4
    ), target AS (
        SELECT r.factory, r.customer, r.model, r.month,
               s.agreement IS NOT NULL AS settled,
               CASE WHEN s.agreement IS NOT NULL
                    THEN COALESCE((SELECT sum(l.amount) FROM dsx.partner_revenue_lines l
                                    WHERE l.agreement = r.factory AND l.for_period = r.month
                                      AND l.customer = r.customer AND l.model = r.model), 0)
                    ELSE round(dsx.charge(r.u, pp.input_price, pp.output_price), f.mu) END AS amount
          FROM roll r
          JOIN bv_f f USING (factory)
          LEFT JOIN dsx.statements s ON s.agreement = r.factory AND s.period_start = r.month
          LEFT JOIN dsx.customer_plans cp ON cp.factory = r.factory AND cp.customer = r.customer
                AND cp.valid_from = (SELECT max(x.valid_from) FROM dsx.customer_plans x
                                      WHERE x.factory = r.factory AND x.customer = r.customer AND x.valid_from <= r.month)
          LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = r.model
                AND pp.valid_from = (SELECT max(y.valid_from) FROM dsx.price_plans y
                                      WHERE y.plan = cp.plan AND y.model = r.model AND y.valid_from <= r.month)
    ), sums AS (
        SELECT d.factory, d.customer, d.model, d.month, sum(d.revenue) AS revenue, bool_and(d.settled) AS settled
          FROM days d GROUP BY 1, 2, 3, 4
    ), shares AS (
        -- each day's exact share of its month's amount, by what it added to the month's
        -- exact charge at the prices the month was booked with (else those in force)
        SELECT d.revenue, d.mu, t.amount * w.exact / NULLIF(sum(w.exact) OVER g, 0) AS exact_share
          FROM (SELECT d.*, sum(d.input_tokens) OVER o AS mi, sum(d.output_tokens) OVER o AS mo
                  FROM days d WINDOW o AS (PARTITION BY d.factory, d.customer, d.model, d.month ORDER BY d.day)) d
          JOIN target t USING (factory, customer, model, month)
          LEFT JOIN (SELECT DISTINCT ON (l.agreement, l.for_period, l.customer, l.model) l.agreement, l.for_period,
                            l.customer, l.model, l.input_price::dsx.price AS ip, l.output_price::dsx.price AS op
                       FROM dsx.partner_revenue_lines l WHERE l.agreement LIKE 'bv\_%'
                      ORDER BY l.agreement, l.for_period, l.customer, l.model, l.period_start) bl
                 ON t.settled AND bl.agreement = d.factory AND bl.for_period = d.month AND bl.customer = d.customer
                AND bl.model = d.model
          LEFT JOIN dsx.price_versions p ON p.factory = d.factory AND p.customer = d.customer AND p.model = d.model
                AND p.valid_from <= d.month AND d.month < p.valid_until
         CROSS JOIN LATERAL (SELECT COALESCE(bl.ip, p.input_price::dsx.price) AS ip,
                                    COALESCE(bl.op, p.output_price::dsx.price) AS op) x
         CROSS JOIN LATERAL (SELECT dsx.charge(d.mi::bigint, x.ip) + dsx.charge(d.mo::bigint, x.op)
                                    - dsx.charge((d.mi - d.input_tokens)::bigint, x.ip)
                                    - dsx.charge((d.mo - d.output_tokens)::bigint, x.op) AS exact) w
        WINDOW g AS (PARTITION BY d.factory, d.customer, d.model, d.month)
    )
    SELECT (SELECT count(*) FROM target),
           (SELECT count(*) FROM target WHERE settled),
           (SELECT count(*) FROM target t FULL JOIN sums s USING (factory, customer, model, month)
             WHERE s.revenue IS DISTINCT FROM t.amount OR s.settled IS DISTINCT FROM t.settled),
           (SELECT count(*) FROM days WHERE revenue <> round(revenue, mu)),
           (SELECT count(*) FROM shares WHERE exact_share IS NOT NULL AND abs(revenue - exact_share) >= 10::numeric ^ (-mu)),
           (SELECT count(*) FROM dsx.partner_statements s
             WHERE s.agreement LIKE 'bv\_%'
               AND (s.revenue_billing <> COALESCE((SELECT sum(l.amount) FROM dsx.partner_revenue_lines l
                                                    WHERE l.agreement = s.agreement AND l.period_start = s.period_start
                                                      AND NOT l.adjustment), 0)
                    OR s.adjustments_billing <> COALESCE((SELECT sum(l.amount) FROM dsx.partner_revenue_lines l
                                                           WHERE l.agreement = s.agreement AND l.period_start = s.period_start
                                                             AND l.adjustment), 0)))
$$;

-- Three months settled, September open.
SELECT * FROM pg_temp.bv_check();
CREATE TEMP TABLE bv_settled_days AS
SELECT d.* FROM dsx.partner_usage_daily d WHERE d.factory LIKE 'bv\_%' AND d.settled;
SELECT count(*) > 5000 AS settled_days, count(*) FILTER (WHERE revenue < 0) > 0 AS negative_days
  FROM bv_settled_days;

-- A price change from September, the open month: the provisional September follows it;
-- the settled days do not move.
INSERT INTO dsx.price_plans (plan, model, input_price, output_price, valid_from) VALUES
    ('bv_grad', 'bv_m1', '1.5', 'graduated: 0: 11, 2000000: 7.125', '2026-09-01'),
    ('bv_vol', 'bv_m2', '2.000000003', 'volume: 0: 5, 1000000: 1', '2026-09-01');
SELECT * FROM pg_temp.bv_check();
SELECT (SELECT count(*) FROM (TABLE bv_settled_days EXCEPT SELECT * FROM dsx.partner_usage_daily WHERE factory LIKE 'bv\_%') x)
           AS settled_days_moved;

-- Late usage of August and voids of July, before September is settled: the settled months
-- still show what the books hold, spread over the days as they now are.
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens)
SELECT event_id, occurred_at, factory, customer, model, input_tokens, output_tokens FROM bv_events WHERE late;
SELECT inserted > 0 AS late_ingested FROM dsx.ingest();
SELECT sum(dsx.void_events(e.factory, e.ids, 'bv refund')) > 0 AS voided
  FROM (SELECT factory, array_agg(event_id) AS ids FROM bv_events
         WHERE NOT late AND occurred_at >= '2026-07-01' AND occurred_at < '2026-07-20' AND event_id LIKE '%-1'
           AND factory IN ('bv_f01', 'bv_f02', 'bv_f03', 'bv_f04', 'bv_f05', 'bv_f06')
         GROUP BY factory) e;
SELECT * FROM pg_temp.bv_check();
-- All of a settled month's usage of one customer and model voided: the books still hold it,
-- and so do the days (its first day, no tokens) until a statement books the reversal.
SELECT dsx.void_events('bv_f07', array_agg(event_id), 'bv refund of the month') > 0 AS month_voided
  FROM bv_events WHERE factory = 'bv_f07' AND customer = 'bv_c2' AND model = 'bv_m1'
   AND occurred_at >= '2026-08-01' AND occurred_at < '2026-09-01';
CREATE FUNCTION pg_temp.bv_books_vs_days() RETURNS TABLE(booked_months bigint, days_off bigint) LANGUAGE sql AS $$
    WITH b AS (SELECT l.factory, l.customer, l.model, l.for_period AS month, sum(l.amount) AS amount
                 FROM dsx.partner_revenue_lines l WHERE l.agreement LIKE 'bv\_%' GROUP BY 1, 2, 3, 4),
         d AS (SELECT d.factory, d.customer, d.model, date_trunc('month', d.day)::date AS month, sum(d.revenue) AS revenue
                 FROM dsx.partner_usage_daily d WHERE d.factory LIKE 'bv\_%' AND d.settled GROUP BY 1, 2, 3, 4)
    SELECT count(*) FILTER (WHERE b.factory IS NOT NULL),
           count(*) FILTER (WHERE COALESCE(b.amount, 0) <> COALESCE(d.revenue, 0))
      FROM b FULL JOIN d USING (factory, customer, model, month)
$$;
SELECT * FROM pg_temp.bv_books_vs_days();
SELECT day, events, total_tokens, revenue > 0 AS revenue_kept, settled FROM dsx.partner_usage_daily
 WHERE factory = 'bv_f07' AND customer = 'bv_c2' AND model = 'bv_m1' AND day >= '2026-08-01' AND day < '2026-09-01'
 ORDER BY day;

-- September settled: its statements carry the adjustment lines of July and August, which
-- the days of those months now include.
SELECT count(*) FILTER (WHERE dsx.settle(factory, '2026-09-01')) AS settled FROM bv_f;
SELECT count(*) FILTER (WHERE adjustment) > 0 AS adjustment_lines FROM dsx.partner_revenue_lines WHERE agreement LIKE 'bv\_%';
SELECT * FROM pg_temp.bv_check();
SELECT * FROM pg_temp.bv_books_vs_days();
SELECT count(*) AS voided_month_rows FROM dsx.partner_usage_daily
 WHERE factory = 'bv_f07' AND customer = 'bv_c2' AND model = 'bv_m1' AND day >= '2026-08-01' AND day < '2026-09-01';

-- partner_revenue_lines shows each line once, with its plan and prices as text.
SELECT (SELECT count(*) FROM dsx.partner_revenue_lines WHERE agreement LIKE 'bv\_%')
     = (SELECT count(*) FROM dsx.statement_lines WHERE agreement LIKE 'bv\_%') AS one_row_per_line,
       (SELECT bool_and(input_price::dsx.price::text = input_price AND output_price::dsx.price::text = output_price)
          FROM dsx.partner_revenue_lines WHERE agreement LIKE 'bv\_%') AS prices_read_back;

-- A statement for people: every line, the waterfall and the ledger, as the caller may see
-- them; a statement it may not see is missing, as one that does not exist.
SELECT r LIKE 'Statement of agreement bv_f03 for 2026-09-01 to 2026-10-01%' AS header,
       r LIKE '%adj. 2026-08 bv_c%' AS adjustment_lines_named,
       r LIKE '%8. distributable%' AS waterfall,
       r LIKE '%Ledger, transaction%receivable:customers%' AS ledger,
       (SELECT count(*) FROM dsx.statement_lines WHERE agreement = 'bv_f03' AND period_start = '2026-09-01')
           = array_length(regexp_split_to_array(r, ' per million tokens'), 1) - 1 AS every_line
  FROM dsx.statement_report('bv_f03', '2026-09-01') r;
\set VERBOSITY terse
SELECT dsx.statement_report('bv_f03', '2026-12-01');
SELECT dsx.statement_report('bv_f03', NULL);
CREATE ROLE bv_partner_login LOGIN;
CREATE ROLE bv_vendor_login LOGIN;
CREATE ROLE bv_other_login LOGIN;
INSERT INTO dsx.parties VALUES ('bv_q', 'partner', 'BV other partner');
SELECT dsx.grant_partner('bv_partner_login', 'bv_p'), dsx.grant_vendor('bv_vendor_login', 'bv_v'),
       dsx.grant_partner('bv_other_login', 'bv_q');
SET ROLE bv_vendor_login;
SELECT r LIKE '%(the customer lines are not shown to this role)%' AS vendor_without_lines,
       r LIKE '%8. distributable%' AS vendor_waterfall
  FROM dsx.statement_report('bv_f03', '2026-09-01') r;
SET ROLE bv_other_login;
SELECT dsx.statement_report('bv_f03', '2026-09-01');
SELECT count(*) AS other_partner_lines FROM dsx.partner_revenue_lines WHERE agreement LIKE 'bv\_%';
SET ROLE bv_partner_login;
SELECT count(*) > 0 AS own_lines FROM dsx.partner_revenue_lines WHERE agreement LIKE 'bv\_%';
RESET ROLE;

-- BI tools find the views by their names: a mapped partner or vendor, and an auditor, get
-- the search_path "$user", public, dsx in this database; revoking takes it away; a role
-- with a search_path of its own keeps it.
CREATE ROLE bv_auditor_login LOGIN;
CREATE ROLE bv_own_path LOGIN;
SELECT dsx.grant_auditor('bv_auditor_login') AS auditor, dsx.grant_auditor('bv_auditor_login') AS again;
SELECT dsx.grant_auditor('dsx_partner');
SELECT dsx.grant_auditor('bv_nobody');
DO $$ BEGIN EXECUTE format('ALTER ROLE bv_own_path IN DATABASE %I SET search_path = public', current_database()); END $$;
SELECT dsx.grant_partner('bv_own_path', 'bv_p');
-- one with a search_path in every database keeps it too; a superuser's settings are left alone
CREATE ROLE bv_global_path LOGIN;
ALTER ROLE bv_global_path SET search_path = public;
CREATE ROLE bv_super LOGIN SUPERUSER;
SELECT dsx.grant_vendor('bv_global_path', 'bv_v'), dsx.grant_partner('bv_super', 'bv_p');
CREATE TEMP VIEW bv_paths AS
SELECT r.rolname, c AS setting
  FROM pg_roles r
  JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
 CROSS JOIN unnest(s.setconfig) c
 WHERE r.rolname LIKE 'bv\_%';
SELECT * FROM bv_paths ORDER BY 1;
SELECT dsx.revoke_partner('bv_partner_login'), dsx.revoke_vendor('bv_vendor_login'), dsx.revoke_auditor('bv_auditor_login'),
       dsx.revoke_partner('bv_own_path'), dsx.revoke_auditor('bv_auditor_login') AS again;
SELECT * FROM bv_paths ORDER BY 1;
SELECT dsx.revoke_partner('bv_other_login'), dsx.revoke_vendor('bv_global_path'), dsx.revoke_partner('bv_super');
DROP ROLE bv_partner_login, bv_vendor_login, bv_other_login, bv_auditor_login, bv_own_path, bv_global_path, bv_super;
