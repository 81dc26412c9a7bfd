-- Project finance, property test: three hundred generated agreements, each with up to three
-- facilities of random rank, support, method, frequency, day count and grace; a credit
-- support rate of its own or its senior supported facility's; a reserve of 0 to 6 months; a
-- lock-up threshold or none; fixed and power costs, some with a later version; energy
-- metered every local day, some days read late and some read again after their period
-- closed; usage on a random revenue path (idle months, huge months, late usage and voids
-- that make a month's gross negative). Settled month by month, as the data arrives. Every
-- statement, every facility's part, every ledger balance is then checked against a
-- reference written from the spec (sections 5, 6 and 13) that reads the generated terms
-- (never dsx's configuration tables or settlement functions), the raw energy readings, the
-- statement lines (for the gross: rating has its own tests) and the reading each statement
-- saw; it uses dsx.amortize, dsx.interest and dsx.allocate, which have their own tests.
-- Deterministic (setseed); prints only counts and booleans. Everything is named fp_*.
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT setseed(0.4242);

-- Two currencies of the test's own: one of two decimals, one of none.
INSERT INTO dsx.currencies VALUES ('FPD', 2, 'finance test dollar'), ('FPY', 0, 'finance test yen');

CREATE TEMP TABLE fp_cfg AS
SELECT i,
       'fp_a' || lpad(i::text, 3, '0') AS agreement,
       'fp_f' || lpad(i::text, 3, '0') AS factory,
       CASE WHEN random() < 0.7 THEN 'FPD' ELSE 'FPY' END AS currency,
       CASE WHEN random() < 0.5 THEN 'UTC' ELSE 'Asia/Jakarta' END AS zone,
       (date '2025-07-01' + (floor(random() * 7) || ' months')::interval)::date AS starts,
       round(power(10::numeric, (3 + random() * 3)::numeric)) AS size,          -- monthly revenue, in units
       (ARRAY[0, 0, 0, 1, 2, 3, 6])[1 + floor(random() * 7)::int] AS dsra_months,
       CASE WHEN random() < 0.6 THEN round((1 + random() * 1.5)::numeric, 2) END AS lockup_dscr,
       random() < 0.3 AS own_support_rate,
       (1 + floor(random() * 9))::int AS vendor_pct
  FROM generate_series(1, 300) i;
ALTER TABLE fp_cfg ADD COLUMN mu int, ADD COLUMN support_rate numeric, ADD COLUMN support_day_count text;
UPDATE fp_cfg SET mu = CASE currency WHEN 'FPD' THEN 2 ELSE 0 END,
                  support_rate = CASE WHEN own_support_rate THEN round((random() * 0.12)::numeric, 4) END,
                  support_day_count = CASE WHEN own_support_rate
                                           THEN (ARRAY['ACT/360', 'ACT/365F', '30/360'])[1 + floor(random() * 3)::int] END;

-- Up to three facilities, ranks drawn from 1..5, a third unsupported; principal a multiple
-- of the monthly revenue, so that some agreements cannot carry their debt.
CREATE TEMP TABLE fp_fac AS
SELECT c.i, 'fp_l' || lpad(c.i::text, 3, '0') || '_' || k AS facility, r.rank, random() < 0.67 AS supported,
       round(c.size * (1 + random() * 12)::numeric) AS principal, round((random() * 0.15)::numeric, 4) AS annual_rate,
       (3 + floor(random() * 22))::int AS periods,
       (c.starts + (floor(random() * 4) || ' months')::interval + (floor(random() * 28) || ' days')::interval)::date AS first_due,
       (ARRAY['annuity', 'annuity', 'linear', 'bullet'])[1 + floor(random() * 4)::int] AS method,
       CASE WHEN random() < 0.8 THEN 'monthly' ELSE 'quarterly' END AS frequency,
       (ARRAY['30/360', 'ACT/360', 'ACT/365F', 'ACT/ACT'])[1 + floor(random() * 4)::int] AS day_count,
       CASE WHEN random() < 0.2 THEN 1 + floor(random() * 2)::int ELSE 0 END AS grace_periods
  FROM fp_cfg c
 CROSS JOIN LATERAL (SELECT k, row_number() OVER (ORDER BY random()) AS rank
                       FROM generate_series(1, 5) k) r
 WHERE r.k <= floor(random() * 4);
UPDATE fp_fac SET grace_periods = 0 WHERE grace_periods >= periods;

-- Costs: a fixed cost and a power tariff per MWh, each present or not, some with a second
-- version from a later month.
CREATE TEMP TABLE fp_cost AS
SELECT c.i, x.cost, x.kind, v.valid_from,
       CASE x.kind WHEN 'fixed' THEN round(c.size * (random() * 0.4)::numeric, c.mu)
                   ELSE round((40 + random() * 80)::numeric, 3) END AS amount
  FROM fp_cfg c
 CROSS JOIN (VALUES ('site', 'fixed'), ('grid', 'power')) x(cost, kind)
 CROSS JOIN LATERAL (SELECT c.starts AS valid_from
                     UNION ALL
                     SELECT (c.starts + ((2 + floor(random() * 8)) || ' months')::interval)::date
                      WHERE random() < 0.3) v
 WHERE random() < 0.7;
DELETE FROM fp_cost a USING fp_cost b
 WHERE a.i = b.i AND a.cost = b.cost AND a.valid_from = b.valid_from AND a.ctid > b.ctid;
-- MWh a factory draws a day, about what makes power a tenth to a half of revenue
CREATE TEMP TABLE fp_power AS
SELECT c.i, round(c.size * (0.1 + random() * 0.4)::numeric / 30 / 80, 3) + 0.001 AS mwh_a_day FROM fp_cfg c;

-- Energy: every local day from the start to the end of October read in its own month;
-- some days read only one or two months later, some read again after their period closed.
CREATE TEMP TABLE fp_energy AS
SELECT c.i, c.factory, d::date AS day,
       round(p.mwh_a_day * (0.5 + random())::numeric, 3) AS mwh,
       (date_trunc('month', d) + (CASE WHEN random() < 0.03 THEN 1 + floor(random() * 2) ELSE 0 END || ' months')::interval)::date AS arrives
  FROM fp_cfg c JOIN fp_power p USING (i)
 CROSS JOIN LATERAL generate_series(c.starts, date '2026-10-31', interval '1 day') d;
INSERT INTO fp_energy
SELECT e.i, e.factory, e.day, round(e.mwh * (0.7 + random() * 0.6)::numeric, 3),
       (date_trunc('month', e.day) + ((1 + floor(random() * 3)) || ' months')::interval)::date
  FROM fp_energy e WHERE random() < 0.03;

-- Usage: one event a day on most days, the month's level on a random path; idle months,
-- and a few huge ones. A tenth of the events arrive one to three months late.
CREATE TEMP TABLE fp_month AS
SELECT c.i, m::date AS month,
       CASE WHEN r < 0.08 THEN 0 WHEN r < 0.1 THEN c.size * 1000 ELSE c.size * (0.2 + random() * 1.6)::numeric END AS level
  FROM fp_cfg c CROSS JOIN LATERAL generate_series(c.starts, date '2026-10-01', interval '1 month') m
 CROSS JOIN LATERAL (SELECT random() + 0 * c.i AS r) x;
CREATE TEMP TABLE fp_events AS
SELECT c.i, c.factory, 'e' || c.i || '-' || d::date AS event_id,
       (d::date + time '12:00') AT TIME ZONE c.zone AS occurred_at,
       -- output tokens at 12 a million: the day's share of the month's level
       round(m.level / 30 * (0.5 + random())::numeric / 12 * 1000000)::bigint AS output_tokens,
       (date_trunc('month', d) + (CASE WHEN random() < 0.1 THEN 1 + floor(random() * 3) ELSE 0 END || ' months')::interval)::date AS arrives
  FROM fp_cfg c JOIN fp_month m USING (i)
 CROSS JOIN LATERAL generate_series(m.month, (m.month + interval '1 month' - interval '1 day'), interval '1 day') d
 WHERE m.level > 0 AND random() < 0.9;
-- Voids: in a fifth of the agreements, a handful of a closed month's events taken out two
-- months later (refunds that can turn that month's adjustments, and a gross, negative).
CREATE TEMP TABLE fp_voids AS
SELECT e.factory, e.event_id, (date_trunc('month', e.occurred_at AT TIME ZONE c.zone) + interval '2 months')::date AS at
  FROM fp_events e JOIN fp_cfg c USING (i)
 WHERE c.i % 5 = 0 AND random() < 0.3 AND e.arrives = date_trunc('month', e.occurred_at AT TIME ZONE c.zone)::date
   AND e.occurred_at < '2026-08-01';

-- The configuration, from the generated terms.
INSERT INTO dsx.parties VALUES ('fp_v', 'vendor', 'FP vendor'), ('fp_bank', 'lender', 'FP bank'), ('fp_p', 'partner', 'FP partner');
INSERT INTO dsx.factories (factory, partner, currency, region, time_zone)
SELECT factory, 'fp_p', currency, 'fp', zone FROM fp_cfg ORDER BY i;
INSERT INTO dsx.price_plans VALUES ('fp_std', 'fp_m', '4', '12');
INSERT INTO dsx.customer_plans (customer, factory, plan) SELECT 'fp_c', factory, 'fp_std' FROM fp_cfg;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag, settlement_currency,
                            support_rate, support_day_count, dsra_months, lockup_dscr)
SELECT agreement, 'fp_p', 'fp_v', factory,
       format('vendor=%s%%, partner=%s%%', vendor_pct * 10, 100 - vendor_pct * 10)::dsx.split,
       starts, '100 years', currency, support_rate, support_day_count, dsra_months, lockup_dscr
  FROM fp_cfg ORDER BY i;
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method,
                                   frequency, day_count, grace_periods, rank, supported)
SELECT f.facility, c.agreement, 'fp_bank', f.principal, f.annual_rate, f.periods, f.first_due, f.method, f.frequency,
       f.day_count, f.grace_periods, f.rank, f.supported
  FROM fp_fac f JOIN fp_cfg c USING (i) ORDER BY f.facility;
INSERT INTO dsx.operating_costs (agreement, cost, kind, amount, valid_from)
SELECT c.agreement, o.cost, o.kind, o.amount, o.valid_from FROM fp_cost o JOIN fp_cfg c USING (i);

SELECT count(*) AS agreements,
       (SELECT count(*) FROM fp_fac) > 350 AS many_facilities,
       (SELECT count(*) FROM fp_fac WHERE NOT supported) > 100 AS unsupported_facilities,
       (SELECT count(*) FROM fp_fac WHERE frequency = 'quarterly') > 50 AS quarterly_facilities,
       count(*) FILTER (WHERE dsra_months > 0) > 100 AS with_reserve,
       count(*) FILTER (WHERE lockup_dscr IS NOT NULL) > 100 AS with_lockup,
       count(*) FILTER (WHERE support_rate IS NOT NULL) > 50 AS own_support_rate,
       (SELECT count(DISTINCT i) FROM fp_cost WHERE kind = 'power') > 150 AS with_power,
       (SELECT count(*) FROM (SELECT i, cost FROM fp_cost GROUP BY 1, 2 HAVING count(*) > 1) x) > 50 AS cost_versions,
       (SELECT count(*) FROM fp_energy WHERE arrives > date_trunc('month', day)) > 1000 AS late_energy,
       (SELECT count(*) FROM fp_voids) > 100 AS voids
  FROM fp_cfg;

-- Month by month: what arrives for the month (events, voids, energy), then each agreement
-- that has begun settles it.
DO $$
DECLARE
    m date;
    n bigint;
BEGIN
    FOR m IN SELECT g::date FROM generate_series(date '2025-07-01', date '2026-10-01', interval '1 month') g LOOP
        INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens)
        SELECT e.event_id, e.occurred_at, e.factory, 'fp_c', 'fp_m', 0, e.output_tokens
          FROM fp_events e WHERE e.arrives = m;
        PERFORM * FROM dsx.ingest();
        PERFORM dsx.void_events(v.factory, array_agg(v.event_id), 'fp refund')
           FROM fp_voids v WHERE v.at = m GROUP BY v.factory;
        INSERT INTO dsx.energy_readings (factory, day, mwh)
        SELECT e.factory, e.day, e.mwh FROM fp_energy e WHERE e.arrives = m ORDER BY e.day, e.factory;
        -- (as dsx.run_due_settlements does: the set of agreements at once)
        n := dsx.settle_period(ARRAY(SELECT c.agreement FROM fp_cfg c WHERE c.starts <= m ORDER BY c.agreement), m);
        IF n <> (SELECT count(*) FROM fp_cfg c WHERE c.starts <= m) THEN
            RAISE EXCEPTION 'month %: % settled', m, n;
        END IF;
    END LOOP;
END
$$;

-- The reference. Energy of a period as of a reading: each local day's latest reading up
-- to it. The period's costs: each cost's latest version on or before the period, a fixed
-- one its amount, a power one its tariff x the energy. Exact.
CREATE FUNCTION pg_temp.fp_costs(ag int, q date, w bigint) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(sum(CASE o.kind WHEN 'fixed' THEN o.amount
                        ELSE o.amount * (SELECT COALESCE(sum(x.mwh), 0)
                                           FROM (SELECT DISTINCT ON (r.day) r.mwh FROM dsx.energy_readings r
                                                  WHERE r.factory = c.factory AND r.day >= q
                                                    AND r.day < (q + interval '1 month')::date AND r.reading_id <= w
                                                  ORDER BY r.day, r.reading_id DESC) x) END), 0)
      FROM fp_cfg c
      JOIN fp_cost o ON o.i = c.i
     WHERE c.i = ag
       AND o.valid_from = (SELECT max(v.valid_from) FROM fp_cost v WHERE v.i = o.i AND v.cost = o.cost AND v.valid_from <= q)
$$;
-- A facility's payments due in [from, until), at the agreement's minor units.
CREATE FUNCTION pg_temp.fp_due(f fp_fac, mu int, from_day date, until date) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(sum(s.payment), 0)
      FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method, f.frequency, f.day_count, mu,
                        f.grace_periods) s
     WHERE s.due >= from_day AND s.due < until
$$;

CREATE TEMP TABLE fp_ref AS SELECT * FROM dsx.statements WITH NO DATA;
CREATE TEMP TABLE fp_ref_debt AS SELECT * FROM dsx.statement_debt WITH NO DATA;
CREATE FUNCTION pg_temp.fp_reference() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c      fp_cfg;
    s      record;
    f      fp_fac;
    r      fp_ref;
    arr    jsonb;          -- each facility's arrears, carried
    prev_w bigint;
    avail  numeric;
    owed   numeric;
    x      numeric;
    sched  numeric;
    due    numeric;
    rest   numeric;
    rate   numeric;
    dc     text;
    target numeric;
    q      date;
    p_end  date;
    b_support numeric;     -- the balances the statement before closed with
    b_reserve numeric;
    b_lockup  numeric;
    b_opex    numeric;
BEGIN
    FOR c IN SELECT * FROM fp_cfg ORDER BY i LOOP
        arr := '{}';
        prev_w := 0;
        b_support := 0; b_reserve := 0; b_lockup := 0; b_opex := 0;
        -- the support terms: the agreement's own, else its most senior supported facility's
        SELECT COALESCE(c.support_rate, f2.annual_rate), COALESCE(c.support_day_count, f2.day_count) INTO rate, dc
          FROM (SELECT 1) one
          LEFT JOIN LATERAL (SELECT * FROM fp_fac z WHERE z.i = c.i AND z.supported ORDER BY z.rank LIMIT 1) f2 ON true;
        FOR s IN SELECT t.period_start, t.energy_through FROM dsx.statements t
                  WHERE t.agreement = c.agreement ORDER BY t.period_start LOOP
            p_end := (s.period_start + interval '1 month')::date;
            r := NULL;
            r.agreement := c.agreement; r.period_start := s.period_start; r.period_end := p_end;
            r.currency := c.currency; r.energy_through := s.energy_through;
            r.gross := COALESCE((SELECT sum(l.amount) FROM dsx.statement_lines l
                                  WHERE l.agreement = c.agreement AND l.period_start = s.period_start), 0);
            r.support_opening := b_support; r.reserve_opening := b_reserve; r.lockup_opening := b_lockup;
            r.opex_arrears_opening := b_opex;
            r.reserve_balance := b_reserve;       -- drawn and topped up below
            r.debt_service_due := 0; r.debt_service_paid := 0; r.support_drawn := 0; r.debt_arrears := 0;
            r.reserve_drawn := 0; r.reserve_topup := 0; r.reserve_released := 0;
            r.lockup_trapped := 0; r.lockup_released := 0;
            -- costs: the period's own, rounded once; and each closed period's change since
            -- the statement before, the difference of its totals each rounded once
            r.opex_adjustments := 0;
            FOR q IN SELECT g::date FROM generate_series(c.starts, s.period_start - 1, interval '1 month') g LOOP
                r.opex_adjustments := r.opex_adjustments + round(pg_temp.fp_costs(c.i, q, s.energy_through), c.mu)
                                                         - round(pg_temp.fp_costs(c.i, q, prev_w), c.mu);
            END LOOP;
            r.opex_due := round(pg_temp.fp_costs(c.i, s.period_start, s.energy_through), c.mu) + r.opex_adjustments;
            prev_w := s.energy_through;
            -- 1, 2: gross, then operating costs and their arrears
            avail := r.gross;
            owed := r.opex_due + r.opex_arrears_opening;
            r.opex_paid := LEAST(GREATEST(avail, 0), owed);
            r.opex_arrears := owed - r.opex_paid;
            avail := avail - r.opex_paid;
            r.cfads := r.gross - r.opex_paid;
            -- 3: each facility, most senior first: from avail, the reserve, then support or arrears
            sched := 0;
            FOR f IN SELECT * FROM fp_fac z WHERE z.i = c.i ORDER BY z.rank LOOP
                x := pg_temp.fp_due(f, c.mu, s.period_start, p_end);
                due := x + COALESCE((arr ->> f.facility)::numeric, 0);
                CONTINUE WHEN due = 0;
                sched := sched + x;
                INSERT INTO fp_ref_debt VALUES (c.agreement, s.period_start, f.facility, f.rank, f.supported, 'fp_bank', x,
                                                due - x, due, LEAST(GREATEST(avail, 0), due), 0, 0, 0);
                rest := due - LEAST(GREATEST(avail, 0), due);
                avail := avail - LEAST(GREATEST(avail, 0), due);
                x := LEAST(r.reserve_balance, rest);
                r.reserve_balance := r.reserve_balance - x;
                r.reserve_drawn := r.reserve_drawn + x;
                rest := rest - x;
                UPDATE fp_ref_debt d SET paid_from_reserve = x,
                                         paid_by_support = CASE WHEN f.supported THEN rest ELSE 0 END,
                                         arrears = CASE WHEN f.supported THEN 0 ELSE rest END
                 WHERE d.agreement = c.agreement AND d.period_start = s.period_start AND d.facility = f.facility;
                IF f.supported THEN
                    r.support_drawn := r.support_drawn + rest;
                    arr := arr - f.facility;
                ELSE
                    r.debt_arrears := r.debt_arrears + rest;
                    arr := jsonb_set(arr, ARRAY[f.facility], to_jsonb(rest));
                END IF;
                r.debt_service_due := r.debt_service_due + due;
                r.debt_service_paid := r.debt_service_paid + (due - rest - x);
            END LOOP;
            -- 4: interest on the opening support balance
            r.support_interest := CASE WHEN rate IS NULL THEN 0
                                       ELSE dsx.interest(r.support_opening, rate, s.period_start, p_end, dc, c.mu) END;
            -- 5: the reserve toward the payments scheduled in the next dsra_months periods
            target := 0;
            FOR f IN SELECT * FROM fp_fac z WHERE z.i = c.i LOOP
                target := target + pg_temp.fp_due(f, c.mu, p_end, (p_end + c.dsra_months * interval '1 month')::date);
            END LOOP;
            IF r.reserve_balance > target THEN
                r.reserve_released := r.reserve_balance - target;
            ELSE
                r.reserve_topup := LEAST(GREATEST(avail, 0), target - r.reserve_balance);
            END IF;
            avail := avail + r.reserve_released - r.reserve_topup;
            r.reserve_balance := r.reserve_balance - r.reserve_released + r.reserve_topup;
            -- 6: the vendor, interest first
            r.support_repaid := LEAST(GREATEST(avail, 0), r.support_opening + r.support_interest);
            avail := avail - r.support_repaid;
            r.support_balance := r.support_opening + r.support_interest + r.support_drawn - r.support_repaid;
            -- 7: lock-up on CFADS against the scheduled debt service, compared exactly
            IF sched > 0 THEN
                r.dscr := round(r.cfads / sched, 4);
            END IF;
            IF c.lockup_dscr IS NOT NULL AND sched > 0 AND r.cfads < c.lockup_dscr * sched THEN
                r.lockup_trapped := GREATEST(avail, 0);
            ELSE
                r.lockup_released := r.lockup_opening;
            END IF;
            avail := avail - r.lockup_trapped + r.lockup_released;
            r.lockup_balance := r.lockup_opening + r.lockup_trapped - r.lockup_released;
            -- 8: what is left, split
            r.distributable := avail;
            SELECT COALESCE(sum(a.amount) FILTER (WHERE a.party = 'vendor'), 0),
                   COALESCE(sum(a.amount) FILTER (WHERE a.party = 'partner'), 0)
              INTO r.vendor_share, r.partner_share
              FROM dsx.allocate(avail, format('vendor=%s%%, partner=%s%%', c.vendor_pct * 10, 100 - c.vendor_pct * 10)::dsx.split,
                                c.mu) a;
            INSERT INTO fp_ref VALUES (r.*);
            b_support := r.support_balance; b_reserve := r.reserve_balance; b_lockup := r.lockup_balance;
            b_opex := r.opex_arrears;
        END LOOP;
    END LOOP;
END
$$;
SELECT pg_temp.fp_reference();

CREATE TEMP VIEW fp_figures AS
SELECT agreement, period_start, period_end, currency, gross, opex_due, opex_adjustments, opex_arrears_opening, opex_paid,
       opex_arrears, cfads, debt_service_due, debt_service_paid, reserve_opening, reserve_drawn, reserve_topup,
       reserve_released, reserve_balance, support_opening, support_drawn, support_interest, support_repaid,
       support_balance, debt_arrears, lockup_opening, lockup_trapped, lockup_released, lockup_balance, dscr,
       distributable, vendor_share, partner_share
  FROM dsx.statements WHERE agreement LIKE 'fp\_%';
CREATE TEMP VIEW fp_ref_figures AS
SELECT agreement, period_start, period_end, currency, gross, opex_due, opex_adjustments, opex_arrears_opening, opex_paid,
       opex_arrears, cfads, debt_service_due, debt_service_paid, reserve_opening, reserve_drawn, reserve_topup,
       reserve_released, reserve_balance, support_opening, support_drawn, support_interest, support_repaid,
       support_balance, debt_arrears, lockup_opening, lockup_trapped, lockup_released, lockup_balance, dscr,
       distributable, vendor_share, partner_share
  FROM fp_ref;

-- What the generated data reached: every step of the waterfall, many times.
SELECT count(*) AS statements,
       count(*) FILTER (WHERE gross < 0) > 10 AS negative_gross,
       count(*) FILTER (WHERE gross = 0) > 150 AS zero_gross,
       count(*) FILTER (WHERE opex_adjustments <> 0) > 1000 AS energy_adjusted,
       count(*) FILTER (WHERE opex_adjustments < 0) > 150 AS energy_adjusted_down,
       count(*) FILTER (WHERE opex_arrears > 0) > 400 AS costs_in_arrears,
       count(*) FILTER (WHERE reserve_drawn > 0) > 150 AS reserve_drawn,
       count(*) FILTER (WHERE reserve_topup > 0) > 250 AS reserve_topped_up,
       count(*) FILTER (WHERE reserve_released > 0 AND reserve_balance = 0) > 10 AS reserve_released_at_maturity,
       count(*) FILTER (WHERE support_drawn > 0) > 600 AS support_drawn,
       count(*) FILTER (WHERE support_repaid > 0) > 150 AS support_repaid,
       count(*) FILTER (WHERE debt_arrears > 0) > 500 AS debt_in_arrears,
       count(*) FILTER (WHERE lockup_trapped > 0) > 30 AS trapped,
       count(*) FILTER (WHERE lockup_released > 0) > 25 AS released,
       count(*) FILTER (WHERE distributable < 0) > 10 AS claw_backs
  FROM fp_ref;

-- Every figure of every statement, and every facility's part, as the reference has them.
SELECT (SELECT count(*) FROM fp_ref) AS reference_statements,
       (SELECT count(*) FROM (TABLE fp_figures EXCEPT TABLE fp_ref_figures) x) AS statements_not_in_reference,
       (SELECT count(*) FROM (TABLE fp_ref_figures EXCEPT TABLE fp_figures) x) AS reference_not_in_statements,
       (SELECT count(*) FROM (SELECT * FROM dsx.statement_debt WHERE agreement LIKE 'fp\_%' EXCEPT TABLE fp_ref_debt) x)
           AS debt_not_in_reference,
       (SELECT count(*) FROM (TABLE fp_ref_debt EXCEPT SELECT * FROM dsx.statement_debt WHERE agreement LIKE 'fp\_%') x)
           AS reference_debt_not_in_statements;
-- (the first statements that differ, should any)
SELECT 'dsx' AS side, * FROM (TABLE fp_figures EXCEPT TABLE fp_ref_figures) x
UNION ALL
SELECT 'reference', * FROM (TABLE fp_ref_figures EXCEPT TABLE fp_figures) y
ORDER BY 2, 3, 1 LIMIT 4;

-- The invariant, with the shares as written, and the balances rolled forward.
SELECT count(*) FILTER (WHERE s.gross <> s.opex_paid + s.debt_service_paid + s.reserve_topup - s.reserve_released
                                        + s.support_repaid + s.lockup_trapped - s.lockup_released
                                        + (SELECT sum(h.amount) FROM dsx.statement_shares h
                                            WHERE h.agreement = s.agreement AND h.period_start = s.period_start))
           AS invariant_broken,
       count(*) FILTER (WHERE s.support_opening IS DISTINCT FROM COALESCE(p.support_balance, 0)
                           OR s.reserve_opening IS DISTINCT FROM COALESCE(p.reserve_balance, 0)
                           OR s.lockup_opening IS DISTINCT FROM COALESCE(p.lockup_balance, 0)
                           OR s.opex_arrears_opening IS DISTINCT FROM COALESCE(p.opex_arrears, 0)) AS not_rolled_forward
  FROM dsx.statements s
  LEFT JOIN dsx.statements p ON p.agreement = s.agreement AND p.period_start = (s.period_start - interval '1 month')::date
 WHERE s.agreement LIKE 'fp\_%';

-- The ledger: every transaction balances, and each account's balance is the books' own:
-- the reserve and the lock-up (assets), the credit support, the costs and every facility's
-- arrears (liabilities) at the last statement.
WITH last AS (
    SELECT DISTINCT ON (agreement) * FROM dsx.statements WHERE agreement LIKE 'fp\_%' ORDER BY agreement, period_start DESC
), bal AS (
    SELECT e.agreement, e.account, sum(e.amount) AS balance FROM dsx.ledger_entries e
     WHERE e.agreement LIKE 'fp\_%' GROUP BY 1, 2
)
SELECT (SELECT count(*) FROM (SELECT txn_id FROM dsx.ledger_entries WHERE agreement LIKE 'fp\_%'
                               GROUP BY txn_id, currency HAVING sum(amount) <> 0) u) AS unbalanced_transactions,
       count(*) FILTER (WHERE COALESCE((SELECT b.balance FROM bal b WHERE b.agreement = l.agreement
                                          AND b.account = 'asset:debt_service_reserve'), 0) <> l.reserve_balance) AS reserve_off,
       count(*) FILTER (WHERE COALESCE((SELECT b.balance FROM bal b WHERE b.agreement = l.agreement
                                          AND b.account = 'asset:lockup'), 0) <> l.lockup_balance) AS lockup_off,
       count(*) FILTER (WHERE COALESCE((SELECT b.balance FROM bal b WHERE b.agreement = l.agreement
                                          AND b.account = 'liability:credit_support:fp_v'), 0) <> -l.support_balance) AS support_off,
       count(*) FILTER (WHERE COALESCE((SELECT b.balance FROM bal b WHERE b.agreement = l.agreement
                                          AND b.account = 'liability:operating_cost_arrears'), 0) <> -l.opex_arrears) AS cost_arrears_off,
       count(*) FILTER (WHERE COALESCE((SELECT sum(b.balance) FROM bal b WHERE b.agreement = l.agreement
                                          AND b.account LIKE 'liability:debt\_arrears:%'), 0) <> -l.debt_arrears) AS debt_arrears_off
  FROM last l;

-- And dsx's own recomputation agrees with a sample of the statements.
SELECT count(*) FILTER (WHERE NOT dsx.verify_settlement(agreement, period_start)) AS not_verified
  FROM (SELECT agreement, period_start FROM dsx.statements WHERE agreement LIKE 'fp\_%'
         ORDER BY hashtext(agreement || period_start) LIMIT 300) s;
