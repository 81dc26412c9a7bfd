-- dsx 1.0 — part 60: settlement. Agreements, the monthly waterfall (SPEC section 6),
-- statements with their lines and shares, the append-only double-entry ledger, late usage,
-- verification from raw events, and scheduling through pg_cron.

CREATE TABLE dsx.agreements (
    agreement     text PRIMARY KEY CHECK (agreement <> ''),
    partner       text NOT NULL REFERENCES dsx.parties,
    vendor        text NOT NULL REFERENCES dsx.parties,
    factory       text NOT NULL UNIQUE,
    revenue_split dsx.split NOT NULL,
    starts        date NOT NULL CHECK (starts = date_trunc('month', starts)::date),
    settle_lag    interval NOT NULL DEFAULT '1 day' CHECK (settle_lag >= interval '0'),
    FOREIGN KEY (factory, partner) REFERENCES dsx.factories (factory, partner),
    CHECK (vendor <> partner)
);
COMMENT ON TABLE dsx.agreements IS 'One partner''s factory under the vendor''s programme: how its revenue is split and from which month it is settled';
COMMENT ON COLUMN dsx.agreements.agreement IS 'Agreement identifier';
COMMENT ON COLUMN dsx.agreements.partner IS 'The capital partner (must run the factory)';
COMMENT ON COLUMN dsx.agreements.vendor IS 'The hardware vendor giving credit support and taking a revenue share';
COMMENT ON COLUMN dsx.agreements.factory IS 'The factory whose usage the agreement settles (one agreement per factory)';
COMMENT ON COLUMN dsx.agreements.revenue_split IS 'Tiered split of the distributable amount; the names vendor and partner stand for this agreement''s vendor and partner, any other name must be a party';
COMMENT ON COLUMN dsx.agreements.starts IS 'First month settled (first day of a month)';
COMMENT ON COLUMN dsx.agreements.settle_lag IS 'How long after a period ends dsx.run_due_settlements() settles it, leaving late usage time to arrive';

-- The split's parties, resolved: vendor and partner stand for the agreement's own.
CREATE FUNCTION dsx.agreement_party(name text, vendor text, partner text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE name WHEN 'vendor' THEN vendor WHEN 'partner' THEN partner ELSE name END $$;
COMMENT ON FUNCTION dsx.agreement_party(text, text, text) IS 'The party a name in a revenue split stands for: vendor and partner resolve to the agreement''s own';

-- An agreement is valid only when every party its split names exists, once.
CREATE FUNCTION dsx.agreements_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
    twice   text;
BEGIN
    SELECT min(p) INTO missing
      FROM unnest(dsx.parties(NEW.revenue_split)) n,
           LATERAL dsx.agreement_party(n, NEW.vendor, NEW.partner) p
     WHERE NOT EXISTS (SELECT 1 FROM dsx.parties x WHERE x.party = p);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'revenue split of agreement "%" names unknown party "%"', NEW.agreement, missing
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Use vendor and partner for the agreement''s own, or add the party to dsx.parties.';
    END IF;
    SELECT p INTO twice
      FROM unnest(dsx.parties(NEW.revenue_split)) n,
           LATERAL dsx.agreement_party(n, NEW.vendor, NEW.partner) p
     GROUP BY p HAVING count(*) > 1 LIMIT 1;
    IF twice IS NOT NULL THEN
        RAISE EXCEPTION 'revenue split of agreement "%" names party "%" twice', NEW.agreement, twice
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The names vendor and partner stand for the agreement''s own vendor and partner.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM dsx.parties WHERE party = NEW.vendor AND kind = 'vendor') THEN
        RAISE EXCEPTION 'party "%" is not a vendor', NEW.vendor USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM dsx.parties WHERE party = NEW.partner AND kind = 'partner') THEN
        RAISE EXCEPTION 'party "%" is not a partner', NEW.partner USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM dsx.statements s WHERE s.agreement = OLD.agreement)
       AND (NEW.agreement, NEW.partner, NEW.vendor, NEW.factory, NEW.starts)
           IS DISTINCT FROM (OLD.agreement, OLD.partner, OLD.vendor, OLD.factory, OLD.starts) THEN
        RAISE EXCEPTION 'agreement "%" has settled periods: its parties, factory and start are fixed', OLD.agreement
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A new revenue split or settle lag applies from the next period settled.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.agreements_check() IS 'Trigger: an agreement''s split names known parties once each, its vendor is a vendor, and settled agreements keep their identity';

-- credit facilities belong to agreements
ALTER TABLE dsx.credit_facilities
    ADD CONSTRAINT credit_facilities_agreement_fkey FOREIGN KEY (agreement) REFERENCES dsx.agreements;

-- A facility rounds in its agreement's currency: left out, minor_units is the currency's;
-- another value is refused, so the schedule shown is the debt service settled.
ALTER TABLE dsx.credit_facilities ALTER COLUMN minor_units DROP DEFAULT;
COMMENT ON COLUMN dsx.credit_facilities.minor_units IS 'Decimal places every amount of the schedule is rounded to: the currency''s of the agreement''s factory (filled in when left out; another value is refused)';
CREATE FUNCTION dsx.credit_facilities_currency() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur text;
    mu  integer;
BEGIN
    SELECT c.currency, c.minor_units INTO cur, mu
      FROM dsx.agreements a
      JOIN dsx.factories f ON f.factory = a.factory
      JOIN dsx.currencies c ON c.currency = f.currency
     WHERE a.agreement = NEW.agreement;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'facility "%" names unknown agreement "%"', NEW.facility, NEW.agreement
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Create the agreement in dsx.agreements first.';
    END IF;
    IF NEW.minor_units IS NULL THEN
        NEW.minor_units := mu;
    ELSIF NEW.minor_units <> mu THEN
        RAISE EXCEPTION 'facility "%" rounds to % decimal places, but its agreement books in % (% decimal places)',
              NEW.facility, NEW.minor_units, cur, mu
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave minor_units out: it is taken from the currency.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.credit_facilities_currency() IS 'Trigger: a credit facility rounds to its agreement''s currency''s minor units';
CREATE TRIGGER credit_facilities_currency BEFORE INSERT OR UPDATE ON dsx.credit_facilities
    FOR EACH ROW EXECUTE FUNCTION dsx.credit_facilities_currency();

CREATE TABLE dsx.statements (
    agreement         text NOT NULL REFERENCES dsx.agreements,
    period_start      date NOT NULL,
    period_end        date NOT NULL,
    currency          text NOT NULL REFERENCES dsx.currencies,
    input_tokens      bigint NOT NULL,
    output_tokens     bigint NOT NULL,
    revenue           numeric NOT NULL,
    adjustments       numeric NOT NULL,
    gross             numeric NOT NULL,
    debt_service_due  numeric NOT NULL,
    debt_service_paid numeric NOT NULL,
    support_opening   numeric NOT NULL,
    support_drawn     numeric NOT NULL,
    support_interest  numeric NOT NULL,
    support_repaid    numeric NOT NULL,
    support_balance   numeric NOT NULL,
    distributable     numeric NOT NULL,
    vendor_share      numeric NOT NULL,
    partner_share     numeric NOT NULL,
    through_batch     bigint NOT NULL,
    settled_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (agreement, period_start),
    CHECK (gross = revenue + adjustments),
    CHECK (debt_service_due = debt_service_paid + support_drawn),
    CHECK (support_balance = support_opening + support_interest + support_drawn - support_repaid)
);
COMMENT ON TABLE dsx.statements IS 'One settled period of one agreement: the waterfall''s every figure, in the factory''s currency; closed once written';
COMMENT ON COLUMN dsx.statements.agreement IS 'Agreement settled';
COMMENT ON COLUMN dsx.statements.period_start IS 'First day of the settled month (UTC)';
COMMENT ON COLUMN dsx.statements.period_end IS 'First day of the next month: the period is [period_start, period_end)';
COMMENT ON COLUMN dsx.statements.currency IS 'Currency of every amount';
COMMENT ON COLUMN dsx.statements.input_tokens IS 'Input tokens of the period''s own lines';
COMMENT ON COLUMN dsx.statements.output_tokens IS 'Output tokens of the period''s own lines';
COMMENT ON COLUMN dsx.statements.revenue IS 'Sum of the period''s rated lines';
COMMENT ON COLUMN dsx.statements.adjustments IS 'Late usage for earlier, closed periods, re-rated: the difference from what was settled';
COMMENT ON COLUMN dsx.statements.gross IS 'revenue + adjustments';
COMMENT ON COLUMN dsx.statements.debt_service_due IS 'Facility payments due in the period (D)';
COMMENT ON COLUMN dsx.statements.debt_service_paid IS 'Part of D paid from revenue: min(max(gross, 0), D)';
COMMENT ON COLUMN dsx.statements.support_opening IS 'Credit support owed to the vendor at the start of the period (B)';
COMMENT ON COLUMN dsx.statements.support_drawn IS 'Shortfall the vendor''s credit support paid to the lender: D - paid';
COMMENT ON COLUMN dsx.statements.support_interest IS 'Interest on the opening balance at the facility rate and day count';
COMMENT ON COLUMN dsx.statements.support_repaid IS 'Repaid to the vendor from what remained, interest first';
COMMENT ON COLUMN dsx.statements.support_balance IS 'Credit support owed to the vendor at the end of the period';
COMMENT ON COLUMN dsx.statements.distributable IS 'gross - paid - repaid, allocated by the revenue split';
COMMENT ON COLUMN dsx.statements.vendor_share IS 'The vendor''s part of the distributable amount';
COMMENT ON COLUMN dsx.statements.partner_share IS 'The partner''s part of the distributable amount';
COMMENT ON COLUMN dsx.statements.through_batch IS 'Last ingest batch the statement saw: events of later batches are late usage';
COMMENT ON COLUMN dsx.statements.settled_at IS 'When the period was settled';

CREATE TABLE dsx.statement_lines (
    agreement     text NOT NULL,
    period_start  date NOT NULL,
    for_period    date NOT NULL,
    customer      text NOT NULL,
    model         text NOT NULL,
    input_tokens  bigint NOT NULL,
    output_tokens bigint NOT NULL,
    amount        numeric NOT NULL,
    PRIMARY KEY (agreement, period_start, for_period, customer, model),
    FOREIGN KEY (agreement, period_start) REFERENCES dsx.statements DEFERRABLE INITIALLY DEFERRED,
    CHECK (for_period <= period_start)
);
CREATE INDEX statement_lines_for_period ON dsx.statement_lines (agreement, for_period);
COMMENT ON TABLE dsx.statement_lines IS 'Rated lines of a statement: the period''s own (for_period = period_start) and adjustments for late usage of earlier periods (for_period < period_start)';
COMMENT ON COLUMN dsx.statement_lines.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.statement_lines.period_start IS 'Statement the line belongs to';
COMMENT ON COLUMN dsx.statement_lines.for_period IS 'Period the usage belongs to: earlier than period_start for an adjustment';
COMMENT ON COLUMN dsx.statement_lines.customer IS 'Customer';
COMMENT ON COLUMN dsx.statement_lines.model IS 'Model';
COMMENT ON COLUMN dsx.statement_lines.input_tokens IS 'Input tokens (for an adjustment: the late tokens)';
COMMENT ON COLUMN dsx.statement_lines.output_tokens IS 'Output tokens (for an adjustment: the late tokens)';
COMMENT ON COLUMN dsx.statement_lines.amount IS 'Rated amount, rounded to the currency''s minor unit (for an adjustment: re-rated minus settled)';

CREATE TABLE dsx.statement_shares (
    agreement    text NOT NULL,
    period_start date NOT NULL,
    party        text NOT NULL REFERENCES dsx.parties,
    amount       numeric NOT NULL,
    PRIMARY KEY (agreement, period_start, party),
    FOREIGN KEY (agreement, period_start) REFERENCES dsx.statements DEFERRABLE INITIALLY DEFERRED
);
COMMENT ON TABLE dsx.statement_shares IS 'Each party''s part of a statement''s distributable amount (dsx.allocate of the revenue split)';
COMMENT ON COLUMN dsx.statement_shares.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.statement_shares.period_start IS 'Statement';
COMMENT ON COLUMN dsx.statement_shares.party IS 'Party (vendor and partner resolved to the agreement''s own)';
COMMENT ON COLUMN dsx.statement_shares.amount IS 'The party''s part; the parts add up to the distributable amount exactly';

CREATE SEQUENCE dsx.ledger_txn_seq;
CREATE TABLE dsx.ledger_entries (
    txn_id       bigint NOT NULL,
    entry_no     integer NOT NULL,
    agreement    text NOT NULL,
    period_start date NOT NULL,
    account      text NOT NULL,
    amount       numeric NOT NULL,
    currency     text NOT NULL REFERENCES dsx.currencies,
    posted_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (txn_id, entry_no),
    FOREIGN KEY (agreement, period_start) REFERENCES dsx.statements DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX ledger_entries_statement ON dsx.ledger_entries (agreement, period_start);
COMMENT ON TABLE dsx.ledger_entries IS 'Append-only double-entry ledger: one balanced transaction per settlement, debits positive, credits negative; zero amounts are left out except the revenue pair, so every settlement has a transaction';
COMMENT ON COLUMN dsx.ledger_entries.txn_id IS 'Transaction: the entries of one settlement sum to zero';
COMMENT ON COLUMN dsx.ledger_entries.entry_no IS 'Entry within the transaction';
COMMENT ON COLUMN dsx.ledger_entries.agreement IS 'Agreement settled';
COMMENT ON COLUMN dsx.ledger_entries.period_start IS 'Period settled';
COMMENT ON COLUMN dsx.ledger_entries.account IS 'Account, e.g. income:revenue or payable:share:<party>';
COMMENT ON COLUMN dsx.ledger_entries.amount IS 'Debit (positive) or credit (negative)';
COMMENT ON COLUMN dsx.ledger_entries.currency IS 'Currency of the amount';
COMMENT ON COLUMN dsx.ledger_entries.posted_at IS 'When it was posted';

-- Closed books: what settlement wrote is never updated, deleted or truncated.
CREATE FUNCTION dsx.refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is refused: settled books are append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Corrections are booked by settling the next period (late usage becomes adjustment lines).';
END
$$;
COMMENT ON FUNCTION dsx.refuse_change() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on settled books';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.ledger_entries FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.ledger_entries FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statements FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statements FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statement_lines FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statement_lines FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statement_shares FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statement_shares FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE TRIGGER agreements_check BEFORE INSERT OR UPDATE ON dsx.agreements FOR EACH ROW EXECUTE FUNCTION dsx.agreements_check();

SELECT pg_catalog.pg_extension_config_dump('dsx.agreements', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.statements', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.statement_lines', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.statement_shares', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ledger_entries', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ledger_txn_seq', '');

-- The month containing a date, as the half-open UTC period settlement uses.
CREATE FUNCTION dsx.period_end(period_start date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT (period_start + interval '1 month')::date $$;
COMMENT ON FUNCTION dsx.period_end(date) IS 'End (exclusive) of the monthly settlement period starting at period_start';

/*
 * The waterfall of one period, as a pure function of its inputs: everything settle()
 * and verify_settlement() compute past rating. Amounts in the currency's minor units.
 */
CREATE FUNCTION dsx.waterfall(
    gross numeric, debt_service_due numeric, support_opening numeric, support_interest numeric,
    OUT debt_service_paid numeric, OUT support_drawn numeric, OUT support_repaid numeric,
    OUT support_balance numeric, OUT distributable numeric)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT p, d - p, r, b + i + (d - p) - r, (g - p) - r
      FROM (SELECT gross AS g, debt_service_due AS d, support_opening AS b, support_interest AS i,
                   LEAST(GREATEST(gross, 0), debt_service_due) AS p) x,
           LATERAL (SELECT LEAST(GREATEST(x.g - x.p, 0), x.b + x.i) AS r) y
$$;
COMMENT ON FUNCTION dsx.waterfall(numeric, numeric, numeric, numeric) IS 'One period''s waterfall (SPEC section 6, steps 2-5): debt service paid from revenue, credit support drawn, repaid interest first, closing balance, and what is left to distribute';

-- Debt service due in [period_start, period_end) under an agreement's facility, rounded to
-- minor_units (the currency's, whatever the facility's own column says). Parameters are
-- qualified: dsx.credit_facilities has a minor_units column of its own.
CREATE FUNCTION dsx.debt_service_due(agreement text, period_start date, minor_units integer) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(sum(s.payment), 0)
      FROM dsx.credit_facilities f,
           LATERAL dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                                f.frequency, f.day_count, debt_service_due.minor_units, f.grace_periods) s
     WHERE f.agreement = debt_service_due.agreement
       AND s.due >= debt_service_due.period_start AND s.due < dsx.period_end(debt_service_due.period_start)
$$;
COMMENT ON FUNCTION dsx.debt_service_due(text, date, integer) IS 'Payments of the agreement''s credit facility schedule due in the settlement period starting at period_start';

-- Interest on a credit support balance over a period, at the facility's rate and day count.
CREATE FUNCTION dsx.support_interest(agreement text, balance numeric, period_start date, minor_units integer) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- parameters are qualified: dsx.credit_facilities has a minor_units column of its own
    SELECT COALESCE((SELECT dsx.interest(support_interest.balance, f.annual_rate, support_interest.period_start,
                                         dsx.period_end(support_interest.period_start), f.day_count,
                                         support_interest.minor_units)
                       FROM dsx.credit_facilities f WHERE f.agreement = support_interest.agreement), 0)
$$;
COMMENT ON FUNCTION dsx.support_interest(text, numeric, date, integer) IS 'round(B x facility rate x year fraction of the period in the facility''s day count), exact until that one rounding, half away from zero; 0 without a facility';

-- Shares of the distributable amount, with vendor and partner resolved.
CREATE FUNCTION dsx.agreement_shares(agreement text, distributable numeric, minor_units integer)
RETURNS TABLE(party text, amount numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT dsx.agreement_party(s.party, a.vendor, a.partner), s.amount
      FROM dsx.agreements a, LATERAL dsx.allocate(distributable, a.revenue_split, minor_units) s
     WHERE a.agreement = $1
$$;
COMMENT ON FUNCTION dsx.agreement_shares(text, numeric, integer) IS 'dsx.allocate of an amount by the agreement''s revenue split, with vendor and partner resolved to its parties';

-- The usage of a period per factory, customer and model, summed from the daily rollups, for
-- a set of factories. Planned for each call (EXECUTE, the factories a constant): one
-- factory's rollups are read through the index, a thousand factories' in one scan probing
-- a hash of the factories, by parallel workers where PostgreSQL has them (RETURN QUERY may
-- run in parallel; a query that writes may not).
CREATE FUNCTION dsx.period_rollups(factories text[], period_start date, period_end date)
RETURNS TABLE(factory text, customer text, model text, u dsx.usage)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT d.factory, d.customer, d.model, dsx.rollup(d.usage)
           FROM dsx.usage_daily d
          WHERE d.factory = ANY ($1) AND d.day >= $2 AND d.day < $3
          GROUP BY d.factory, d.customer, d.model'
        USING factories, period_start, period_end;
END
$$;
COMMENT ON FUNCTION dsx.period_rollups(text[], date, date) IS 'Usage of the half-open period [period_start, period_end) per factory, customer and model, for a set of factories: dsx.rollup of their daily rollups (what settlement rates)';

/*
 * Settle one monthly period for a set of agreements, with a handful of set-based
 * statements: the one implementation of settlement that dsx.settle (one agreement) and
 * dsx.run_due_settlements (every due agreement, period by period) share. Each agreement is
 * checked as dsx.settle documents (the first failing check raises, for the whole set); an
 * agreement whose period is already settled is skipped with a NOTICE. Returns how many
 * agreements it settled.
 */
CREATE FUNCTION dsx.settle_period(agreements text[], period_start date) RETURNS integer
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
    v_tot_a  text[];
    v_tot_rev numeric[];
    v_tot_in numeric[];
    v_tot_out numeric[];
    v_adj_a  text[];
    v_adj_amt numeric[];
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
    -- rates them; usage nobody priced is left to dsx.rate_lines to report, exactly
    EXECUTE $q$
    WITH l AS MATERIALIZED (
        SELECT g.agreement, g.factory, r.customer, r.model, r.u, c.minor_units AS mu,
               pp.plan IS NOT NULL AS priced, pp.input_price, pp.output_price
          FROM dsx.period_rollups($1, $2, $3) r
          JOIN dsx.agreements g ON g.factory = r.factory
          JOIN dsx.factories f ON f.factory = g.factory
          JOIN dsx.currencies c ON c.currency = f.currency
          LEFT JOIN dsx.customer_plans cp ON cp.customer = r.customer AND cp.factory = r.factory
          LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = r.model
    ), ins AS (
        INSERT INTO dsx.statement_lines (agreement, period_start, for_period, customer, model,
                                         input_tokens, output_tokens, amount)
        SELECT l.agreement, $2, $2, l.customer, l.model, dsx.input_tokens(l.u), dsx.output_tokens(l.u),
               dsx.rate(l.u, l.input_price, l.output_price, l.mu)
          FROM l WHERE l.priced
         ORDER BY l.agreement, l.customer, l.model
        RETURNING agreement, input_tokens, output_tokens, amount
    )
    SELECT (SELECT min(l.agreement) FROM l WHERE NOT l.priced),
           array_agg(t.agreement), array_agg(t.amount), array_agg(t.input_tokens), array_agg(t.output_tokens)
      FROM (SELECT ins.agreement, sum(ins.amount) AS amount, sum(ins.input_tokens) AS input_tokens,
                   sum(ins.output_tokens) AS output_tokens
              FROM ins GROUP BY ins.agreement) t
    $q$ INTO v_bad, v_tot_a, v_tot_rev, v_tot_in, v_tot_out USING v_factories, v_start, v_end;
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
    -- booked becomes adjustment lines
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
            SELECT r.a, r.p, r.factory, r.customer, r.model, r.u, r.mu, cp.plan,
                   pp.plan IS NOT NULL AS priced, pp.input_price, pp.output_price
              FROM (SELECT late.a, late.p, g.factory, d.customer, d.model, c.minor_units AS mu,
                           dsx.rollup(d.usage) AS u
                      FROM late
                      JOIN dsx.agreements g ON g.agreement = late.a
                      JOIN dsx.factories f ON f.factory = g.factory
                      JOIN dsx.currencies c ON c.currency = f.currency
                      JOIN dsx.usage_daily d ON d.factory = g.factory AND d.day >= late.p
                                            AND d.day < dsx.period_end(late.p)
                     GROUP BY late.a, late.p, g.factory, d.customer, d.model, c.minor_units) r
              LEFT JOIN dsx.customer_plans cp ON cp.customer = r.customer AND cp.factory = r.factory
              LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = r.model
        ), n AS (
            SELECT l.a, l.p, l.customer, l.model, dsx.input_tokens(l.u) AS input_tokens,
                   dsx.output_tokens(l.u) AS output_tokens, dsx.rate(l.u, l.input_price, l.output_price, l.mu) AS amount
              FROM l WHERE l.priced
        ), b AS (
            SELECT l.agreement AS a, l.for_period AS p, l.customer, l.model,
                   sum(l.input_tokens)::bigint AS input_tokens, sum(l.output_tokens)::bigint AS output_tokens,
                   sum(l.amount) AS amount
              FROM dsx.statement_lines l
              JOIN late ON l.agreement = late.a AND l.for_period = late.p
             GROUP BY l.agreement, l.for_period, l.customer, l.model
        ), ins AS (
            INSERT INTO dsx.statement_lines (agreement, period_start, for_period, customer, model,
                                             input_tokens, output_tokens, amount)
            SELECT COALESCE(n.a, b.a), v_start, COALESCE(n.p, b.p), COALESCE(n.customer, b.customer),
                   COALESCE(n.model, b.model),
                   COALESCE(n.input_tokens, 0) - COALESCE(b.input_tokens, 0),
                   COALESCE(n.output_tokens, 0) - COALESCE(b.output_tokens, 0),
                   COALESCE(n.amount, 0) - COALESCE(b.amount, 0)
              FROM n
              FULL JOIN b ON b.a = n.a AND b.p = n.p AND b.customer = n.customer AND b.model = n.model
             WHERE COALESCE(n.input_tokens, 0) <> COALESCE(b.input_tokens, 0)
                OR COALESCE(n.output_tokens, 0) <> COALESCE(b.output_tokens, 0)
                OR COALESCE(n.amount, 0) <> COALESCE(b.amount, 0)
             ORDER BY 1, 3, 4, 5
            RETURNING agreement, amount
        )
        SELECT (SELECT x.a FROM l x WHERE NOT x.priced ORDER BY x.a, x.p LIMIT 1),
               (SELECT x.p FROM l x WHERE NOT x.priced ORDER BY x.a, x.p LIMIT 1),
               array_agg(t.agreement), array_agg(t.amount)
          INTO v_bad, v_bad_p, v_adj_a, v_adj_amt
          FROM (SELECT ins.agreement, sum(ins.amount) AS amount FROM ins GROUP BY ins.agreement) t;
        IF v_bad IS NOT NULL THEN
            PERFORM FROM dsx.agreements g,
                         LATERAL dsx.rate_lines(g.factory, v_bad_p::timestamp AT TIME ZONE 'UTC',
                                                dsx.period_end(v_bad_p)::timestamp AT TIME ZONE 'UTC')
             WHERE g.agreement = v_bad;
            RAISE EXCEPTION 'usage of agreement "%" in period % is not priced', v_bad, v_bad_p
                USING ERRCODE = 'internal_error';  -- can't happen: dsx.rate_lines raised
        END IF;
    END IF;

    -- 2.-5. debt service, credit support, repayment and the split; the statements; the
    -- ledger: one balanced transaction per statement, numbered in agreement order
    WITH ag AS MATERIALIZED (
        SELECT g.agreement, g.vendor, g.partner, g.revenue_split, f.currency, c.minor_units AS mu,
               COALESCE(pr.support_balance, 0) AS opening, cf.lender,
               COALESCE(ln.rev, 0) AS rev, COALESCE(aj.adj, 0) AS adj,
               COALESCE(ln.input_tokens, 0) AS input_tokens, COALESCE(ln.output_tokens, 0) AS output_tokens,
               COALESCE((SELECT sum(s.payment)
                           FROM dsx.amortize(cf.principal, cf.annual_rate, cf.periods, cf.first_due, cf.method,
                                             cf.frequency, cf.day_count, c.minor_units, cf.grace_periods) s
                          WHERE s.due >= v_start AND s.due < v_end), 0) AS due,
               CASE WHEN cf.facility IS NULL THEN 0
                    ELSE dsx.interest(COALESCE(pr.support_balance, 0), cf.annual_rate, v_start, v_end,
                                      cf.day_count, c.minor_units) END AS interest
          FROM dsx.agreements g
          JOIN dsx.factories f ON f.factory = g.factory
          JOIN dsx.currencies c ON c.currency = f.currency
          LEFT JOIN dsx.statements pr ON v_start > g.starts AND pr.agreement = g.agreement
                                     AND pr.period_start = (v_start - interval '1 month')::date
          LEFT JOIN dsx.credit_facilities cf ON cf.agreement = g.agreement
          LEFT JOIN unnest(v_tot_a, v_tot_rev, v_tot_in, v_tot_out) ln(agreement, rev, input_tokens, output_tokens)
                 ON ln.agreement = g.agreement
          LEFT JOIN unnest(v_adj_a, v_adj_amt) aj(agreement, adj) ON aj.agreement = g.agreement
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

CREATE FUNCTION dsx.settle(agreement text, period_start date) RETURNS boolean
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

CREATE FUNCTION dsx.run_due_settlements() RETURNS integer
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

/*
 * Recompute a statement from raw events and configuration: the events of the batches the
 * statement saw, priced by the plans and the facility, split by the agreement's split.
 */
CREATE FUNCTION dsx.verify_settlement(agreement text, period_start date) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      dsx.statements;
    a      dsx.agreements;
    v_prev dsx.statements;
    v_mu   integer;
    v_prev_batch bigint;
    v_rev  numeric;
    v_adj  numeric;
    v_in   bigint;
    v_out  bigint;
    v_int  numeric;
    w      record;
    ok     boolean := true;
BEGIN
    SELECT * INTO s FROM dsx.statements t WHERE t.agreement = $1 AND t.period_start = $2;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agreement "%" has no statement for period %', $1, $2 USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO a FROM dsx.agreements g WHERE g.agreement = $1;
    SELECT c.minor_units INTO v_mu FROM dsx.currencies c WHERE c.currency = s.currency;
    SELECT * INTO v_prev FROM dsx.statements t
     WHERE t.agreement = $1 AND t.period_start = (s.period_start - interval '1 month')::date;
    v_prev_batch := COALESCE((SELECT max(t.through_batch) FROM dsx.statements t
                               WHERE t.agreement = $1 AND t.period_start < s.period_start), 0);

    -- each period's lines, rated from raw events as of a batch
    WITH lines AS (
        SELECT l.for_period, l.customer, l.model,
               dsx.input_tokens(l.u) AS input_tokens, dsx.output_tokens(l.u) AS output_tokens,
               dsx.rate(l.u, pp.input_price, pp.output_price, v_mu) AS amount, l.asof
          FROM (SELECT date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')::date AS for_period,
                       e.customer, e.model, b.asof,
                       dsx.usage_agg(e.input_tokens, e.output_tokens, e.occurred_at) AS u
                  FROM dsx.usage_events e
                 CROSS JOIN (VALUES ('now', s.through_batch), ('before', v_prev_batch)) b(asof, batch)
                 WHERE e.factory = a.factory AND e.batch_id <= b.batch
                   AND e.occurred_at >= (a.starts::timestamp AT TIME ZONE 'UTC')
                   AND e.occurred_at < (s.period_end::timestamp AT TIME ZONE 'UTC')
                 GROUP BY 1, 2, 3, 4) l
          JOIN dsx.customer_plans cp ON cp.customer = l.customer AND cp.factory = a.factory
          JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = l.model
    ), expected AS (
        -- the period's own lines, and for earlier periods what changed since the last statement
        SELECT n.for_period, COALESCE(n.customer, b.customer) AS customer, COALESCE(n.model, b.model) AS model,
               COALESCE(n.input_tokens, 0) - COALESCE(b.input_tokens, 0) AS input_tokens,
               COALESCE(n.output_tokens, 0) - COALESCE(b.output_tokens, 0) AS output_tokens,
               COALESCE(n.amount, 0) - COALESCE(b.amount, 0) AS amount
          FROM (SELECT * FROM lines WHERE asof = 'now') n
          FULL JOIN (SELECT * FROM lines WHERE asof = 'before' AND for_period < s.period_start) b
            USING (for_period, customer, model)
    ), expected_lines AS (
        SELECT * FROM expected
         WHERE for_period = s.period_start OR input_tokens <> 0 OR output_tokens <> 0 OR amount <> 0
    ), stored_lines AS (
        SELECT l.for_period, l.customer, l.model, l.input_tokens, l.output_tokens, l.amount
          FROM dsx.statement_lines l WHERE l.agreement = $1 AND l.period_start = $2
    )
    SELECT NOT EXISTS (SELECT * FROM expected_lines EXCEPT SELECT * FROM stored_lines)
       AND NOT EXISTS (SELECT * FROM stored_lines EXCEPT SELECT * FROM expected_lines),
           COALESCE((SELECT sum(amount) FROM expected_lines WHERE for_period = s.period_start), 0),
           COALESCE((SELECT sum(amount) FROM expected_lines WHERE for_period < s.period_start), 0),
           COALESCE((SELECT sum(input_tokens) FROM expected_lines WHERE for_period = s.period_start), 0),
           COALESCE((SELECT sum(output_tokens) FROM expected_lines WHERE for_period = s.period_start), 0)
      INTO ok, v_rev, v_adj, v_in, v_out;
    IF NOT ok THEN
        RAISE NOTICE 'statement lines differ from the raw events';
    END IF;

    v_int := dsx.support_interest(a.agreement, COALESCE(v_prev.support_balance, 0), s.period_start, v_mu);
    SELECT * INTO w FROM dsx.waterfall(v_rev + v_adj, dsx.debt_service_due(a.agreement, s.period_start, v_mu),
                                       COALESCE(v_prev.support_balance, 0), v_int);
    IF (s.revenue, s.adjustments, s.gross, s.input_tokens, s.output_tokens, s.debt_service_due,
        s.debt_service_paid, s.support_opening, s.support_drawn, s.support_interest, s.support_repaid,
        s.support_balance, s.distributable)
       IS DISTINCT FROM
       (v_rev, v_adj, v_rev + v_adj, v_in, v_out, w.debt_service_paid + w.support_drawn,
        w.debt_service_paid, COALESCE(v_prev.support_balance, 0), w.support_drawn, v_int, w.support_repaid,
        w.support_balance, w.distributable) THEN
        RAISE NOTICE 'statement figures differ from the recomputed waterfall';
        ok := false;
    END IF;
    IF EXISTS (SELECT party, amount FROM dsx.agreement_shares($1, w.distributable, v_mu) WHERE amount <> 0
               EXCEPT SELECT party, amount FROM dsx.statement_shares t WHERE t.agreement = $1 AND t.period_start = $2 AND amount <> 0)
       OR EXISTS (SELECT party, amount FROM dsx.statement_shares t WHERE t.agreement = $1 AND t.period_start = $2 AND amount <> 0
                  EXCEPT SELECT party, amount FROM dsx.agreement_shares($1, w.distributable, v_mu) WHERE amount <> 0) THEN
        RAISE NOTICE 'statement shares differ from the revenue split';
        ok := false;
    END IF;
    IF (SELECT COALESCE(sum(amount), 0) FROM dsx.ledger_entries l WHERE l.agreement = $1 AND l.period_start = $2) <> 0 THEN
        RAISE NOTICE 'ledger entries of the statement do not balance';
        ok := false;
    END IF;
    RETURN ok;
END
$$;
COMMENT ON FUNCTION dsx.verify_settlement(text, date) IS 'Recompute a settled statement from raw usage events (as of the batches it saw), price plans, the facility and the split, and compare with what was stored: true when every line, figure, share and the ledger agree';

/*
 * Scheduling through pg_cron, a soft dependency: the functions look pg_cron up at run time
 * and explain how to enable it when it is missing.
 */
CREATE FUNCTION dsx.schedule_settlements(cron text DEFAULT '15 0 * * *') RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'dsx schedules settlements through pg_cron, which lives in the one database named by cron.database_name.',
                  HINT = format('Either CREATE EXTENSION pg_cron here (with shared_preload_libraries = ''pg_cron'' and cron.database_name = %L), '
                                'or, in the pg_cron database, run: SELECT cron.schedule_in_database(%L, %L, ''SELECT dsx.run_due_settlements()'', %L);',
                                current_database(), 'dsx-settlements-' || current_database(), cron, current_database());
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
      USING 'dsx-settlements', cron, 'SELECT dsx.run_due_settlements()';
    RETURN job;
END
$$;
COMMENT ON FUNCTION dsx.schedule_settlements(text) IS 'Register dsx.run_due_settlements() with pg_cron under the job name dsx-settlements (replacing its schedule) and return the job id; where pg_cron is not installed, the error''s hint gives the cron.schedule_in_database call (job dsx-settlements-<database>) to run in the pg_cron database';

CREATE FUNCTION dsx.unschedule_settlements() RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'undefined_object',
                  HINT = format('In the pg_cron database, run: SELECT cron.unschedule(%L);',
                                'dsx-settlements-' || current_database());
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'dsx-settlements') THEN
        RAISE NOTICE 'no dsx-settlements job is scheduled';
        RETURN false;
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' INTO done USING 'dsx-settlements';
    RETURN done;
END
$$;
COMMENT ON FUNCTION dsx.unschedule_settlements() IS 'Remove the pg_cron job dsx-settlements; false (and says so) when none is scheduled';
