-- Operating costs: a fixed cost and a power tariff (dated), on metered energy loaded per
-- local day; costs paid before anything else, unpaid costs carried; energy read late (or
-- corrected) for a closed period booked as a cost adjustment in the next period, rounded
-- so that each period is charged its exact total once rounded. Month by month against
-- figures computed by hand; the ledger; verification; refusals.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('oc-vendor', 'vendor', 'V'), ('oc-p', 'partner', 'P');
INSERT INTO dsx.factories (factory, partner, currency, time_zone) VALUES ('oc-f', 'oc-p', 'USD', 'Australia/Sydney');
INSERT INTO dsx.price_plans VALUES ('oc-plan', 'm', '1', '0');
INSERT INTO dsx.customer_plans VALUES ('c', 'oc-f', 'oc-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
VALUES ('oc-a', 'oc-p', 'oc-vendor', 'oc-f', 'vendor=30%, partner=70%', '2026-01-01', '100 years');
-- $1,000 a month for the site; power at $50 per MWh, $60 from March
INSERT INTO dsx.operating_costs (agreement, cost, kind, amount) VALUES ('oc-a', 'site', 'fixed', 1000),
       ('oc-a', 'grid', 'power', 50);
INSERT INTO dsx.operating_costs VALUES ('oc-a', 'grid', 'power', 60, '2026-03-01');
-- revenue (usage at local noon): $5,000, $1,000, $10,000, $2,000, $3,000, $3,000, $3,000
INSERT INTO dsx.usage_inbox
SELECT 'e' || m, (m || ' 12:00 Australia/Sydney')::timestamptz + interval '4 days', 'oc-f', 'c', 'm', n, 0
  FROM (VALUES ('2026-01-01', 5000000000), ('2026-02-01', 1000000000), ('2026-03-01', 10000000000),
               ('2026-04-01', 2000000000), ('2026-05-01', 3000000000), ('2026-06-01', 3000000000),
               ('2026-07-01', 3000000000)) v(m, n);
SELECT inserted FROM dsx.ingest();
-- energy: 1 MWh a day in January and February, 0.5 in March, none in April, 0.0003 on 1 May
SELECT count(*) FILTER (WHERE dsx.load_energy('oc-f', d::date, 1)) AS loaded
  FROM generate_series(date '2026-01-01', date '2026-02-28', interval '1 day') d;
SELECT count(*) FILTER (WHERE dsx.load_energy('oc-f', d::date, 0.5)) AS loaded
  FROM generate_series(date '2026-03-01', date '2026-03-31', interval '1 day') d;
SELECT dsx.load_energy('oc-f', '2026-05-01', 0.0003) AS loaded;
-- loading again changes nothing
SELECT count(*) FILTER (WHERE dsx.load_energy('oc-f', d::date, 1)) AS loaded_again
  FROM generate_series(date '2026-01-01', date '2026-02-28', interval '1 day') d;
SELECT count(*) AS readings FROM dsx.energy_readings WHERE factory = 'oc-f';
SELECT count(*) FILTER (WHERE dsx.settle('oc-a', p::date)) AS settled
  FROM generate_series(date '2026-01-01', date '2026-03-01', interval '1 month') p;
-- by hand:
--   January  $5,000: costs 1,000 + 31 MWh x $50 = 2,550, paid; CFADS 2,450, all distributed
--   February $1,000: costs 1,000 + 28 x 50 = 2,400: 1,000 paid, 1,400 carried
--   March   $10,000: costs 1,000 + 15.5 x 60 = 1,930 and the 1,400 carried: 3,330 paid
SELECT period_start, gross, opex_due, opex_adjustments, opex_arrears_opening, opex_paid, opex_arrears, cfads,
       dscr, distributable
  FROM dsx.statements WHERE agreement = 'oc-a' ORDER BY 1;
SELECT period_start, for_period, cost, kind, price, mwh, amount FROM dsx.statement_costs WHERE agreement = 'oc-a' ORDER BY 1, 2, 3;
-- late and corrected energy for closed periods: 10 February read 1.333 MWh (+0.333 at $50),
-- 15 January 0.9 (-0.1 at $50); April is booked with them: 1,000 + 16.65 - 5.00
SELECT dsx.load_energy('oc-f', '2026-02-10', 1.333) AS corrected, dsx.load_energy('oc-f', '2026-01-15', 0.9) AS corrected;
SELECT dsx.settle('oc-a', '2026-04-01');
-- May: 1,000 + 0.0003 x 60 = 1,000.018, charged 1,000.02
SELECT dsx.settle('oc-a', '2026-05-01');
-- 1 May read 0.0004 (1,000.024: still 1,000.02, so June's adjustment is 0 although its line
-- is not), then 0.0005 (1,000.03: July's adjustment is the cent)
SELECT dsx.load_energy('oc-f', '2026-05-01', 0.0004);
SELECT dsx.settle('oc-a', '2026-06-01');
SELECT dsx.load_energy('oc-f', '2026-05-01', 0.0005);
SELECT dsx.settle('oc-a', '2026-07-01');
SELECT period_start, gross, opex_due, opex_adjustments, opex_paid, opex_arrears, cfads, distributable, vendor_share
  FROM dsx.statements WHERE agreement = 'oc-a' AND period_start >= '2026-04-01' ORDER BY 1;
SELECT period_start, for_period, cost, mwh, amount FROM dsx.statement_costs
 WHERE agreement = 'oc-a' AND for_period < period_start ORDER BY 1, 2, 3;
SELECT array_agg(opex_due ORDER BY period_start) = '{2550,2400,1930,1011.65,1000.02,1000,1000.01}'::numeric[]
   AND array_agg(opex_arrears ORDER BY period_start) = '{0,1400,0,0,0,0,0}'::numeric[]
   AND array_agg(distributable ORDER BY period_start) = '{2450,0,6670,988.35,1999.98,2000,1999.99}'::numeric[]
       AS matches_the_hand_computation
  FROM dsx.statements WHERE agreement = 'oc-a';
-- each period charged, over every statement, its exact total of now rounded once
SELECT c.for_period, sum(c.amount) AS exact_now FROM dsx.statement_costs c WHERE c.agreement = 'oc-a' GROUP BY 1 ORDER BY 1;
SELECT sum(round(t.exact, 2)) = (SELECT sum(opex_due) FROM dsx.statements WHERE agreement = 'oc-a') AS charged_once_rounded
  FROM (SELECT for_period, sum(amount) AS exact FROM dsx.statement_costs WHERE agreement = 'oc-a' GROUP BY 1) t;
-- the invariant: gross = costs paid + the shares (no debt here)
SELECT count(*) AS invariant_broken FROM dsx.statements s
 WHERE s.agreement = 'oc-a'
   AND s.gross <> s.opex_paid + (SELECT COALESCE(sum(amount), 0) FROM dsx.statement_shares h
                                  WHERE h.agreement = s.agreement AND h.period_start = s.period_start);
-- the ledger: costs expensed, paid and carried; the arrears account follows the statements
SELECT period_start, account, amount FROM dsx.ledger_entries
 WHERE agreement = 'oc-a' AND period_start IN ('2026-02-01', '2026-03-01') AND account LIKE '%operating%' ORDER BY 1, 2;
SELECT s.period_start, -COALESCE(sum(sum(l.amount)) OVER (ORDER BY s.period_start), 0) = s.opex_arrears AS arrears_account_agrees
  FROM dsx.statements s LEFT JOIN dsx.ledger_entries l
    ON l.agreement = s.agreement AND l.period_start = s.period_start AND l.account = 'liability:operating_cost_arrears'
 WHERE s.agreement = 'oc-a' GROUP BY s.period_start, s.opex_arrears ORDER BY 1;
SELECT count(*) AS unbalanced FROM (SELECT txn_id FROM dsx.ledger_entries WHERE agreement = 'oc-a' GROUP BY txn_id, currency HAVING sum(amount) <> 0) x;
SELECT bool_and(dsx.verify_settlement(agreement, period_start)) AS all_verify FROM dsx.statements WHERE agreement = 'oc-a';

-- Refusals
\set VERBOSITY sqlstate
-- energy: negative, absurd, unknown factory, NULL, not a day (22023, 22004)
SELECT dsx.load_energy('oc-f', '2026-08-01', -1);
SELECT dsx.load_energy('oc-f', '2026-08-01', 1e9);
SELECT dsx.load_energy('no-such-factory', '2026-08-01', 1);
SELECT dsx.load_energy('oc-f', NULL, 1);
SELECT dsx.load_energy('oc-f', 'infinity', 1);
-- readings are append-only: a correction is a new reading (55000)
UPDATE dsx.energy_readings SET mwh = 2 WHERE factory = 'oc-f';
DELETE FROM dsx.energy_readings WHERE factory = 'oc-f';
TRUNCATE dsx.energy_readings;
-- costs are dated terms: a version covering a settled period can be neither added, changed
-- nor removed (55000); one from the next period can
INSERT INTO dsx.operating_costs VALUES ('oc-a', 'grid', 'power', 70, '2026-07-01');
UPDATE dsx.operating_costs SET amount = 1 WHERE agreement = 'oc-a' AND cost = 'site';
DELETE FROM dsx.operating_costs WHERE agreement = 'oc-a' AND cost = 'grid' AND valid_from = '2026-03-01';
INSERT INTO dsx.operating_costs VALUES ('oc-a', 'insurance', 'fixed', 100, '2026-01-01');
TRUNCATE dsx.operating_costs;
\set VERBOSITY terse
INSERT INTO dsx.operating_costs VALUES ('oc-a', 'grid', 'power', 70, '2026-08-01');
\set VERBOSITY sqlstate
-- malformed costs (23514): a kind not known, a negative amount, a date inside a month, a bad name
INSERT INTO dsx.operating_costs VALUES ('oc-a', 'water', 'water', 1, '2026-09-01');
INSERT INTO dsx.operating_costs VALUES ('oc-a', 'water', 'fixed', -1, '2026-09-01');
INSERT INTO dsx.operating_costs VALUES ('oc-a', 'water', 'fixed', 1, '2026-09-15');
INSERT INTO dsx.operating_costs VALUES ('oc-a', 'water cost', 'fixed', 1, '2026-09-01');
-- an unknown agreement (23503)
INSERT INTO dsx.operating_costs VALUES ('no-such-agreement', 'water', 'fixed', 1, '2026-09-01');
-- the cost lines are books: append-only (55000)
UPDATE dsx.statement_costs SET amount = 0 WHERE agreement = 'oc-a';
DELETE FROM dsx.statement_costs WHERE agreement = 'oc-a';
\set VERBOSITY terse
-- a loader mapped to another factory may not load this one's energy (42501); mapped, it may
INSERT INTO dsx.factories (factory, partner, currency) VALUES ('oc-g', 'oc-p', 'USD');
CREATE ROLE regress_oc_loader;
SELECT dsx.grant_loader('regress_oc_loader', 'oc-g');
SET ROLE regress_oc_loader;
\set VERBOSITY sqlstate
SELECT dsx.load_energy('oc-f', '2026-08-01', 1);
-- a factory it may not load is refused alike whether it exists or not: nothing learnt
SELECT dsx.load_energy('no-such-factory', '2026-08-01', 1);
INSERT INTO dsx.energy_readings (factory, day, mwh) VALUES ('oc-g', '2026-08-01', 1);
\set VERBOSITY terse
SELECT dsx.load_energy('oc-g', '2026-08-01', 1) AS loaded;
SELECT factory, day, mwh, loaded_by = session_user AS by_login FROM dsx.energy_readings ORDER BY reading_id DESC LIMIT 1;
RESET ROLE;
SELECT dsx.revoke_loader('regress_oc_loader', 'oc-g');
DROP ROLE regress_oc_loader;
-- A meter reads days that have begun in the factory's zone, to the watt-hour (22023).
\set VERBOSITY sqlstate
SELECT dsx.load_energy('oc-f', (now() AT TIME ZONE 'UTC')::date + 2, 1);
SELECT dsx.load_energy('oc-f', '2026-05-02', 1.0000001);
\set VERBOSITY terse
SELECT dsx.load_energy('oc-f', '2026-05-02', 1.0000001);
