-- Local calendars: a factory's days and settlement periods are those of its time zone.
-- Batam (Asia/Jakarta, UTC+7 all year) and Sydney (Australia/Sydney: daylight saving ends
-- on 5 April 2026, a day of 25 hours), events either side of local midnight; periods,
-- settlement, verification and what is due; refused zones.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('ca-vendor', 'vendor', 'V'), ('ca-p', 'partner', 'P');
INSERT INTO dsx.factories (factory, partner, currency, region, time_zone)
VALUES ('ca-jkt', 'ca-p', 'USD', 'Batam', 'Asia/Jakarta'), ('ca-syd', 'ca-p', 'USD', 'Sydney', 'Australia/Sydney'),
       ('ca-utc', 'ca-p', 'USD', 'nowhere', DEFAULT);
INSERT INTO dsx.price_plans VALUES ('ca-plan', 'm', '1', '0');
INSERT INTO dsx.customer_plans VALUES ('c', 'ca-jkt', 'ca-plan'), ('c', 'ca-syd', 'ca-plan'), ('c', 'ca-utc', 'ca-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
VALUES ('ca-jkt-a', 'ca-p', 'ca-vendor', 'ca-jkt', 'vendor=30%, partner=70%', '2026-01-01', '100 years'),
       ('ca-syd-a', 'ca-p', 'ca-vendor', 'ca-syd', 'vendor=30%, partner=70%', '2026-04-01', '100 years'),
       ('ca-utc-a', 'ca-p', 'ca-vendor', 'ca-utc', 'vendor=30%, partner=70%', '2026-01-01', '100 years');
SELECT factory, time_zone FROM dsx.factories WHERE factory LIKE 'ca-%' ORDER BY 1;

-- Batam: a million input tokens per event (1.00 each); local midnight is 17:00 UTC
INSERT INTO dsx.usage_inbox VALUES
    ('j0', '2025-12-31 16:59:59.999999Z', 'ca-jkt', 'c', 'm', 1000000, 0),  -- 31 Dec 23:59 local: December
    ('j1', '2025-12-31 17:00:00Z', 'ca-jkt', 'c', 'm', 1000000, 0),         -- 1 Jan 00:00 local: January
    ('j2', '2026-01-31 16:59:59Z', 'ca-jkt', 'c', 'm', 1000000, 0),         -- 31 Jan 23:59 local: January
    ('j3', '2026-01-31 17:00:00Z', 'ca-jkt', 'c', 'm', 1000000, 0),         -- 1 Feb 00:00 local: February
-- Sydney: April starts at 13:00 UTC on 31 March (+11) and ends at 14:00 UTC on 30 April (+10)
    ('s0', '2026-03-31 12:59:59Z', 'ca-syd', 'c', 'm', 1000000, 0),         -- 31 Mar 23:59 local: March
    ('s1', '2026-03-31 13:00:00Z', 'ca-syd', 'c', 'm', 1000000, 0),         -- 1 Apr 00:00 local: April
    ('s2', '2026-04-04 13:00:00Z', 'ca-syd', 'c', 'm', 1000000, 0),         -- 5 Apr 00:00 local (+11)
    ('s3', '2026-04-05 13:59:59Z', 'ca-syd', 'c', 'm', 1000000, 0),         -- 5 Apr 23:59 local (+10): 25 hours later
    ('s4', '2026-04-30 13:59:59Z', 'ca-syd', 'c', 'm', 1000000, 0),         -- 30 Apr 23:59 local: April
    ('s5', '2026-04-30 14:00:00Z', 'ca-syd', 'c', 'm', 1000000, 0),         -- 1 May 00:00 local: May
-- the same instants at a UTC factory fall on UTC days
    ('u1', '2025-12-31 17:00:00Z', 'ca-utc', 'c', 'm', 1000000, 0),
    ('u2', '2026-01-31 17:00:00Z', 'ca-utc', 'c', 'm', 1000000, 0);
SELECT * FROM dsx.ingest();
SELECT factory, day, dsx.events(usage) AS events FROM dsx.usage_daily WHERE factory LIKE 'ca-%' ORDER BY 1, 2;
-- the rollup's day of every event is its local date (the C bulk step computed these)
SELECT count(*) AS events, count(*) FILTER (WHERE dsx.usage_day(e.occurred_at, f.time_zone)
                                                 = (e.occurred_at AT TIME ZONE f.time_zone)::date) AS local_days
  FROM dsx.usage_events e JOIN dsx.factories f USING (factory) WHERE e.factory LIKE 'ca-%';

-- the same through ingest's SQL statements (an insert trigger makes the bulk step decline)
CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER ca_noop BEFORE INSERT ON dsx.usage_events FOR EACH ROW EXECUTE FUNCTION pg_temp.noop();
INSERT INTO dsx.usage_inbox VALUES
    ('s6', '2026-04-05 13:00:00Z', 'ca-syd', 'c', 'm', 1000000, 0),         -- 5 Apr 23:00 local (+10)
    ('s7', '2026-04-05 14:00:00Z', 'ca-syd', 'c', 'm', 1000000, 0),         -- 6 Apr 00:00 local
    ('s7', '2026-04-05 14:00:00Z', 'ca-syd', 'c', 'm', 1000000, 0);         -- repeated: the deduplicating statements
SELECT * FROM dsx.ingest();
DROP TRIGGER ca_noop ON dsx.usage_events;
SELECT day, dsx.events(usage) AS events FROM dsx.usage_daily WHERE factory = 'ca-syd' AND day BETWEEN '2026-04-05' AND '2026-04-06' ORDER BY 1;

-- local periods: [local midnight of the 1st, local midnight of the next 1st)
SELECT dsx.local_midnight('2026-04-01', 'Australia/Sydney') AS syd_april_starts,
       dsx.local_midnight('2026-05-01', 'Australia/Sydney') AS syd_april_ends,
       dsx.local_midnight('2026-05-01', 'Australia/Sydney') - dsx.local_midnight('2026-04-01', 'Australia/Sydney') AS syd_april_lasts,
       dsx.local_midnight('2026-01-01', 'Asia/Jakarta') AS jkt_january_starts;
SELECT dsx.settle('ca-jkt-a', '2026-01-01'), dsx.settle('ca-syd-a', '2026-04-01'), dsx.settle('ca-utc-a', '2026-01-01');
SELECT agreement, period_start, period_end, input_tokens, revenue, dsx.verify_settlement(agreement, period_start) AS verified
  FROM dsx.statements WHERE agreement LIKE 'ca-%' ORDER BY 1;
-- December's event at Batam, before the agreement's start, is in no period; February's
-- waits for February
SELECT dsx.settle('ca-jkt-a', '2026-02-01');
SELECT period_start, input_tokens, revenue FROM dsx.statements WHERE agreement = 'ca-jkt-a' ORDER BY 1;
-- a late event of 30 April 23:30 in Sydney (13:30 UTC) is April's: an adjustment in May
INSERT INTO dsx.usage_inbox VALUES ('s8', '2026-04-30 13:30:00Z', 'ca-syd', 'c', 'm', 1000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('ca-syd-a', '2026-05-01');
SELECT period_start, for_period, input_tokens, amount FROM dsx.statement_lines WHERE agreement = 'ca-syd-a' ORDER BY 1, 2;
SELECT period_start, dsx.verify_settlement(agreement, period_start) FROM dsx.statements WHERE agreement = 'ca-syd-a' ORDER BY 1;
-- rating whole local days; a bound that is not local midnight is refused
SELECT * FROM dsx.rate_lines('ca-syd', dsx.local_midnight('2026-04-05', 'Australia/Sydney'), dsx.local_midnight('2026-04-06', 'Australia/Sydney'));
SELECT * FROM dsx.rate_lines('ca-syd', '2026-04-05 00:00Z', '2026-04-06 00:00Z');

-- what is due counts from local midnight of the period's end: of two factories, one at
-- UTC+14 and one at UTC-11, with the same lag, the one whose month ended 25 hours earlier
-- is due and the other is not
INSERT INTO dsx.factories (factory, partner, currency, time_zone)
VALUES ('ca-kir', 'ca-p', 'USD', 'Pacific/Kiritimati'), ('ca-ppg', 'ca-p', 'USD', 'Pacific/Pago_Pago');
BEGIN;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
SELECT 'ca-' || z.k || '-a', 'ca-p', 'ca-vendor', 'ca-' || z.k, 'vendor=30%, partner=70%',
       (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date,
       now() - dsx.local_midnight(date_trunc('month', now() AT TIME ZONE 'UTC')::date, 'Pacific/Kiritimati') - interval '12 hours'
  FROM (VALUES ('kir'), ('ppg')) z(k);
SELECT dsx.run_due_settlements() >= 1 AS settled_some;
SELECT agreement, count(*) AS statements FROM dsx.statements WHERE agreement IN ('ca-kir-a', 'ca-ppg-a') GROUP BY 1
 UNION ALL SELECT 'ca-ppg-a', 0 WHERE NOT EXISTS (SELECT 1 FROM dsx.statements WHERE agreement = 'ca-ppg-a')
 ORDER BY 1;
ROLLBACK;
-- a period that has not ended locally is refused, saying when it ends
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT dsx.settle('ca-syd-a', '2100-01-01');
\set VERBOSITY terse

-- zones: an IANA name PostgreSQL knows; fixed once the factory has usage
\set VERBOSITY sqlstate
INSERT INTO dsx.factories (factory, partner, currency, time_zone) VALUES ('ca-x', 'ca-p', 'USD', 'Mars/Olympus');
INSERT INTO dsx.factories (factory, partner, currency, time_zone) VALUES ('ca-x', 'ca-p', 'USD', 'UTC+7');
INSERT INTO dsx.factories (factory, partner, currency, time_zone) VALUES ('ca-x', 'ca-p', 'USD', '');
UPDATE dsx.factories SET time_zone = 'Asia/Singapore' WHERE factory = 'ca-jkt';
UPDATE dsx.factories SET time_zone = 'Asia/Singapore' WHERE factory = 'ca-kir';
\set VERBOSITY terse
SELECT factory, time_zone FROM dsx.factories WHERE factory IN ('ca-jkt', 'ca-kir', 'ca-x') ORDER BY 1;

-- names that follow the host's clock or another copy of the zone database are not a
-- campus's zone; the billing currency is fixed once the factory has usage, like its zone
\set VERBOSITY sqlstate
INSERT INTO dsx.factories (factory, partner, currency, time_zone) VALUES ('ca-x', 'ca-p', 'USD', 'localtime');
INSERT INTO dsx.factories (factory, partner, currency, time_zone) VALUES ('ca-x', 'ca-p', 'USD', 'posixrules');
INSERT INTO dsx.factories (factory, partner, currency, time_zone) VALUES ('ca-x', 'ca-p', 'USD', 'posix/Asia/Jakarta');
INSERT INTO dsx.factories (factory, partner, currency, time_zone) VALUES ('ca-x', 'ca-p', 'USD', 'Factory');
UPDATE dsx.factories SET currency = 'EUR' WHERE factory = 'ca-jkt';
\set VERBOSITY terse
UPDATE dsx.factories SET currency = 'EUR' WHERE factory = 'ca-kir';     -- no usage yet: accepted
SELECT factory, currency FROM dsx.factories WHERE factory IN ('ca-jkt', 'ca-kir') ORDER BY 1;

-- Havana: on 1 November 2026 clocks go back from 01:00 to 00:00, so midnight comes twice;
-- November starts at the first (04:00 UTC), and an event at 00:30 of either is November's
INSERT INTO dsx.factories (factory, partner, currency, time_zone) VALUES ('ca-hav', 'ca-p', 'USD', 'America/Havana');
INSERT INTO dsx.customer_plans VALUES ('c', 'ca-hav', 'ca-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
VALUES ('ca-hav-a', 'ca-p', 'ca-vendor', 'ca-hav', 'vendor=30%, partner=70%', '2026-10-01', '100 years');
INSERT INTO dsx.usage_inbox VALUES
    ('h0', '2026-11-01 03:59:59Z', 'ca-hav', 'c', 'm', 1000000, 0),   -- 31 Oct 23:59:59 (-4): October
    ('h1', '2026-11-01 04:30:00Z', 'ca-hav', 'c', 'm', 1000000, 0),   -- 1 Nov 00:30 (-4): November
    ('h2', '2026-11-01 05:30:00Z', 'ca-hav', 'c', 'm', 1000000, 0);   -- 1 Nov 00:30 again (-5)
SELECT inserted FROM dsx.ingest();
SELECT dsx.local_midnight('2026-11-01', 'America/Havana') AS november_starts,
       dsx.local_midnight('2026-03-08', 'America/Havana') AS a_day_without_midnight_starts;
SELECT day, dsx.events(usage) FROM dsx.usage_daily WHERE factory = 'ca-hav' ORDER BY 1;
SELECT dsx.settle('ca-hav-a', '2026-10-01'), dsx.settle('ca-hav-a', '2026-11-01');
SELECT period_start, input_tokens, revenue, dsx.verify_settlement(agreement, period_start)
  FROM dsx.statements WHERE agreement = 'ca-hav-a' ORDER BY 1;
