-- Corrections and the configuration history: dsx.void_events on closed and open periods,
-- re-sent voided ids, verification before and after, refusals; then the history rows every
-- configuration change appends.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('vo-vendor', 'vendor', 'V'), ('vo-p', 'partner', 'P');
INSERT INTO dsx.factories VALUES ('vo-f', 'vo-p', 'USD', 'test', 10, 1);
INSERT INTO dsx.price_plans VALUES ('vo-plan', 'm', '1', '2'), ('vo-plan', 'm2', '3', '4');
INSERT INTO dsx.customer_plans VALUES ('c1', 'vo-f', 'vo-plan'), ('c2', 'vo-f', 'vo-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
VALUES ('vo-a', 'vo-p', 'vo-vendor', 'vo-f', 'vendor=30%, partner=70%', '2026-01-01', '100 years');

-- January: e1 100.00, e2 40.00 (same customer, model and day as e1), e3 20.00 (c2)
INSERT INTO dsx.usage_inbox VALUES
    ('e1', '2026-01-05 10:00Z', 'vo-f', 'c1', 'm', 100000000, 0),
    ('e2', '2026-01-05 18:00Z', 'vo-f', 'c1', 'm', 40000000, 0),
    ('e3', '2026-01-06 09:00Z', 'vo-f', 'c2', 'm', 0, 10000000),
    ('f1', '2026-02-03 10:00Z', 'vo-f', 'c1', 'm', 7000000, 0),
    ('f2', '2026-02-04 10:00Z', 'vo-f', 'c1', 'm', 3000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('vo-a', '2026-01-01');
SELECT revenue, gross FROM dsx.statements WHERE agreement = 'vo-a';

-- the rollup equals usage_agg over the events that are not voided, day by day
CREATE FUNCTION pg_temp.rollup_matches() RETURNS boolean LANGUAGE sql AS $$
    SELECT NOT EXISTS (
        (SELECT factory, customer, model, day, usage::text FROM dsx.usage_daily WHERE factory = 'vo-f'
         EXCEPT
         SELECT e.factory, e.customer, e.model, dsx.usage_day(e.occurred_at),
                dsx.usage_agg(e.input_tokens, e.output_tokens, e.occurred_at)::text
           FROM dsx.usage_events e
          WHERE e.factory = 'vo-f' AND NOT EXISTS (SELECT 1 FROM dsx.usage_voids v WHERE v.factory = e.factory AND v.event_id = e.event_id)
          GROUP BY 1, 2, 3, 4)
        UNION ALL
        (SELECT e.factory, e.customer, e.model, dsx.usage_day(e.occurred_at),
                dsx.usage_agg(e.input_tokens, e.output_tokens, e.occurred_at)::text
           FROM dsx.usage_events e
          WHERE e.factory = 'vo-f' AND NOT EXISTS (SELECT 1 FROM dsx.usage_voids v WHERE v.factory = e.factory AND v.event_id = e.event_id)
          GROUP BY 1, 2, 3, 4
         EXCEPT
         SELECT factory, customer, model, day, usage::text FROM dsx.usage_daily WHERE factory = 'vo-f'))
$$;
SELECT pg_temp.rollup_matches() AS rollup_matches_before;

-- void e2 of closed January, e3 (its day's only event: the rollup row goes) and f2 of open
-- February (e2 named twice is voided once); an unknown id is named in the NOTICE
SELECT dsx.void_events('vo-f', ARRAY['e2', 'e3', 'f2', 'nosuch', 'e2'], 'duplicate meter reading');
SELECT event_id, batch_id > 0 AS numbered, voided_by = session_user AS by_login, reason
  FROM dsx.usage_voids WHERE factory = 'vo-f' ORDER BY event_id;
SELECT pg_temp.rollup_matches() AS rollup_matches_after;
SELECT day, customer, dsx.events(usage), dsx.input_tokens(usage) FROM dsx.usage_daily WHERE factory = 'vo-f' ORDER BY day, customer;
-- voiding again changes nothing and says so
SELECT dsx.void_events('vo-f', ARRAY['e2'], 'again');
-- January still verifies: as of its batch, nothing was voided
SELECT dsx.verify_settlement('vo-a', '2026-01-01') AS january_verifies;

-- February books January's difference as adjustment lines (-40.00 for c1, -20.00 for c2)
-- and its own revenue without f2 (7.00)
SELECT dsx.settle('vo-a', '2026-02-01');
SELECT for_period, customer, input_tokens, output_tokens, amount FROM dsx.statement_lines
 WHERE agreement = 'vo-a' AND period_start = '2026-02-01' ORDER BY for_period, customer;
SELECT revenue, adjustments, gross, distributable, vendor_share, partner_share
  FROM dsx.statements WHERE agreement = 'vo-a' AND period_start = '2026-02-01';
SELECT period_start, dsx.verify_settlement('vo-a', period_start) FROM dsx.statements WHERE agreement = 'vo-a' ORDER BY 1;

-- a voided id sent again: the same payload is a duplicate, another a conflict; neither
-- comes back into the books
INSERT INTO dsx.usage_inbox VALUES
    ('e2', '2026-01-05 18:00Z', 'vo-f', 'c1', 'm', 40000000, 0),
    ('e3', '2026-01-06 09:00Z', 'vo-f', 'c2', 'm', 0, 99);
SELECT * FROM dsx.ingest();
SELECT pg_temp.rollup_matches() AS rollup_unchanged_by_resent_ids;
SELECT dsx.settle('vo-a', '2026-03-01');
SELECT count(*) AS march_lines FROM dsx.statement_lines WHERE agreement = 'vo-a' AND period_start = '2026-03-01';
SELECT period_start, dsx.verify_settlement('vo-a', period_start) FROM dsx.statements WHERE agreement = 'vo-a' ORDER BY 1;

-- a void and its correction under another model: the period's token totals are as they
-- were, its lines are not; April books both adjustment lines for February (c1/m -7.00,
-- c1/m2 7,000,000 input tokens at 3 = +21.00)
SELECT dsx.void_events('vo-f', ARRAY['f1'], 'wrong model: corrected as f1b');
INSERT INTO dsx.usage_inbox VALUES ('f1b', '2026-02-03 10:00Z', 'vo-f', 'c1', 'm2', 7000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('vo-a', '2026-04-01');
SELECT for_period, customer, model, input_tokens, amount FROM dsx.statement_lines
 WHERE agreement = 'vo-a' AND period_start = '2026-04-01' ORDER BY for_period, customer, model;
SELECT period_start, dsx.verify_settlement('vo-a', period_start) FROM dsx.statements WHERE agreement = 'vo-a' ORDER BY 1;

-- refusals, nothing written
SELECT dsx.void_events(NULL, ARRAY['e1'], 'x');
SELECT dsx.void_events('vo-f', NULL, 'x');
SELECT dsx.void_events('vo-f', ARRAY['e1'], NULL);
SELECT dsx.void_events('vo-f', ARRAY['e1'], '  ');
SELECT dsx.void_events('nosuch', ARRAY['e1'], 'x');
SELECT dsx.void_events('vo-f', '{}', 'nothing to do');
UPDATE dsx.usage_voids SET reason = 'rewritten';
DELETE FROM dsx.usage_voids;
TRUNCATE dsx.usage_voids;
SELECT count(*) AS voids FROM dsx.usage_voids WHERE factory = 'vo-f';

-- The configuration history: every insert, update and delete on a configuration table,
-- with the real login, the key, the old and the new row.
SELECT table_name, operation, row_key, changed_by = session_user AS by_login
  FROM dsx.config_history WHERE row_key->>'factory' = 'vo-f' OR row_key->>'party' LIKE 'vo-%' OR row_key->>'agreement' = 'vo-a'
 ORDER BY change_id;
UPDATE dsx.factories SET gpus = 20 WHERE factory = 'vo-f';
SELECT operation, old_row->>'gpus' AS old_gpus, new_row->>'gpus' AS new_gpus
  FROM dsx.config_history WHERE table_name = 'factories' ORDER BY change_id DESC LIMIT 1;
DELETE FROM dsx.customer_plans WHERE customer = 'c2' AND factory = 'vo-f';   -- refused: it priced settled periods
INSERT INTO dsx.customer_plans VALUES ('c2', 'vo-f', 'vo-plan', '2026-05-01');
DELETE FROM dsx.customer_plans WHERE customer = 'c2' AND factory = 'vo-f' AND valid_from = '2026-05-01';
SELECT operation, row_key, old_row->>'plan' AS plan, new_row IS NULL AS gone
  FROM dsx.config_history WHERE table_name = 'customer_plans' ORDER BY change_id DESC LIMIT 1;
-- a change as another role records the login too (session_user), not the role
CREATE ROLE regress_vo_op;
GRANT dsx_operator TO regress_vo_op;
SET ROLE regress_vo_op;
INSERT INTO dsx.price_plans VALUES ('vo-plan', 'm3', '3', '4', '2026-05-01');
RESET ROLE;
SELECT table_name, row_key, changed_by = session_user AS by_login, changed_by <> 'regress_vo_op' AS not_the_role
  FROM dsx.config_history ORDER BY change_id DESC LIMIT 1;
-- every configuration table has its history trigger; the history is append-only, even for
-- the owner
SELECT c.relname, EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'config_history') AS recorded
  FROM pg_class c
 WHERE c.relnamespace = 'dsx'::regnamespace
   AND c.relname IN ('currencies', 'parties', 'factories', 'price_plans', 'customer_plans', 'agreements',
                     'agreement_splits', 'credit_facilities', 'fx_rates', 'partner_roles', 'vendor_roles', 'loader_roles')
 ORDER BY 1;
UPDATE dsx.config_history SET changed_by = 'someone';
DELETE FROM dsx.config_history;
TRUNCATE dsx.config_history;
-- an operator cannot write the history, the voids or the rollup directly
SET ROLE regress_vo_op;
INSERT INTO dsx.config_history (changed_by, table_name, operation, row_key) VALUES ('x', 'x', 'INSERT', '{}');
INSERT INTO dsx.usage_voids VALUES ('vo-f', 'e1', 1, now(), 'x', 'x');
UPDATE dsx.usage_daily SET usage = usage WHERE factory = 'vo-f';
SELECT dsx.void_events('vo-f', ARRAY['e1'], 'an operator may void') AS operator_voids;
RESET ROLE;
REVOKE dsx_operator FROM regress_vo_op;
DROP ROLE regress_vo_op;

-- What blocks a settlement: dsx.unpriced_usage lists usage no plan prices (a customer
-- without a plan; a plan without the model), from the agreement's start on; a month
-- already booked keeps its booked prices and is not listed
INSERT INTO dsx.usage_inbox VALUES
    ('u9', '2026-05-02Z', 'vo-f', 'c9', 'm', 5, 5),          -- no plan
    ('u8', '2026-05-02Z', 'vo-f', 'c1', 'm9', 5, 5),         -- plan without the model
    ('u7', '2025-12-30Z', 'vo-f', 'c9', 'm', 5, 5);          -- before the agreement starts
SELECT * FROM dsx.ingest();
SELECT factory, agreement, customer, model, period_start, plan, events FROM dsx.unpriced_usage ORDER BY customer, model;
DELETE FROM dsx.price_plans WHERE plan = 'vo-plan' AND model = 'm';
SELECT count(*) AS still_two FROM dsx.unpriced_usage;
