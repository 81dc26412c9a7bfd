-- schema/37-finance.tables.sql — what 1.1 adds for project finance, so far: the terms of
-- the vendor's credit support as a loan of its own. Created once, by a fresh install and by
-- the update from 1.0 alike.

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
