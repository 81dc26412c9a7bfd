-- schema/71-role-maps.sql — whose rows the current role sees, and mapping roles to parties
-- (dsx.grant_partner, dsx.grant_vendor and their revokes).

/*
 * Whose rows the current role sees: the parties, factories and agreements the policies
 * let it read (dsx.sees, below, is what the policies call). In C, reading the maps through
 * dsx.visible_keys with the owner's rights, once per query: a caller's search_path,
 * temporary objects or own rows change nothing, and they run on a Citus worker too, inside
 * a query on a shard. The keys come in byte order.
 */
CREATE OR REPLACE FUNCTION dsx.current_partners() RETURNS text[]
    AS 'MODULE_PATHNAME', 'dsx_current_partners' LANGUAGE C STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dsx.current_partners() IS 'Partners whose rows the current role sees: those dsx.partner_roles maps to a role whose privileges it has (itself, or a group it inherits from)';

CREATE OR REPLACE FUNCTION dsx.current_vendors() RETURNS text[]
    AS 'MODULE_PATHNAME', 'dsx_current_vendors' LANGUAGE C STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dsx.current_vendors() IS 'Vendors whose agreements the current role sees: those dsx.vendor_roles maps to a role whose privileges it has';

CREATE OR REPLACE FUNCTION dsx.current_factories() RETURNS text[]
    AS 'MODULE_PATHNAME', 'dsx_current_factories' LANGUAGE C STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dsx.current_factories() IS 'Factories of the current role''s partners: whose usage, customers and plans it sees';

CREATE OR REPLACE FUNCTION dsx.current_agreements(with_vendor boolean DEFAULT true) RETURNS text[]
    AS 'MODULE_PATHNAME', 'dsx_current_agreements' LANGUAGE C STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dsx.current_agreements(boolean) IS 'Agreements the current role sees: those of its partners and, when with_vendor, those of its vendors';

-- Factories the current role may load, see and ingest (for the inbox check, which runs as
-- the querying role); dsx.ingest(), which runs with the owner's rights, asks
-- dsx.visible_keys for the real login's.
CREATE OR REPLACE FUNCTION dsx.current_loader_factories() RETURNS text[]
    AS 'MODULE_PATHNAME', 'dsx_current_loader_factories' LANGUAGE C STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dsx.current_loader_factories() IS 'Factories the current role may load, see and ingest: those dsx.loader_roles maps to a role whose privileges it has (itself, or a group it inherits from)';

-- Whether a role acts for dsx as a whole: the extension's owner (or a superuser), or a
-- member of dsx_operator. Such a role loads and ingests any factory.
CREATE OR REPLACE FUNCTION dsx.is_staff(who name) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname OPERATOR(pg_catalog.=) who AND g.rolsuper)
        OR pg_catalog.pg_has_role(who, (SELECT c.relowner FROM pg_catalog.pg_class c
                                         WHERE c.oid OPERATOR(pg_catalog.=) 'dsx.usage_events'::pg_catalog.regclass), 'USAGE')
        OR pg_catalog.pg_has_role(who, 'dsx_operator', 'USAGE')
$$;
COMMENT ON FUNCTION dsx.is_staff(name) IS 'True for a superuser, the extension''s owner and members of dsx_operator: roles that load and ingest usage of any factory';

-- Whether a role may see an agreement's statements: staff and auditors see every
-- agreement; a partner's or vendor's roles those of their party (dsx.visible_keys, the rule
-- the policies use). What the functions that run with the owner's rights
-- (dsx.verify_settlement_as) ask, for the role the caller acts as, before they say anything
-- about an agreement; the owner's alone, like dsx.visible_keys.
CREATE OR REPLACE FUNCTION dsx.role_sees_agreement(who name, agreement text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT dsx.is_staff($1) OR pg_catalog.pg_has_role($1, 'dsx_auditor', 'USAGE')
        OR $2 OPERATOR(pg_catalog.=) ANY (dsx.visible_keys((SELECT g.oid FROM pg_catalog.pg_roles g
                                                             WHERE g.rolname OPERATOR(pg_catalog.=) $1), 'agreement'))
$$;
COMMENT ON FUNCTION dsx.role_sees_agreement(name, text) IS 'True when the role may see the agreement''s statements: staff, auditors, and the roles mapped to its partner or vendor (or whose privileges they have)';

-- Whether this session may act as a role: its login is the role or a member of it (so it
-- could SET ROLE to it). The functions that run with the owner's rights take the role the
-- caller acts as from their caller's-rights wrapper, and check this first.
CREATE OR REPLACE FUNCTION dsx.session_may_act_as(who name) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT $1 IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname OPERATOR(pg_catalog.=) $1)
       AND pg_catalog.pg_has_role(SESSION_USER, $1, 'MEMBER')
$$;
COMMENT ON FUNCTION dsx.session_may_act_as(name) IS 'True when the session''s login is the role or a member of it, so that it could act as it (SET ROLE)';

/*
 * What the row-level security policies ask: dsx.sees(kind, key), in C, is true when the
 * current role may see the rows of that key. A policy cannot hold a subquery on Citus (its
 * expression is evaluated on the worker that holds each shard), so it calls dsx.sees on
 * each row; the function computes the role's keys of the kind once per query, from
 * dsx.visible_keys run with the owner's rights (the tables it reads then apply no policy
 * that would call back), and answers the other rows from memory. dsx.visible_keys is the
 * owner's alone: it answers for any role.
 *
 *   kind               keys the role sees
 *   role               roles whose privileges it has (itself, the groups it inherits from)
 *   partner, vendor    the parties dsx.partner_roles / dsx.vendor_roles map those roles to
 *   factory            its partners' factories (their usage, customers and plans)
 *   seen_factory       those, and the factories of its vendors' agreements
 *   agreement          its partners' and vendors' agreements
 *   partner_agreement  its partners' agreements (the customer lines of their statements)
 *   plan               the plans its partners' customers are on
 *   party              its parties, their counterparties, lenders, customers and sharers
 *   loader_factory     the factories dsx.loader_roles maps its roles to
 */
CREATE OR REPLACE FUNCTION dsx.visible_keys(who oid, kind text) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    roles     name[];
    partners  text[];
    vendors   text[];
    factories text[];
    agrs      text[];
BEGIN
    roles := ARRAY(SELECT g.rolname FROM pg_catalog.pg_roles g WHERE pg_catalog.pg_has_role(who, g.oid, 'USAGE'));
    IF kind = 'role' THEN
        RETURN roles::text[];
    ELSIF kind = 'loader_factory' THEN
        RETURN ARRAY(SELECT DISTINCT r.factory FROM dsx.loader_roles r WHERE r.role = ANY (roles));
    END IF;
    partners := ARRAY(SELECT DISTINCT r.partner FROM dsx.partner_roles r WHERE r.role = ANY (roles));
    vendors := ARRAY(SELECT DISTINCT r.vendor FROM dsx.vendor_roles r WHERE r.role = ANY (roles));
    IF kind = 'partner' THEN
        RETURN partners;
    ELSIF kind = 'vendor' THEN
        RETURN vendors;
    END IF;
    factories := ARRAY(SELECT f.factory FROM dsx.factories f WHERE f.partner = ANY (partners));
    agrs := ARRAY(SELECT a.agreement FROM dsx.agreements a WHERE a.partner = ANY (partners) OR a.vendor = ANY (vendors));
    RETURN CASE kind
        WHEN 'factory' THEN factories
        WHEN 'seen_factory' THEN factories || ARRAY(SELECT a.factory FROM dsx.agreements a WHERE a.vendor = ANY (vendors))
        WHEN 'agreement' THEN agrs
        WHEN 'partner_agreement' THEN ARRAY(SELECT a.agreement FROM dsx.agreements a WHERE a.partner = ANY (partners))
        WHEN 'plan' THEN ARRAY(SELECT DISTINCT c.plan FROM dsx.customer_plans c WHERE c.factory = ANY (factories))
        WHEN 'party' THEN partners || vendors
            || ARRAY(SELECT p FROM dsx.agreements a, LATERAL (VALUES (a.partner), (a.vendor)) v(p) WHERE a.agreement = ANY (agrs))
            || ARRAY(SELECT f.lender FROM dsx.credit_facilities f WHERE f.agreement = ANY (agrs))
            || ARRAY(SELECT c.customer FROM dsx.customer_plans c WHERE c.factory = ANY (factories))
            || ARRAY(SELECT s.party FROM dsx.statement_shares s WHERE s.agreement = ANY (agrs))
        END;
    -- an unknown kind sees nothing (NULL)
END
$$;
COMMENT ON FUNCTION dsx.visible_keys(oid, text) IS 'The keys of a kind (role, partner, vendor, factory, seen_factory, agreement, partner_agreement, plan, party, loader_factory) whose rows a role sees; what dsx.sees computes once per query, with the owner''s rights. The owner''s alone';

CREATE OR REPLACE FUNCTION dsx.sees(kind text, key text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_sees' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION dsx.sees(text, text) IS 'True when the current role may see the rows of key (a party, factory, agreement, plan or role, by kind: see dsx.visible_keys); the test every row-level security policy makes, computed once per query';

/*
 * Mapping roles to parties. Run by the extension owner or a member of dsx_operator (who
 * holds the ADMIN OPTION on dsx_partner and dsx_vendor); with the caller's rights.
 */
-- The checks every mapping makes of the role: it exists (42704) and is not one of dsx's own
-- groups (22023).
CREATE OR REPLACE FUNCTION dsx.mappable_role_check(role name, what text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create the login role first, e.g. CREATE ROLE ... LOGIN PASSWORD ...';
    END IF;
    IF role IN ('dsx_operator', 'dsx_loader', 'dsx_partner', 'dsx_vendor', 'dsx_auditor') THEN
        RAISE EXCEPTION 'role "%" is one of dsx''s own groups and cannot be %', role, what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.mappable_role_check(name, text) IS 'What every mapping checks of a role (dsx.grant_role_check, dsx.grant_loader, dsx.grant_auditor): it exists (42704) and is not one of dsx''s groups (22023; what says what it cannot be)';

CREATE OR REPLACE FUNCTION dsx.grant_role_check(role name, party text, kind text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
BEGIN
    IF role IS NULL OR party IS NULL THEN
        RAISE EXCEPTION 'a role and a % are needed', kind USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM dsx.mappable_role_check(role, 'mapped to a party');
    SELECT p.kind INTO k FROM dsx.parties p WHERE p.party = grant_role_check.party;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown party "%"', party
            USING ERRCODE = 'foreign_key_violation', HINT = 'The parties are listed in dsx.parties.';
    END IF;
    IF k <> kind THEN
        RAISE EXCEPTION 'party "%" is a %, not a %', party, k, kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.grant_role_check(name, text, text) IS 'Validation shared by dsx.grant_partner and dsx.grant_vendor: the role exists and is not a dsx group, the party exists and is of the kind';

/*
 * BI tools name the views without a schema (partner_statements, not dsx.partner_statements)
 * and cannot be told where to look: a role mapped to a partner or a vendor, or made an
 * auditor, gets the search_path "$user", public, dsx in this database (ALTER ROLE ... IN
 * DATABASE ... SET, effective from its next login); when its last mapping goes, that
 * setting goes too (dsx cannot tell it from the same value set by hand). A role that
 * already has a search_path of its own, in this database or in all, keeps it (a NOTICE
 * says so); so does a superuser or a role with administrative rights (CREATEROLE,
 * REPLICATION, BYPASSRLS, PostgreSQL's pg_ roles), whose settings are not an operator's to
 * change. The value set is fixed, whatever the caller: the function runs with the owner's
 * rights for the owner and dsx_operator, who map roles. A mapped group's members log in as
 * themselves: the setting is the group's, and they name the views with their schema.
 */
CREATE OR REPLACE FUNCTION dsx.view_path(role name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ours       CONSTANT text := '"$user", public, dsx';
    r          oid;
    strong     boolean;
    mapped     boolean;
    here       text;           -- the role's search_path in this database
    everywhere text;           -- and in every database
BEGIN
    SELECT g.oid, g.rolsuper OR g.rolcreaterole OR g.rolreplication OR g.rolbypassrls OR g.rolname LIKE 'pg\_%'
      INTO r, strong
      FROM pg_catalog.pg_roles g WHERE g.rolname = view_path.role;
    IF r IS NULL THEN
        RETURN;
    END IF;
    -- only an ordinary role: the settings of a superuser, a role that creates roles, and
    -- the like are not the operator's (nor dsx's) to change
    IF strong THEN
        RAISE NOTICE 'the search_path of role "%" is left as it is (a superuser or a role with administrative rights): it names the views with their schema, dsx.', view_path.role;
        RETURN;
    END IF;
    mapped := EXISTS (SELECT 1 FROM dsx.partner_roles m WHERE m.role = view_path.role)
           OR EXISTS (SELECT 1 FROM dsx.vendor_roles m WHERE m.role = view_path.role)
           OR pg_catalog.pg_has_role(r, 'dsx_auditor', 'MEMBER');
    SELECT pg_catalog.max(pg_catalog.substr(c, 13)) FILTER (WHERE s.setdatabase <> 0),
           pg_catalog.max(pg_catalog.substr(c, 13)) FILTER (WHERE s.setdatabase = 0)
      INTO here, everywhere
      FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) c
     WHERE s.setrole = r AND c LIKE 'search\_path=%'
       AND s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database()));
    BEGIN
        IF mapped AND here IS NULL AND everywhere IS NULL THEN
            EXECUTE pg_catalog.format('ALTER ROLE %I IN DATABASE %I SET search_path = "$user", public, dsx',
                                      view_path.role, current_database());
        ELSIF mapped AND here IS DISTINCT FROM ours THEN
            RAISE NOTICE 'role "%" keeps its own search_path (%): it names the views with their schema, dsx.',
                  view_path.role, COALESCE(here, everywhere || ', in every database');
        ELSIF NOT mapped AND here = ours THEN
            EXECUTE pg_catalog.format('ALTER ROLE %I IN DATABASE %I RESET search_path', view_path.role, current_database());
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'the search_path of role "%" could not be set: it names the views with their schema, dsx.', view_path.role
            USING DETAIL = SQLERRM;
    END;
END
$$;
COMMENT ON FUNCTION dsx.view_path(name) IS 'Gives a role mapped to a partner or vendor, or an auditor, the search_path "$user", public, dsx in this database (from its next login), so that BI tools find the views by their names; takes it away with the last mapping. A role with a search_path of its own there keeps it';

-- Map a role to a party of the given kind (partner or vendor): one row in dsx.<kind>_roles
-- and membership of the group dsx_<kind>. The public grant_* and revoke_* functions below
-- are this, for one kind each.
CREATE OR REPLACE FUNCTION dsx.map_role(role name, party text, kind text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mapped text;
    grp    text := 'dsx_' || kind;
BEGIN
    PERFORM dsx.grant_role_check(role, party, kind);
    EXECUTE pg_catalog.format('SELECT r.%I FROM dsx.%I r WHERE r.role = $1 FOR UPDATE', kind, kind || '_roles')
       INTO mapped USING role;
    IF mapped IS NOT NULL AND mapped <> party THEN
        RAISE EXCEPTION 'role "%" is already mapped to % "%"', role, kind, mapped
            USING ERRCODE = 'unique_violation',
                  HINT = pg_catalog.format('Call dsx.revoke_%s() first: a role sees one %s.', kind, kind);
    END IF;
    IF mapped IS NULL THEN
        EXECUTE pg_catalog.format('INSERT INTO dsx.%I (role, %I) VALUES ($1, $2)', kind || '_roles', kind)
          USING role, party;
    END IF;
    -- also when already mapped: after a restore into another cluster only the map came back;
    -- and always on a Citus coordinator, which passes the grant on to workers that may lack it
    IF dsx.citus_node() = 'coordinator' OR NOT EXISTS (
           SELECT 1 FROM pg_catalog.pg_auth_members m
            WHERE m.roleid = grp::regrole
              AND m.member = (SELECT g.oid FROM pg_catalog.pg_roles g WHERE g.rolname = role)) THEN
        EXECUTE pg_catalog.format('GRANT %I TO %I', grp, role);
    END IF;
    PERFORM dsx.view_path(role);
    RETURN mapped IS NULL;
END
$$;
COMMENT ON FUNCTION dsx.map_role(name, text, text) IS 'Map a role to a party of kind partner or vendor (dsx.<kind>_roles) and make it a member of dsx_<kind>; true when newly mapped. What dsx.grant_partner and dsx.grant_vendor do';

CREATE OR REPLACE FUNCTION dsx.unmap_role(role name, kind text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grp  text := 'dsx_' || kind;
    gone integer;
BEGIN
    EXECUTE pg_catalog.format('DELETE FROM dsx.%I r WHERE r.role = $1', kind || '_roles') USING role;
    GET DIAGNOSTICS gone = ROW_COUNT;
    IF gone = 0 THEN
        RAISE NOTICE 'role "%" is not mapped to a %', role, kind;
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = role)
       AND pg_catalog.pg_has_role(role, grp, 'MEMBER') THEN
        EXECUTE pg_catalog.format('REVOKE %I FROM %I', grp, role);
    END IF;
    PERFORM dsx.view_path(role);
    RETURN true;
END
$$;
COMMENT ON FUNCTION dsx.unmap_role(name, text) IS 'Remove a role''s partner or vendor mapping and its membership of dsx_<kind>; false (and says so) when it had none. What dsx.revoke_partner and dsx.revoke_vendor do';

CREATE OR REPLACE FUNCTION dsx.grant_partner(role name, partner text) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.map_role(role, partner, 'partner') $$;
CREATE OR REPLACE FUNCTION dsx.revoke_partner(role name) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.unmap_role(role, 'partner') $$;
CREATE OR REPLACE FUNCTION dsx.grant_vendor(role name, vendor text) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.map_role(role, vendor, 'vendor') $$;
CREATE OR REPLACE FUNCTION dsx.revoke_vendor(role name) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.unmap_role(role, 'vendor') $$;
COMMENT ON FUNCTION dsx.grant_partner(name, text) IS 'Map a role to a partner and make it a member of dsx_partner: it can then read that partner''s rows through the views and tables, and nothing else; true when newly mapped, false when it already was (the membership is granted again). For the extension owner and dsx_operator';
COMMENT ON FUNCTION dsx.revoke_partner(name) IS 'Remove a role''s partner mapping and its membership of dsx_partner; false (and says so) when it had none. Revoke before dropping a role: the map is kept by name';
COMMENT ON FUNCTION dsx.grant_vendor(name, text) IS 'Map a role to a vendor and make it a member of dsx_vendor: it can then read the vendor''s agreements across partners (dsx.vendor_portfolio, statements, credit support), and nothing else; true when newly mapped. For the extension owner and dsx_operator';
COMMENT ON FUNCTION dsx.revoke_vendor(name) IS 'Remove a role''s vendor mapping and its membership of dsx_vendor; false (and says so) when it had none';

-- Auditors: membership of dsx_auditor, and the search_path that finds the views. For the
-- extension's owner (who administers dsx_auditor) or a superuser.
CREATE OR REPLACE FUNCTION dsx.grant_auditor(role name) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    was boolean;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'a role is needed' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM dsx.mappable_role_check(role, 'made an auditor');
    was := pg_catalog.pg_has_role(role, 'dsx_auditor', 'MEMBER');
    IF NOT was THEN
        EXECUTE pg_catalog.format('GRANT dsx_auditor TO %I', role);
    END IF;
    PERFORM dsx.view_path(role);
    RETURN NOT was;
END
$$;
COMMENT ON FUNCTION dsx.grant_auditor(name) IS 'Make a role an auditor (a member of dsx_auditor: it reads every table and view and writes nothing) with the search_path that finds the views; true when newly granted. For the extension owner';

CREATE OR REPLACE FUNCTION dsx.revoke_auditor(role name) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                    WHERE m.roleid = 'dsx_auditor'::regrole
                      AND m.member = (SELECT g.oid FROM pg_catalog.pg_roles g WHERE g.rolname = role)) THEN
        RAISE NOTICE 'role "%" is not an auditor', role;
        RETURN false;
    END IF;
    EXECUTE pg_catalog.format('REVOKE dsx_auditor FROM %I', role);
    PERFORM dsx.view_path(role);
    RETURN true;
END
$$;
COMMENT ON FUNCTION dsx.revoke_auditor(name) IS 'Take a role''s membership of dsx_auditor away, and the search_path dsx.grant_auditor gave it when no other mapping needs it; false (and says so) when it was no auditor';

-- Map a role to a factory it may load (one row of dsx.loader_roles per factory) and make it
-- a member of dsx_loader; revoking its last factory revokes the membership.
CREATE OR REPLACE FUNCTION dsx.grant_loader(role name, factory text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    added integer;
BEGIN
    IF role IS NULL OR factory IS NULL THEN
        RAISE EXCEPTION 'a role and a factory are needed' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM dsx.mappable_role_check(role, 'mapped to a factory');
    IF NOT EXISTS (SELECT 1 FROM dsx.factories f WHERE f.factory = grant_loader.factory) THEN
        RAISE EXCEPTION 'unknown factory "%"', factory
            USING ERRCODE = 'foreign_key_violation', HINT = 'The factories are listed in dsx.factories.';
    END IF;
    INSERT INTO dsx.loader_roles (role, factory) VALUES (grant_loader.role, grant_loader.factory)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    IF NOT pg_catalog.pg_has_role(role, 'dsx_loader', 'MEMBER') OR dsx.citus_node() = 'coordinator' THEN
        EXECUTE pg_catalog.format('GRANT dsx_loader TO %I', role);
    END IF;
    RETURN added = 1;
END
$$;
COMMENT ON FUNCTION dsx.grant_loader(name, text) IS 'Map a role to a factory whose usage it may load, see and ingest, and make it a member of dsx_loader; true when newly mapped. For the extension owner and dsx_operator';

CREATE OR REPLACE FUNCTION dsx.revoke_loader(role name, factory text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone integer;
BEGIN
    DELETE FROM dsx.loader_roles r WHERE r.role = revoke_loader.role AND r.factory = revoke_loader.factory;
    GET DIAGNOSTICS gone = ROW_COUNT;
    IF gone = 0 THEN
        RAISE NOTICE 'role "%" is not mapped to factory "%"', role, factory;
        RETURN false;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM dsx.loader_roles r WHERE r.role = revoke_loader.role)
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = role)
       AND pg_catalog.pg_has_role(role, 'dsx_loader', 'MEMBER') THEN
        EXECUTE pg_catalog.format('REVOKE dsx_loader FROM %I', role);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION dsx.revoke_loader(name, text) IS 'Remove a role''s mapping to a factory; with its last factory, its membership of dsx_loader goes too; false (and says so) when it had no such mapping';
