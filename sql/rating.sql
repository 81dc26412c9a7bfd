-- Rating: dsx.price_plans, dsx.customer_plans and dsx.rate_lines(), which turns a period
-- of a factory's usage into lines rounded once to the currency's minor units. Checked by
-- hand on a small case, on every error, and against a reference over generated usage.
SET client_min_messages = warning;
-- Rating must not depend on the session's time zone: periods are UTC days.
SET TimeZone = 'America/New_York';

INSERT INTO dsx.parties (party, kind) VALUES ('nebula', 'partner');
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('batam', 'nebula', 'USD'), ('osaka', 'nebula', 'JPY');
INSERT INTO dsx.price_plans VALUES
    ('standard', 'llama-70b', 'graduated: 0: 3.00, 1000000000: 2.50', '10'),
    ('standard', 'mixtral', '0.123456789', 'volume: 0: 1, 500: 0.5'),
    ('bulk', 'llama-70b', 'volume: 0: 3.00, 1000000000: 2.50', '8.5');
INSERT INTO dsx.customer_plans VALUES ('acme', 'batam', 'standard'), ('zeta', 'batam', 'standard'),
    ('acme', 'osaka', 'standard'), ('omni', 'batam', 'bulk');

INSERT INTO dsx.usage_inbox VALUES
    ('e1', '2026-01-05 10:00+00', 'batam', 'acme', 'llama-70b', 1500000000, 2000000),
    ('e2', '2026-01-31 23:59:59.999999+00', 'batam', 'acme', 'llama-70b', 1, 1),
    ('e3', '2026-02-01 00:00+00', 'batam', 'acme', 'llama-70b', 5, 5),
    ('e4', '2025-12-31 23:59:59+00', 'batam', 'acme', 'llama-70b', 7, 7),
    ('e5', '2026-01-10 00:00+00', 'batam', 'zeta', 'mixtral', 333, 777),
    ('e6', '2026-01-10 00:00+00', 'osaka', 'acme', 'llama-70b', 1234567, 7654321),
    ('e7', '2026-01-20 12:00+00', 'batam', 'omni', 'llama-70b', 600000000, 1000),
    ('e8', '2026-01-21 12:00+00', 'batam', 'omni', 'llama-70b', 400000000, 1000);
SELECT * FROM dsx.ingest();

-- January at batam. acme: 1,000,000,000 input tokens at 3.00 and 500,000,001 at 2.50 per
-- million (graduated) = 4250.0000025, plus 2,000,001 output tokens at 10 = 20.00001:
-- 4270.0000125 -> 4270.00. zeta: 333 x 0.123456789 + 777 x 0.5 (volume: over 500) per
-- million = 0.000429611... -> 0.00. omni: 1,000,000,000 input tokens reach the 2.50 volume
-- tier: 2500, plus 2000 x 8.5 / 10^6 = 0.017 -> 2500.02.
SELECT * FROM dsx.rate_lines('batam', '2026-01-01 00:00+00', '2026-02-01 00:00+00');
-- The same period written in another zone, and the February and December neighbours.
SELECT * FROM dsx.rate_lines('batam', '2025-12-31 19:00-05', '2026-01-31 19:00-05');
SELECT * FROM dsx.rate_lines('batam', '2026-02-01 00:00+00', '2026-03-01 00:00+00');
SELECT * FROM dsx.rate_lines('batam', '2025-12-01 00:00+00', '2026-01-01 00:00+00');
-- Yen have no minor unit: 1,234,567 x 3 + 7,654,321 x 10 per million = 80.246911 -> 80.
SELECT * FROM dsx.rate_lines('osaka', '2026-01-01 00:00+00', '2026-02-01 00:00+00');
-- Tiers count the whole period: one line for two days of omni, not two.
SELECT sum(amount) AS two_days_together,
       (SELECT sum(amount) FROM dsx.rate_lines('batam', '2026-01-20 00:00+00', '2026-01-21 00:00+00'))
     + (SELECT sum(amount) FROM dsx.rate_lines('batam', '2026-01-21 00:00+00', '2026-01-22 00:00+00')) AS day_by_day
  FROM dsx.rate_lines('batam', '2026-01-20 00:00+00', '2026-01-22 00:00+00');
-- Empty periods and NULLs give no lines.
SELECT count(*) FROM dsx.rate_lines('batam', '2026-01-01 00:00+00', '2026-01-01 00:00+00');
SELECT count(*) FROM dsx.rate_lines('batam', '2030-01-01 00:00+00', '2030-02-01 00:00+00');
SELECT count(*) FROM dsx.rate_lines(NULL, '2026-01-01 00:00+00', '2026-02-01 00:00+00');

-- Errors: never a silent zero.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT * FROM dsx.rate_lines('nowhere', '2026-01-01 00:00+00', '2026-02-01 00:00+00');
SELECT * FROM dsx.rate_lines('batam', '2026-01-01', '2026-02-01');
SELECT * FROM dsx.rate_lines('batam', '2026-02-01 00:00+00', '2026-01-01 00:00+00');
INSERT INTO dsx.usage_inbox VALUES ('e9', '2026-01-15 00:00+00', 'batam', 'newco', 'llama-70b', 1, 1);
SELECT * FROM dsx.ingest();
SELECT * FROM dsx.rate_lines('batam', '2026-01-01 00:00+00', '2026-02-01 00:00+00');
INSERT INTO dsx.customer_plans VALUES ('newco', 'batam', 'bulk');
INSERT INTO dsx.usage_inbox VALUES ('e10', '2026-01-15 00:00+00', 'batam', 'newco', 'mixtral', 1, 1);
SELECT * FROM dsx.ingest();
SELECT * FROM dsx.rate_lines('batam', '2026-01-01 00:00+00', '2026-02-01 00:00+00');
-- The tables refuse bad configuration.
INSERT INTO dsx.customer_plans VALUES ('acme', 'nowhere', 'standard');
INSERT INTO dsx.price_plans VALUES ('standard', 'llama-70b', '1', '1');
INSERT INTO dsx.price_plans VALUES ('x', 'y', '-1', '1');

-- Reference check over generated usage: 20,000 events for 6 customers, 4 models, 2
-- factories over 3 months; each line must equal the plan's exact charge of the customer's
-- summed tokens in the period, rounded once.
SELECT setseed(0.75);
INSERT INTO dsx.price_plans VALUES
    ('standard', 'qwen', 'graduated: 0: 0.4, 50000000: 0.35, 200000000: 0.3', 'volume: 0: 1.2, 10000000: 1.1'),
    ('standard', 'tiny', '0.000000001', '0.000000003'),
    ('bulk', 'mixtral', '0.1', '0.3'), ('bulk', 'qwen', '0.33', '0.99'), ('bulk', 'tiny', '0', '0.000000001');
INSERT INTO dsx.customer_plans VALUES ('c1', 'batam', 'standard'), ('c2', 'batam', 'bulk'), ('c3', 'batam', 'standard'),
    ('c1', 'osaka', 'bulk'), ('c2', 'osaka', 'standard'), ('c3', 'osaka', 'bulk');
INSERT INTO dsx.usage_inbox
SELECT 'g' || g, timestamptz '2026-01-01 00:00+00' + random() * interval '90 days',
       (ARRAY['batam', 'osaka'])[1 + floor(random() * 2)::int],
       (ARRAY['c1', 'c2', 'c3', 'acme', 'omni', 'zeta'])[1 + floor(random() * 6)::int],
       (ARRAY['llama-70b', 'mixtral', 'qwen', 'tiny'])[1 + floor(random() * 4)::int],
       floor(random() * 10 ^ floor(random() * 8))::bigint, floor(random() * 10 ^ floor(random() * 7))::bigint
  FROM generate_series(1, 20000) g;
DELETE FROM dsx.usage_inbox WHERE customer IN ('zeta', 'omni') AND (model <> 'mixtral' OR customer = 'omni') AND factory = 'osaka';
DELETE FROM dsx.usage_inbox WHERE (customer = 'omni' AND model <> 'llama-70b') OR (customer = 'zeta' AND model <> 'mixtral');
DELETE FROM dsx.usage_inbox WHERE customer IN ('acme', 'omni', 'zeta') AND factory = 'osaka';
SELECT inserted > 10000 AS enough FROM dsx.ingest();
CREATE TEMP TABLE periods AS
SELECT f AS factory, m AT TIME ZONE 'UTC' AS period_start, (m + interval '1 month') AT TIME ZONE 'UTC' AS period_end
  FROM unnest(ARRAY['batam', 'osaka']) f,
       generate_series(timestamp '2026-01-01', '2026-03-01', interval '1 month') m;
SELECT count(l.*) AS lines, count(ref.*) AS ref_lines, sum(l.amount) AS total,
       count(*) FILTER (WHERE l.amount IS DISTINCT FROM ref.amount) AS violations,
       count(*) FILTER (WHERE scale(l.amount) <> cur.minor_units) AS wrong_scale
  FROM periods p
  JOIN dsx.factories f USING (factory)
  JOIN dsx.currencies cur USING (currency)
 CROSS JOIN LATERAL dsx.rate_lines(p.factory, p.period_start, p.period_end) l
  FULL JOIN (SELECT t.factory, t.period_start, t.customer, t.model,
                    round(dsx.charge(t.input_tokens, pp.input_price) + dsx.charge(t.output_tokens, pp.output_price),
                          c.minor_units) AS amount
               FROM (SELECT e.factory, pr.period_start, e.customer, e.model,
                            sum(e.input_tokens)::bigint AS input_tokens, sum(e.output_tokens)::bigint AS output_tokens
                       FROM dsx.usage_events e
                       JOIN periods pr ON pr.factory = e.factory
                                      AND e.occurred_at >= pr.period_start AND e.occurred_at < pr.period_end
                      GROUP BY 1, 2, 3, 4) t
               JOIN dsx.factories f ON f.factory = t.factory
               JOIN dsx.currencies c ON c.currency = f.currency
               JOIN dsx.customer_plans cp ON cp.customer = t.customer AND cp.factory = t.factory
               JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = t.model) ref
    ON ref.factory = p.factory AND ref.period_start = p.period_start AND ref.customer = l.customer AND ref.model = l.model;

-- dsx.rate and dsx.charge are parallel safe: a parallel plan gives the serial sums.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT sum(dsx.rate(usage, 'graduated: 0: 0.4, 50000000: 0.35', '1.2', 2)) FROM dsx.usage_daily;
SELECT sum(dsx.rate(usage, 'graduated: 0: 0.4, 50000000: 0.35', '1.2', 2)) AS parallel_rated,
       sum(dsx.charge(usage, 'volume: 0: 0.4, 50000000: 0.35', '1.2')) AS parallel_charged
  FROM dsx.usage_daily \gset
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
SELECT :'parallel_rated'::numeric = s.rated AND :'parallel_charged'::numeric = s.charged AS parallel_equals_serial,
       s.rated > 0 AS nonzero
  FROM (SELECT sum(dsx.rate(usage, 'graduated: 0: 0.4, 50000000: 0.35', '1.2', 2)) AS rated,
               sum(dsx.charge(usage, 'volume: 0: 0.4, 50000000: 0.35', '1.2')) AS charged
          FROM dsx.usage_daily) s;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- The configuration tables are dumped with the database.
SELECT c::regclass FROM pg_extension, unnest(extconfig) c
 WHERE extname = 'dsx' AND c::regclass::text IN ('dsx.price_plans', 'dsx.customer_plans') ORDER BY 1;
