-- schema/90-privileges.sql — privileges of every group on every table, view, sequence and
-- function.

/*
 * The whole matrix, from a clean slate: every privilege of dsx's groups on dsx's objects is
 * revoked first and granted below, so that an update leaves exactly these. Derived data
 * (events, rollup, conflicts, voids, the ingest log, the books, the history) is written by
 * nobody but the owner: dsx's functions that write it run with the owner's rights
 * (SECURITY DEFINER) and are executable only by the groups whose job they are.
 *
 *   role            writes                                  reads (row-level security decides which rows)
 *   dsx_operator    configuration tables, the inbox,       everything
 *                   energy (through dsx.load_energy)
 *   dsx_loader      the inbox (INSERT only, its factories)  its factories' usage and energy, its batches
 *                   and their energy (dsx.load_energy)
 *   dsx_partner     nothing                                 its rows, through views and tables
 *   dsx_vendor      nothing                                 its agreements' rows (no customer usage)
 *   dsx_auditor     nothing                                 everything, the history included
 */
REVOKE ALL ON ALL TABLES IN SCHEMA dsx FROM dsx_operator, dsx_loader, dsx_partner, dsx_vendor, dsx_auditor, PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA dsx FROM dsx_operator, dsx_loader, dsx_partner, dsx_vendor, dsx_auditor, PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA dsx FROM dsx_operator, dsx_loader, dsx_partner, dsx_vendor, dsx_auditor;

-- PostgreSQL lets PUBLIC execute every new function: what writes or reaches past row-level
-- security is kept for the owner and the groups below. The settlement steps and the bulk
-- step of ingest are the owner's alone: they run inside the functions that check.
REVOKE EXECUTE ON FUNCTION dsx.ingest(), dsx.ingest_rows(regclass, bigint, boolean),
    dsx.ingest_rows_into(regclass, regclass, regclass, regclass, regclass, regclass, bigint, bigint, boolean), dsx.ingest_shard(regclass, bigint, boolean, uuid), dsx.ingest_on_shards(bigint),
    dsx.settle(text, date), dsx.settle_period(text[], date),
    dsx.settle_lock(text[], date), dsx.write_books(dsx.statements[], dsx.statement_lines[], dsx.statement_debt[], dsx.statement_costs[], dsx.statement_shares[]),
    dsx.post_ledger(dsx.statements[], dsx.statement_debt[], dsx.statement_shares[]), dsx.run_due_settlements(), dsx.schedule_settlements(text), dsx.unschedule_settlements(),
    dsx.void_events(text, text[], text), dsx.verify_settlement(text, date),
    dsx.ingest_as(name), dsx.verify_settlement_as(name, text, date),
    dsx.grant_partner(name, text), dsx.revoke_partner(name),
    dsx.grant_vendor(name, text), dsx.revoke_vendor(name), dsx.grant_role_check(name, text, text),
    dsx.map_role(name, text, text), dsx.unmap_role(name, text),
    dsx.grant_loader(name, text), dsx.revoke_loader(name, text), dsx.record_config_change(),
    dsx.visible_keys(oid, text), dsx.role_sees_agreement(name, text), dsx.distribute(), dsx.citus_move(regclass, text), dsx.on_every_node(text),
    dsx.serialize_with_books(text), dsx.load_energy(text, date, numeric), dsx.load_energy_as(name, text, date, numeric),
    dsx.view_path(name), dsx.grant_auditor(name), dsx.revoke_auditor(name)
    FROM PUBLIC;

GRANT USAGE ON SCHEMA dsx TO dsx_operator, dsx_loader, dsx_partner, dsx_vendor, dsx_auditor;

-- partners and vendors: read, row-level security deciding which rows
GRANT SELECT ON dsx.currencies, dsx.parties, dsx.factories, dsx.price_plans, dsx.customer_plans,
    dsx.agreements, dsx.agreement_splits, dsx.fx_rates, dsx.price_versions, dsx.credit_facilities, dsx.operating_costs,
    dsx.energy_readings, dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts,
    dsx.usage_voids, dsx.statements, dsx.statement_lines, dsx.statement_shares, dsx.statement_debt, dsx.statement_costs,
    dsx.ledger_entries,
    dsx.partner_roles, dsx.vendor_roles, dsx.facility_position, dsx.prices_in_force,
    dsx.partner_statements, dsx.partner_usage_daily, dsx.partner_revenue_lines, dsx.credit_support_position,
    dsx.vendor_portfolio, dsx.vendor_stress
    TO dsx_partner, dsx_vendor;
GRANT EXECUTE ON FUNCTION dsx.verify_settlement(text, date), dsx.verify_settlement_as(name, text, date)
    TO dsx_partner, dsx_vendor;

-- loaders: insert into the inbox (the rows of their factories: dsx.inbox_check), ingest
-- them, and read what became of them
GRANT INSERT ON dsx.usage_inbox TO dsx_loader;
GRANT SELECT ON dsx.currencies, dsx.factories, dsx.usage_events, dsx.usage_daily, dsx.usage_conflicts,
    dsx.usage_voids, dsx.ingest_log, dsx.loader_roles, dsx.energy_readings TO dsx_loader;
GRANT EXECUTE ON FUNCTION dsx.ingest(), dsx.ingest_as(name), dsx.load_energy(text, date, numeric),
    dsx.load_energy_as(name, text, date, numeric) TO dsx_loader;

-- operators: configuration, the inbox, and everything else to read; the derived data
-- through dsx.ingest(), dsx.void_events() and settlement
GRANT SELECT, INSERT, UPDATE, DELETE ON dsx.currencies, dsx.parties, dsx.factories, dsx.price_plans,
    dsx.customer_plans, dsx.agreements, dsx.agreement_splits, dsx.credit_facilities, dsx.operating_costs, dsx.fx_rates,
    dsx.partner_roles, dsx.vendor_roles, dsx.loader_roles
    TO dsx_operator;
GRANT SELECT, INSERT, DELETE, TRUNCATE ON dsx.usage_inbox TO dsx_operator;
GRANT SELECT ON ALL TABLES IN SCHEMA dsx TO dsx_operator;
GRANT EXECUTE ON FUNCTION dsx.ingest(), dsx.ingest_as(name), dsx.load_energy(text, date, numeric),
    dsx.load_energy_as(name, text, date, numeric), dsx.void_events(text, text[], text),
    dsx.verify_settlement(text, date), dsx.verify_settlement_as(name, text, date),
    dsx.settle(text, date), dsx.settle_period(text[], date),
    dsx.run_due_settlements(), dsx.schedule_settlements(text), dsx.unschedule_settlements(),
    dsx.grant_partner(name, text), dsx.revoke_partner(name),
    dsx.grant_vendor(name, text), dsx.revoke_vendor(name), dsx.grant_role_check(name, text, text),
    dsx.map_role(name, text, text), dsx.unmap_role(name, text), dsx.view_path(name),
    dsx.grant_loader(name, text), dsx.revoke_loader(name, text),
    dsx.serialize_with_books(text)        -- the terms triggers hold settlement off with it
    TO dsx_operator;

-- auditors: read every table and view (the history included) and verify; write nothing
GRANT SELECT ON ALL TABLES IN SCHEMA dsx TO dsx_auditor;
GRANT EXECUTE ON FUNCTION dsx.verify_settlement(text, date), dsx.verify_settlement_as(name, text, date) TO dsx_auditor;
