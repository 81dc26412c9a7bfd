-- schema/61-settle.sql — settlement as a pipeline of named set-based steps, and its entry
-- points dsx.settle and dsx.run_due_settlements.

/*
 * dsx.settle_period settles one monthly period for a set of agreements by running, in
 * order, steps with one purpose each:
 *   1. dsx.settle_lock       check and lock: which agreements settle, locked in order, and
 *                            the usage frozen for the rest of the transaction
 *   2. dsx.period_lines      rate the period: one line per agreement, customer and model
 *   3. dsx.late_lines        re-rate late usage: adjustment lines for closed periods
 *      dsx.period_costs      the operating costs: the period's, and energy adjustments
 *   4. dsx.settle_waterfall  the waterfall: each agreement's statement
 *   5. dsx.write_books       write the statements, their lines, costs and shares
 *   6. dsx.post_ledger       post one balanced ledger transaction per statement
 * Steps 2 to 4 read and return rows without writing, so each can be called alone. Every
 * step works on the whole set at once, in a handful of statements.
 */

-- Step 1: check the agreements and the period as dsx.settle documents (the first failing
-- check raises, for the whole set), lock the agreements in agreement order (concurrent
-- settlers queue rather than deadlock) and the rollup against ingest. Returns the
-- agreements to settle, in order; one already settled is left out with a NOTICE.
CREATE OR REPLACE FUNCTION dsx.settle_lock(agreements text[], period_start date) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_start date := settle_lock.period_start;
    v_end   date;
    v_ags   text[];
    bad     record;
BEGIN
    IF settle_lock.agreements IS NULL OR v_start IS NULL
       OR pg_catalog.array_position(settle_lock.agreements, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'dsx.settle needs an agreement and a period_start' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'dsx.settle runs in READ COMMITTED transactions'
            USING ERRCODE = 'active_sql_transaction',
                  DETAIL = 'Settlement waits for concurrent settlers and must then see what they wrote.';
    END IF;
    -- One settler per agreement at a time: the others wait here, then find the period
    -- settled. Rows are locked in agreement order, so concurrent settlers never deadlock.
    SELECT array_agg(x.agreement ORDER BY x.agreement) INTO v_ags
      FROM (SELECT g.agreement FROM dsx.agreements g
             WHERE g.agreement = ANY (settle_lock.agreements)
             ORDER BY g.agreement FOR UPDATE) x;
    SELECT u.a AS agreement INTO bad
      FROM unnest(settle_lock.agreements) WITH ORDINALITY u(a, i)
     WHERE u.a <> ALL (COALESCE(v_ags, '{}'))
     ORDER BY u.i LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown agreement "%"', bad.agreement USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_ags IS NULL THEN
        RETURN '{}';                     -- an empty set
    END IF;
    IF v_start <> date_trunc('month', v_start)::date THEN
        RAISE EXCEPTION 'settlement periods are calendar months: % is not the first day of a month', v_start
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT g.agreement, g.starts INTO bad
      FROM dsx.agreements g WHERE g.agreement = ANY (v_ags) AND v_start < g.starts
     ORDER BY g.agreement LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'agreement "%" starts on %: there is no period %', bad.agreement, bad.starts, v_start
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR bad IN SELECT s.agreement FROM dsx.statements s
                WHERE s.agreement = ANY (v_ags) AND s.period_start = v_start ORDER BY s.agreement LOOP
        RAISE NOTICE 'agreement "%" period % is already settled: nothing changed', bad.agreement, v_start;
        v_ags := array_remove(v_ags, bad.agreement);
    END LOOP;
    IF cardinality(v_ags) = 0 THEN
        RETURN v_ags;
    END IF;
    v_end := dsx.period_end(v_start);
    -- a period ends at local midnight of its factory
    SELECT g.agreement, f.time_zone INTO bad
      FROM dsx.agreements g JOIN dsx.factories f ON f.factory = g.factory
     WHERE g.agreement = ANY (v_ags) AND dsx.local_midnight(v_end, f.time_zone) > now()
     ORDER BY g.agreement LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'period % of agreement "%" has not ended', v_start, bad.agreement
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The period ends at %s 00:00 %s (%s).', v_end, bad.time_zone,
                                  dsx.local_midnight(v_end, bad.time_zone));
    END IF;
    SELECT g.agreement INTO bad
      FROM dsx.agreements g
     WHERE g.agreement = ANY (v_ags) AND v_start > g.starts
       AND NOT EXISTS (SELECT 1 FROM dsx.statements s
                        WHERE s.agreement = g.agreement AND s.period_start = (v_start - interval '1 month')::date)
     ORDER BY g.agreement LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'period % of agreement "%" cannot be settled before %', v_start, bad.agreement,
                (v_start - interval '1 month')::date
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Settle periods in order, or call dsx.run_due_settlements().';
    END IF;
    -- Wait for a running ingest and keep new ones out until we commit, so that every step
    -- sees the same usage: that of the batches ingested so far.
    LOCK TABLE dsx.usage_daily IN SHARE MODE;
    RETURN v_ags;
END
$$;
COMMENT ON FUNCTION dsx.settle_lock(text[], date) IS 'Settlement step 1, check and lock: validates the agreements and the period (known, a month, after the start, ended, the previous period settled), locks the agreements in order and the rollup against ingest until the transaction ends; returns the agreements to settle (one already settled is left out with a NOTICE)';

-- Step 2: the period's lines, one per agreement, customer and model with usage, rated at
-- the price in force; usage nobody priced raises (dsx.raise_unpriced), for the first such
-- agreement, customer and model.
CREATE OR REPLACE FUNCTION dsx.period_lines(agreements text[], period_start date)
RETURNS SETOF dsx.statement_lines
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_start     date := period_lines.period_start;
    v_end       date := dsx.period_end(period_lines.period_start);
    v_factories text[];
    v_lines     dsx.statement_lines[];
    bad_factory text;
    bad_customer text;
    bad_model   text;
BEGIN
    SELECT array_agg(g.factory) INTO v_factories FROM dsx.agreements g WHERE g.agreement = ANY (period_lines.agreements);
    EXECUTE $q$
    WITH l AS MATERIALIZED (
        SELECT g.agreement, g.factory, r.customer, r.model, r.u, c.minor_units AS mu,
               p.plan, p.input_price::dsx.price AS input_price, p.output_price::dsx.price AS output_price,
               p.plan IS NOT NULL AS priced
          FROM dsx.period_rollups($1, $2, $3) r
          JOIN dsx.agreements g ON g.factory = r.factory
          JOIN dsx.factories f ON f.factory = g.factory
          JOIN dsx.currencies c ON c.currency = f.currency
          LEFT JOIN dsx.price_versions p ON p.factory = r.factory AND p.customer = r.customer AND p.model = r.model
                                        AND p.valid_from <= $2 AND $2 < p.valid_until
    )
    SELECT (SELECT array_agg(ROW(l.agreement, $2, $2, l.customer, l.model, dsx.input_tokens(l.u),
                                 dsx.output_tokens(l.u), dsx.rate(l.u, l.input_price, l.output_price, l.mu),
                                 l.plan, l.input_price, l.output_price)::dsx.statement_lines
                             ORDER BY l.agreement, l.customer, l.model)
              FROM l WHERE l.priced),
           u.factory, u.customer, u.model
      FROM (SELECT) one
      LEFT JOIN LATERAL (SELECT l.factory, l.customer, l.model FROM l WHERE NOT l.priced
                          ORDER BY l.agreement, l.customer, l.model LIMIT 1) u ON true
    $q$ INTO v_lines, bad_factory, bad_customer, bad_model USING v_factories, v_start, v_end;
    IF bad_factory IS NOT NULL THEN
        PERFORM dsx.raise_unpriced(bad_factory, bad_customer, bad_model, v_start, v_end);
    END IF;
    RETURN QUERY SELECT * FROM unnest(v_lines);
END
$$;
COMMENT ON FUNCTION dsx.period_lines(text[], date) IS 'Settlement step 2, rate the period: one line per agreement, customer and model with usage in the period, at the price in force for the period, rounded once in the billing currency; usage no plan prices raises P0002';

-- The difference between what is known now and what was booked: one line per agreement,
-- period, customer and model whose tokens or amount differ, known minus booked, carrying
-- the plan and prices known (else booked); period_start is the period that books it.
CREATE OR REPLACE FUNCTION dsx.line_difference(period_start date, known dsx.statement_lines[],
                                               booked dsx.statement_lines[])
RETURNS SETOF dsx.statement_lines
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT (ROW(COALESCE(n.agreement, b.agreement), line_difference.period_start, COALESCE(n.for_period, b.for_period),
               COALESCE(n.customer, b.customer), COALESCE(n.model, b.model),
               COALESCE(n.input_tokens, 0) - COALESCE(b.input_tokens, 0),
               COALESCE(n.output_tokens, 0) - COALESCE(b.output_tokens, 0),
               COALESCE(n.amount, 0) - COALESCE(b.amount, 0),
               COALESCE(n.plan, b.plan), COALESCE(n.input_price, b.input_price),
               COALESCE(n.output_price, b.output_price))::dsx.statement_lines).*
      FROM unnest(line_difference.known) n
      FULL JOIN unnest(line_difference.booked) b ON b.agreement = n.agreement AND b.for_period = n.for_period
                            AND b.customer = n.customer AND b.model = n.model
     WHERE COALESCE(n.input_tokens, 0) <> COALESCE(b.input_tokens, 0)
        OR COALESCE(n.output_tokens, 0) <> COALESCE(b.output_tokens, 0)
        OR COALESCE(n.amount, 0) IS DISTINCT FROM COALESCE(b.amount, 0)
     ORDER BY COALESCE(n.agreement, b.agreement), COALESCE(n.for_period, b.for_period),
              COALESCE(n.customer, b.customer), COALESCE(n.model, b.model);
END
$$;
COMMENT ON FUNCTION dsx.line_difference(date, dsx.statement_lines[], dsx.statement_lines[]) IS 'Lines known now minus lines booked, matched by agreement, period, customer and model: one line (dated period_start) for each whose tokens or amount differ';

-- Step 3: late usage. Every closed period of the agreements whose tokens in the rollup
-- differ, for any customer and model, from what its lines booked is re-rated with
-- everything now known, at the prices each line was booked with (dsx.line_price); the
-- difference from what was booked becomes adjustment lines of this period. The rollup is
-- read first, in a statement of its own (on Citus it runs on the workers): the usage of the
-- agreements' factories before this period, per month, customer and model; the comparison
-- with the books and the pricing follow on the coordinator.
CREATE OR REPLACE FUNCTION dsx.late_lines(agreements text[], period_start date, through_batch bigint)
RETURNS SETOF dsx.statement_lines
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_start  date := late_lines.period_start;
    v_ags    text[];
    v_facs   text[];
    v_mus    integer[];
    v_spans  dsx.usage_span[];
    v_late_a text[];
    v_late_p date[];
    v_known  dsx.statement_lines[];
    v_booked dsx.statement_lines[];
    bad_factory  text;
    bad_customer text;
    bad_model    text;
    bad_period   date;
BEGIN
    -- Each settlement brought every closed period of its agreement up to date with the usage
    -- of the batches it saw (its through_batch: late usage became adjustment lines). So only
    -- an agreement whose last statement saw fewer batches than this settlement sees can have
    -- late usage; one with no statement before this period has no closed period at all.
    SELECT array_agg(g.agreement), array_agg(g.factory), array_agg(c.minor_units)
      INTO v_ags, v_facs, v_mus
      FROM dsx.agreements g
      JOIN dsx.factories f ON f.factory = g.factory
      JOIN dsx.currencies c ON c.currency = f.currency
     WHERE g.agreement = ANY (late_lines.agreements)
       AND (SELECT s.through_batch FROM dsx.statements s
             WHERE s.agreement = g.agreement AND s.period_start < v_start
             ORDER BY s.period_start DESC LIMIT 1) < late_lines.through_batch;
    IF v_ags IS NULL THEN
        RETURN;
    END IF;
    SELECT array_agg(x.span) INTO v_spans
      FROM (SELECT ROW(d.factory, dsx.month_of(d.day), d.customer, d.model, dsx.rollup(d.usage))::dsx.usage_span AS span
              FROM dsx.usage_daily d
             WHERE d.factory = ANY (v_facs) AND d.day < v_start
             GROUP BY d.factory, dsx.month_of(d.day), d.customer, d.model) x;

    -- The closed periods whose usage differs from their lines, per customer and model: a
    -- void and its correction under another customer or model leave the period's totals as
    -- they were, not its lines.
    -- (The closed periods may have been written in this very transaction, by the run
    -- settling the month before, so the planner cannot know how many there are: the spans
    -- are given their agreement first and joined with them on the whole key, and the lines
    -- are selected by key, whatever the estimates.)
    WITH ag AS (
        SELECT * FROM unnest(v_ags, v_facs) g(agreement, factory)
    ), spans AS MATERIALIZED (
        SELECT ag.agreement, u.period_start, u.customer, u.model, u.usage
          FROM unnest(v_spans) u JOIN ag ON ag.factory = u.factory
    ), closed AS (
        SELECT s.agreement, s.period_start FROM dsx.statements s
         WHERE s.agreement = ANY (v_ags) AND s.period_start < v_start
    ), used AS (
        SELECT u.agreement, u.period_start, u.customer, u.model,
               dsx.input_tokens(u.usage) AS i, dsx.output_tokens(u.usage) AS o
          FROM spans u
         WHERE EXISTS (SELECT 1 FROM closed c WHERE c.agreement = u.agreement AND c.period_start = u.period_start)
    ), booked AS (
        -- every line of an earlier period is of a closed one (periods settle in order)
        SELECT l.agreement, l.for_period AS period_start, l.customer, l.model,
               sum(l.input_tokens) AS i, sum(l.output_tokens) AS o
          FROM dsx.statement_lines l
         WHERE l.agreement = ANY (v_ags) AND l.for_period < v_start
         GROUP BY 1, 2, 3, 4
    )
    SELECT array_agg(x.a ORDER BY x.a, x.p), array_agg(x.p ORDER BY x.a, x.p)
      INTO v_late_a, v_late_p
      FROM (SELECT DISTINCT COALESCE(u.agreement, b.agreement) AS a, COALESCE(u.period_start, b.period_start) AS p
              FROM used u
              FULL JOIN booked b ON b.agreement = u.agreement AND b.period_start = u.period_start
                                AND b.customer = u.customer AND b.model = u.model
             WHERE (COALESCE(u.i, 0), COALESCE(u.o, 0)) IS DISTINCT FROM (COALESCE(b.i, 0), COALESCE(b.o, 0))) x;
    IF v_late_a IS NULL THEN
        RETURN;
    END IF;

    WITH late AS (
        SELECT u.a, u.p FROM unnest(v_late_a, v_late_p) u(a, p)
    ), l AS MATERIALIZED (
        SELECT late.a, late.p, g.factory, u.customer, u.model, u.usage AS u, g.mu,
               lp.plan, lp.input_price, lp.output_price, lp.priced
          FROM late
          JOIN unnest(v_ags, v_facs, v_mus) g(agreement, factory, mu) ON g.agreement = late.a
          JOIN unnest(v_spans) u ON u.factory = g.factory AND u.period_start = late.p
          LEFT JOIN LATERAL dsx.line_price(late.a, g.factory, late.p, u.customer, u.model, v_start) lp ON true
    )
    SELECT (SELECT array_agg(ROW(l.a, v_start, l.p, l.customer, l.model, dsx.input_tokens(l.u),
                                 dsx.output_tokens(l.u), dsx.rate(l.u, l.input_price, l.output_price, l.mu),
                                 l.plan, l.input_price, l.output_price)::dsx.statement_lines)
              FROM l WHERE l.priced),
           (SELECT array_agg(ROW(b.agreement, v_start, b.for_period, b.customer, b.model, b.input_tokens,
                                 b.output_tokens, b.amount, b.plan, b.input_price, b.output_price)::dsx.statement_lines)
              FROM (SELECT x.agreement, x.for_period, x.customer, x.model,
                           sum(x.input_tokens)::bigint AS input_tokens, sum(x.output_tokens)::bigint AS output_tokens,
                           sum(x.amount) AS amount, (array_agg(x.plan ORDER BY x.period_start))[1] AS plan,
                           (array_agg(x.input_price ORDER BY x.period_start))[1] AS input_price,
                           (array_agg(x.output_price ORDER BY x.period_start))[1] AS output_price
                      FROM dsx.statement_lines x
                      JOIN late ON x.agreement = late.a AND x.for_period = late.p
                     GROUP BY x.agreement, x.for_period, x.customer, x.model) b),
           u.factory, u.customer, u.model, u.p
      INTO v_known, v_booked, bad_factory, bad_customer, bad_model, bad_period
      FROM (SELECT) one
      LEFT JOIN LATERAL (SELECT l.factory, l.customer, l.model, l.p FROM l WHERE NOT l.priced
                          ORDER BY l.a, l.p, l.customer, l.model LIMIT 1) u ON true;
    IF bad_factory IS NOT NULL THEN
        PERFORM dsx.raise_unpriced(bad_factory, bad_customer, bad_model, bad_period, dsx.period_end(bad_period));
    END IF;
    RETURN QUERY SELECT * FROM dsx.line_difference(v_start, v_known, v_booked);
END
$$;
COMMENT ON FUNCTION dsx.late_lines(text[], date, bigint) IS 'Settlement step 3, re-rate late usage: for every closed period of the agreements whose usage changed since it was booked (only agreements whose last statement saw fewer batches than through_batch, the usage this settlement sees, can have any), the difference between the period re-rated now (at the prices it was booked with) and what was booked, as adjustment lines of period_start';

/*
 * Step 3b: the operating costs of each agreement, as lines of dsx.statement_costs: every
 * cost in force for the period, on the factory's metered energy of its local days (each
 * day's latest reading up to through_reading); and for each closed period with energy read
 * since the statement before (a late or corrected reading), the difference of its power
 * costs now from what was booked for it: adjustments, like late usage.
 */
CREATE OR REPLACE FUNCTION dsx.period_costs(agreements text[], period_start date, through_reading bigint)
RETURNS SETOF dsx.statement_costs
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH ag AS MATERIALIZED (
        SELECT g.agreement, g.factory, g.starts,
               COALESCE((SELECT max(t.energy_through) FROM dsx.statements t
                          WHERE t.agreement = g.agreement AND t.period_start < period_costs.period_start), 0) AS seen
          FROM dsx.agreements g WHERE g.agreement = ANY (period_costs.agreements)
    ), late AS (
        SELECT DISTINCT ag.agreement, ag.factory, dsx.month_of(r.day) AS for_period
          FROM ag JOIN dsx.energy_readings r ON r.factory = ag.factory
         WHERE r.reading_id > ag.seen AND r.reading_id <= period_costs.through_reading
           AND r.day >= ag.starts AND r.day < period_costs.period_start
    )
    SELECT ag.agreement, period_costs.period_start, period_costs.period_start, c.cost, c.kind, c.price, c.mwh, c.amount
      FROM ag CROSS JOIN LATERAL dsx.cost_lines(ag.agreement, period_costs.period_start,
                                                dsx.period_energy(ag.factory, period_costs.period_start,
                                                                  period_costs.through_reading)) c
    UNION ALL
    SELECT late.agreement, period_costs.period_start, late.for_period, c.cost, c.kind, c.price,
           c.mwh - COALESCE(b.mwh, 0), c.amount - COALESCE(b.amount, 0)
      FROM late
     CROSS JOIN LATERAL dsx.cost_lines(late.agreement, late.for_period,
                                       dsx.period_energy(late.factory, late.for_period, period_costs.through_reading)) c
      LEFT JOIN LATERAL (SELECT sum(t.mwh) AS mwh, sum(t.amount) AS amount FROM dsx.statement_costs t
                          WHERE t.agreement = late.agreement AND t.for_period = late.for_period AND t.cost = c.cost
                            AND t.period_start < period_costs.period_start) b ON true
     WHERE c.kind = 'power' AND c.mwh IS DISTINCT FROM COALESCE(b.mwh, 0)
     ORDER BY 1, 3, 4
$$;
COMMENT ON FUNCTION dsx.period_costs(text[], date, bigint) IS 'Settlement step 3b, the operating costs: each agreement''s costs in force for the period (power on the factory''s metered energy of its local days, readings up to through_reading), and for each closed period with energy read since the statement before, the change of its power costs from what was booked, as adjustment lines';

-- Step 4: the waterfall of each agreement for the period, from its lines and costs: revenue
-- and adjustments converted to the settlement currency, then the full priority of payments
-- (dsx.period_waterfall) from the balances of the statement before, and the shares of
-- vendor and partner by the split in force. Returns the statements (not yet written).
CREATE OR REPLACE FUNCTION dsx.settle_waterfall(agreements text[], period_start date, lines dsx.statement_lines[],
                                                costs dsx.statement_costs[], through_batch bigint, through_reading bigint)
RETURNS TABLE(statement dsx.statements, debt dsx.statement_debt[], shares dsx.statement_shares[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_start date := settle_waterfall.period_start;
BEGIN
    RETURN QUERY
    WITH tot AS (
        SELECT ln.agreement,
               sum(ln.amount) FILTER (WHERE ln.for_period = v_start) AS rev,
               sum(ln.amount) FILTER (WHERE ln.for_period < v_start) AS adj,
               sum(ln.input_tokens) FILTER (WHERE ln.for_period = v_start)::bigint AS input_tokens,
               sum(ln.output_tokens) FILTER (WHERE ln.for_period = v_start)::bigint AS output_tokens
          FROM unnest(settle_waterfall.lines) ln GROUP BY ln.agreement
    ), co AS (
        -- each agreement's own cost lines
        SELECT c.agreement, array_agg(c) AS costs FROM unnest(settle_waterfall.costs) c GROUP BY c.agreement
    ), fa AS (
        -- each agreement's credit facilities, for dsx.period_waterfall_of
        SELECT * FROM dsx.facilities_of(settle_waterfall.agreements)
    ), ag AS MATERIALIZED (
        SELECT g.agreement, g.vendor, g.partner, sp.valid_from AS split_from, sp.revenue_split,
               g.settlement_currency AS currency, c.minor_units AS mu, f.currency AS billing,
               COALESCE(pr.support_balance, 0) AS opening, COALESCE(pr.reserve_balance, 0) AS reserve_opening,
               COALESCE(pr.opex_arrears, 0) AS opex_arrears_in, COALESCE(pr.lockup_balance, 0) AS lockup_opening,
               ARRAY(SELECT d FROM dsx.statement_debt d
                      WHERE pr.agreement IS NOT NULL AND d.agreement = g.agreement
                        AND d.period_start = pr.period_start) AS arrears_in,
               COALESCE(tot.rev, 0) AS rev_b, COALESCE(tot.adj, 0) AS adj_b,
               COALESCE(tot.input_tokens, 0) AS input_tokens, COALESCE(tot.output_tokens, 0) AS output_tokens,
               fx.rate_sum, fx.days, fx.rate,
               dsx.support_interest_at(COALESCE(pr.support_balance, 0), st.annual_rate, st.day_count, v_start,
                                       c.minor_units) AS interest,
               COALESCE(co.costs, '{}') AS costs, COALESCE(fa.facilities, '{}') AS facilities,
               g.dsra_months, g.lockup_dscr
          FROM dsx.agreements g
          JOIN dsx.factories f ON f.factory = g.factory
          JOIN dsx.currencies c ON c.currency = g.settlement_currency
          CROSS JOIN LATERAL dsx.split_in_force(g.agreement, v_start) sp
          CROSS JOIN LATERAL dsx.period_fx(f.currency, g.settlement_currency, g.fx_rule, v_start) fx
          LEFT JOIN LATERAL dsx.support_terms(g.agreement) st ON true
          LEFT JOIN co ON co.agreement = g.agreement
          LEFT JOIN fa ON fa.agreement = g.agreement
          LEFT JOIN dsx.statements pr ON v_start > g.starts AND pr.agreement = g.agreement
                                     AND pr.period_start = (v_start - interval '1 month')::date
          LEFT JOIN tot ON tot.agreement = g.agreement
         WHERE g.agreement = ANY (settle_waterfall.agreements)
    ), cv AS (
        -- each billing-currency total converted once, at the period's rate
        SELECT ag.*,
               CASE WHEN ag.rate_sum IS NULL THEN ag.rev_b ELSE dsx.convert(ag.rev_b, ag.rate_sum, ag.days, ag.mu) END AS rev,
               CASE WHEN ag.rate_sum IS NULL THEN ag.adj_b ELSE dsx.convert(ag.adj_b, ag.rate_sum, ag.days, ag.mu) END AS adj
          FROM ag
    )
    SELECT ROW(cv.agreement, v_start, dsx.period_end(v_start), cv.currency, cv.input_tokens, cv.output_tokens,
               cv.rev, cv.adj, cv.rev + cv.adj, w.debt_service_due, w.debt_service_paid, cv.opening, w.support_drawn,
               cv.interest, w.support_repaid, w.support_balance, w.distributable,
               COALESCE(sh.vendor_share, 0), COALESCE(sh.partner_share, 0), settle_waterfall.through_batch, pg_catalog.now(),
               cv.billing, cv.rev_b, cv.adj_b, cv.rate, cv.split_from, w.debt_arrears,
               cv.reserve_opening, w.reserve_drawn, w.reserve_topup, w.reserve_released, w.reserve_balance,
               o.opex_due, o.opex_adjustments, cv.opex_arrears_in, w.opex_paid, w.opex_arrears, w.cfads,
               cv.lockup_opening, w.lockup_trapped, w.lockup_released, w.lockup_balance, w.dscr,
               settle_waterfall.through_reading)::dsx.statements,
           w.debt, sh.shares
      FROM cv
     CROSS JOIN LATERAL dsx.opex_of(cv.agreement, v_start, cv.costs, cv.mu) o
     CROSS JOIN LATERAL dsx.period_waterfall_of(cv.facilities, cv.dsra_months, cv.lockup_dscr, cv.agreement, v_start,
                                                cv.rev + cv.adj, o.opex_due, cv.opex_arrears_in, cv.opening, cv.interest,
                                                cv.reserve_opening, cv.lockup_opening, cv.arrears_in, cv.mu) w
      LEFT JOIN LATERAL (SELECT sum(x.amount) FILTER (WHERE x.party = cv.vendor) AS vendor_share,
                                sum(x.amount) FILTER (WHERE x.party = cv.partner) AS partner_share,
                                COALESCE(array_agg(ROW(cv.agreement, v_start, x.party, x.amount)::dsx.statement_shares), '{}') AS shares
                           FROM dsx.agreement_shares(cv.revenue_split, cv.vendor, cv.partner, w.distributable, cv.mu) x) sh ON true
     ORDER BY cv.agreement;
END
$$;
COMMENT ON FUNCTION dsx.settle_waterfall(text[], date, dsx.statement_lines[], dsx.statement_costs[], bigint, bigint) IS 'Settlement step 4, the waterfall: each agreement''s statement, the debt service of each of its facilities and the shares of its distributable amount for the period from its lines and costs (revenue and adjustments in the billing currency and converted to the settlement currency, operating costs, debt service paid facility by facility, the reserve, credit support drawn, interest and repaid, the lock-up, distributable and the vendor''s and partner''s shares by the split in force), not yet written';

-- Step 5: write the statements, then their lines, costs, debt and shares (the books check
-- that a statement exists before its lines), and check the invariant of every statement
-- written: gross = costs paid + debt service paid from revenue + reserve topped up -
-- released + support repaid + trapped - released from the lock-up + every share.
CREATE OR REPLACE FUNCTION dsx.write_books(statements dsx.statements[], lines dsx.statement_lines[],
                                           debt dsx.statement_debt[], costs dsx.statement_costs[],
                                           shares dsx.statement_shares[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n integer;
    bad record;
BEGIN
    INSERT INTO dsx.statements SELECT * FROM unnest(write_books.statements) s ORDER BY s.agreement;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    INSERT INTO dsx.statement_lines SELECT * FROM unnest(write_books.lines);
    -- each facility's part, in rank order, as the waterfall computed it
    INSERT INTO dsx.statement_debt SELECT * FROM unnest(write_books.debt);
    INSERT INTO dsx.statement_costs SELECT * FROM unnest(write_books.costs);
    WITH sh AS (
        -- the split of each distributable amount, as the waterfall computed it
        INSERT INTO dsx.statement_shares SELECT * FROM unnest(write_books.shares)
        RETURNING agreement, amount
    )
    SELECT s.agreement, s.period_start, s.gross, s.opex_paid, s.debt_service_paid, s.support_repaid, COALESCE(t.shares, 0) AS shares,
           s.reserve_topup - s.reserve_released AS reserve, s.lockup_trapped - s.lockup_released AS lockup
      INTO bad
      FROM unnest(write_books.statements) s
      LEFT JOIN (SELECT sh.agreement, sum(sh.amount) AS shares FROM sh GROUP BY sh.agreement) t ON t.agreement = s.agreement
     WHERE s.gross <> s.opex_paid + s.debt_service_paid + s.reserve_topup - s.reserve_released + s.support_repaid
                      + s.lockup_trapped - s.lockup_released + COALESCE(t.shares, 0)
     ORDER BY s.agreement LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'waterfall invariant broken for agreement "%" period %: gross % <> % + % + % + % + % + %',
              bad.agreement, bad.period_start, bad.gross, bad.opex_paid, bad.debt_service_paid, bad.reserve,
              bad.support_repaid, bad.lockup, bad.shares
            USING ERRCODE = 'internal_error';
    END IF;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION dsx.write_books(dsx.statements[], dsx.statement_lines[], dsx.statement_debt[], dsx.statement_costs[], dsx.statement_shares[]) IS 'Settlement step 5, write the books: the statements, their lines, costs, each facility''s debt service and their shares (the split of each distributable amount); refuses a statement whose gross is not costs paid + debt service paid + reserve topped up - released + support repaid + trapped - released + the shares';

-- Step 6: one balanced double-entry transaction per statement of the period, numbered in
-- agreement order. Revenue and the receivable are posted even when zero (a month without
-- activity still shows its revenue); other zero amounts are left out. The receivable is in
-- the billing currency; when the agreement settles in another, the revenue passes through
-- the FX conversion account, in both currencies at the statement's rate, so that the
-- transaction balances in each currency.
CREATE OR REPLACE FUNCTION dsx.post_ledger(statements dsx.statements[], debt dsx.statement_debt[],
                                           shares dsx.statement_shares[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n   integer;
    v_txn bigint;
BEGIN
    -- the statements, debt and shares just written, as write_books was given them (not
    -- read back); transactions are numbered in agreement order
    WITH d AS MATERIALIZED (
        SELECT * FROM unnest(post_ledger.debt)
    ), st AS MATERIALIZED (
        SELECT o.*, o.fx_rate IS NOT NULL AS fx, nextval('dsx.ledger_txn_seq') AS txn_id
          FROM (SELECT s.*, g.vendor, COALESCE(a.arrears_in, 0) AS arrears_in
                  FROM unnest(post_ledger.statements) s
                  JOIN dsx.agreements g ON g.agreement = s.agreement
                  LEFT JOIN (SELECT d.agreement, d.period_start, sum(d.arrears_opening) AS arrears_in
                               FROM d GROUP BY d.agreement, d.period_start) a
                         ON a.agreement = s.agreement AND a.period_start = s.period_start
                 ORDER BY s.agreement) o
    ), e AS (
        SELECT st.txn_id, st.agreement, st.period_start, e.currency, e.ord, e.account, e.amount, e.posted_when_zero
          FROM st, LATERAL (VALUES
                (1.0, 'receivable:customers', st.revenue_billing + st.adjustments_billing, st.billing_currency, true),
                (1.1, 'fx:conversion', -(st.revenue_billing + st.adjustments_billing), st.billing_currency, st.fx),
                (1.2, 'fx:conversion', st.gross, st.currency, st.fx),
                (2, 'income:revenue', -st.revenue, st.currency, true),
                (3, 'income:adjustments', -st.adjustments, st.currency, false),
                (4, 'expense:debt_service', st.debt_service_due - st.arrears_in, st.currency, false),
                (6, 'liability:credit_support:' || st.vendor, -st.support_drawn, st.currency, false),
                (7, 'expense:credit_support_interest', st.support_interest, st.currency, false),
                (8, 'liability:credit_support:' || st.vendor, -st.support_interest, st.currency, false),
                (9, 'liability:credit_support:' || st.vendor, st.support_repaid, st.currency, false),
                (10, 'payable:credit_support_repayment:' || st.vendor, -st.support_repaid, st.currency, false),
                (3.5, 'expense:operating_costs', st.opex_due, st.currency, false),
                (3.6, 'liability:operating_cost_arrears', st.opex_arrears_opening - st.opex_arrears, st.currency, false),
                (3.7, 'payable:operating_costs', -st.opex_paid, st.currency, false),
                (10.5, 'asset:debt_service_reserve', st.reserve_topup - st.reserve_released, st.currency, false),
                (10.6, 'transfer:debt_service_reserve', st.reserve_released - st.reserve_topup, st.currency, false),
                (10.7, 'asset:lockup', st.lockup_trapped - st.lockup_released, st.currency, false),
                (10.8, 'transfer:lockup', st.lockup_released - st.lockup_trapped, st.currency, false),
                (11, 'distribution:revenue_share', st.distributable, st.currency, false))
                e(ord, account, amount, currency, posted_when_zero)
         WHERE e.ord NOT IN (1.1, 1.2) OR st.fx
        UNION ALL
        -- each facility, in rank order: its lender paid from the period's cash, and the
        -- change in its arrears (arrears brought in settled, new arrears carried)
        SELECT st.txn_id, d.agreement, st.period_start, st.currency, x.ord + d.rank / 1000.0, x.account, x.amount, false
          FROM d
          JOIN st ON st.agreement = d.agreement AND d.period_start = st.period_start,
               LATERAL (VALUES (5, 'payable:lender:' || d.lender, -d.paid_from_revenue),
                               (5.3, 'asset:debt_service_reserve', -d.paid_from_reserve),
                               (5.5, 'liability:debt_arrears:' || d.facility, d.arrears_opening - d.arrears)) x(ord, account, amount)
        UNION ALL
        SELECT st.txn_id, sh.agreement, st.period_start, st.currency, 12, 'payable:share:' || sh.party, -sh.amount, false
          FROM unnest(post_ledger.shares) sh
          JOIN st ON st.agreement = sh.agreement AND sh.period_start = st.period_start
    ), ins AS (
        INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
        SELECT x.txn_id, x.entry_no, x.agreement, x.period_start, x.account, x.amount, x.currency
          FROM (SELECT e.txn_id, row_number() OVER (PARTITION BY e.txn_id ORDER BY e.ord, e.account) AS entry_no,
                       e.agreement, e.period_start, e.account, e.amount, e.currency
                  FROM e
                 WHERE e.amount <> 0 OR e.posted_when_zero) x
         ORDER BY x.txn_id, x.entry_no
        RETURNING txn_id, amount, currency
    )
    SELECT count(*), (SELECT min(u.txn_id) FROM (SELECT i.txn_id FROM ins i GROUP BY i.txn_id, i.currency
                                                  HAVING sum(i.amount) <> 0) u)
      INTO v_n, v_txn
      FROM ins;
    IF v_txn IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', v_txn USING ERRCODE = 'internal_error';
    END IF;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION dsx.post_ledger(dsx.statements[], dsx.statement_debt[], dsx.statement_shares[]) IS 'Settlement step 6, post the ledger: one double-entry transaction per statement written by write_books, from the same statements, debt and shares (debits positive, credits negative), balanced in each currency (the receivable in the billing currency, the revenue converted through fx:conversion), numbered in agreement order; returns the entries posted';

-- The pipeline: settle one monthly period for a set of agreements (what dsx.settle and
-- dsx.run_due_settlements run). Any error settles none of them. It and the two entry
-- points run with the owner's rights (SECURITY DEFINER): the books are written by dsx
-- alone; who may settle is who may execute them (the owner and dsx_operator).
CREATE OR REPLACE FUNCTION dsx.settle_period(agreements text[], period_start date) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    v_ags        text[];
    v_batch      bigint;
    v_lines      dsx.statement_lines[];
    v_statements dsx.statements[];
    v_debt       dsx.statement_debt[];
    v_reading    bigint;
    v_costs      dsx.statement_costs[];
    v_shares     dsx.statement_shares[];
BEGIN
    PERFORM dsx.refuse_on_worker('dsx.settle()');
    v_ags := dsx.settle_lock(settle_period.agreements, settle_period.period_start);
    IF cardinality(v_ags) = 0 THEN
        RETURN 0;
    END IF;
    -- the usage the lock froze: that of the batches ingested or voided so far
    v_batch := dsx.last_batch();
    v_lines := ARRAY(SELECT l FROM dsx.period_lines(v_ags, settle_period.period_start) l)
            || ARRAY(SELECT l FROM dsx.late_lines(v_ags, settle_period.period_start, v_batch) l);
    -- and the energy readings loaded so far (loads wait for the lock as ingest does)
    v_reading := COALESCE((SELECT max(e.reading_id) FROM dsx.energy_readings e), 0);
    v_costs := ARRAY(SELECT c FROM dsx.period_costs(v_ags, settle_period.period_start, v_reading) c);
    WITH w AS MATERIALIZED (
        SELECT w.* FROM dsx.settle_waterfall(v_ags, settle_period.period_start, v_lines, v_costs, v_batch, v_reading) w
    )
    SELECT COALESCE((SELECT array_agg(w.statement) FROM w), '{}'),
           ARRAY(SELECT d FROM w CROSS JOIN LATERAL unnest(w.debt) d),
           ARRAY(SELECT x FROM w CROSS JOIN LATERAL unnest(w.shares) x)
      INTO v_statements, v_debt, v_shares;
    PERFORM dsx.write_books(v_statements, v_lines, v_debt, v_costs, v_shares);
    PERFORM dsx.post_ledger(v_statements, v_debt, v_shares);
    RETURN cardinality(v_statements);
END
$$;
COMMENT ON FUNCTION dsx.settle_period(text[], date) IS 'Settle one monthly period for a set of agreements (what dsx.settle and dsx.run_due_settlements run): check and lock, rate, re-rate late usage, the operating costs, waterfall, write the books, post the ledger (dsx.settle_lock, dsx.period_lines, dsx.late_lines, dsx.period_costs, dsx.settle_waterfall, dsx.write_books, dsx.post_ledger); an agreement already settled is skipped with a NOTICE; returns how many it settled. Any error settles none of them';

CREATE OR REPLACE FUNCTION dsx.settle(agreement text, period_start date) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF settle.agreement IS NULL OR settle.period_start IS NULL THEN
        RAISE EXCEPTION 'dsx.settle needs an agreement and a period_start' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN dsx.settle_period(ARRAY[settle.agreement], settle.period_start) = 1;
END
$$;
COMMENT ON FUNCTION dsx.settle(text, date) IS 'Settle one monthly period of an agreement: rate, re-rate late usage, run the waterfall, write the statement and post the ledger; returns false (and says so) when already settled';

CREATE OR REPLACE FUNCTION dsx.run_due_settlements() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r        record;
    ag       text;
    v_todo   text[];
    v_got    text[];
    v_chunk  text[];
    v_n      integer;
    v_failed text[] := '{}';
    v_more   boolean;
    settled  integer := 0;
    failed   integer := 0;
    msg      text;
    state    text;
BEGIN
    PERFORM dsx.refuse_on_worker('dsx.run_due_settlements()');
    -- the agreements with a due period, in agreement order
    -- (a period is due settle_lag after local midnight of its end, in its factory's zone)
    SELECT array_agg(g.agreement ORDER BY g.agreement) INTO v_todo
      FROM dsx.agreements g
      JOIN dsx.factories f ON f.factory = g.factory
     WHERE dsx.local_midnight(dsx.period_end(COALESCE((SELECT (max(s.period_start) + interval '1 month')::date
                                                        FROM dsx.statements s WHERE s.agreement = g.agreement), g.starts)),
                              f.time_zone) + g.settle_lag <= now();
    v_todo := COALESCE(v_todo, '{}');
    -- Agreements are locked in agreement order, as dsx.settle locks them, and each lock is
    -- held to the end of the transaction: concurrent runs queue rather than deadlock. The
    -- run takes, without waiting, the longest run of agreements no other transaction holds,
    -- settles them, then waits for the next one.
    WHILE cardinality(v_todo) > 0 LOOP
        v_n := 0;
        BEGIN
            SELECT array_agg(x.agreement ORDER BY x.agreement) INTO v_got
              FROM (SELECT g.agreement FROM dsx.agreements g
                     WHERE g.agreement = ANY (v_todo)
                     ORDER BY g.agreement FOR UPDATE SKIP LOCKED) x;
            -- how many of the next agreements it got (both lists are in agreement order)
            SELECT COALESCE(min(u.i) - 1, cardinality(v_todo)) INTO v_n
              FROM unnest(v_todo, v_got) WITH ORDINALITY u(t, g, i)
             WHERE u.t IS DISTINCT FROM u.g;
            IF v_n < COALESCE(cardinality(v_got), 0) THEN
                -- locked past an agreement another transaction holds: let go of them all
                RAISE EXCEPTION USING ERRCODE = 'DX001';
            END IF;
        EXCEPTION WHEN SQLSTATE 'DX001' THEN
            -- take the free run again, in order (waiting, should another settler take one)
            PERFORM FROM (SELECT g.agreement FROM dsx.agreements g
                           WHERE g.agreement = ANY (v_todo[1:v_n])
                           ORDER BY g.agreement FOR UPDATE) x;
        END;
        IF v_n = 0 THEN
            -- the next agreement is another transaction's: wait for it
            PERFORM FROM dsx.agreements g WHERE g.agreement = v_todo[1] FOR UPDATE;
            v_n := 1;
        END IF;
        v_chunk := v_todo[1:v_n];
        v_todo := v_todo[v_n + 1:];
        -- Rounds: each settles every agreement's first unsettled period that is due, one set
        -- per period, until none is due (known when no agreement had a further period due).
        LOOP
            v_more := false;
            FOR r IN
                SELECT n.p, array_agg(n.agreement ORDER BY n.agreement) AS ags,
                       bool_or(dsx.local_midnight(dsx.period_end(dsx.period_end(n.p)), n.time_zone)
                               + n.settle_lag <= now()) AS more
                  FROM (SELECT g.agreement, g.settle_lag, f.time_zone,
                               COALESCE((SELECT (max(s.period_start) + interval '1 month')::date
                                           FROM dsx.statements s WHERE s.agreement = g.agreement), g.starts) AS p
                          FROM dsx.agreements g
                          JOIN dsx.factories f ON f.factory = g.factory
                         WHERE g.agreement = ANY (v_chunk) AND g.agreement <> ALL (v_failed)) n
                 WHERE dsx.local_midnight(dsx.period_end(n.p), n.time_zone) + n.settle_lag <= now()
                 GROUP BY n.p ORDER BY n.p
            LOOP
                v_more := v_more OR r.more;
                BEGIN
                    settled := settled + dsx.settle_period(r.ags, r.p);
                EXCEPTION WHEN OTHERS THEN
                    -- the set failed: settle its agreements one by one, each in its own
                    -- subtransaction, so that one that cannot be settled (say, usage nobody
                    -- priced) stops there and the others carry on
                    FOREACH ag IN ARRAY r.ags LOOP
                        BEGIN
                            IF dsx.settle(ag, r.p) THEN
                                settled := settled + 1;
                            END IF;
                        EXCEPTION WHEN OTHERS THEN
                            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
                            RAISE WARNING 'agreement "%" was not settled from %: % (SQLSTATE %)', ag, r.p, msg, state
                                USING HINT = CASE WHEN state = 'P0002'
                                                  THEN 'dsx.unpriced_usage lists the usage no plan prices. Price it and run dsx.run_due_settlements() again; the other agreements were settled.'
                                                  WHEN state = '55000' AND msg LIKE 'no FX rate %'
                                                  THEN 'Add the rate to dsx.fx_rates and run dsx.run_due_settlements() again; the other agreements were settled.'
                                                  ELSE 'Correct the cause and run dsx.run_due_settlements() again; the other agreements were settled.' END;
                            failed := failed + 1;
                            v_failed := v_failed || ag;
                        END;
                    END LOOP;
                END;
            END LOOP;
            EXIT WHEN NOT v_more;
        END LOOP;
    END LOOP;
    IF settled = 0 AND failed = 0 THEN
        RAISE NOTICE 'no settlement was due';
    END IF;
    RETURN settled;
END
$$;
COMMENT ON FUNCTION dsx.run_due_settlements() IS 'Settle, in order, every period of every agreement that ended (at local midnight of its factory) at least its settle_lag ago; returns how many it settled (0, and says so, when none was due); an agreement that fails is reported in a WARNING and left at its last settled period while the others are settled';
