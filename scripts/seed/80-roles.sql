-- Seed scenario, part 80: demo login roles, one per party that reads dsx from a BI tool:
-- each partner's finance team sees its own rows only, the vendor's sees its portfolio
-- across partners (dsx.grant_partner, dsx.grant_vendor; see docs/access.md). Roles are
-- cluster-wide, so they are created only when missing; the demo cluster trusts local
-- connections, a real one would give them passwords (or certificates).
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['sharon_ai_finance', 'firmus_finance', 'nvidia_finance'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        END IF;
    END LOOP;
    PERFORM dsx.grant_partner('sharon_ai_finance', 'sharon-ai');
    PERFORM dsx.grant_partner('firmus_finance', 'firmus');
    PERFORM dsx.grant_vendor('nvidia_finance', 'nvidia');
END
$$;

\pset footer off
\echo
\echo '== Roles mapped to parties (dsx.partner_roles, dsx.vendor_roles) =='
SELECT role, partner AS party, 'partner' AS sees FROM dsx.partner_roles
UNION ALL
SELECT role, vendor, 'vendor portfolio' FROM dsx.vendor_roles
ORDER BY 1;
