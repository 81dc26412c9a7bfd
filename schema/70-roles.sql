-- schema/70-roles.sql — the group roles (created when missing, cluster-wide) and who is who.

-- Who is who:
--   the extension owner   creates the extension; owns every table, so row-level security
--                         does not apply to it (tables are not FORCEd): administration.
--   dsx_operator          configures (parties, factories, plans, agreements, facilities,
--                         role maps), loads and ingests usage for any factory, voids
--                         events, settles and schedules; sees every row. Writes derived
--                         data (events, rollups, books, logs, history) only through
--                         dsx's functions.
--   dsx_loader            loads usage: inserts into dsx.usage_inbox the rows of the
--                         factories dsx.grant_loader() maps it to, runs dsx.ingest() on
--                         them and sees those factories' usage; nothing else.
--   dsx_auditor           reads every table and view, the configuration history included,
--                         and may run dsx.verify_settlement; writes nothing.
--   dsx_partner           group of the login roles dsx.grant_partner() maps to a partner:
--                         reads that partner's rows only, writes nothing.
--   dsx_vendor            group of the login roles dsx.grant_vendor() maps to a vendor:
--                         reads the statements, credit support and factories of the
--                         vendor's agreements (not customer-level usage), writes nothing.
-- Roles are cluster-wide: they are created here when missing and kept when the extension
-- is dropped; a database that installs dsx later reuses them.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['dsx_operator', 'dsx_loader', 'dsx_partner', 'dsx_vendor', 'dsx_auditor'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by an install in another database
            END;
        END IF;
    END LOOP;
END
$$;

-- Operators map login roles to parties through dsx.grant_partner()/dsx.grant_vendor(), and
-- loaders to factories through dsx.grant_loader(), which grant these groups: they need the ADMIN OPTION on them (PostgreSQL 15 gives it
-- only with membership, which adds nothing: an operator already reads every row). Granted
-- once per cluster, so that a second install says nothing.
DO $$
DECLARE
    g text;
BEGIN
    FOREACH g IN ARRAY ARRAY['dsx_partner', 'dsx_vendor', 'dsx_loader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                        WHERE m.roleid = g::regrole AND m.member = 'dsx_operator'::regrole AND m.admin_option) THEN
            EXECUTE pg_catalog.format('GRANT %I TO dsx_operator WITH ADMIN OPTION', g);
        END IF;
    END LOOP;
END
$$;
