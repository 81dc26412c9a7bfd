-- schema/37-finance.tables.sql — what 1.1 adds for project finance: the credit support's
-- own terms, ranked facilities, the debt service reserve, operating costs and metered
-- energy, and the lock-up covenant. Created once, by a fresh install and by the update from
-- 1.0 alike.

-- The credit support the vendor gives is a loan to the partner, at the agreement's own
-- rate and day count; left NULL, those of its facility (so that a 1.0 agreement settles
-- exactly as before).
ALTER TABLE dsx.agreements
    ADD COLUMN support_rate numeric
        CONSTRAINT agreements_support_rate_check CHECK (support_rate >= 0 AND support_rate < 10),
    ADD COLUMN support_day_count text
        CONSTRAINT agreements_support_day_count_check
        CHECK (support_day_count IN ('ACT/360', 'ACT/365F', 'ACT/ACT', '30/360', '30E/360', '30U/360')),
    ADD CONSTRAINT agreements_support_terms_check CHECK ((support_rate IS NULL) = (support_day_count IS NULL));
COMMENT ON COLUMN dsx.agreements.support_rate IS 'Annual rate of the vendor''s credit support owed by the partner, as a fraction; NULL: the facility''s rate';
COMMENT ON COLUMN dsx.agreements.support_day_count IS 'Day count of the credit support''s interest (set with support_rate); NULL: the facility''s';

-- Several facilities per agreement, in rank order (1 the most senior, no two alike), each
-- supported by the vendor's credit support or not. A 1.0 facility is rank 1, supported.
ALTER TABLE dsx.credit_facilities DROP CONSTRAINT credit_facilities_agreement_key,
    ADD COLUMN rank integer NOT NULL DEFAULT 1 CONSTRAINT credit_facilities_rank_check CHECK (rank >= 1),
    ADD COLUMN supported boolean NOT NULL DEFAULT true,
    ADD CONSTRAINT credit_facilities_agreement_rank_key UNIQUE (agreement, rank);
COMMENT ON COLUMN dsx.credit_facilities.agreement IS 'The agreement the facility finances (one of its facilities, by rank)';
COMMENT ON COLUMN dsx.credit_facilities.rank IS 'Seniority among the agreement''s facilities: 1 is paid first; no two alike';
COMMENT ON COLUMN dsx.credit_facilities.supported IS 'Whether the vendor''s credit support pays what the period''s cash does not; an unsupported facility''s shortfall is carried as its arrears';

-- A debt service reserve account (DSRA), funded from the period's cash toward the debt
-- service scheduled over the next dsra_months periods, drawn before credit support.
ALTER TABLE dsx.agreements ADD COLUMN dsra_months integer NOT NULL DEFAULT 0
    CONSTRAINT agreements_dsra_months_check CHECK (dsra_months BETWEEN 0 AND 120);
COMMENT ON COLUMN dsx.agreements.dsra_months IS 'Debt service reserve target: the facilities'' payments scheduled in this many periods after each one (0: no reserve)';

-- The statement's debt service is the total over the facilities: what the period's cash
-- paid, what the reserve paid, what credit support paid, and what is carried as arrears of
-- unsupported facilities. The reserve's movements and balance roll forward.
ALTER TABLE dsx.statements DROP CONSTRAINT statements_check1,
    ADD COLUMN debt_arrears numeric NOT NULL DEFAULT 0,
    ADD COLUMN reserve_opening numeric NOT NULL DEFAULT 0,
    ADD COLUMN reserve_drawn numeric NOT NULL DEFAULT 0,
    ADD COLUMN reserve_topup numeric NOT NULL DEFAULT 0,
    ADD COLUMN reserve_released numeric NOT NULL DEFAULT 0,
    ADD COLUMN reserve_balance numeric NOT NULL DEFAULT 0,
    ADD CONSTRAINT statements_debt_check
        CHECK (debt_service_due = debt_service_paid + reserve_drawn + support_drawn + debt_arrears),
    ADD CONSTRAINT statements_reserve_check
        CHECK (reserve_balance = reserve_opening - reserve_drawn + reserve_topup - reserve_released);
COMMENT ON COLUMN dsx.statements.reserve_opening IS 'Debt service reserve at the start of the period (the balance of the period before)';
COMMENT ON COLUMN dsx.statements.reserve_drawn IS 'Debt service the reserve paid';
COMMENT ON COLUMN dsx.statements.reserve_topup IS 'Paid from the period''s cash into the reserve, toward its target';
COMMENT ON COLUMN dsx.statements.reserve_released IS 'Reserve above its target released into the period''s cash (all of it once nothing more is scheduled)';
COMMENT ON COLUMN dsx.statements.reserve_balance IS 'Debt service reserve at the end of the period';
COMMENT ON COLUMN dsx.statements.debt_service_due IS 'Debt service of the period over all facilities: their scheduled payments plus the arrears brought in';
COMMENT ON COLUMN dsx.statements.debt_service_paid IS 'Part of the debt service paid from the period''s cash';
COMMENT ON COLUMN dsx.statements.support_drawn IS 'Part of the debt service of supported facilities paid by the vendor''s credit support';
COMMENT ON COLUMN dsx.statements.debt_arrears IS 'Debt service of unsupported facilities left unpaid, carried to the next period';

CREATE TABLE dsx.statement_debt (
    agreement         text NOT NULL,
    period_start      date NOT NULL,
    facility          text NOT NULL,
    rank              integer NOT NULL,
    supported         boolean NOT NULL,
    lender            text NOT NULL,
    scheduled         numeric NOT NULL,
    arrears_opening   numeric NOT NULL,
    due               numeric NOT NULL,
    paid_from_revenue numeric NOT NULL,
    paid_from_reserve numeric NOT NULL,
    paid_by_support   numeric NOT NULL,
    arrears           numeric NOT NULL,
    PRIMARY KEY (agreement, period_start, facility),
    CONSTRAINT statement_debt_due_check CHECK (due = scheduled + arrears_opening),
    CONSTRAINT statement_debt_paid_check CHECK (due = paid_from_revenue + paid_from_reserve + paid_by_support + arrears),
    CONSTRAINT statement_debt_support_check CHECK (CASE WHEN supported THEN arrears = 0 ELSE paid_by_support = 0 END)
);
COMMENT ON TABLE dsx.statement_debt IS 'Each facility''s debt service in a statement (a row for every facility owed something in the period), in rank order: scheduled, brought in as arrears, and how it was paid; written only by settlement';
COMMENT ON COLUMN dsx.statement_debt.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.statement_debt.period_start IS 'Statement';
COMMENT ON COLUMN dsx.statement_debt.facility IS 'The credit facility';
COMMENT ON COLUMN dsx.statement_debt.rank IS 'Its rank when settled (1 paid first)';
COMMENT ON COLUMN dsx.statement_debt.supported IS 'Whether credit support stood behind it';
COMMENT ON COLUMN dsx.statement_debt.lender IS 'Its lender';
COMMENT ON COLUMN dsx.statement_debt.scheduled IS 'Payments of its schedule due in the period';
COMMENT ON COLUMN dsx.statement_debt.arrears_opening IS 'Its arrears carried in from the period before';
COMMENT ON COLUMN dsx.statement_debt.due IS 'scheduled + arrears_opening';
COMMENT ON COLUMN dsx.statement_debt.paid_from_revenue IS 'Paid from the period''s cash';
COMMENT ON COLUMN dsx.statement_debt.paid_from_reserve IS 'Paid from the debt service reserve';
COMMENT ON COLUMN dsx.statement_debt.paid_by_support IS 'Paid by the vendor''s credit support (supported facilities)';
COMMENT ON COLUMN dsx.statement_debt.arrears IS 'Left unpaid, carried to the next period (unsupported facilities)';
-- a 1.0 statement settled its one facility (the books are append-only: this fill-in of the
-- new table for statements already written changes no figure)
INSERT INTO dsx.statement_debt
SELECT s.agreement, s.period_start, f.facility, f.rank, f.supported, f.lender, s.debt_service_due, 0,
       s.debt_service_due, s.debt_service_paid, 0, s.support_drawn, 0
  FROM dsx.statements s JOIN dsx.credit_facilities f ON f.agreement = s.agreement
 WHERE s.debt_service_due <> 0;
-- its key to the statements, added after the fill-in (a deferred check queued by it would
-- stand in the way of the rest of the update)
ALTER TABLE dsx.statement_debt ADD CONSTRAINT statement_debt_agreement_period_start_fkey
    FOREIGN KEY (agreement, period_start) REFERENCES dsx.statements DEFERRABLE INITIALLY DEFERRED;
SELECT pg_catalog.pg_extension_config_dump('dsx.statement_debt', '');

-- A lock-up covenant: when the period's cash available for debt service (CFADS) falls
-- below lockup_dscr times its scheduled debt service, what would be distributed is trapped.
ALTER TABLE dsx.agreements ADD COLUMN lockup_dscr numeric
    CONSTRAINT agreements_lockup_dscr_check CHECK (lockup_dscr >= 0 AND lockup_dscr < 1000);
COMMENT ON COLUMN dsx.agreements.lockup_dscr IS 'Lock-up threshold of the debt service coverage ratio (CFADS / scheduled debt service): below it (compared exactly) distributions are trapped; NULL: no lock-up';

-- Operating costs, dated like the other terms: a fixed amount per period, or a price per
-- MWh of the factory's metered energy.
CREATE TABLE dsx.operating_costs (
    agreement  text NOT NULL REFERENCES dsx.agreements,
    cost       text NOT NULL CONSTRAINT operating_costs_cost_check CHECK (cost ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    kind       text NOT NULL CONSTRAINT operating_costs_kind_check CHECK (kind IN ('fixed', 'power')),
    amount     numeric NOT NULL CONSTRAINT operating_costs_amount_check CHECK (amount >= 0 AND amount < 1e15),
    valid_from date NOT NULL DEFAULT '-infinity'
        CONSTRAINT operating_costs_valid_from_check CHECK (valid_from < 'infinity' AND (valid_from = '-infinity' OR valid_from = date_trunc('month', valid_from)::date)),
    PRIMARY KEY (agreement, cost, valid_from)
);
COMMENT ON TABLE dsx.operating_costs IS 'An agreement''s operating costs, paid before any lender: each cost from a period on (valid_from, -infinity: from the start) until its next version; an amount of 0 ends it';
COMMENT ON COLUMN dsx.operating_costs.agreement IS 'Agreement whose cash pays the cost';
COMMENT ON COLUMN dsx.operating_costs.cost IS 'Name of the cost (letters, digits, _ . -)';
COMMENT ON COLUMN dsx.operating_costs.kind IS 'fixed: amount per period; power: amount per MWh of the factory''s metered energy in the period';
COMMENT ON COLUMN dsx.operating_costs.amount IS 'In the agreement''s settlement currency: per period (fixed) or per MWh (power), exact';
COMMENT ON COLUMN dsx.operating_costs.valid_from IS 'First period (first day of a local month) the version applies to; -infinity: from the start';
SELECT pg_catalog.pg_extension_config_dump('dsx.operating_costs', '');

-- Metered energy per factory and local day, as loaded: a day's reading is its latest one;
-- a correction is a new reading, and the old one stays (what a settled period saw).
CREATE TABLE dsx.energy_readings (
    factory    text NOT NULL REFERENCES dsx.factories,
    day        date NOT NULL CONSTRAINT energy_readings_day_check CHECK (day > '-infinity' AND day < 'infinity'),
    mwh        numeric NOT NULL CONSTRAINT energy_readings_mwh_check CHECK (mwh >= 0 AND mwh < 1e9),
    reading_id bigint GENERATED ALWAYS AS IDENTITY,
    loaded_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    loaded_by  text NOT NULL DEFAULT SESSION_USER,
    PRIMARY KEY (factory, day, reading_id)
);
COMMENT ON TABLE dsx.energy_readings IS 'Energy a factory drew on each local day, in MWh, as metered and loaded by dsx.load_energy (append-only: a day''s reading is its latest one, a correction a new row)';
COMMENT ON COLUMN dsx.energy_readings.factory IS 'Factory metered';
COMMENT ON COLUMN dsx.energy_readings.day IS 'Local day of the factory (its time zone)';
COMMENT ON COLUMN dsx.energy_readings.mwh IS 'Energy drawn that day, MWh, exact, not negative';
COMMENT ON COLUMN dsx.energy_readings.reading_id IS 'Order of loading: a settled statement saw the readings up to its energy_through';
COMMENT ON COLUMN dsx.energy_readings.loaded_at IS 'When the reading was loaded';
COMMENT ON COLUMN dsx.energy_readings.loaded_by IS 'Login that loaded it';
SELECT pg_catalog.pg_extension_config_dump('dsx.energy_readings', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.energy_readings_reading_id_seq', '');

-- The costs of a statement: each cost in force for the period, and for a closed period
-- whose energy changed since it was booked, the difference (an adjustment, like late usage).
CREATE TABLE dsx.statement_costs (
    agreement    text NOT NULL,
    period_start date NOT NULL,
    for_period   date NOT NULL,
    cost         text NOT NULL,
    kind         text NOT NULL,
    price        numeric NOT NULL,
    mwh          numeric,
    amount       numeric NOT NULL,
    PRIMARY KEY (agreement, period_start, for_period, cost),
    CONSTRAINT statement_costs_kind_check CHECK (CASE kind WHEN 'fixed' THEN mwh IS NULL AND amount = price
                                                           WHEN 'power' THEN mwh IS NOT NULL AND amount = price * mwh END),
    CONSTRAINT statement_costs_period_check CHECK (for_period <= period_start)
);
COMMENT ON TABLE dsx.statement_costs IS 'Each operating cost of a statement, exact (the statement''s opex_due rounds their total once per period): the costs of its own period, and adjustments for closed periods whose metered energy changed; written only by settlement';
COMMENT ON COLUMN dsx.statement_costs.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.statement_costs.period_start IS 'Statement';
COMMENT ON COLUMN dsx.statement_costs.for_period IS 'Period the cost belongs to: period_start, or an earlier one for an energy adjustment';
COMMENT ON COLUMN dsx.statement_costs.cost IS 'The cost (dsx.operating_costs)';
COMMENT ON COLUMN dsx.statement_costs.kind IS 'fixed or power';
COMMENT ON COLUMN dsx.statement_costs.price IS 'Its amount in force for for_period: per period, or per MWh';
COMMENT ON COLUMN dsx.statement_costs.mwh IS 'Energy of for_period it was charged on (power), or the change of it (adjustment); NULL for a fixed cost';
COMMENT ON COLUMN dsx.statement_costs.amount IS 'price (fixed) or price x mwh (power), exact';
ALTER TABLE dsx.statement_costs ADD CONSTRAINT statement_costs_agreement_period_start_fkey
    FOREIGN KEY (agreement, period_start) REFERENCES dsx.statements DEFERRABLE INITIALLY DEFERRED;
SELECT pg_catalog.pg_extension_config_dump('dsx.statement_costs', '');

-- The statement's operating costs, the cash available for debt service, the lock-up and
-- the coverage ratio; and the energy readings it saw.
ALTER TABLE dsx.statements
    ADD COLUMN opex_due numeric NOT NULL DEFAULT 0,
    ADD COLUMN opex_adjustments numeric NOT NULL DEFAULT 0,
    ADD COLUMN opex_arrears_opening numeric NOT NULL DEFAULT 0,
    ADD COLUMN opex_paid numeric NOT NULL DEFAULT 0,
    ADD COLUMN opex_arrears numeric NOT NULL DEFAULT 0,
    ADD COLUMN cfads numeric NOT NULL DEFAULT 0,
    ADD COLUMN lockup_opening numeric NOT NULL DEFAULT 0,
    ADD COLUMN lockup_trapped numeric NOT NULL DEFAULT 0,
    ADD COLUMN lockup_released numeric NOT NULL DEFAULT 0,
    ADD COLUMN lockup_balance numeric NOT NULL DEFAULT 0,
    ADD COLUMN dscr numeric,
    ADD COLUMN energy_through bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN dsx.statements.opex_due IS 'Operating costs of the period (their total rounded once) plus the energy adjustments of closed periods';
COMMENT ON COLUMN dsx.statements.opex_adjustments IS 'Part of opex_due that adjusts closed periods for energy metered late';
COMMENT ON COLUMN dsx.statements.opex_arrears_opening IS 'Operating costs left unpaid by the period before';
COMMENT ON COLUMN dsx.statements.opex_paid IS 'Operating costs paid from the period''s cash (before any lender)';
COMMENT ON COLUMN dsx.statements.opex_arrears IS 'Operating costs left unpaid, carried to the next period';
COMMENT ON COLUMN dsx.statements.cfads IS 'Cash flow available for debt service: gross - opex_paid';
COMMENT ON COLUMN dsx.statements.lockup_opening IS 'Cash trapped by the lock-up at the start of the period';
COMMENT ON COLUMN dsx.statements.lockup_trapped IS 'Left after the lenders, the reserve and the vendor, trapped because the DSCR was below the lock-up threshold';
COMMENT ON COLUMN dsx.statements.lockup_released IS 'Trapped cash released into the period''s distribution (the test passed)';
COMMENT ON COLUMN dsx.statements.lockup_balance IS 'Cash trapped at the end of the period';
COMMENT ON COLUMN dsx.statements.dscr IS 'Debt service coverage ratio, cfads / scheduled debt service, rounded to 4 decimals (the lock-up test compares exactly); NULL when nothing is scheduled';
COMMENT ON COLUMN dsx.statements.energy_through IS 'Energy readings the statement saw: those up to this reading_id';
-- a 1.0 statement had no costs: its CFADS is its gross, its coverage gross / debt service
-- (the books are append-only: this fill-in of the new columns changes no figure)
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = 'dsx.statements'::regclass AND t.tgname = 'append_only') THEN
        ALTER TABLE dsx.statements DISABLE TRIGGER append_only;
        UPDATE dsx.statements
           SET cfads = gross,
               dscr = CASE WHEN debt_service_due > 0 THEN pg_catalog.round(gross / debt_service_due, 4) END;
        ALTER TABLE dsx.statements ENABLE TRIGGER append_only;
    END IF;
END
$$;
ALTER TABLE dsx.statements
    ADD CONSTRAINT statements_opex_check
        CHECK (opex_arrears >= 0 AND opex_arrears = opex_due + opex_arrears_opening - opex_paid),
    ADD CONSTRAINT statements_cfads_check CHECK (cfads = gross - opex_paid),
    ADD CONSTRAINT statements_lockup_check
        CHECK (lockup_trapped >= 0 AND lockup_released >= 0 AND lockup_balance = lockup_opening + lockup_trapped - lockup_released);

-- A facility's terms as the waterfall reads them (dsx.period_waterfall_of): settlement
-- gathers every agreement's once per run (dsx.facilities_of).
CREATE TYPE dsx.facility_terms AS (facility text, rank integer, lender text, supported boolean, principal numeric,
                                   annual_rate numeric, periods integer, first_due date, method text,
                                   frequency text, day_count text, grace_periods integer);
COMMENT ON TYPE dsx.facility_terms IS 'A credit facility''s terms as the waterfall reads them: its name, rank, lender, support and the arguments of dsx.amortize';
