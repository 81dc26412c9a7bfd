-- Settlement: the waterfall on hand-computed cases, late usage, closed periods, refusals,
-- the append-only books, dsx.run_due_settlements() and the pg_cron soft dependency.
\set VERBOSITY terse
SET timezone = 'UTC';
INSERT INTO dsx.parties VALUES
    ('st-vendor', 'vendor', 'Vendor'), ('st-p1', 'partner', 'Partner One'), ('st-p2', 'partner', 'Partner Two'),
    ('st-p3', 'partner', 'Partner Three'), ('st-bank', 'lender', 'Bank');
INSERT INTO dsx.factories VALUES
    ('st-f1', 'st-p1', 'USD', 'test', 100, 1), ('st-f2', 'st-p2', 'USD', 'test', 100, 1),
    ('st-f3', 'st-p3', 'JPY', 'test', 100, 1), ('st-f4', 'st-p1', 'USD', 'test', 100, 1);
-- $1 per million input tokens and $2 per million output tokens; in yen, a volume price
-- that drops to 1 for every token once the month reaches a billion
INSERT INTO dsx.price_plans VALUES ('st-std', 'm', '1', '2'), ('st-vol', 'm', 'volume: 0: 10, 1000000000: 1', '0');
INSERT INTO dsx.customer_plans VALUES ('c1', 'st-f1', 'st-std'), ('c2', 'st-f1', 'st-std'),
    ('c1', 'st-f2', 'st-std'), ('c1', 'st-f3', 'st-vol'), ('c1', 'st-f4', 'st-std');

-- a1: tiered split, a 12,000 annuity at 12 % over 12 months (1,066.19 a month)
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag) VALUES
    ('st-a1', 'st-p1', 'st-vendor', 'st-f1', 'vendor=30%, partner=70%; from 1000: vendor=20%, partner=80%', '2026-01-01', '100 years'),
    ('st-a2', 'st-p2', 'st-vendor', 'st-f2', 'vendor=25%, partner=75%', '2026-01-01', '100 years'),
    ('st-a3', 'st-p3', 'st-vendor', 'st-f3', 'vendor=33%, partner=67%', '2026-01-01', '100 years');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('st-fac1', 'st-a1', 'st-bank', 12000, 0.12, 12, '2026-01-31');
SELECT period, due, payment FROM dsx.facility_schedule('st-fac1') WHERE period <= 3;

INSERT INTO dsx.usage_inbox VALUES
    ('j1', '2026-01-10 10:00Z', 'st-f1', 'c1', 'm', 5000000000, 0),           -- Jan: 5,000.00
    ('f1', '2026-02-10 10:00Z', 'st-f1', 'c1', 'm', 500000000, 0),            -- Feb:   500.00
    ('m1', '2026-03-10 10:00Z', 'st-f1', 'c2', 'm', 1000000000, 1000000000),  -- Mar: 3,000.00
    ('j1', '2026-01-31 23:59:59.999999Z', 'st-f2', 'c1', 'm', 1000010000, 0), -- Jan: 1,000.01
    ('j1', '2026-01-15 00:00Z', 'st-f3', 'c1', 'm', 900000000, 0),            -- Jan: 9,000 yen
    ('f1', '2026-02-15 00:00Z', 'st-f3', 'c1', 'm', 123456789, 0);            -- Feb: 1,234.57 -> 1,235 yen
SELECT * FROM dsx.ingest();

-- January: revenue above debt service; the distributable 3,933.81 crosses the split's tier
-- at 1,000: vendor 300 + 20 % of 2,933.81 = 886.762, partner 3,047.048; the cent left over
-- goes to the larger remainder (partner)
SELECT dsx.settle('st-a1', '2026-01-01');
-- idempotent: again changes nothing and says so
SELECT dsx.settle('st-a1', '2026-01-01');
-- periods in order only
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT dsx.settle('st-a1', '2026-03-01');
\set VERBOSITY terse
-- February: 500 < 1,066.19: the lender gets 500 from revenue and 566.19 from credit support
SELECT dsx.settle('st-a1', '2026-02-01');
-- late usage for closed January arrives before March is settled: 100 M input + 50 M output
-- tokens for c2 = 200.00, booked in March as an adjustment line for January
INSERT INTO dsx.usage_inbox VALUES ('j2', '2026-01-20 10:00Z', 'st-f1', 'c2', 'm', 100000000, 50000000);
SELECT * FROM dsx.ingest();
-- March: 3,000 + 200 adjustments; interest on 566.19 at 12 % x 30/360 = 5.6619 -> 5.66;
-- repaid 571.85 (interest first), balance back to 0; distributable 3,200 - 1,066.19 - 571.85
-- = 1,561.96: vendor 300 + 112.392 = 412.392, partner 1,149.568 (+ the leftover cent)
SELECT dsx.settle('st-a1', '2026-03-01');

-- a2: no facility; 1,000.01 split 25/75 = 250.0025 / 750.0075: the cent to the partner.
-- February has no usage at all: a statement of zeros.
SELECT dsx.settle('st-a2', '2026-01-01'), dsx.settle('st-a2', '2026-02-01');

-- a3 (yen, no minor unit): January 900 M tokens at 10 = 9,000. Late January usage of 200 M
-- takes the month past a billion: every token now at 1, 1,100 in all: adjustment -7,900.
-- February 123,456,789 tokens at 10 = 1,234.56789 -> 1,235. Gross -6,665: a claw-back,
-- allocated as 6,665 (vendor 2,199.45 -> 2,199, partner 4,465.55 -> 4,466), then negated.
SELECT dsx.settle('st-a3', '2026-01-01');
INSERT INTO dsx.usage_inbox VALUES ('j2', '2026-01-16 00:00Z', 'st-f3', 'c1', 'm', 200000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('st-a3', '2026-02-01');

SELECT agreement, period_start, currency, input_tokens, output_tokens, revenue, adjustments, gross
  FROM dsx.statements WHERE agreement LIKE 'st-%' ORDER BY 1, 2;
SELECT agreement, period_start, debt_service_due AS due, debt_service_paid AS paid,
       support_opening AS opening, support_drawn AS drawn, support_interest AS interest,
       support_repaid AS repaid, support_balance AS balance, distributable, vendor_share, partner_share
  FROM dsx.statements WHERE agreement LIKE 'st-%' ORDER BY 1, 2;
SELECT agreement, period_start, for_period, customer, model, input_tokens, output_tokens, amount
  FROM dsx.statement_lines WHERE agreement LIKE 'st-%' ORDER BY 1, 2, 3, 4;
SELECT agreement, period_start, party, amount FROM dsx.statement_shares WHERE agreement LIKE 'st-%' ORDER BY 1, 2, 3;
SELECT period_start, entry_no, account, amount FROM dsx.ledger_entries WHERE agreement = 'st-a1' ORDER BY txn_id, entry_no;
SELECT period_start, entry_no, account, amount FROM dsx.ledger_entries WHERE agreement IN ('st-a2', 'st-a3') ORDER BY txn_id, entry_no;

-- invariants of every statement: gross = paid + repaid + shares; each ledger transaction
-- balances; vendor and partner shares are the split's parts; everything verifies
SELECT count(*) AS statements,
       count(*) FILTER (WHERE s.gross = s.debt_service_paid + s.support_repaid
                        + (SELECT COALESCE(sum(amount), 0) FROM dsx.statement_shares x
                            WHERE x.agreement = s.agreement AND x.period_start = s.period_start)) AS invariant_holds,
       count(*) FILTER (WHERE (SELECT (count(DISTINCT txn_id), sum(amount)) FROM dsx.ledger_entries l
                                WHERE l.agreement = s.agreement AND l.period_start = s.period_start) = (1::bigint, 0::numeric)) AS one_balanced_txn,
       count(*) FILTER (WHERE dsx.verify_settlement(s.agreement, s.period_start)) AS verified
  FROM dsx.statements s WHERE s.agreement LIKE 'st-%';

-- lines record the prices they were rated with: a price of a settled period cannot be
-- changed (the books are closed), a new version from a later period does not unsettle
-- them, while tampering with the raw events they came from is caught
UPDATE dsx.price_plans SET input_price = '1.01' WHERE plan = 'st-std';
BEGIN;
INSERT INTO dsx.price_plans VALUES ('st-std', 'm', '1.01', '2', '2026-04-01');
SELECT dsx.verify_settlement('st-a1', '2026-01-01') AS verifies_after_price_change;
ROLLBACK;
BEGIN;
UPDATE dsx.usage_events SET input_tokens = input_tokens + 1 WHERE factory = 'st-f1' AND event_id = 'j1';
SELECT dsx.verify_settlement('st-a1', '2026-01-01') AS verifies_after_tampering;
ROLLBACK;
SELECT agreement, period_start, for_period, customer, plan, input_price, output_price
  FROM dsx.statement_lines WHERE agreement = 'st-a1' ORDER BY 2, 3, 4;

-- late usage after a change of plan is priced as its month was booked: c1 moves from $1/$2
-- to a dearer plan ($5/$10) after January and February of a2 are settled; a million late
-- January input tokens add 1.00 (not a re-pricing of January at $5), while March's own
-- million input tokens are priced by the new plan: 5.00
INSERT INTO dsx.price_plans VALUES ('st-dear', 'm', '5', '10');
UPDATE dsx.customer_plans SET plan = 'st-dear' WHERE customer = 'c1' AND factory = 'st-f2';   -- refused: closed books
INSERT INTO dsx.customer_plans VALUES ('c1', 'st-f2', 'st-dear', '2026-03-01');
INSERT INTO dsx.usage_inbox VALUES
    ('j9', '2026-01-09 00:00Z', 'st-f2', 'c1', 'm', 1000000, 0),
    ('m9', '2026-03-09 00:00Z', 'st-f2', 'c1', 'm', 1000000, 0);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('st-a2', '2026-03-01');
SELECT period_start, for_period, customer, input_tokens, amount, plan, input_price
  FROM dsx.statement_lines WHERE agreement = 'st-a2' ORDER BY 1, 2, 3;
SELECT period_start, revenue, adjustments, gross, dsx.verify_settlement(agreement, period_start) AS verified
  FROM dsx.statements WHERE agreement = 'st-a2' ORDER BY 1;

-- bad requests, each a clear error
\set VERBOSITY sqlstate
SELECT dsx.settle('st-nope', '2026-01-01');
SELECT dsx.settle('st-a1', '2026-04-15');
SELECT dsx.settle('st-a1', '2025-12-01');
SELECT dsx.settle('st-a2', '2026-05-01');
SELECT dsx.settle('st-a1', NULL);
SELECT dsx.settle('st-a2', (date_trunc('month', now()) + interval '1 month')::date);
SELECT dsx.verify_settlement('st-a1', '2026-06-01');
-- agreements: unknown party in the split, a party twice, a factory of another partner,
-- a start that is not the first of a month, a vendor that is not a vendor
INSERT INTO dsx.agreements VALUES ('st-x', 'st-p1', 'st-vendor', 'st-f4', 'vendor=50%, stranger=50%', '2026-01-01');
INSERT INTO dsx.agreements VALUES ('st-x', 'st-p1', 'st-vendor', 'st-f4', 'vendor=50%, "st-vendor"=50%', '2026-01-01');
INSERT INTO dsx.agreements VALUES ('st-x', 'st-p2', 'st-vendor', 'st-f4', 'vendor=50%, partner=50%', '2026-01-01');
INSERT INTO dsx.agreements VALUES ('st-x', 'st-p1', 'st-vendor', 'st-f4', 'vendor=50%, partner=50%', '2026-01-02');
INSERT INTO dsx.agreements VALUES ('st-x', 'st-p1', 'st-bank', 'st-f4', 'vendor=50%, partner=50%', '2026-01-01');
-- a settled agreement keeps its identity
UPDATE dsx.agreements SET starts = '2026-02-01' WHERE agreement = 'st-a1';

-- the books are append-only, for everyone
UPDATE dsx.ledger_entries SET amount = amount + 1 WHERE agreement = 'st-a1';
DELETE FROM dsx.ledger_entries WHERE agreement = 'st-a1';
TRUNCATE dsx.ledger_entries;
UPDATE dsx.statements SET revenue = 0 WHERE agreement = 'st-a1';
DELETE FROM dsx.statements WHERE agreement = 'st-a1';
TRUNCATE dsx.statements CASCADE;
DELETE FROM dsx.statement_lines WHERE agreement = 'st-a1';
UPDATE dsx.statement_shares SET amount = 0 WHERE agreement = 'st-a1';
-- and what is written to them directly names an existing statement, party and currency
-- (checked once per INSERT or COPY, over all its rows, by dsx.books_check)
INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
VALUES (-1, 1, 'st-a1', '2026-01-01', 'x', 0, 'USD'), (-1, 2, 'st-a1', '1999-01-01', 'x', 0, 'USD');
INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
VALUES (-1, 1, 'st-a1', '2026-01-01', 'x', 0, 'XXX');
INSERT INTO dsx.statement_lines VALUES ('st-nosuch', '2026-01-01', '2026-01-01', 'c1', 'm', 0, 0, 0, 'p', '1', '1');
INSERT INTO dsx.statement_shares VALUES ('st-a1', '2026-01-01', 'st-nobody', 0);
\set VERBOSITY terse
SELECT count(*) AS ledger_rows_kept FROM dsx.ledger_entries WHERE agreement = 'st-a1';

-- run_due_settlements: a4 starts in August with a one-day lag; every month ended at least a
-- day ago is settled, in order, once; a second run settles nothing
INSERT INTO dsx.agreements VALUES ('st-a4', 'st-p1', 'st-vendor', 'st-f4', 'vendor=30%, partner=70%', '2026-08-01', '1 day');
INSERT INTO dsx.usage_inbox
SELECT 'a4-' || d, d + interval '12 hours', 'st-f4', 'c1', 'm', 1000000, 1000000
  FROM generate_series(timestamptz '2026-08-01', timestamptz '2026-10-31', interval '1 day') d;
SELECT * FROM dsx.ingest();
SELECT dsx.run_due_settlements() = (SELECT count(*) FROM generate_series(date '2026-08-01', now()::date, interval '1 month') m
                                     WHERE (m + interval '1 month') + interval '1 day' <= now()) AS settled_every_due_month;
SELECT dsx.run_due_settlements() AS settled_again;
SELECT period_start, revenue, vendor_share, partner_share, dsx.verify_settlement(agreement, period_start) AS verified
  FROM dsx.statements WHERE agreement = 'st-a4' AND period_start < '2026-11-01' ORDER BY 1;

-- one agreement that cannot be settled (usage of a customer nobody priced) does not hold
-- back the others: it is reported and stays where it was; once priced, it settles
INSERT INTO dsx.factories VALUES ('st-f5', 'st-p2', 'USD', 'test', 100, 1), ('st-f6', 'st-p3', 'USD', 'test', 100, 1);
INSERT INTO dsx.customer_plans VALUES ('c1', 'st-f6', 'st-std');
INSERT INTO dsx.agreements VALUES
    ('st-a5', 'st-p2', 'st-vendor', 'st-f5', 'vendor=30%, partner=70%', '2026-09-01', '1 day'),
    ('st-a6', 'st-p3', 'st-vendor', 'st-f6', 'vendor=30%, partner=70%', '2026-09-01', '1 day');
INSERT INTO dsx.usage_inbox VALUES
    ('x1', '2026-09-03 00:00Z', 'st-f5', 'nobody', 'm', 1000000, 0),
    ('x1', '2026-09-03 00:00Z', 'st-f6', 'c1', 'm', 1000000, 0);
SELECT * FROM dsx.ingest();
\set VERBOSITY default
SELECT dsx.run_due_settlements() = (SELECT count(*) FROM generate_series(date '2026-09-01', now()::date, interval '1 month') m
                                     WHERE (m + interval '1 month') + interval '1 day' <= now()) AS the_others_settled;
\set VERBOSITY terse
SELECT (SELECT count(*) FROM dsx.statements WHERE agreement = 'st-a5') AS a5_statements,
       (SELECT count(*) > 0 FROM dsx.statements WHERE agreement = 'st-a6') AS a6_settled;
INSERT INTO dsx.customer_plans VALUES ('nobody', 'st-f5', 'st-std');
SELECT dsx.run_due_settlements() = (SELECT count(*) FROM generate_series(date '2026-09-01', now()::date, interval '1 month') m
                                     WHERE (m + interval '1 month') + interval '1 day' <= now()) AS settled_once_priced;
SELECT agreement, min(period_start) AS first, bool_and(dsx.verify_settlement(agreement, period_start)) AS verified
  FROM dsx.statements WHERE agreement IN ('st-a5', 'st-a6') GROUP BY 1 ORDER BY 1;

-- scheduling needs pg_cron in this database; without it the error says what to run
\set VERBOSITY default
SELECT dsx.schedule_settlements();
SELECT dsx.unschedule_settlements();
