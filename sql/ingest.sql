-- dsx.ingest(): new, duplicate and conflicting events, retried batches, malformed rows, and
-- the daily rollup kept equal to the stored events. Nothing is lost or half-loaded.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES ('acme-cloud', 'partner', 'Acme Cloud');
INSERT INTO dsx.factories VALUES ('acme-1', 'acme-cloud', 'USD', 'test', 8, 1.5);

-- batches are numbered from one sequence for the whole database: this file's are shown
-- counted from the last one before it
SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS b0 FROM dsx.ingest_batch_seq \gset
-- nothing pending: zeros, and no log row
SELECT * FROM dsx.ingest();

-- a first batch, loaded by COPY
COPY dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens) FROM stdin;
e1	2026-10-01 00:00:00+00	acme-1	alice	m1	100	10
e2	2026-10-01 12:00:00+00	acme-1	alice	m1	200	20
e3	2026-10-01 23:59:59.999999+00	acme-1	bob	m2	300	30
e4	2026-10-02 00:00:00+00	acme-1	bob	m2	400	40
\.
SELECT * FROM dsx.ingest();
SELECT count(*) AS inbox_left FROM dsx.usage_inbox;

-- the same batch again (a retried load): all duplicates, nothing new
COPY dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens) FROM stdin;
e1	2026-10-01 00:00:00+00	acme-1	alice	m1	100	10
e2	2026-10-01 12:00:00+00	acme-1	alice	m1	200	20
e3	2026-10-01 23:59:59.999999+00	acme-1	bob	m2	300	30
e4	2026-10-02 00:00:00+00	acme-1	bob	m2	400	40
\.
SELECT * FROM dsx.ingest();

-- a mixed batch: new (e5), duplicate (e1), conflicting payload (e2 with other tokens),
-- an id repeated inside the batch with the same payload (e6 twice) and with another one (e7)
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens) VALUES
  ('e5', '2026-10-02 01:00:00+00', 'acme-1', 'alice', 'm1', 500, 50),
  ('e1', '2026-10-01 00:00:00+00', 'acme-1', 'alice', 'm1', 100, 10),
  ('e2', '2026-10-01 12:00:00+00', 'acme-1', 'alice', 'm1', 999, 20),
  ('e6', '2026-10-02 02:00:00+00', 'acme-1', 'carol', 'm1', 1, 1),
  ('e6', '2026-10-02 02:00:00+00', 'acme-1', 'carol', 'm1', 1, 1);
SELECT * FROM dsx.ingest();
SELECT factory, event_id, stored_input_tokens, incoming_input_tokens, times_seen
  FROM dsx.usage_conflicts ORDER BY conflict_id;
-- the conflicting payload arrives again: still a conflict, kept once and counted
INSERT INTO dsx.usage_inbox VALUES ('e2', '2026-10-01 12:00:00+00', 'acme-1', 'alice', 'm1', 999, 20);
SELECT * FROM dsx.ingest();
SELECT event_id, times_seen FROM dsx.usage_conflicts ORDER BY conflict_id;
-- the stored event is unchanged
SELECT event_id, input_tokens FROM dsx.usage_events WHERE event_id = 'e2';

-- an id twice in one new batch with different payloads: one stored, one conflict
INSERT INTO dsx.usage_inbox VALUES
  ('e7', '2026-10-03 00:00:00+00', 'acme-1', 'dave', 'm3', 7, 7),
  ('e7', '2026-10-03 00:00:00+00', 'acme-1', 'dave', 'm3', 8, 8);
SELECT * FROM dsx.ingest();
SELECT count(*) AS e7_stored FROM dsx.usage_events WHERE event_id = 'e7';
SELECT count(*) AS e7_conflicts FROM dsx.usage_conflicts WHERE event_id = 'e7';

-- the same event id in two factories is two events
INSERT INTO dsx.factories VALUES ('acme-2', 'acme-cloud', 'USD', 'test', 8, 1.5);
INSERT INTO dsx.usage_inbox VALUES ('e1', '2026-10-01 00:00:00+00', 'acme-2', 'alice', 'm1', 100, 10);
SELECT * FROM dsx.ingest();

-- malformed rows are refused at load with a clear error (nothing enters the inbox)
\set VERBOSITY default
\set SHOW_CONTEXT never
INSERT INTO dsx.usage_inbox VALUES ('bad1', '2026-10-01 00:00:00+00', 'acme-1', 'alice', 'm1', -1, 10);
INSERT INTO dsx.usage_inbox VALUES ('bad2', '2026-10-01 00:00:00+00', 'acme-1', 'alice', 'm1', 1, NULL);
INSERT INTO dsx.usage_inbox VALUES (NULL, '2026-10-01 00:00:00+00', 'acme-1', 'alice', 'm1', 1, 1);
INSERT INTO dsx.usage_inbox VALUES ('bad3', 'infinity', 'acme-1', 'alice', 'm1', 1, 1);
INSERT INTO dsx.usage_inbox VALUES ('bad4', '10000-01-01 00:00:00+00', 'acme-1', 'alice', 'm1', 1, 1);
-- an unknown factory refuses the whole batch: nothing stored, the inbox keeps every row
INSERT INTO dsx.usage_inbox VALUES
  ('ok1', '2026-10-04 00:00:00+00', 'acme-1', 'alice', 'm1', 1, 1),
  ('x1', '2026-10-04 00:00:00+00', 'nowhere', 'alice', 'm1', 1, 1);
SELECT * FROM dsx.ingest();
\set VERBOSITY terse
SELECT count(*) AS inbox_kept FROM dsx.usage_inbox;
SELECT count(*) AS ok1_stored FROM dsx.usage_events WHERE event_id = 'ok1';
DELETE FROM dsx.usage_inbox WHERE factory = 'nowhere';
SELECT * FROM dsx.ingest();

-- the log has one row per batch that moved anything
SELECT batch_id - :b0 AS batch, inserted, duplicates, conflicts FROM dsx.ingest_log WHERE batch_id > :b0 ORDER BY batch_id;

-- nothing lost: every row ever offered is stored, or a duplicate, or a kept conflict
SELECT (SELECT sum(inserted + duplicates + conflicts) FROM dsx.ingest_log) AS offered,
       (SELECT count(*) FROM dsx.usage_events) AS stored,
       (SELECT sum(duplicates) FROM dsx.ingest_log) AS duplicates,
       (SELECT sum(times_seen) FROM dsx.usage_conflicts) AS conflicts;

-- the daily rollup equals aggregating the stored events
SELECT day, factory, customer, model, dsx.events(usage), dsx.input_tokens(usage), dsx.output_tokens(usage)
  FROM dsx.usage_daily ORDER BY 1, 2, 3, 4;
SELECT count(*) AS mismatched_days FROM (
    SELECT factory, customer, model, (occurred_at AT TIME ZONE 'UTC')::date AS day,
           dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u
      FROM dsx.usage_events GROUP BY 1, 2, 3, 4) e
  FULL JOIN dsx.usage_daily d USING (factory, customer, model, day)
 WHERE e.u IS NULL OR d.usage IS NULL OR NOT e.u OPERATOR(dsx.=) d.usage;

-- a larger generated load in several overlapping batches keeps the same invariants
SELECT setseed(0.42);
DO $$
DECLARE r record;
BEGIN
  FOR b IN 1..6 LOOP
    INSERT INTO dsx.usage_inbox
    SELECT 'g' || id, timestamptz '2026-10-01 00:00Z' + id * interval '97 seconds', 'acme-1',
           'cust' || (id % 7), 'model' || (id % 3),
           -- batch 4 resends some events with other token counts: conflicts
           CASE WHEN b = 4 AND id % 50 = 0 THEN id % 1000 + 1 ELSE id % 1000 END, id % 333
      FROM generate_series((b - 1) * 2000 + 1, (b - 1) * 2000 + 3000) id;   -- 1000 overlap
    SELECT * INTO r FROM dsx.ingest();
    RAISE NOTICE 'batch %: inserted %, duplicates %, conflicts %', b, r.inserted, r.duplicates, r.conflicts;
  END LOOP;
END $$;
SELECT count(*) AS generated_stored FROM dsx.usage_events WHERE event_id LIKE 'g%';
SELECT count(*) AS mismatched_days FROM (
    SELECT factory, customer, model, (occurred_at AT TIME ZONE 'UTC')::date AS day,
           dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u
      FROM dsx.usage_events GROUP BY 1, 2, 3, 4) e
  FULL JOIN dsx.usage_daily d USING (factory, customer, model, day)
 WHERE e.u IS NULL OR d.usage IS NULL OR NOT e.u OPERATOR(dsx.=) d.usage;

-- load and ingest in one transaction: the rows it loaded (and those others committed) move,
-- with duplicates and conflicts counted as usual, and the inbox is left empty
BEGIN;
INSERT INTO dsx.usage_inbox VALUES
  ('t1', '2026-10-05 00:00:00+00', 'acme-1', 'erin', 'm1', 10, 1),
  ('t1', '2026-10-05 00:00:00+00', 'acme-1', 'erin', 'm1', 10, 1),
  ('e1', '2026-10-01 00:00:00+00', 'acme-1', 'alice', 'm1', 100, 10),
  ('e2', '2026-10-01 12:00:00+00', 'acme-1', 'alice', 'm1', 1, 2);
SELECT * FROM dsx.ingest();
SELECT count(*) AS inbox_left FROM dsx.usage_inbox;
COMMIT;
SELECT count(*) AS t1_stored FROM dsx.usage_events WHERE event_id = 't1';
BEGIN;
INSERT INTO dsx.usage_inbox VALUES ('t2', '2026-10-05 01:00:00+00', 'acme-1', 'erin', 'm1', 20, 2);
SELECT * FROM dsx.ingest();
SELECT * FROM dsx.ingest();
COMMIT;
SELECT count(*) AS mismatched_days FROM (
    SELECT factory, customer, model, (occurred_at AT TIME ZONE 'UTC')::date AS day,
           dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u
      FROM dsx.usage_events GROUP BY 1, 2, 3, 4) e
  FULL JOIN dsx.usage_daily d USING (factory, customer, model, day)
 WHERE e.u IS NULL OR d.usage IS NULL OR NOT e.u OPERATOR(dsx.=) d.usage;

-- clean up for the tests that follow
TRUNCATE dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts, dsx.ingest_log;
DELETE FROM dsx.factories WHERE partner = 'acme-cloud';
DELETE FROM dsx.parties WHERE party = 'acme-cloud';
