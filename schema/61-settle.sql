-- schema/61-settle.sql — settlement as a pipeline of named steps (check and lock, rate, re-
-- rate late usage, waterfall, write the books, post the ledger) and its entry points
-- dsx.settle and dsx.run_due_settlements.

CREATE OR REPLACE FUNCTION dsx.settle_period(agreements text[], period_start date) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_start  date := settle_period.period_start;
    v_end    date;
    v_ags    text[];
    v_batch  bigint;
    v_late_a text[];
    v_late_p date[];
    v_n      integer;
    v_txn    bigint;
    v_factories text[];
    v_lines  dsx.statement_lines[];
    v_adj    dsx.statement_lines[];
    v_bad    text;
    v_bad_p  date;
    v_gross  numeric;
    v_paid   numeric;
    v_repaid numeric;
    v_shares numeric;
    bad      record;
BEGIN
    IF settle_period.agreements IS NULL OR v_start IS NULL
       OR pg_catalog.array_position(settle_period.agreements, NULL) IS NOT NULL THEN
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
             WHERE g.agreement = ANY (settle_period.agreements)
             ORDER BY g.agreement FOR UPDATE) x;
    SELECT u.a AS agreement INTO bad
      FROM unnest(settle_period.agreements) WITH ORDINALITY u(a, i)
     WHERE u.a <> ALL (COALESCE(v_ags, '{}'))
     ORDER BY u.i LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown agreement "%"', bad.agreement USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_ags IS NULL THEN
        RETURN 0;                        -- an empty set
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
        RETURN 0;
    END IF;
    v_end := dsx.period_end(v_start);
    IF (v_end::timestamp AT TIME ZONE 'UTC') > now() THEN
        RAISE EXCEPTION 'period % of agreement "%" has not ended', v_start, v_ags[1]
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The period ends at %s UTC.', v_end);
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

    -- Wait for a running ingest and keep new ones out until we commit, so that every
    -- query below sees the same usage: that of batches up to v_batch.
    LOCK TABLE dsx.usage_daily IN SHARE MODE;
    v_batch := COALESCE((SELECT max(batch_id) FROM dsx.ingest_log), 0);

    SELECT array_agg(g.factory) INTO v_factories FROM dsx.agreements g WHERE g.agreement = ANY (v_ags);

    -- 1. the period's rated lines: one per agreement, customer and model, as dsx.rate_lines
    -- rates them; usage nobody priced is left to dsx.rate_lines to report, exactly. The
    -- lines are written with their statements, below: dsx.books_check wants the statement first.
    EXECUTE $q$
    WITH l AS MATERIALIZED (
        SELECT g.agreement, g.factory, r.customer, r.model, r.u, c.minor_units AS mu,
               pp.plan IS NOT NULL AS priced, pp.plan, pp.input_price, pp.output_price
          FROM dsx.period_rollups($1, $2, $3) r
          JOIN dsx.agreements g ON g.factory = r.factory
          JOIN dsx.factories f ON f.factory = g.factory
          JOIN dsx.currencies c ON c.currency = f.currency
          LEFT JOIN dsx.customer_plans cp ON cp.customer = r.customer AND cp.factory = r.factory
          LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = r.model
    )
    SELECT (SELECT min(l.agreement) FROM l WHERE NOT l.priced),
           (SELECT array_agg(ROW(l.agreement, $2, $2, l.customer, l.model, dsx.input_tokens(l.u),
                                 dsx.output_tokens(l.u), dsx.rate(l.u, l.input_price, l.output_price, l.mu),
                                 l.plan, l.input_price, l.output_price)::dsx.statement_lines
                             ORDER BY l.agreement, l.customer, l.model)
              FROM l WHERE l.priced)
    $q$ INTO v_bad, v_lines USING v_factories, v_start, v_end;
    IF v_bad IS NOT NULL THEN
        PERFORM FROM dsx.agreements g,
                     LATERAL dsx.rate_lines(g.factory, v_start::timestamp AT TIME ZONE 'UTC',
                                            v_end::timestamp AT TIME ZONE 'UTC')
         WHERE g.agreement = v_bad;
        RAISE EXCEPTION 'usage of agreement "%" in period % is not priced', v_bad, v_start
            USING ERRCODE = 'internal_error';      -- can't happen: dsx.rate_lines raised
    END IF;

    -- late usage: every closed period whose token totals in the rollups differ from what
    -- its lines booked is re-rated with everything now known; the difference from what was
    -- booked becomes adjustment lines (written with the statements, below)
    SELECT array_agg(s.agreement ORDER BY s.agreement, s.period_start),
           array_agg(s.period_start ORDER BY s.agreement, s.period_start)
      INTO v_late_a, v_late_p
      FROM dsx.statements s
      JOIN dsx.agreements g ON g.agreement = s.agreement
     WHERE s.agreement = ANY (v_ags) AND s.period_start < v_start
       AND (SELECT (COALESCE(sum(dsx.input_tokens(d.usage)), 0), COALESCE(sum(dsx.output_tokens(d.usage)), 0))
              FROM dsx.usage_daily d
             WHERE d.factory = g.factory AND d.day >= s.period_start AND d.day < s.period_end)
           IS DISTINCT FROM
           (SELECT (COALESCE(sum(l.input_tokens), 0), COALESCE(sum(l.output_tokens), 0))
              FROM dsx.statement_lines l
             WHERE l.agreement = s.agreement AND l.for_period = s.period_start);
    IF v_late_a IS NOT NULL THEN
        WITH late AS (
            SELECT u.a, u.p FROM unnest(v_late_a, v_late_p) u(a, p)
        ), l AS MATERIALIZED (
            -- a customer and model the period was booked for keep the prices it was booked
            -- with, whatever the plans say now; only one never booked takes today's plan
            SELECT r.a, r.p, r.factory, r.customer, r.model, r.u, r.mu,
                   COALESCE(bk.plan, pp.plan) AS plan,
                   bk.plan IS NOT NULL OR pp.plan IS NOT NULL AS priced,
                   COALESCE(bk.input_price, pp.input_price) AS input_price,
                   COALESCE(bk.output_price, pp.output_price) AS output_price
              FROM (SELECT late.a, late.p, g.factory, d.customer, d.model, c.minor_units AS mu,
                           dsx.rollup(d.usage) AS u
                      FROM late
                      JOIN dsx.agreements g ON g.agreement = late.a
                      JOIN dsx.factories f ON f.factory = g.factory
                      JOIN dsx.currencies c ON c.currency = f.currency
                      JOIN dsx.usage_daily d ON d.factory = g.factory AND d.day >= late.p
                                            AND d.day < dsx.period_end(late.p)
                     GROUP BY late.a, late.p, g.factory, d.customer, d.model, c.minor_units) r
              LEFT JOIN LATERAL (SELECT x.plan, x.input_price, x.output_price
                                   FROM dsx.statement_lines x
                                  WHERE x.agreement = r.a AND x.for_period = r.p
                                    AND x.customer = r.customer AND x.model = r.model
                                  ORDER BY x.period_start LIMIT 1) bk ON true
              LEFT JOIN dsx.customer_plans cp ON cp.customer = r.customer AND cp.factory = r.factory
              LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = r.model
        ), n AS (
            SELECT l.a, l.p, l.customer, l.model, dsx.input_tokens(l.u) AS input_tokens,
                   dsx.output_tokens(l.u) AS output_tokens, dsx.rate(l.u, l.input_price, l.output_price, l.mu) AS amount,
                   l.plan, l.input_price, l.output_price
              FROM l WHERE l.priced
        ), b AS (
            SELECT l.agreement AS a, l.for_period AS p, l.customer, l.model,
                   sum(l.input_tokens)::bigint AS input_tokens, sum(l.output_tokens)::bigint AS output_tokens,
                   sum(l.amount) AS amount, (array_agg(l.plan ORDER BY l.period_start))[1] AS plan,
                   (array_agg(l.input_price ORDER BY l.period_start))[1] AS input_price,
                   (array_agg(l.output_price ORDER BY l.period_start))[1] AS output_price
              FROM dsx.statement_lines l
              JOIN late ON l.agreement = late.a AND l.for_period = late.p
             GROUP BY l.agreement, l.for_period, l.customer, l.model
        ), adj AS (
            SELECT ROW(COALESCE(n.a, b.a), v_start, COALESCE(n.p, b.p), COALESCE(n.customer, b.customer),
                       COALESCE(n.model, b.model),
                       COALESCE(n.input_tokens, 0) - COALESCE(b.input_tokens, 0),
                       COALESCE(n.output_tokens, 0) - COALESCE(b.output_tokens, 0),
                       COALESCE(n.amount, 0) - COALESCE(b.amount, 0),
                       COALESCE(n.plan, b.plan), COALESCE(n.input_price, b.input_price),
                       COALESCE(n.output_price, b.output_price))::dsx.statement_lines AS line
              FROM n
              FULL JOIN b ON b.a = n.a AND b.p = n.p AND b.customer = n.customer AND b.model = n.model
             WHERE COALESCE(n.input_tokens, 0) <> COALESCE(b.input_tokens, 0)
                OR COALESCE(n.output_tokens, 0) <> COALESCE(b.output_tokens, 0)
                OR COALESCE(n.amount, 0) <> COALESCE(b.amount, 0)
        )
        SELECT (SELECT x.a FROM l x WHERE NOT x.priced ORDER BY x.a, x.p LIMIT 1),
               (SELECT x.p FROM l x WHERE NOT x.priced ORDER BY x.a, x.p LIMIT 1),
               (SELECT array_agg(adj.line ORDER BY (adj.line).agreement, (adj.line).for_period,
                                 (adj.line).customer, (adj.line).model) FROM adj)
          INTO v_bad, v_bad_p, v_adj;
        IF v_bad IS NOT NULL THEN
            PERFORM FROM dsx.agreements g,
                         LATERAL dsx.rate_lines(g.factory, v_bad_p::timestamp AT TIME ZONE 'UTC',
                                                dsx.period_end(v_bad_p)::timestamp AT TIME ZONE 'UTC')
             WHERE g.agreement = v_bad;
            RAISE EXCEPTION 'usage of agreement "%" in period % is not priced', v_bad, v_bad_p
                USING ERRCODE = 'internal_error';  -- can't happen: dsx.rate_lines raised
        END IF;
    END IF;

    -- 2.-5. debt service, credit support, repayment and the split; the statements, their
    -- lines and shares; the ledger: one balanced transaction per statement, numbered in
    -- agreement order. One statement: dsx.books_check runs when it ends, statements written.
    WITH ln AS MATERIALIZED (
        SELECT x.* FROM unnest(v_lines || v_adj) x
    ), ins_ln AS (
        INSERT INTO dsx.statement_lines SELECT * FROM ln
    ), tot AS (
        SELECT ln.agreement,
               sum(ln.amount) FILTER (WHERE ln.for_period = v_start) AS rev,
               sum(ln.amount) FILTER (WHERE ln.for_period < v_start) AS adj,
               sum(ln.input_tokens) FILTER (WHERE ln.for_period = v_start) AS input_tokens,
               sum(ln.output_tokens) FILTER (WHERE ln.for_period = v_start) AS output_tokens
          FROM ln GROUP BY ln.agreement
    ), ag AS MATERIALIZED (
        SELECT g.agreement, g.vendor, g.partner, g.revenue_split, f.currency, c.minor_units AS mu,
               COALESCE(pr.support_balance, 0) AS opening, cf.lender,
               COALESCE(tot.rev, 0) AS rev, COALESCE(tot.adj, 0) AS adj,
               COALESCE(tot.input_tokens, 0) AS input_tokens, COALESCE(tot.output_tokens, 0) AS output_tokens,
               -- the same rules verify_settlement recomputes with
               dsx.debt_service_due(g.agreement, v_start, c.minor_units) AS due,
               dsx.support_interest(g.agreement, COALESCE(pr.support_balance, 0), v_start, c.minor_units) AS interest
          FROM dsx.agreements g
          JOIN dsx.factories f ON f.factory = g.factory
          JOIN dsx.currencies c ON c.currency = f.currency
          LEFT JOIN dsx.statements pr ON v_start > g.starts AND pr.agreement = g.agreement
                                     AND pr.period_start = (v_start - interval '1 month')::date
          LEFT JOIN dsx.credit_facilities cf ON cf.agreement = g.agreement
          LEFT JOIN tot ON tot.agreement = g.agreement
         WHERE g.agreement = ANY (v_ags)
    ), wf AS MATERIALIZED (
        SELECT ag.*, ag.rev + ag.adj AS gross, w.*
          FROM ag, LATERAL dsx.waterfall(ag.rev + ag.adj, ag.due, ag.opening, ag.interest) w
    ), sh AS MATERIALIZED (
        SELECT wf.agreement, wf.vendor, wf.partner, x.ord,
               dsx.agreement_party(x.party, wf.vendor, wf.partner) AS party, x.amount
          FROM wf, LATERAL dsx.allocate(wf.distributable, wf.revenue_split, wf.mu) WITH ORDINALITY x(party, amount, ord)
    ), ins_sh AS (
        INSERT INTO dsx.statement_shares (agreement, period_start, party, amount)
        SELECT sh.agreement, v_start, sh.party, sh.amount FROM sh ORDER BY sh.agreement, sh.ord
    ), st AS MATERIALIZED (
        SELECT wf.*,
               COALESCE(t.vendor_share, 0) AS vendor_share, COALESCE(t.partner_share, 0) AS partner_share,
               COALESCE(t.shares, 0) AS shares
          FROM wf
          LEFT JOIN (SELECT sh.agreement,
                            sum(sh.amount) FILTER (WHERE sh.party = sh.vendor) AS vendor_share,
                            sum(sh.amount) FILTER (WHERE sh.party = sh.partner) AS partner_share,
                            sum(sh.amount) AS shares
                       FROM sh GROUP BY sh.agreement) t ON t.agreement = wf.agreement
    ), ins_st AS (
        INSERT INTO dsx.statements (agreement, period_start, period_end, currency, input_tokens, output_tokens,
            revenue, adjustments, gross, debt_service_due, debt_service_paid, support_opening, support_drawn,
            support_interest, support_repaid, support_balance, distributable, vendor_share, partner_share,
            through_batch)
        SELECT st.agreement, v_start, v_end, st.currency, st.input_tokens, st.output_tokens, st.rev, st.adj,
               st.gross, st.due, st.debt_service_paid, st.opening, st.support_drawn, st.interest,
               st.support_repaid, st.support_balance, st.distributable, st.vendor_share, st.partner_share, v_batch
          FROM st ORDER BY st.agreement
        RETURNING agreement
    ), txn AS MATERIALIZED (
        SELECT o.agreement, nextval('dsx.ledger_txn_seq') AS txn_id
          FROM (SELECT st.agreement FROM st ORDER BY st.agreement) o
    ), e AS (
        SELECT st.agreement, st.currency, e.ord, e.account, e.amount
          FROM st, LATERAL (VALUES
                (1, 'receivable:customers', st.gross),
                (2, 'income:revenue', -st.rev),
                (3, 'income:adjustments', -st.adj),
                (4, 'expense:debt_service', st.due),
                (5, 'payable:lender:' || st.lender, -st.debt_service_paid),
                (6, 'liability:credit_support:' || st.vendor, -st.support_drawn),
                (7, 'expense:credit_support_interest', st.interest),
                (8, 'liability:credit_support:' || st.vendor, -st.interest),
                (9, 'liability:credit_support:' || st.vendor, st.support_repaid),
                (10, 'payable:credit_support_repayment:' || st.vendor, -st.support_repaid),
                (11, 'distribution:revenue_share', st.distributable)) e(ord, account, amount)
        UNION ALL
        SELECT sh.agreement, st.currency, 12, 'payable:share:' || sh.party, -sh.amount
          FROM sh JOIN st ON st.agreement = sh.agreement
    ), ins_le AS (
        INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
        SELECT x.txn_id, x.entry_no, x.agreement, v_start, x.account, x.amount, x.currency
          FROM (SELECT t.txn_id, row_number() OVER (PARTITION BY t.txn_id ORDER BY e.ord, e.account) AS entry_no,
                       e.agreement, e.account, e.amount, e.currency
                  FROM e JOIN txn t ON t.agreement = e.agreement
                 WHERE e.amount <> 0 OR e.ord <= 2   -- a month without activity still posts its (zero) revenue
               ) x
         ORDER BY x.txn_id, x.entry_no
        RETURNING txn_id, amount
    )
    SELECT (SELECT count(*) FROM ins_st),
           (SELECT min(u.txn_id) FROM (SELECT i.txn_id FROM ins_le i GROUP BY i.txn_id HAVING sum(i.amount) <> 0) u),
           v.agreement, v.gross, v.debt_service_paid, v.support_repaid, v.shares
      INTO v_n, v_txn, v_bad, v_gross, v_paid, v_repaid, v_shares
      FROM (SELECT 1) one
      LEFT JOIN LATERAL (SELECT st.agreement, st.gross, st.debt_service_paid, st.support_repaid, st.shares
                           FROM st WHERE st.gross <> st.debt_service_paid + st.support_repaid + st.shares
                          ORDER BY st.agreement LIMIT 1) v ON true;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'waterfall invariant broken for agreement "%" period %: gross % <> % + % + %',
              v_bad, v_start, v_gross, v_paid, v_repaid, v_shares
            USING ERRCODE = 'internal_error';
    END IF;
    IF v_txn IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', v_txn USING ERRCODE = 'internal_error';
    END IF;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION dsx.settle_period(text[], date) IS 'Settle one monthly period for a set of agreements in a few set-based statements (what dsx.settle and dsx.run_due_settlements run): each agreement checked and locked as dsx.settle does, in agreement order; an agreement already settled is skipped with a NOTICE; returns how many it settled. Any error settles none of them';

CREATE OR REPLACE FUNCTION dsx.settle(agreement text, period_start date) RETURNS boolean
LANGUAGE plpgsql VOLATILE
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
LANGUAGE plpgsql VOLATILE
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
    -- the agreements with a due period, in agreement order
    SELECT array_agg(g.agreement ORDER BY g.agreement) INTO v_todo
      FROM dsx.agreements g
     WHERE (dsx.period_end(COALESCE((SELECT (max(s.period_start) + interval '1 month')::date
                                       FROM dsx.statements s WHERE s.agreement = g.agreement), g.starts))
            ::timestamp AT TIME ZONE 'UTC') + g.settle_lag <= now();
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
                       bool_or((dsx.period_end(dsx.period_end(n.p))::timestamp AT TIME ZONE 'UTC')
                               + n.settle_lag <= now()) AS more
                  FROM (SELECT g.agreement, g.settle_lag,
                               COALESCE((SELECT (max(s.period_start) + interval '1 month')::date
                                           FROM dsx.statements s WHERE s.agreement = g.agreement), g.starts) AS p
                          FROM dsx.agreements g
                         WHERE g.agreement = ANY (v_chunk) AND g.agreement <> ALL (v_failed)) n
                 WHERE (dsx.period_end(n.p)::timestamp AT TIME ZONE 'UTC') + n.settle_lag <= now()
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
                                USING HINT = 'Correct the cause and run dsx.run_due_settlements() again; the other agreements were settled.';
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
COMMENT ON FUNCTION dsx.run_due_settlements() IS 'Settle, in order, every period of every agreement that ended at least its settle_lag ago; returns how many it settled (0, and says so, when none was due); an agreement that fails is reported in a WARNING and left at its last settled period while the others are settled';
