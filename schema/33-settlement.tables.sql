-- schema/33-settlement.tables.sql — settlement tables: agreements, their credit facilities,
-- statements with their lines and shares, the double-entry ledger. Created once.

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


CREATE TABLE dsx.credit_facilities (
    facility      text PRIMARY KEY CHECK (facility <> ''),
    agreement     text NOT NULL UNIQUE REFERENCES dsx.agreements,
    lender        text NOT NULL REFERENCES dsx.parties,
    principal     numeric NOT NULL,
    annual_rate   numeric NOT NULL,
    periods       integer NOT NULL,
    first_due     date NOT NULL,
    method        text NOT NULL DEFAULT 'annuity',
    frequency     text NOT NULL DEFAULT 'monthly',
    day_count     text NOT NULL DEFAULT '30/360',
    grace_periods integer NOT NULL DEFAULT 0,
    minor_units   integer NOT NULL,
    CONSTRAINT credit_facilities_schedule_check
        CHECK (dsx.amortize_check(principal, annual_rate, periods, first_due, method,
                                  frequency, day_count, minor_units, grace_periods))
);
COMMENT ON TABLE dsx.credit_facilities IS 'Credit facilities: the loan financing an agreement''s factory, whose schedule is the debt service due each period; a row is accepted only when dsx.amortize can produce its schedule';
COMMENT ON COLUMN dsx.credit_facilities.facility IS 'Facility identifier';
COMMENT ON COLUMN dsx.credit_facilities.agreement IS 'The agreement the facility finances (at most one facility per agreement)';
COMMENT ON COLUMN dsx.credit_facilities.lender IS 'The lending party (a party of kind lender)';
COMMENT ON COLUMN dsx.credit_facilities.principal IS 'Amount lent, in the agreement''s currency, a whole number of minor units';
COMMENT ON COLUMN dsx.credit_facilities.annual_rate IS 'Annual interest rate as a fraction: 0.08 for 8 %';
COMMENT ON COLUMN dsx.credit_facilities.periods IS 'Number of payments';
COMMENT ON COLUMN dsx.credit_facilities.first_due IS 'Due date of the first payment; a month end makes every due date a month end';
COMMENT ON COLUMN dsx.credit_facilities.method IS 'annuity (level payment), linear (equal principal) or bullet (principal at the end)';
COMMENT ON COLUMN dsx.credit_facilities.frequency IS 'monthly, quarterly, semiannual or annual';
COMMENT ON COLUMN dsx.credit_facilities.day_count IS 'Day count of the interest: ACT/360, ACT/365F, ACT/ACT, 30/360, 30E/360 or 30U/360';
COMMENT ON COLUMN dsx.credit_facilities.grace_periods IS 'Interest-only periods before amortization starts';
COMMENT ON COLUMN dsx.credit_facilities.minor_units IS 'Decimal places every amount of the schedule is rounded to: the currency''s of the agreement''s factory (filled in when left out; another value is refused)';
COMMENT ON CONSTRAINT credit_facilities_schedule_check ON dsx.credit_facilities IS 'The terms must produce a schedule: the same validation as dsx.amortize';


SELECT pg_catalog.pg_extension_config_dump('dsx.credit_facilities', '');


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
    plan          text NOT NULL,
    input_price   dsx.price NOT NULL,
    output_price  dsx.price NOT NULL,
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
COMMENT ON COLUMN dsx.statement_lines.plan IS 'Price plan the line was rated by (an adjustment: the plan its period was first booked with)';
COMMENT ON COLUMN dsx.statement_lines.input_price IS 'Price per million input tokens used, as it was then: a closed period is re-rated with the prices it was booked with, whatever plans say later';
COMMENT ON COLUMN dsx.statement_lines.output_price IS 'Price per million output tokens used, as it was then';
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


SELECT pg_catalog.pg_extension_config_dump('dsx.agreements', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.statements', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.statement_lines', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.statement_shares', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ledger_entries', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.ledger_txn_seq', '');
