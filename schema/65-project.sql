-- schema/65-project.sql — the waterfall run forward: dsx.project() and the vendor's
-- exposure under stress, dsx.vendor_stress.

/*
 * dsx.project runs settlement's own waterfall (dsx.period_waterfall, dsx.support_interest,
 * the split in force) forward, one period per element of gross, from the balances of the
 * agreement's last settled statement (or of the statement before from_period, to run it
 * over settled periods again), and stores nothing. opex gives each period's operating
 * costs; without it, the fixed costs in force for the period. It runs with the caller's
 * rights: whoever may see the agreement (row-level security) may project it, and sees it
 * through the rows they may read.
 */
CREATE OR REPLACE FUNCTION dsx.project_periods(agreement text, gross_in numeric[], opex_in numeric[], from_period date)
RETURNS TABLE(period_start date, period_end date, currency text, gross numeric,
              opex_due numeric, opex_arrears_opening numeric, opex_paid numeric, opex_arrears numeric, cfads numeric,
              debt_service_due numeric, debt_service_paid numeric, reserve_opening numeric, reserve_drawn numeric,
              reserve_topup numeric, reserve_released numeric, reserve_balance numeric, support_opening numeric,
              support_drawn numeric, support_interest numeric, support_repaid numeric, support_balance numeric,
              debt_arrears numeric, lockup_opening numeric, lockup_trapped numeric, lockup_released numeric,
              lockup_balance numeric, dscr numeric, distributable numeric, vendor_share numeric, partner_share numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
#variable_conflict use_variable
DECLARE
    a       dsx.agreements;
    v_mu    integer;
    v_last  dsx.statements;
    v_p     date;
    v_g     numeric;
    v_o     numeric;
    v_int   numeric;
    v_opex_arrears numeric := 0;
    v_support numeric := 0;
    v_reserve numeric := 0;
    v_lockup  numeric := 0;
    v_debt  dsx.statement_debt[] := '{}';
    v_split dsx.split;
    v_terms record;
    w       record;
BEGIN
    IF project_periods.agreement IS NULL THEN
        RAISE EXCEPTION 'dsx.project needs an agreement' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO a FROM dsx.agreements g WHERE g.agreement = project_periods.agreement;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown agreement "%"', project_periods.agreement USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF array_ndims(project_periods.gross_in) > 1 OR array_ndims(project_periods.opex_in) > 1 THEN
        RAISE EXCEPTION 'dsx.project takes one-dimensional arrays' USING ERRCODE = 'array_subscript_error';
    END IF;
    IF project_periods.gross_in IS NULL OR array_position(project_periods.gross_in, NULL) IS NOT NULL
       OR array_position(project_periods.opex_in, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'dsx.project needs a gross for every period, and no NULL cost' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF array_lower(project_periods.gross_in, 1) <> 1 OR array_lower(project_periods.opex_in, 1) <> 1 THEN
        RAISE EXCEPTION 'dsx.project takes arrays that start at element 1' USING ERRCODE = 'array_subscript_error';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(project_periods.gross_in || COALESCE(project_periods.opex_in, '{}')) x
                WHERE x IN ('NaN', 'Infinity', '-Infinity')) THEN
        RAISE EXCEPTION 'projected amounts must be finite numbers' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- a century of months is the longest projection (each period is a waterfall)
    IF cardinality(project_periods.gross_in) > 1200 THEN
        RAISE EXCEPTION 'dsx.project runs at most 1200 periods, not %', cardinality(project_periods.gross_in)
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(project_periods.gross_in || COALESCE(project_periods.opex_in, '{}')) x
                WHERE abs(x) >= 1e32) THEN
        RAISE EXCEPTION 'projected amounts must be below 1e32 in absolute value' USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    IF project_periods.opex_in IS NOT NULL AND cardinality(project_periods.opex_in) <> cardinality(project_periods.gross_in) THEN
        RAISE EXCEPTION 'dsx.project: % periods of gross and % of operating costs', cardinality(project_periods.gross_in), cardinality(project_periods.opex_in)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.minor_units INTO v_mu FROM dsx.currencies c WHERE c.currency = a.settlement_currency;
    IF EXISTS (SELECT 1 FROM unnest(project_periods.gross_in || COALESCE(project_periods.opex_in, '{}')) x WHERE x <> round(x, v_mu)) THEN
        RAISE EXCEPTION 'projected amounts are in % and have at most % decimals', a.settlement_currency, v_mu
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the balances the projection starts from
    SELECT * INTO v_last FROM dsx.statements s
     WHERE s.agreement = a.agreement AND (project_periods.from_period IS NULL OR s.period_start < project_periods.from_period)
     ORDER BY s.period_start DESC LIMIT 1;
    v_p := COALESCE((v_last.period_start + interval '1 month')::date, a.starts);
    IF project_periods.from_period IS NOT NULL AND project_periods.from_period <> v_p THEN
        RAISE EXCEPTION 'agreement "%" can be projected from % (the period after its last settled one before), not from %',
              a.agreement, v_p, project_periods.from_period
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_last.agreement IS NOT NULL THEN
        v_opex_arrears := v_last.opex_arrears;
        v_support := v_last.support_balance;
        v_reserve := v_last.reserve_balance;
        v_lockup := v_last.lockup_balance;
        v_debt := ARRAY(SELECT d FROM dsx.statement_debt d
                         WHERE d.agreement = a.agreement AND d.period_start = v_last.period_start);
    END IF;
    -- the support loan's terms, once: they are fixed once a period is settled
    SELECT t.annual_rate, t.day_count INTO v_terms FROM (SELECT) one LEFT JOIN dsx.support_terms(a.agreement) t ON true;
    FOR k IN 1 .. COALESCE(cardinality(project_periods.gross_in), 0) LOOP
        v_g := project_periods.gross_in[k];
        v_o := COALESCE(project_periods.opex_in[k],
                        (SELECT COALESCE(round(sum(c.amount), v_mu), 0) FROM dsx.cost_lines(a.agreement, v_p, 0) c
                          WHERE c.kind = 'fixed'));
        v_int := dsx.support_interest_at(v_support, v_terms.annual_rate, v_terms.day_count, v_p, v_mu);
        SELECT * INTO w FROM dsx.period_waterfall(a.agreement, v_p, v_g, v_o, v_opex_arrears, v_support, v_int,
                                                  v_reserve, v_lockup, v_debt, v_mu);
        SELECT x.revenue_split INTO v_split FROM dsx.split_in_force(a.agreement, v_p) x;
        period_start := v_p; period_end := dsx.period_end(v_p); currency := a.settlement_currency; gross := v_g;
        opex_due := v_o; opex_arrears_opening := v_opex_arrears; opex_paid := w.opex_paid; opex_arrears := w.opex_arrears;
        cfads := w.cfads; debt_service_due := w.debt_service_due; debt_service_paid := w.debt_service_paid;
        reserve_opening := v_reserve; reserve_drawn := w.reserve_drawn; reserve_topup := w.reserve_topup;
        reserve_released := w.reserve_released; reserve_balance := w.reserve_balance;
        support_opening := v_support; support_drawn := w.support_drawn; support_interest := v_int;
        support_repaid := w.support_repaid; support_balance := w.support_balance; debt_arrears := w.debt_arrears;
        lockup_opening := v_lockup; lockup_trapped := w.lockup_trapped; lockup_released := w.lockup_released;
        lockup_balance := w.lockup_balance; dscr := w.dscr; distributable := w.distributable;
        SELECT COALESCE(sum(x.amount) FILTER (WHERE x.party = a.vendor), 0),
               COALESCE(sum(x.amount) FILTER (WHERE x.party = a.partner), 0)
          INTO vendor_share, partner_share
          FROM dsx.agreement_shares(v_split, a.vendor, a.partner, w.distributable, v_mu) x;
        RETURN NEXT;
        v_opex_arrears := w.opex_arrears;
        v_support := w.support_balance;
        v_reserve := w.reserve_balance;
        v_lockup := w.lockup_balance;
        v_debt := w.debt;
        v_p := (v_p + interval '1 month')::date;
    END LOOP;
END
$$;
COMMENT ON FUNCTION dsx.project_periods(text, numeric[], numeric[], date) IS 'What dsx.project runs (its inputs named apart from the figures it returns)';

-- The projection as SPEC names it: its gross in, the statement's gross out.
CREATE OR REPLACE FUNCTION dsx.project(agreement text, gross numeric[], opex numeric[] DEFAULT NULL,
                                       from_period date DEFAULT NULL)
RETURNS TABLE(period_start date, period_end date, currency text, gross numeric,
              opex_due numeric, opex_arrears_opening numeric, opex_paid numeric, opex_arrears numeric, cfads numeric,
              debt_service_due numeric, debt_service_paid numeric, reserve_opening numeric, reserve_drawn numeric,
              reserve_topup numeric, reserve_released numeric, reserve_balance numeric, support_opening numeric,
              support_drawn numeric, support_interest numeric, support_repaid numeric, support_balance numeric,
              debt_arrears numeric, lockup_opening numeric, lockup_trapped numeric, lockup_released numeric,
              lockup_balance numeric, dscr numeric, distributable numeric, vendor_share numeric, partner_share numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM dsx.project_periods($1, $2, $3, $4) $$;
COMMENT ON FUNCTION dsx.project(text, numeric[], numeric[], date) IS 'Run an agreement''s waterfall forward, one period per element of gross (in the settlement currency), from its last settled statement (or from from_period, the period after a settled one, to run settled periods again): opex the costs of each period (default: the fixed costs in force); stores nothing; one row per period with the figures of a statement and its DSCR. Runs with the caller''s rights: who may see the agreement may project it';

/*
 * The vendor's exposure if utilisation falls: each agreement projected from its last
 * settled period with 100, 75, 50, 25 and 0 % of that period's gross, its costs in force
 * (power on that period's metered energy), through the period of its last scheduled
 * payment. With the caller's rights, like dsx.project.
 */
CREATE OR REPLACE FUNCTION dsx.stress(agreement text)
RETURNS TABLE(scenario_pct integer, peak_support_balance numeric, periods_with_draws integer,
              support_balance_at_maturity numeric, through_period date)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    v_last  dsx.statements;
    v_mu    integer;
    v_mwh   numeric;
    v_until date;
    v_n     integer;
    v_opex  numeric[];
BEGIN
    SELECT * INTO v_last FROM dsx.statements s WHERE s.agreement = stress.agreement ORDER BY s.period_start DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN;                          -- nothing settled: no period to stress
    END IF;
    SELECT c.minor_units INTO v_mu FROM dsx.currencies c WHERE c.currency = v_last.currency;
    -- the last period's metered energy, as that statement saw it (whether or not a power
    -- cost was in force then)
    v_mwh := dsx.period_energy((SELECT g.factory FROM dsx.agreements g WHERE g.agreement = stress.agreement),
                               v_last.period_start, v_last.energy_through);
    SELECT dsx.month_of(max(y.due)) INTO v_until
      FROM dsx.credit_facilities f
     CROSS JOIN LATERAL dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                                     f.frequency, f.day_count, v_mu, f.grace_periods) y
     WHERE f.agreement = stress.agreement;
    v_n := GREATEST(COALESCE((date_part('year', age(v_until, v_last.period_start)) * 12
                              + date_part('month', age(v_until, v_last.period_start)))::integer, 0), 0);
    v_opex := ARRAY(SELECT COALESCE((SELECT round(sum(c.amount), v_mu)
                                       FROM dsx.cost_lines(stress.agreement, (v_last.period_start + k * interval '1 month')::date, v_mwh) c), 0)
                      FROM generate_series(1, v_n) k ORDER BY k);
    RETURN QUERY
    SELECT sc.pct, GREATEST(v_last.support_balance, COALESCE(max(p.support_balance), v_last.support_balance)),
           (count(*) FILTER (WHERE p.support_drawn > 0))::integer,
           COALESCE((array_agg(p.support_balance ORDER BY p.period_start DESC))[1], v_last.support_balance),
           COALESCE(max(p.period_start), v_last.period_start)
      FROM (VALUES (100), (75), (50), (25), (0)) sc(pct)
      LEFT JOIN LATERAL dsx.project(stress.agreement,
                                    array_fill(round(v_last.gross * sc.pct / 100, v_mu), ARRAY[v_n]), v_opex) p ON v_n > 0
     GROUP BY sc.pct
     ORDER BY sc.pct DESC;
END
$$;
COMMENT ON FUNCTION dsx.stress(text) IS 'An agreement projected (dsx.project) from its last settled period at 100, 75, 50, 25 and 0 % of that period''s gross and its costs in force (power on that period''s energy), through the period of its last scheduled payment: the peak credit support balance, the periods with draws, the balance at maturity. No rows before any settlement';

CREATE OR REPLACE VIEW dsx.vendor_stress WITH (security_invoker = true) AS
SELECT a.vendor, a.agreement, s.scenario_pct, s.peak_support_balance::numeric(38,6) AS peak_support_balance,
       s.periods_with_draws, s.support_balance_at_maturity::numeric(38,6) AS support_balance_at_maturity,
       a.partner, a.settlement_currency AS currency, s.through_period
  FROM dsx.agreements a
 CROSS JOIN LATERAL dsx.stress(a.agreement) s;
COMMENT ON VIEW dsx.vendor_stress IS 'The vendor''s exposure if utilisation falls: every agreement with a settled period, projected by dsx.project from its last one at 100, 75, 50, 25 and 0 % of its gross, with its costs in force, through the period of its last scheduled debt payment';
COMMENT ON COLUMN dsx.vendor_stress.vendor IS 'The vendor giving credit support';
COMMENT ON COLUMN dsx.vendor_stress.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.vendor_stress.scenario_pct IS 'Projected gross as a percentage of the last settled period''s gross';
COMMENT ON COLUMN dsx.vendor_stress.peak_support_balance IS 'Largest credit support balance owed to the vendor: now or at the end of any projected period';
COMMENT ON COLUMN dsx.vendor_stress.periods_with_draws IS 'Projected periods in which credit support is drawn';
COMMENT ON COLUMN dsx.vendor_stress.support_balance_at_maturity IS 'Credit support owed after the period of the last scheduled payment';
COMMENT ON COLUMN dsx.vendor_stress.partner IS 'The capital partner';
COMMENT ON COLUMN dsx.vendor_stress.currency IS 'Settlement currency of every amount in the row';
COMMENT ON COLUMN dsx.vendor_stress.through_period IS 'Last projected period (the last settled one when no payment is scheduled after it)';
