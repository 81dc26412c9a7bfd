-- schema/81-report.sql — one statement as plain text, for people: dsx.statement_report.

/*
 * The report reads the books with the caller's rights: row-level security decides what it
 * shows, as for the views (a vendor, who does not see customer lines, gets the statement
 * without them). A statement the caller may not see is reported as missing, exactly as one
 * that does not exist. Amounts are printed exactly as booked, in their currency's minor
 * unit, right-aligned; dates in ISO form, times in the session's time zone.
 */
CREATE OR REPLACE FUNCTION dsx.statement_report(agreement text, period_start date) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'          -- dates and times read the same whatever the session's style
AS $$
DECLARE
    s      dsx.statements;
    g      dsx.agreements;
    f      dsx.factories;
    out    text[] := '{}';
    r      record;
    n      integer;
    w      CONSTANT integer := 20;          -- width of an amount column
    mu     integer;                          -- the settlement currency's minor units
    mub    integer;                          -- the billing currency's
BEGIN
    IF statement_report.agreement IS NULL OR statement_report.period_start IS NULL THEN
        RAISE EXCEPTION 'dsx.statement_report needs an agreement and a period_start' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO s FROM dsx.statements t
     WHERE t.agreement = statement_report.agreement AND t.period_start = statement_report.period_start;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no statement of agreement "%" for period %', statement_report.agreement, statement_report.period_start
            USING ERRCODE = 'no_data_found',
                  HINT = 'dsx.partner_statements lists the statements this role may see.';
    END IF;
    SELECT * INTO g FROM dsx.agreements a WHERE a.agreement = s.agreement;
    SELECT * INTO f FROM dsx.factories x WHERE x.factory = g.factory;
    SELECT c.minor_units INTO mu FROM dsx.currencies c WHERE c.currency = s.currency;
    SELECT c.minor_units INTO mub FROM dsx.currencies c WHERE c.currency = s.billing_currency;

    out := out || format('Statement of agreement %s for %s to %s (local months of %s)', s.agreement, s.period_start,
                         s.period_end, f.time_zone)
               || format('Partner %s, vendor %s, factory %s; settled %s', g.partner, g.vendor, g.factory, s.settled_at)
               || CASE WHEN s.billing_currency = s.currency
                       THEN format('Amounts in %s', s.currency)
                       ELSE format('Billed in %s, settled in %s at %s %s per %s', s.billing_currency, s.currency, s.fx_rate,
                                   s.currency, s.billing_currency) END
               || ''::text;

    -- the lines, the period's own first, then the adjustments by the period they belong to
    out := out || format('Lines (%s)', s.billing_currency)
               || format('  %-44s %15s %15s %*s', 'customer / model', 'input tokens', 'output tokens', w, 'amount');
    n := 0;
    FOR r IN SELECT l.* FROM dsx.statement_lines l
              WHERE l.agreement = s.agreement AND l.period_start = s.period_start
              ORDER BY l.for_period DESC, l.customer, l.model LOOP
        out := out || format('  %-44s %15s %15s %*s',
                             CASE WHEN r.for_period = s.period_start THEN r.customer || ' / ' || r.model
                                  ELSE 'adj. ' || to_char(r.for_period, 'YYYY-MM') || ' ' || r.customer || ' / ' || r.model END,
                             r.input_tokens, r.output_tokens, w, round(r.amount, mub))
                   || format('      %s at %s in, %s out per million tokens', r.plan, r.input_price, r.output_price);
        n := n + 1;
    END LOOP;
    IF n = 0 THEN
        out := out || CASE WHEN s.revenue_billing = 0 AND s.adjustments_billing = 0 THEN '  (no usage)'::text
                           ELSE '  (the customer lines are not shown to this role)'::text END;
    END IF;
    out := out || format('  %-76s %*s', 'revenue', w, round(s.revenue_billing, mub))
               || format('  %-76s %*s', 'adjustments', w, round(s.adjustments_billing, mub))
               || ''::text;

    -- the waterfall, step by step, in the settlement currency
    out := out || format('Waterfall (%s)', s.currency)
               || format('  %-76s %*s', '1. gross (revenue + adjustments' || CASE WHEN s.billing_currency <> s.currency
                                                                            THEN ', converted' ELSE '' END || ')', w, round(s.gross, mu))
               || format('  %-76s %*s', '2. operating costs due (of which energy adjustments ' || round(s.opex_adjustments, mu) || ')', w, round(s.opex_due, mu))
               || format('  %-76s %*s', '   costs carried in', w, round(s.opex_arrears_opening, mu))
               || format('  %-76s %*s', '   costs paid', w, round(-s.opex_paid, mu))
               || format('  %-76s %*s', '   costs carried forward', w, round(s.opex_arrears, mu))
               || format('  %-76s %*s', '   cash flow available for debt service (CFADS)', w, round(s.cfads, mu));
    out := out || '  3. debt service, most senior first'::text;
    FOR r IN SELECT d.* FROM dsx.statement_debt d
              WHERE d.agreement = s.agreement AND d.period_start = s.period_start ORDER BY d.rank LOOP
        out := out || format('     rank %s %s (%s, %s): scheduled %s, arrears in %s, due %s', r.rank, r.facility, r.lender,
                             CASE WHEN r.supported THEN 'supported' ELSE 'unsupported' END, round(r.scheduled, mu),
                             round(r.arrears_opening, mu), round(r.due, mu))
                   || format('       paid from cash %s, from the reserve %s, by credit support %s, carried %s',
                             round(r.paid_from_revenue, mu), round(r.paid_from_reserve, mu), round(r.paid_by_support, mu),
                             round(r.arrears, mu));
    END LOOP;
    out := out || format('  %-76s %*s', '   debt service due', w, round(s.debt_service_due, mu))
               || format('  %-76s %*s', '   paid from cash', w, round(-s.debt_service_paid, mu))
               || format('  %-76s %*s', '   paid from the reserve', w, round(s.reserve_drawn, mu))
               || format('  %-76s %*s', '   paid by the vendor''s credit support', w, round(s.support_drawn, mu))
               || format('  %-76s %*s', '   unpaid, carried as arrears', w, round(s.debt_arrears, mu))
               || format('  %-76s %*s', '4. credit support owed at the start', w, round(s.support_opening, mu))
               || format('  %-76s %*s', '   interest on it', w, round(s.support_interest, mu))
               || format('  %-76s %*s', '5. reserve at the start', w, round(s.reserve_opening, mu))
               || format('  %-76s %*s', '   topped up', w, round(-s.reserve_topup, mu))
               || format('  %-76s %*s', '   released', w, round(s.reserve_released, mu))
               || format('  %-76s %*s', '   reserve at the end', w, round(s.reserve_balance, mu))
               || format('  %-76s %*s', '6. repaid to the vendor', w, round(-s.support_repaid, mu))
               || format('  %-76s %*s', '   credit support owed at the end', w, round(s.support_balance, mu))
               || format('  %-76s %*s', '7. DSCR (CFADS / scheduled debt service)', w, COALESCE(s.dscr::text, 'none'))
               || format('  %-76s %*s', '   trapped by the lock-up', w, round(-s.lockup_trapped, mu))
               || format('  %-76s %*s', '   released from the lock-up', w, round(s.lockup_released, mu))
               || format('  %-76s %*s', '   lock-up balance at the end', w, round(s.lockup_balance, mu))
               || format('  %-76s %*s', '8. distributable', w, round(s.distributable, mu))
               || ''::text;

    out := out || format('Shares of the distributable amount (split %s)',
                         COALESCE('from ' || s.split_valid_from, 'of the agreement'));
    FOR r IN SELECT h.party, h.amount FROM dsx.statement_shares h
              WHERE h.agreement = s.agreement AND h.period_start = s.period_start ORDER BY h.party LOOP
        out := out || format('  %-76s %*s', r.party, w, round(r.amount, mu));
    END LOOP;
    out := out || ''::text;

    n := 0;
    FOR r IN SELECT e.*, c.minor_units FROM dsx.ledger_entries e JOIN dsx.currencies c ON c.currency = e.currency
              WHERE e.agreement = s.agreement AND e.period_start = s.period_start ORDER BY e.txn_id, e.entry_no LOOP
        IF n = 0 THEN
            out := out || format('Ledger, transaction %s (debits positive, credits negative)', r.txn_id);
        END IF;
        out := out || format('  %3s %-56s %-4s %*s', r.entry_no, r.account, r.currency, w + 12, round(r.amount, r.minor_units));
        n := n + 1;
    END LOOP;
    IF n = 0 THEN
        out := out || 'Ledger: not shown to this role'::text;
    END IF;
    out := out || ''::text
               || format('gross %s = costs paid %s + debt service paid from cash %s + reserve topped up %s - released %s'
                         ' + vendor repaid %s + trapped %s - released %s + shares %s',
                         round(s.gross, mu), round(s.opex_paid, mu), round(s.debt_service_paid, mu), round(s.reserve_topup, mu),
                         round(s.reserve_released, mu), round(s.support_repaid, mu), round(s.lockup_trapped, mu),
                         round(s.lockup_released, mu), round(s.distributable, mu));
    RETURN array_to_string(out, E'\n') || E'\n';
END
$$;
COMMENT ON FUNCTION dsx.statement_report(text, date) IS 'One settled statement as plain text for people: its lines per customer and model (adjustments naming their period), the waterfall step by step, each facility''s debt service, the shares and the ledger transaction, as the caller may see them (row-level security applies; a statement it may not see is reported missing, P0002)';
