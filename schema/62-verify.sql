-- schema/62-verify.sql — dsx.verify_settlement: a statement recomputed from raw events and
-- compared with what was stored.

/*
 * Recompute a statement from raw events and configuration: the events of the batches the
 * statement saw (less the events voided by then), priced by the plans and the facility,
 * split by the agreement's split. Runs with the owner's rights, so that every role that
 * may see the statement (its partner's, its vendor's, an auditor, staff) gets the same
 * answer although not every one of them may read the usage; a role that may not see it
 * gets the error a missing statement gives.
 */
CREATE OR REPLACE FUNCTION dsx.verify_settlement_as(who name, agreement text, period_start date) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    s      dsx.statements;
    a      dsx.agreements;
    v_prev dsx.statements;
    v_mu   integer;
    v_bmu  integer;
    v_tz   text;
    v_bill text;
    v_split dsx.split;
    v_split_from date;
    fx     record;
    v_rate numeric;
    v_rev_b numeric;
    v_adj_b numeric;
    v_prev_batch bigint;
    v_rev  numeric;
    v_adj  numeric;
    v_in   bigint;
    v_out  bigint;
    v_int  numeric;
    v_now    dsx.usage_span[];
    v_before dsx.usage_span[];
    v_known  dsx.statement_lines[];
    v_booked dsx.statement_lines[];
    v_prev_reading bigint;
    v_costs  dsx.statement_costs[];
    o        record;
    w      record;
    ok     boolean := true;
BEGIN
    PERFORM dsx.refuse_on_worker('dsx.verify_settlement()');
    -- a statement the role may not see (or a role the session may not act as) is, to the
    -- caller, a statement that does not exist
    SELECT * INTO s FROM dsx.statements t
     WHERE t.agreement = verify_settlement_as.agreement AND t.period_start = verify_settlement_as.period_start
       AND dsx.session_may_act_as(who) AND dsx.role_sees_agreement(who, verify_settlement_as.agreement);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agreement "%" has no statement for period %', verify_settlement_as.agreement,
              verify_settlement_as.period_start USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO a FROM dsx.agreements g WHERE g.agreement = s.agreement;
    SELECT c.minor_units INTO v_mu FROM dsx.currencies c WHERE c.currency = a.settlement_currency;
    SELECT f.time_zone, f.currency, c.minor_units INTO v_tz, v_bill, v_bmu
      FROM dsx.factories f JOIN dsx.currencies c ON c.currency = f.currency WHERE f.factory = a.factory;
    SELECT * INTO v_prev FROM dsx.statements t
     WHERE t.agreement = s.agreement AND t.period_start = (s.period_start - interval '1 month')::date;
    v_prev_batch := COALESCE((SELECT max(t.through_batch) FROM dsx.statements t
                               WHERE t.agreement = s.agreement AND t.period_start < s.period_start), 0);

    -- each period's lines, rated from raw events as of a batch, at the prices the period was
    -- booked with (dsx.line_price): as of the statement's batch (known) and of the previous
    -- statement's (booked); the statement's lines are its period's known lines plus the
    -- difference for earlier periods (dsx.line_difference), as settlement books them. The
    -- raw events are read first, in a statement of their own (on Citus it runs on the
    -- workers), then priced from the books (on the coordinator).
    SELECT array_agg(x.span) FILTER (WHERE x.asof = 'now'), array_agg(x.span) FILTER (WHERE x.asof = 'before')
      INTO v_now, v_before
      FROM (SELECT b.asof,
                   ROW(e.factory, date_trunc('month', pg_catalog.timezone(v_tz, e.occurred_at))::date, e.customer, e.model,
                       dsx.usage_agg(e.input_tokens, e.output_tokens, e.occurred_at))::dsx.usage_span AS span
              FROM dsx.usage_events e
             CROSS JOIN (VALUES ('now', s.through_batch), ('before', v_prev_batch)) b(asof, batch)
             WHERE e.factory = a.factory AND e.batch_id <= b.batch
               AND NOT EXISTS (SELECT 1 FROM dsx.usage_voids v
                                WHERE v.factory = e.factory AND v.event_id = e.event_id AND v.batch_id <= b.batch)
               AND e.occurred_at >= dsx.local_midnight(a.starts, v_tz)
               AND e.occurred_at < dsx.local_midnight(s.period_end, v_tz)
             GROUP BY b.asof, e.factory, date_trunc('month', pg_catalog.timezone(v_tz, e.occurred_at)), e.customer, e.model) x;
    SELECT array_agg(x.line) FILTER (WHERE x.asof = 'now'),
           array_agg(x.line) FILTER (WHERE x.asof = 'before' AND (x.line).for_period < s.period_start)
      INTO v_known, v_booked
      FROM (SELECT l.asof,
                   ROW(a.agreement, s.period_start, l.period_start, l.customer, l.model,
                       dsx.input_tokens(l.usage), dsx.output_tokens(l.usage),
                       dsx.rate(l.usage, p.input_price, p.output_price, v_bmu),
                       p.plan, p.input_price, p.output_price)::dsx.statement_lines AS line
              FROM (SELECT 'now' AS asof, n.* FROM unnest(v_now) n
                    UNION ALL
                    SELECT 'before', b.* FROM unnest(v_before) b) l
              LEFT JOIN LATERAL dsx.line_price(a.agreement, a.factory, l.period_start, l.customer, l.model,
                                               s.period_start) p ON true) x;
    WITH expected_lines AS (
        SELECT x.for_period, x.customer, x.model, x.input_tokens, x.output_tokens, x.amount
          FROM unnest(v_known) x WHERE x.for_period = s.period_start
        UNION ALL
        SELECT x.for_period, x.customer, x.model, x.input_tokens, x.output_tokens, x.amount
          FROM dsx.line_difference(s.period_start,
                                   ARRAY(SELECT k FROM unnest(v_known) k WHERE k.for_period < s.period_start),
                                   v_booked) x
    ), stored_lines AS (
        SELECT l.for_period, l.customer, l.model, l.input_tokens, l.output_tokens, l.amount
          FROM dsx.statement_lines l WHERE l.agreement = s.agreement AND l.period_start = s.period_start
    )
    SELECT NOT EXISTS (SELECT * FROM expected_lines EXCEPT SELECT * FROM stored_lines)
       AND NOT EXISTS (SELECT * FROM stored_lines EXCEPT SELECT * FROM expected_lines),
           COALESCE((SELECT sum(amount) FROM expected_lines WHERE for_period = s.period_start), 0),
           COALESCE((SELECT sum(amount) FROM expected_lines WHERE for_period < s.period_start), 0),
           COALESCE((SELECT sum(input_tokens) FROM expected_lines WHERE for_period = s.period_start), 0),
           COALESCE((SELECT sum(output_tokens) FROM expected_lines WHERE for_period = s.period_start), 0)
      INTO ok, v_rev_b, v_adj_b, v_in, v_out;
    IF NOT ok THEN
        RAISE NOTICE 'statement lines differ from the raw events';
    END IF;

    -- into the settlement currency, at the period's rate (each total converted once)
    IF v_bill = a.settlement_currency THEN
        v_rev := v_rev_b;
        v_adj := v_adj_b;
    ELSE
        SELECT * INTO fx FROM dsx.period_fx(v_bill, a.settlement_currency, a.fx_rule, s.period_start);
        v_rev := dsx.convert(v_rev_b, fx.rate_sum, fx.days, v_mu);
        v_adj := dsx.convert(v_adj_b, fx.rate_sum, fx.days, v_mu);
        v_rate := fx.rate;
    END IF;
    IF (s.billing_currency, s.currency, s.revenue_billing, s.adjustments_billing, s.fx_rate)
       IS DISTINCT FROM (v_bill, a.settlement_currency, v_rev_b, v_adj_b, v_rate) THEN
        RAISE NOTICE 'statement currencies, billing-currency figures or rate differ from the recomputation';
        ok := false;
    END IF;
    SELECT x.valid_from, x.revenue_split INTO v_split_from, v_split FROM dsx.split_in_force(a.agreement, s.period_start) x;
    IF s.split_valid_from IS DISTINCT FROM v_split_from THEN
        RAISE NOTICE 'statement used the split of %, the split in force is that of %',
              COALESCE(s.split_valid_from::text, 'the agreement'), COALESCE(v_split_from::text, 'the agreement');
        ok := false;
    END IF;

    -- the operating costs, from the energy readings the statement saw: its period's costs,
    -- and for each closed period with readings loaded since the statement before, the change
    -- of its power costs between the two (what settlement books as adjustments)
    v_prev_reading := COALESCE((SELECT max(t.energy_through) FROM dsx.statements t
                                 WHERE t.agreement = s.agreement AND t.period_start < s.period_start), 0);
    v_costs := ARRAY(
        SELECT ROW(a.agreement, s.period_start, s.period_start, c.cost, c.kind, c.price, c.mwh, c.amount)::dsx.statement_costs
          FROM dsx.cost_lines(a.agreement, s.period_start, dsx.period_energy(a.factory, s.period_start, s.energy_through)) c
        UNION ALL
        SELECT ROW(a.agreement, s.period_start, p.for_period, n.cost, n.kind, n.price, n.mwh - b.mwh, n.amount - b.amount)::dsx.statement_costs
          FROM (SELECT DISTINCT dsx.month_of(r.day) AS for_period FROM dsx.energy_readings r
                 WHERE r.factory = a.factory AND r.reading_id > v_prev_reading AND r.reading_id <= s.energy_through
                   AND r.day >= a.starts AND r.day < s.period_start) p
         CROSS JOIN LATERAL dsx.cost_lines(a.agreement, p.for_period, dsx.period_energy(a.factory, p.for_period, s.energy_through)) n
          JOIN LATERAL dsx.cost_lines(a.agreement, p.for_period, dsx.period_energy(a.factory, p.for_period, v_prev_reading)) b
            ON b.cost = n.cost
         WHERE n.kind = 'power' AND n.mwh <> b.mwh);
    IF EXISTS (SELECT * FROM unnest(v_costs)
               EXCEPT SELECT * FROM dsx.statement_costs t WHERE t.agreement = s.agreement AND t.period_start = s.period_start)
       OR (SELECT count(*) FROM dsx.statement_costs t WHERE t.agreement = s.agreement AND t.period_start = s.period_start)
          <> cardinality(v_costs) THEN
        RAISE NOTICE 'statement costs differ from the operating costs and energy readings';
        ok := false;
    END IF;
    SELECT * INTO o FROM dsx.opex_of(a.agreement, s.period_start, v_costs, v_mu);

    v_int := dsx.support_interest(a.agreement, COALESCE(v_prev.support_balance, 0), s.period_start, v_mu);
    SELECT * INTO w FROM dsx.period_waterfall(a.agreement, s.period_start, v_rev + v_adj, o.opex_due,
                                              COALESCE(v_prev.opex_arrears, 0),
                                              COALESCE(v_prev.support_balance, 0), v_int,
                                              COALESCE(v_prev.reserve_balance, 0), COALESCE(v_prev.lockup_balance, 0),
                                              ARRAY(SELECT d FROM dsx.statement_debt d
                                                     WHERE d.agreement = s.agreement AND d.period_start = v_prev.period_start),
                                              v_mu);
    IF (s.revenue, s.adjustments, s.gross, s.input_tokens, s.output_tokens, s.debt_service_due,
        s.debt_service_paid, s.support_opening, s.support_drawn, s.support_interest, s.support_repaid,
        s.support_balance, s.distributable, s.debt_arrears, s.reserve_opening, s.reserve_drawn, s.reserve_topup,
        s.reserve_released, s.reserve_balance, s.opex_due, s.opex_adjustments, s.opex_arrears_opening, s.opex_paid,
        s.opex_arrears, s.cfads, s.lockup_opening, s.lockup_trapped, s.lockup_released, s.lockup_balance, s.dscr)
       IS DISTINCT FROM
       (v_rev, v_adj, v_rev + v_adj, v_in, v_out, w.debt_service_due,
        w.debt_service_paid, COALESCE(v_prev.support_balance, 0), w.support_drawn, v_int, w.support_repaid,
        w.support_balance, w.distributable, w.debt_arrears, COALESCE(v_prev.reserve_balance, 0), w.reserve_drawn,
        w.reserve_topup, w.reserve_released, w.reserve_balance, o.opex_due, o.opex_adjustments,
        COALESCE(v_prev.opex_arrears, 0), w.opex_paid, w.opex_arrears, w.cfads, COALESCE(v_prev.lockup_balance, 0),
        w.lockup_trapped, w.lockup_released, w.lockup_balance, w.dscr) THEN
        RAISE NOTICE 'statement figures differ from the recomputed waterfall';
        ok := false;
    END IF;
    -- each facility's part
    IF EXISTS (SELECT * FROM unnest(w.debt)
               EXCEPT SELECT * FROM dsx.statement_debt d WHERE d.agreement = s.agreement AND d.period_start = s.period_start)
       OR (SELECT count(*) FROM dsx.statement_debt d WHERE d.agreement = s.agreement AND d.period_start = s.period_start)
          <> cardinality(w.debt) THEN
        RAISE NOTICE 'statement debt by facility differs from the recomputed waterfall';
        ok := false;
    END IF;
    IF EXISTS (SELECT party, amount FROM dsx.agreement_shares(v_split, a.vendor, a.partner, w.distributable, v_mu) WHERE amount <> 0
               EXCEPT SELECT party, amount FROM dsx.statement_shares t WHERE t.agreement = s.agreement AND t.period_start = s.period_start AND amount <> 0)
       OR EXISTS (SELECT party, amount FROM dsx.statement_shares t WHERE t.agreement = s.agreement AND t.period_start = s.period_start AND amount <> 0
                  EXCEPT SELECT party, amount FROM dsx.agreement_shares(v_split, a.vendor, a.partner, w.distributable, v_mu) WHERE amount <> 0) THEN
        RAISE NOTICE 'statement shares differ from the revenue split';
        ok := false;
    END IF;
    IF EXISTS (SELECT 1 FROM dsx.ledger_entries l WHERE l.agreement = s.agreement AND l.period_start = s.period_start
                GROUP BY l.currency HAVING sum(l.amount) <> 0) THEN
        RAISE NOTICE 'ledger entries of the statement do not balance in each currency';
        ok := false;
    END IF;
    RETURN ok;
END
$$;
COMMENT ON FUNCTION dsx.verify_settlement_as(name, text, date) IS 'What dsx.verify_settlement runs, with the owner''s rights, for the role its caller acts as: the recomputation, or for a statement that role may not see (or a role the session cannot act as) the error a missing statement gives';

CREATE OR REPLACE FUNCTION dsx.verify_settlement(agreement text, period_start date) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.verify_settlement_as(CURRENT_USER, $1, $2) $$;
COMMENT ON FUNCTION dsx.verify_settlement(text, date) IS 'Recompute a settled statement from raw usage events (as of the batches it saw, in the factory''s local months), the prices its periods were booked with (else those in force for them), the FX rates, the operating costs and energy readings (as of the readings it saw), the facilities and the split in force, and compare with what was stored: true when every line, cost, figure, both currencies, the rate, the split used, each facility''s part, the shares and the ledger (balanced per currency) agree';
