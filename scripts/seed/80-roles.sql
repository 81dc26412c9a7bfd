-- Seed scenario, part 80: demo login roles, one per party that reads dsx from a BI tool:
-- each partner's finance team sees its own rows only, the vendor's sees its portfolio
-- across partners (dsx.grant_partner, dsx.grant_vendor; see docs/access.md); an auditor
-- reads everything and writes nothing; each factory's meter loads its own usage only
-- (dsx.grant_loader). The mapped roles find the views by name (dsx.grant_* give them the
-- search_path "$user", public, dsx in this database). Roles are
-- cluster-wide, so they are created only when missing; the demo cluster trusts local
-- connections, a real one would give them passwords (or certificates).
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['sharon_ai_finance', 'firmus_finance', 'nvidia_finance', 'audit_team',
                             'sharon_ai_meter', 'firmus_meter'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        END IF;
    END LOOP;
    PERFORM dsx.grant_partner('sharon_ai_finance', 'sharon-ai');
    PERFORM dsx.grant_partner('firmus_finance', 'firmus');
    PERFORM dsx.grant_vendor('nvidia_finance', 'nvidia');
    PERFORM dsx.grant_loader('sharon_ai_meter', 'sharon-ai-gb300');
    PERFORM dsx.grant_loader('firmus_meter', 'firmus-batam');
    PERFORM dsx.grant_auditor('audit_team');
END
$$;

\pset footer off
\echo
\echo '== Roles mapped to parties (dsx.partner_roles, dsx.vendor_roles) =='
SELECT role, partner AS party, 'partner' AS sees FROM dsx.partner_roles
UNION ALL
SELECT role, vendor, 'vendor portfolio' FROM dsx.vendor_roles
UNION ALL
SELECT role, factory, 'loads the usage of this factory' FROM dsx.loader_roles
UNION ALL
SELECT 'audit_team', 'everything', 'auditor: reads every table and the history, writes nothing'
ORDER BY 1;
