-- schema/72-row-security.sql — row-level security: the policies on every table a party can
-- read.

/*
 * Row-level security on every table but the currencies and the inbox (COPY refuses to run
 * under row-level security; the inbox is guarded by its trigger and by privileges). The
 * permissive policies: dsx_staff lets dsx_operator see and write every row (its table
 * privileges decide what it may write), dsx_audit lets dsx_auditor read every row,
 * dsx_load lets dsx_loader read the rows of its factories, dsx_read lets dsx_partner and
 * dsx_vendor members read the rows of their parties. Any other role sees no row even if
 * granted SELECT. dsx's own functions that write run as the owner, whom the policies do
 * not bind.
 */
-- The policies below are the whole set: dsx's own (named dsx_*) are dropped first, so that
-- an update recreates exactly these.
DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT pol.polname, pol.polrelid::regclass AS tab
               FROM pg_catalog.pg_policy pol
               JOIN pg_catalog.pg_class c ON c.oid = pol.polrelid
              WHERE c.relnamespace = 'dsx'::regnamespace AND pol.polname LIKE 'dsx\_%' LOOP
        EXECUTE pg_catalog.format('DROP POLICY %I ON %s', p.polname, p.tab);
    END LOOP;
END
$$;

ALTER TABLE dsx.parties ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.factories ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.price_plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.customer_plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.agreements ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.agreement_splits ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.credit_facilities ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_conflicts ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statements ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statement_lines ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statement_shares ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statement_debt ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statement_costs ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.operating_costs ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.energy_readings ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.ledger_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.partner_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.vendor_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.loader_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_voids ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.ingest_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.config_history ENABLE ROW LEVEL SECURITY;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['parties', 'factories', 'price_plans', 'customer_plans', 'agreements',
                             'agreement_splits', 'credit_facilities', 'operating_costs', 'energy_readings',
                             'usage_events', 'usage_daily', 'usage_conflicts',
                             'statements', 'statement_lines', 'statement_shares', 'statement_debt', 'statement_costs',
                             'ledger_entries', 'partner_roles', 'vendor_roles', 'loader_roles', 'usage_voids', 'ingest_log',
                             'config_history'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE POLICY dsx_staff ON dsx.%I FOR ALL TO dsx_operator USING (true) WITH CHECK (true)', t);
        EXECUTE pg_catalog.format(
            'COMMENT ON POLICY dsx_staff ON dsx.%I IS %L', t,
            'dsx_operator sees every row; its privileges decide what it may write');
        EXECUTE pg_catalog.format('CREATE POLICY dsx_audit ON dsx.%I FOR SELECT TO dsx_auditor USING (true)', t);
        EXECUTE pg_catalog.format('COMMENT ON POLICY dsx_audit ON dsx.%I IS %L', t, 'dsx_auditor reads every row');
    END LOOP;
    -- loaders: the usage of their factories, and the batches they ingested
    FOREACH t IN ARRAY ARRAY['factories', 'energy_readings', 'usage_events', 'usage_daily', 'usage_conflicts', 'usage_voids'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE POLICY dsx_load ON dsx.%I FOR SELECT TO dsx_loader USING (dsx.sees(''loader_factory'', factory))', t);
        EXECUTE pg_catalog.format('COMMENT ON POLICY dsx_load ON dsx.%I IS %L', t,
                                  'Loaders see the rows of the factories they are mapped to');
    END LOOP;
    -- partners and vendors: the usage of their partners' factories
    FOREACH t IN ARRAY ARRAY['customer_plans', 'usage_events', 'usage_daily', 'usage_voids', 'usage_conflicts'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE POLICY dsx_read ON dsx.%I FOR SELECT TO dsx_partner, dsx_vendor USING (dsx.sees(''factory'', factory))', t);
    END LOOP;
    -- and the books of their agreements
    FOREACH t IN ARRAY ARRAY['agreement_splits', 'credit_facilities', 'operating_costs', 'statements', 'statement_shares',
                             'statement_debt', 'statement_costs', 'ledger_entries'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE POLICY dsx_read ON dsx.%I FOR SELECT TO dsx_partner, dsx_vendor USING (dsx.sees(''agreement'', agreement))', t);
    END LOOP;
END
$$;
-- No policy holds a subquery: each calls dsx.sees, which a Citus worker can evaluate on
-- the shard it holds (and which computes the role's keys once per query).
CREATE POLICY dsx_load ON dsx.ingest_log FOR SELECT TO dsx_loader USING (ingested_by = SESSION_USER);
COMMENT ON POLICY dsx_load ON dsx.ingest_log IS 'Loaders see the batches their login ingested';
CREATE POLICY dsx_load ON dsx.loader_roles FOR SELECT TO dsx_loader USING (dsx.sees('role', role));
COMMENT ON POLICY dsx_load ON dsx.loader_roles IS 'A role sees its own mappings';

-- a partner sees itself, its counterparties and its customers; a vendor the parties of its agreements
CREATE POLICY dsx_read ON dsx.parties FOR SELECT TO dsx_partner, dsx_vendor USING (dsx.sees('party', party));
CREATE POLICY dsx_read ON dsx.factories FOR SELECT TO dsx_partner, dsx_vendor USING (dsx.sees('seen_factory', factory));
CREATE POLICY dsx_read ON dsx.energy_readings FOR SELECT TO dsx_partner, dsx_vendor USING (dsx.sees('seen_factory', factory));
CREATE POLICY dsx_read ON dsx.price_plans FOR SELECT TO dsx_partner, dsx_vendor USING (dsx.sees('plan', plan));
CREATE POLICY dsx_read ON dsx.agreements FOR SELECT TO dsx_partner, dsx_vendor
    USING (dsx.sees('partner', partner) OR dsx.sees('vendor', vendor));
CREATE POLICY dsx_read ON dsx.statement_lines FOR SELECT TO dsx_partner, dsx_vendor
    USING (dsx.sees('partner_agreement', agreement));
CREATE POLICY dsx_read ON dsx.partner_roles FOR SELECT TO dsx_partner, dsx_vendor USING (dsx.sees('role', role));
CREATE POLICY dsx_read ON dsx.vendor_roles FOR SELECT TO dsx_partner, dsx_vendor USING (dsx.sees('role', role));

COMMENT ON POLICY dsx_read ON dsx.parties IS 'Partners and vendors see their own party, the parties of their agreements, their lenders, their customers and the parties sharing their revenue';
COMMENT ON POLICY dsx_read ON dsx.factories IS 'Partners see their factories; vendors the factories of their agreements';
COMMENT ON POLICY dsx_read ON dsx.price_plans IS 'Partners see the plans their customers are on';
COMMENT ON POLICY dsx_read ON dsx.customer_plans IS 'Partners see the plans of their factories'' customers';
COMMENT ON POLICY dsx_read ON dsx.usage_events IS 'Partners see the events of their factories; vendors see no customer-level usage';
COMMENT ON POLICY dsx_read ON dsx.usage_daily IS 'Partners see the daily usage of their factories; vendors see no customer-level usage';
COMMENT ON POLICY dsx_read ON dsx.usage_conflicts IS 'Partners see the conflicting events of their factories';
COMMENT ON POLICY dsx_read ON dsx.agreements IS 'Partners and vendors see their agreements';
COMMENT ON POLICY dsx_read ON dsx.agreement_splits IS 'Partners and vendors see the split amendments of their agreements';
COMMENT ON POLICY dsx_read ON dsx.credit_facilities IS 'Partners and vendors see the facilities of their agreements';
COMMENT ON POLICY dsx_read ON dsx.statements IS 'Partners and vendors see the statements of their agreements';
COMMENT ON POLICY dsx_read ON dsx.statement_lines IS 'Partners see the customer lines of their statements; vendors do not';
COMMENT ON POLICY dsx_read ON dsx.statement_shares IS 'Partners and vendors see the shares of their statements';
COMMENT ON POLICY dsx_read ON dsx.statement_debt IS 'Partners and vendors see the debt service of their statements, facility by facility';
COMMENT ON POLICY dsx_read ON dsx.operating_costs IS 'Partners and vendors see the operating costs of their agreements';
COMMENT ON POLICY dsx_read ON dsx.energy_readings IS 'Partners see their factories'' metered energy; vendors that of their agreements'' factories';
COMMENT ON POLICY dsx_read ON dsx.statement_costs IS 'Partners and vendors see the costs of their statements';
COMMENT ON POLICY dsx_read ON dsx.ledger_entries IS 'Partners and vendors see the ledger of their agreements';
COMMENT ON POLICY dsx_read ON dsx.partner_roles IS 'A role sees its own mappings';
COMMENT ON POLICY dsx_read ON dsx.vendor_roles IS 'A role sees its own mappings';
COMMENT ON POLICY dsx_read ON dsx.usage_voids IS 'Partners see the voided events of their factories; vendors see no customer-level usage';
