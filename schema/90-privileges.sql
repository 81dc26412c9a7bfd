-- schema/90-privileges.sql — privileges of every group on every table, view, sequence and
-- function.

/*
 * Privileges. PostgreSQL lets PUBLIC execute every new function: what writes (ingest,
 * settlement, scheduling, role maps) is kept for the owner and the groups below.
 */
REVOKE EXECUTE ON FUNCTION dsx.ingest(), dsx.ingest_rows(regclass, bigint, boolean), dsx.settle(text, date), dsx.settle_period(text[], date),
    dsx.settle_lock(text[], date), dsx.write_books(dsx.statements[], dsx.statement_lines[]),
    dsx.post_ledger(text[], date), dsx.run_due_settlements(), dsx.schedule_settlements(text), dsx.unschedule_settlements(),
    dsx.grant_partner(name, text), dsx.revoke_partner(name),
    dsx.grant_vendor(name, text), dsx.revoke_vendor(name), dsx.grant_role_check(name, text, text),
    dsx.map_role(name, text, text), dsx.unmap_role(name, text)
    FROM PUBLIC;

GRANT USAGE ON SCHEMA dsx TO dsx_operator, dsx_loader, dsx_partner, dsx_vendor;

-- partners and vendors: read, row-level security deciding which rows
GRANT SELECT ON dsx.currencies, dsx.parties, dsx.factories, dsx.price_plans, dsx.customer_plans,
    dsx.agreements, dsx.credit_facilities, dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts,
    dsx.statements, dsx.statement_lines, dsx.statement_shares, dsx.ledger_entries,
    dsx.partner_roles, dsx.vendor_roles, dsx.facility_position,
    dsx.partner_statements, dsx.partner_usage_daily, dsx.credit_support_position, dsx.vendor_portfolio
    TO dsx_partner, dsx_vendor;

-- loaders: the inbox, and what dsx.ingest() does with the caller's rights
GRANT SELECT, INSERT, DELETE, TRUNCATE ON dsx.usage_inbox TO dsx_loader, dsx_operator;
GRANT SELECT, INSERT ON dsx.usage_events, dsx.ingest_log TO dsx_loader, dsx_operator;
GRANT SELECT, INSERT, UPDATE ON dsx.usage_daily, dsx.usage_conflicts TO dsx_loader, dsx_operator;
GRANT SELECT ON dsx.factories TO dsx_loader;
GRANT USAGE, SELECT ON SEQUENCE dsx.ingest_batch_seq, dsx.usage_conflicts_conflict_id_seq TO dsx_loader, dsx_operator;
GRANT EXECUTE ON FUNCTION dsx.ingest(), dsx.ingest_rows(regclass, bigint, boolean) TO dsx_loader, dsx_operator;

-- operators: configuration, settlement (statements and ledger are append-only anyway)
GRANT SELECT, INSERT, UPDATE, DELETE ON dsx.currencies, dsx.parties, dsx.factories, dsx.price_plans,
    dsx.customer_plans, dsx.agreements, dsx.credit_facilities, dsx.partner_roles, dsx.vendor_roles
    TO dsx_operator;
-- settlement writes statements, lines, shares and the ledger; SELECT and INSERT on every
-- table and sequence of the schema, so that what settlement comes to use is covered
DO $$
DECLARE
    r regclass;
BEGIN
    FOR r IN SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('r', 'p') LOOP
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT ON %s TO dsx_operator', r);
    END LOOP;
    FOR r IN SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'S' LOOP
        EXECUTE pg_catalog.format('GRANT USAGE, SELECT ON SEQUENCE %s TO dsx_operator', r);
    END LOOP;
END
$$;
GRANT SELECT ON dsx.facility_position, dsx.partner_statements, dsx.partner_usage_daily,
    dsx.credit_support_position, dsx.vendor_portfolio TO dsx_operator;
GRANT EXECUTE ON FUNCTION dsx.settle(text, date), dsx.settle_period(text[], date),
    dsx.settle_lock(text[], date), dsx.write_books(dsx.statements[], dsx.statement_lines[]),
    dsx.post_ledger(text[], date), dsx.run_due_settlements(), dsx.schedule_settlements(text), dsx.unschedule_settlements(),
    dsx.grant_partner(name, text), dsx.revoke_partner(name),
    dsx.grant_vendor(name, text), dsx.revoke_vendor(name), dsx.grant_role_check(name, text, text),
    dsx.map_role(name, text, text), dsx.unmap_role(name, text)
    TO dsx_operator;
