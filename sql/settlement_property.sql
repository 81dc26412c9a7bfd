-- Settlement, property test: hundreds of generated agreements (tiered splits naming two to
-- four parties, credit facilities of every method, frequency and day count or none, four
-- currencies) with generated usage over four months, some months far below debt service,
-- late usage for closed months arriving in three batches, settled in stages and finally by
-- dsx.run_due_settlements(); then thousands of statements checked against the SPEC's
-- invariants and against a plain SQL reference of rating and the waterfall that reads only
-- raw events, the configuration and the batches each statement saw. Deterministic
-- (setseed); prints only counts and booleans. Everything is named prop_*.
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT setseed(0.2026);

-- The generated configuration, kept aside so that the reference reads it, not dsx's tables.
CREATE TEMP TABLE prop_cfg AS
SELECT i,
       'prop_a' || lpad(i::text, 4, '0') AS agreement,
       'prop_f' || lpad(i::text, 4, '0') AS factory,
       'prop_p' || (1 + floor(random() * 40)::int) AS partner,
       CASE WHEN random() < 0.7 THEN 'prop_v1' ELSE 'prop_v2' END AS vendor,
       (ARRAY['USD', 'USD', 'USD', 'EUR', 'IDR', 'JPY'])[1 + floor(random() * 6)::int] AS currency,
       (ARRAY[date '2026-07-01', '2026-07-01', '2026-08-01'])[1 + floor(random() * 3)::int] AS starts,
       round(power(10::numeric, (2 + random() * 4)::numeric)) AS size,         -- monthly revenue scale
       1 + floor(random() * 3)::int AS ntiers,
       2 + floor(random() * 3)::int AS nparties,
       random() < 0.75 AS financed
  FROM generate_series(1, 400) i;
ALTER TABLE prop_cfg ADD COLUMN mu int;
UPDATE prop_cfg SET mu = CASE WHEN currency IN ('IDR', 'JPY') THEN 0 ELSE 2 END;

-- Splits: each tier gives its parties shares of 0.01 % that add up to 100 %; tiers start at
-- 0 and then at increasing amounts; vendor and partner in any position among the parties.
CREATE TEMP TABLE prop_split AS
WITH t AS (SELECT c.i, k AS tier, c.nparties,
                  CASE WHEN k = 1 THEN 0 ELSE round(c.size * (k - 1 + random() * 0.9)::numeric) END AS starts
             FROM prop_cfg c, generate_series(1, c.ntiers) k),
     p AS (SELECT t.*, j, (ARRAY['vendor', 'partner', 'prop_x1', 'prop_x2'])[j] AS party,
                  floor(random() * 101)::int + CASE WHEN j = 1 THEN 1 ELSE 0 END AS w
             FROM t, generate_series(1, t.nparties) j),
     s AS (SELECT p.*, floor(w * 10000.0 / sum(w) OVER (PARTITION BY i, tier)) AS bp,
                  row_number() OVER (PARTITION BY i, tier ORDER BY j) AS rn
             FROM p)
SELECT i, tier, party, j,
       CASE WHEN rn = nparties THEN 10000 - sum(bp) FILTER (WHERE rn < nparties) OVER (PARTITION BY i, tier)
            ELSE bp END / 100 AS pct,
       starts
  FROM s;
-- the order parties are listed in, per agreement: shuffled once
CREATE TEMP TABLE prop_order AS
SELECT i, j, row_number() OVER (PARTITION BY i ORDER BY random()) AS pos
  FROM (SELECT DISTINCT i, j FROM prop_split) x ORDER BY i, j;
CREATE TEMP TABLE prop_splits AS
SELECT i, string_agg(tier_text, '; ' ORDER BY tier) AS split
  FROM (SELECT s.i, s.tier,
               CASE WHEN s.tier = 1 THEN '' ELSE 'from ' || min(s.starts) || ': ' END
               || string_agg(s.party || '=' || s.pct || '%', ', ' ORDER BY o.pos) AS tier_text
          FROM prop_split s JOIN prop_order o USING (i, j)
         GROUP BY s.i, s.tier) x
 GROUP BY i;

-- Facilities: principal a few months of revenue, any method, frequency and day count,
-- sometimes interest free, with grace periods; first due before, at or after the start.
CREATE TEMP TABLE prop_fac AS
SELECT c.i, 'prop_fac' || c.i AS facility, 'prop_bank' || (1 + c.i % 3) AS lender,
       round(c.size * (1 + random() * 8)::numeric, c.mu) AS principal,
       CASE WHEN random() < 0.1 THEN 0 ELSE round((random() * 0.15)::numeric, 4) END AS annual_rate,
       2 + floor(random() * 16)::int AS periods,
       (c.starts - 20 + floor(random() * 100)::int) AS first_due,
       (ARRAY['annuity', 'annuity', 'linear', 'bullet'])[1 + floor(random() * 4)::int] AS method,
       (ARRAY['monthly', 'monthly', 'monthly', 'quarterly'])[1 + floor(random() * 4)::int] AS frequency,
       (ARRAY['30/360', 'ACT/360', 'ACT/365F', 'ACT/ACT', '30E/360'])[1 + floor(random() * 5)::int] AS day_count,
       floor(random() * 3)::int AS grace, c.mu
  FROM prop_cfg c WHERE c.financed;
UPDATE prop_fac SET grace = LEAST(grace, periods - 1);

-- Price plans: flat (up to 9 decimals), graduated and volume prices per million tokens.
CREATE TEMP TABLE prop_price AS
SELECT 'prop_plan' || k AS plan, 'prop_m' || m AS model,
       CASE floor(random() * 4)::int
            WHEN 0 THEN 'graduated: 0: ' || round((1 + random() * 9)::numeric, 2) || ', 1000000000: '
                        || round((0.5 + random())::numeric, 3) || ', 20000000000: ' || round((random() * 0.5)::numeric, 9)
            WHEN 1 THEN 'volume: 0: ' || round((1 + random() * 9)::numeric, 4) || ', 5000000000: ' || round((0.5 + random())::numeric, 6)
            ELSE round((random() * 10)::numeric, 9)::text END AS input_price,
       round((random() * 30)::numeric, 1 + floor(random() * 9)::int)::text AS output_price
  FROM generate_series(1, 12) k, generate_series(1, 3) m;
CREATE TEMP TABLE prop_cust AS
SELECT c.i, 'prop_c' || n AS customer, 'prop_plan' || (1 + floor(random() * 12)::int) AS plan
  FROM prop_cfg c, generate_series(1, 9) n WHERE random() < 0.3 OR n = 1 + c.i % 9;

-- Refunds by re-rating: for every tenth agreement a customer on a volume price (10 a million
-- tokens, 0.01 once the month reaches a threshold) uses just under the threshold in July,
-- then late July usage crosses it: July re-rated is worth far less than booked, the negative
-- adjustment can exceed August's revenue, and a negative distributable is clawed back.
INSERT INTO prop_price
SELECT 'prop_planv' || i, 'prop_m' || m, CASE m WHEN 1 THEN 'volume: 0: 10, ' || size * 100000 || ': 0.01' ELSE '3' END, '0'
  FROM prop_cfg, generate_series(1, 3) m WHERE i % 10 = 0;
INSERT INTO prop_cust SELECT i, 'prop_cv', 'prop_planv' || i FROM prop_cfg WHERE i % 10 = 0;
INSERT INTO dsx.parties VALUES ('prop_v1', 'vendor', 'Prop vendor one'), ('prop_v2', 'vendor', 'Prop vendor two'),
    ('prop_x1', 'partner', 'Prop fund one'), ('prop_x2', 'customer', 'Prop reseller'),
    ('prop_bank1', 'lender', 'Prop bank one'), ('prop_bank2', 'lender', 'Prop bank two'), ('prop_bank3', 'lender', 'Prop bank three');
INSERT INTO dsx.parties SELECT 'prop_p' || k, 'partner', 'Prop partner ' || k FROM generate_series(1, 40) k;
INSERT INTO dsx.factories SELECT factory, partner, currency, 'prop', 1000, 10 FROM prop_cfg ORDER BY i;
INSERT INTO dsx.price_plans SELECT plan, model, input_price::dsx.price, output_price::dsx.price FROM prop_price;
INSERT INTO dsx.customer_plans SELECT p.customer, c.factory, p.plan FROM prop_cust p JOIN prop_cfg c USING (i);
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts)
SELECT c.agreement, c.partner, c.vendor, c.factory, s.split::dsx.split, c.starts
  FROM prop_cfg c JOIN prop_splits s USING (i) ORDER BY c.i;
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due,
                                   method, frequency, day_count, grace_periods, minor_units)
SELECT f.facility, c.agreement, f.lender, f.principal, f.annual_rate, f.periods, f.first_due,
       f.method, f.frequency, f.day_count, f.grace, f.mu
  FROM prop_fac f JOIN prop_cfg c USING (i);
SELECT count(*) AS agreements, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM dsx.credit_facilities f WHERE f.agreement = a.agreement)) > 250 AS most_financed,
       count(DISTINCT array_length(dsx.parties(a.revenue_split), 1)) AS party_counts
  FROM dsx.agreements a WHERE a.agreement LIKE 'prop_%';

-- Usage, June (before any start: never settled) to October, per agreement, month, customer
-- and model: a month's level is nothing, a trickle far below debt service, or plenty.
-- batch 1 is on time; batches 2 and 3 bring late events for months already settled.
CREATE TEMP TABLE prop_events AS
WITH m AS (SELECT c.i, c.factory, c.size, mo::date AS month,
                  (ARRAY[0, 0.02, 0.02, 0.3, 1, 1, 2, 5])[1 + floor(random() * 8)::int] AS level
             FROM prop_cfg c, generate_series(date '2026-06-01', date '2026-10-01', interval '1 month') mo),
     e AS (SELECT m.*, p.customer, 'prop_m' || (1 + floor(random() * 3)::int) AS model, n
             FROM m JOIN prop_cust p USING (i), generate_series(1, 3) n
            WHERE m.level > 0 AND random() < 0.6)
SELECT e.factory, 'prop-' || e.month || '-' || e.customer || '-' || e.n AS event_id,
       e.month::timestamptz + floor(random() * extract(epoch FROM (e.month + interval '1 month') - e.month::timestamp))
                              * interval '1 second' AS occurred_at,
       e.customer, e.model,
       floor(random() * e.level * e.size * 200000)::bigint AS input_tokens,
       floor(random() * e.level * e.size * 30000)::bigint AS output_tokens,
       CASE WHEN e.month >= date '2026-09-01' OR random() < 0.8 THEN 1
            WHEN e.month = date '2026-08-01' OR random() < 0.5 THEN 3 ELSE 2 END AS arrives
  FROM e;
-- the July usage of the volume-priced customers: just under the threshold, then late
INSERT INTO prop_events
SELECT factory, 'prop-v-' || k, timestamptz '2026-07-20 12:00Z' + k * interval '1 hour', 'prop_cv', 'prop_m1',
       size * CASE k WHEN 1 THEN 90000 ELSE 20000 END, 0, k
  FROM prop_cfg, generate_series(1, 2) k WHERE i % 10 = 0;
SELECT count(*) > 5000 AS thousands_of_events, count(*) FILTER (WHERE arrives > 1) > 500 AS hundreds_late FROM prop_events;

INSERT INTO dsx.usage_inbox
SELECT event_id, occurred_at, factory, customer, model, input_tokens, output_tokens
  FROM prop_events WHERE arrives = 1 ORDER BY factory, occurred_at;
SELECT inserted = (SELECT count(*) FROM prop_events WHERE arrives = 1) AS batch1_stored FROM dsx.ingest();
SELECT count(*) FILTER (WHERE dsx.settle(agreement, starts)) AS first_months_settled
  FROM (SELECT agreement, starts FROM prop_cfg WHERE starts = '2026-07-01' ORDER BY agreement) x;

-- batch 2: late July usage, plus a tenth of batch 1 again (duplicates, counted, not stored twice)
INSERT INTO dsx.usage_inbox
SELECT event_id, occurred_at, factory, customer, model, input_tokens, output_tokens
  FROM prop_events WHERE arrives = 2 OR (arrives = 1 AND event_id LIKE '%-1') ORDER BY factory, occurred_at;
SELECT inserted = (SELECT count(*) FROM prop_events WHERE arrives = 2) AS batch2_stored,
       duplicates = (SELECT count(*) FROM prop_events WHERE arrives = 1 AND event_id LIKE '%-1') AS batch2_duplicates,
       conflicts = 0 AS batch2_no_conflicts
  FROM dsx.ingest();
SELECT count(*) FILTER (WHERE dsx.settle(agreement, '2026-08-01')) AS august_settled
  FROM (SELECT agreement FROM prop_cfg ORDER BY agreement) x;
-- settling again changes nothing
SELECT count(*) FILTER (WHERE dsx.settle(agreement, '2026-08-01')) AS august_settled_again
  FROM (SELECT agreement FROM prop_cfg ORDER BY agreement) x;

-- batch 3: late July and August usage; then the scheduler's function settles what is due
INSERT INTO dsx.usage_inbox
SELECT event_id, occurred_at, factory, customer, model, input_tokens, output_tokens
  FROM prop_events WHERE arrives = 3 ORDER BY factory, occurred_at;
SELECT inserted = (SELECT count(*) FROM prop_events WHERE arrives = 3) AS batch3_stored FROM dsx.ingest();
SELECT dsx.run_due_settlements() >= 2 * 400 AS run_due_settled_the_rest;
SELECT dsx.run_due_settlements() AS settled_again;

-- Every due period of every agreement has its one statement.
CREATE TEMP TABLE prop_st AS
SELECT s.*, c.i, c.mu FROM dsx.statements s JOIN prop_cfg c USING (agreement);
SELECT count(*) > 1000 AS thousands_of_statements,
       count(*) = (SELECT count(*) FROM prop_cfg c,
                          generate_series(c.starts, now() - interval '1 day' - interval '1 month', interval '1 month') p) AS every_due_period_settled,
       count(*) FILTER (WHERE support_drawn > 0) > 100 AS support_drawn_often,
       count(*) FILTER (WHERE support_repaid > 0) > 50 AS support_repaid_often,
       count(*) FILTER (WHERE adjustments <> 0) > 100 AS late_usage_often,
       count(*) FILTER (WHERE distributable = 0) > 50 AS nothing_to_distribute_often,
       count(*) FILTER (WHERE adjustments < 0) > 10 AS negative_adjustments,
       count(*) FILTER (WHERE distributable < 0) > 3 AS claw_backs
  FROM prop_st;

-- The invariant: gross = debt service paid + support repaid + the sum of all shares.
SELECT count(*) AS invariant_broken
  FROM prop_st s
 WHERE s.gross <> s.debt_service_paid + s.support_repaid
                  + (SELECT COALESCE(sum(h.amount), 0) FROM dsx.statement_shares h
                      WHERE h.agreement = s.agreement AND h.period_start = s.period_start)
    OR s.distributable <> (SELECT COALESCE(sum(h.amount), 0) FROM dsx.statement_shares h
                            WHERE h.agreement = s.agreement AND h.period_start = s.period_start)
    OR s.vendor_share <> (SELECT COALESCE(sum(h.amount), 0) FROM dsx.statement_shares h JOIN dsx.agreements a USING (agreement)
                           WHERE h.agreement = s.agreement AND h.period_start = s.period_start AND h.party = a.vendor)
    OR s.partner_share <> (SELECT COALESCE(sum(h.amount), 0) FROM dsx.statement_shares h JOIN dsx.agreements a USING (agreement)
                            WHERE h.agreement = s.agreement AND h.period_start = s.period_start AND h.party = a.partner);
-- Every amount is whole in the currency's minor units.
SELECT count(*) AS not_whole
  FROM prop_st s
 WHERE (SELECT bool_or(x <> round(x, s.mu))
          FROM unnest(ARRAY[s.revenue, s.adjustments, s.debt_service_due, s.debt_service_paid, s.support_drawn,
                            s.support_interest, s.support_repaid, s.support_balance, s.distributable]) x)
    OR EXISTS (SELECT 1 FROM dsx.statement_shares h WHERE h.agreement = s.agreement AND h.period_start = s.period_start
                  AND h.amount <> round(h.amount, s.mu));
-- Lines add up to the statement's revenue, adjustments and tokens.
SELECT count(*) AS lines_disagree
  FROM prop_st s
  LEFT JOIN (SELECT agreement, period_start,
                    sum(amount) FILTER (WHERE for_period = period_start) AS rev,
                    sum(amount) FILTER (WHERE for_period < period_start) AS adj,
                    sum(input_tokens) FILTER (WHERE for_period = period_start) AS inp,
                    sum(output_tokens) FILTER (WHERE for_period = period_start) AS outp
               FROM dsx.statement_lines GROUP BY 1, 2) l USING (agreement, period_start)
 WHERE (COALESCE(l.rev, 0), COALESCE(l.adj, 0), COALESCE(l.inp, 0), COALESCE(l.outp, 0))
       IS DISTINCT FROM (s.revenue, s.adjustments, s.input_tokens, s.output_tokens);
-- The credit support balance carries over: opening of each period = closing of the one before.
SELECT count(*) AS balance_chain_broken
  FROM prop_st s
  LEFT JOIN prop_st b ON b.agreement = s.agreement AND b.period_start = (s.period_start - interval '1 month')::date
 WHERE s.support_opening <> COALESCE(b.support_balance, 0)
    OR (b.agreement IS NULL AND s.period_start <> (SELECT starts FROM prop_cfg c WHERE c.i = s.i));
-- The ledger: one transaction per statement, balanced, entries numbered 1..n, in the
-- factory's currency; the payables match the statement.
SELECT count(*) AS ledger_broken
  FROM prop_st s
  LEFT JOIN (SELECT agreement, period_start, count(DISTINCT txn_id) AS txns, sum(amount) AS total,
                    count(*) AS entries, max(entry_no) AS last_no, min(currency) AS cur, max(currency) AS cur2,
                    sum(amount) FILTER (WHERE account LIKE 'payable:lender:%') AS lender,
                    sum(amount) FILTER (WHERE account LIKE 'payable:share:%') AS shares,
                    sum(amount) FILTER (WHERE account LIKE 'liability:credit_support:%') AS support
               FROM dsx.ledger_entries GROUP BY 1, 2) l USING (agreement, period_start)
 WHERE l.txns IS DISTINCT FROM 1 OR l.total <> 0 OR l.entries <> l.last_no
    OR l.cur <> s.currency OR l.cur2 <> s.currency
    OR COALESCE(l.lender, 0) <> -s.debt_service_paid
    OR COALESCE(l.shares, 0) <> -s.distributable
    OR COALESCE(l.support, 0) <> -(s.support_balance - s.support_opening);
SELECT count(*) AS unbalanced_transactions
  FROM (SELECT txn_id FROM dsx.ledger_entries GROUP BY txn_id HAVING sum(amount) <> 0) x;

-- Every party's share is its exact tiered entitlement to within one minor unit (the
-- largest remainder method moves at most one unit), and shares only go to the split's parties.
SELECT count(*) AS shares_off
  FROM prop_st s
  JOIN dsx.agreements a USING (agreement)
  FULL JOIN (SELECT h.* FROM dsx.statement_shares h JOIN prop_cfg c USING (agreement)) h USING (agreement, period_start)
  LEFT JOIN LATERAL (
        SELECT sum(GREATEST(0, LEAST(abs(s.distributable), COALESCE(b.ends, abs(s.distributable))) - b.starts) * p.pct / 100)
               * sign(s.distributable) AS exact
          FROM prop_split p
          JOIN (SELECT x.tier, min(x.starts) AS starts, lead(min(x.starts)) OVER (ORDER BY x.tier) AS ends
                  FROM prop_split x WHERE x.i = s.i GROUP BY x.tier) b USING (tier)
         WHERE p.i = s.i AND CASE p.party WHEN 'vendor' THEN a.vendor WHEN 'partner' THEN a.partner
                                          ELSE p.party END = h.party) e ON true
 WHERE s.agreement IS NULL OR e.exact IS NULL OR abs(h.amount - e.exact) >= power(10::numeric, -s.mu);

-- The reference. Charges per million tokens, read from the price texts: flat, graduated
-- (each tier's price on the tokens inside it) or volume (the tier reached prices all).
CREATE FUNCTION pg_temp.ref_charge(tokens numeric, price text) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    WITH t AS (SELECT CASE WHEN price LIKE 'graduated:%' THEN 'g' WHEN price LIKE 'volume:%' THEN 'v' ELSE 'f' END AS kind,
                      CASE WHEN price LIKE '%:%' THEN substr(price, strpos(price, ':') + 1) ELSE '0: ' || price END AS body),
         r AS (SELECT t.kind, split_part(x, ':', 1)::numeric AS starts, split_part(x, ':', 2)::numeric AS price, ord
                 FROM t, regexp_split_to_table(t.body, ',') WITH ORDINALITY AS s(x, ord)),
         b AS (SELECT r.*, lead(starts) OVER (ORDER BY ord) AS ends FROM r)
    SELECT CASE WHEN min(kind) = 'v' THEN (SELECT tokens * b.price FROM b WHERE b.starts <= tokens ORDER BY b.starts DESC LIMIT 1)
                ELSE sum(GREATEST(0, LEAST(tokens, COALESCE(ends, tokens)) - starts) * price) END / 1000000
      FROM b
$$;
-- Rated lines of a period as known through a batch, from raw events: one per customer and
-- model, rounded half away from zero once.
CREATE FUNCTION pg_temp.ref_revenue(ci int, month date, batch bigint) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(sum(round(pg_temp.ref_charge(l.inp, pp.input_price) + pg_temp.ref_charge(l.outp, pp.output_price), c.mu)), 0)
      FROM prop_cfg c
      JOIN (SELECT e.customer, e.model, sum(e.input_tokens) AS inp, sum(e.output_tokens) AS outp
              FROM dsx.usage_events e JOIN prop_cfg c2 ON c2.factory = e.factory
             WHERE c2.i = ci AND e.batch_id <= batch
               AND e.occurred_at >= month::timestamptz AND e.occurred_at < (month + interval '1 month')::timestamptz
             GROUP BY 1, 2) l ON true
      JOIN prop_cust pc ON pc.i = c.i AND pc.customer = l.customer
      JOIN prop_price pp ON pp.plan = pc.plan AND pp.model = l.model
     WHERE c.i = ci
$$;
-- Debt service due in a month, from the facility's schedule.
CREATE FUNCTION pg_temp.ref_due(ci int, month date) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(sum(s.payment), 0)
      FROM prop_fac f, dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method, f.frequency,
                                    f.day_count, f.mu, f.grace) s
     WHERE f.i = ci AND s.due >= month AND s.due < month + interval '1 month'
$$;
-- Interest on a credit support balance over a calendar month at the facility's rate and
-- day count (months within one year: 30 days of 360 for the 30/360 family), rounded once.
CREATE FUNCTION pg_temp.ref_interest(ci int, balance numeric, month date) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT COALESCE((
        SELECT round(balance * f.annual_rate
                     * CASE WHEN f.day_count LIKE 'ACT/%' THEN (month + interval '1 month')::date - month ELSE 30 END
                     / CASE f.day_count WHEN 'ACT/365F' THEN 365
                                        WHEN 'ACT/ACT' THEN (date_trunc('year', month) + interval '1 year')::date
                                                            - date_trunc('year', month)::date
                                        ELSE 360 END, f.mu)
          FROM prop_fac f WHERE f.i = ci), 0)
$$;
-- The waterfall of one period, from the SPEC (section 6, steps 2-5).
CREATE FUNCTION pg_temp.ref_waterfall(gross numeric, due numeric, opening numeric, interest numeric,
    OUT paid numeric, OUT drawn numeric, OUT repaid numeric, OUT closing numeric, OUT distributable numeric)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    r numeric;
BEGIN
    paid := LEAST(GREATEST(gross, 0), due);
    drawn := due - paid;
    r := gross - paid;
    repaid := LEAST(GREATEST(r, 0), opening + interest);
    closing := opening + interest + drawn - repaid;
    distributable := r - repaid;
END
$$;
-- Each statement recomputed: its own month rated as of the batch it saw, earlier months
-- re-rated as of that batch minus as rated as of the batch the statement before saw, and
-- the waterfall run month after month from a zero balance at the agreement's start.
CREATE TEMP TABLE prop_ref AS
WITH RECURSIVE st AS (
    SELECT s.i, s.period_start, s.through_batch,
           COALESCE((SELECT max(x.through_batch) FROM prop_st x
                      WHERE x.i = s.i AND x.period_start < s.period_start), 0) AS prev_batch
      FROM prop_st s
), g AS (
    SELECT st.i, st.period_start,
           pg_temp.ref_revenue(st.i, st.period_start, st.through_batch) AS revenue,
           (SELECT COALESCE(sum(pg_temp.ref_revenue(st.i, p::date, st.through_batch)
                                - pg_temp.ref_revenue(st.i, p::date, st.prev_batch)), 0)
              FROM generate_series(c.starts, st.period_start - interval '1 month', interval '1 month') p) AS adjustments,
           pg_temp.ref_due(st.i, st.period_start) AS due
      FROM st JOIN prop_cfg c USING (i)
), w AS (
    SELECT g.*, 0::numeric AS opening, 0::numeric AS interest, x.*
      FROM g JOIN prop_cfg c USING (i), LATERAL pg_temp.ref_waterfall(g.revenue + g.adjustments, g.due, 0, 0) x
     WHERE g.period_start = c.starts
    UNION ALL
    SELECT g.*, w.closing, y.interest, x.*
      FROM w JOIN g ON g.i = w.i AND g.period_start = (w.period_start + interval '1 month')::date,
           LATERAL (SELECT pg_temp.ref_interest(g.i, w.closing, g.period_start) AS interest) y,
           LATERAL pg_temp.ref_waterfall(g.revenue + g.adjustments, g.due, w.closing, y.interest) x
)
SELECT * FROM w;
CREATE TEMP VIEW prop_vs_ref AS
SELECT count(r.i) = (SELECT count(*) FROM prop_st) AS reference_covers_every_statement,
       count(*) FILTER (WHERE (s.revenue, s.adjustments, s.gross, s.debt_service_due, s.debt_service_paid,
                               s.support_opening, s.support_drawn, s.support_interest, s.support_repaid,
                               s.support_balance, s.distributable)
                              IS DISTINCT FROM
                              (r.revenue, r.adjustments, r.revenue + r.adjustments, r.due, r.paid,
                               r.opening, r.drawn, r.interest, r.repaid, r.closing, r.distributable)) AS differ_from_reference
  FROM prop_st s LEFT JOIN prop_ref r USING (i, period_start);
SELECT * FROM prop_vs_ref;
-- control: with one statement's reference gone and another's distributable a cent off, the
-- same comparison says so
BEGIN;
DELETE FROM prop_ref WHERE (i, period_start) = (SELECT i, period_start FROM prop_ref ORDER BY i, period_start LIMIT 1);
UPDATE prop_ref SET distributable = distributable + 0.01
 WHERE (i, period_start) = (SELECT i, period_start FROM prop_ref ORDER BY i DESC, period_start LIMIT 1);
SELECT * FROM prop_vs_ref;
ROLLBACK;
-- Totals over all statements, stored and recomputed.
SELECT sum(s.gross) = sum(r.revenue + r.adjustments) AS gross_total_agrees,
       sum(s.debt_service_paid + s.support_drawn) = sum(r.due) AS debt_service_total_agrees,
       sum(s.distributable) = sum(r.distributable) AS distributed_total_agrees,
       sum(s.support_repaid) = sum(r.repaid) AS repaid_total_agrees
  FROM prop_st s JOIN prop_ref r USING (i, period_start);
-- Late usage: everything of a month is booked once, whichever statement carried it.
SELECT count(*) AS months_booked_wrong
  FROM (SELECT c.i, p::date AS month FROM prop_cfg c,
               generate_series(c.starts, (SELECT max(period_start) FROM prop_st s WHERE s.i = c.i), interval '1 month') p) m
 WHERE (SELECT COALESCE(sum(l.amount), 0) FROM dsx.statement_lines l JOIN prop_cfg c USING (agreement)
         WHERE c.i = m.i AND l.for_period = m.month)
       <> pg_temp.ref_revenue(m.i, m.month, (SELECT max(through_batch) FROM prop_st s WHERE s.i = m.i));

-- And dsx's own recomputation agrees with every statement.
SELECT count(*) > 1000 AS thousands_verified, count(*) FILTER (WHERE NOT dsx.verify_settlement(agreement, period_start)) AS not_verified
  FROM prop_st;

-- Settlement is in the factory's currency, every step exact to its minor unit (SPEC 1, 6),
-- also when the facility was entered with credit_facilities.minor_units left at its default
-- of 2 for a rupiah factory: debt service, support interest and balance are whole rupiah.
-- (Fails while dsx.debt_service_due and dsx.support_interest round to the facility's
-- minor_units column, which shadows their minor_units parameter.)
INSERT INTO dsx.factories VALUES ('prop_fidr', 'prop_p1', 'IDR', 'prop', 10, 1);
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts)
VALUES ('prop_aidr', 'prop_p1', 'prop_v1', 'prop_fidr', 'vendor=30%, partner=70%', '2026-07-01');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('prop_facidr', 'prop_aidr', 'prop_bank1', 1000000, 0.1, 3, '2026-07-31');
SELECT count(*) FILTER (WHERE dsx.settle('prop_aidr', p)) AS settled
  FROM (VALUES (date '2026-07-01'), ('2026-08-01'), ('2026-09-01')) v(p);
SELECT period_start, debt_service_due, support_interest, support_balance,
       support_balance = round(support_balance) AND debt_service_due = round(debt_service_due) AS whole_rupiah
  FROM dsx.statements WHERE agreement = 'prop_aidr' ORDER BY 1;
