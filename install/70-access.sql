-- dsx 1.0 — part 70: what each party sees. Group roles, the role-to-party maps, row-level
-- security on every table a partner or vendor can read, privileges, and the views BI tools
-- query (dsx.partner_statements, dsx.partner_usage_daily, dsx.credit_support_position,
-- dsx.vendor_portfolio).
--
-- Who is who:
--   the extension owner   creates the extension; owns every table, so row-level security
--                         does not apply to it (tables are not FORCEd): administration.
--   dsx_operator          configures (parties, factories, plans, agreements, facilities,
--                         role maps), ingests, settles and schedules; sees every row.
--   dsx_loader            loads usage: writes dsx.usage_inbox and runs dsx.ingest().
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
    FOREACH r IN ARRAY ARRAY['dsx_operator', 'dsx_loader', 'dsx_partner', 'dsx_vendor'] LOOP
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

-- Operators map login roles to parties through dsx.grant_partner()/dsx.grant_vendor(),
-- which grant these groups: they need the ADMIN OPTION on them (PostgreSQL 15 gives it
-- only with membership, which adds nothing: an operator already reads every row). Granted
-- once per cluster, so that a second install says nothing.
DO $$
DECLARE
    g text;
BEGIN
    FOREACH g IN ARRAY ARRAY['dsx_partner', 'dsx_vendor'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                        WHERE m.roleid = g::regrole AND m.member = 'dsx_operator'::regrole AND m.admin_option) THEN
            EXECUTE pg_catalog.format('GRANT %I TO dsx_operator WITH ADMIN OPTION', g);
        END IF;
    END LOOP;
END
$$;

CREATE TABLE dsx.partner_roles (
    role       name PRIMARY KEY,
    partner    text NOT NULL REFERENCES dsx.parties,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE dsx.partner_roles IS 'Database roles mapped to a partner by dsx.grant_partner(): the role, its members and whoever SET ROLEs to it see that partner''s rows';
COMMENT ON COLUMN dsx.partner_roles.role IS 'Role name (a login role, or a group whose members inherit the mapping)';
COMMENT ON COLUMN dsx.partner_roles.partner IS 'The partner (a party of kind partner) whose rows the role sees';
COMMENT ON COLUMN dsx.partner_roles.granted_at IS 'When the mapping was made';
COMMENT ON COLUMN dsx.partner_roles.granted_by IS 'Role that made it';

CREATE TABLE dsx.vendor_roles (
    role       name PRIMARY KEY,
    vendor     text NOT NULL REFERENCES dsx.parties,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE dsx.vendor_roles IS 'Database roles mapped to a vendor by dsx.grant_vendor(): the role sees the agreements of that vendor across partners (statements, credit support, factories; not customer-level usage)';
COMMENT ON COLUMN dsx.vendor_roles.role IS 'Role name';
COMMENT ON COLUMN dsx.vendor_roles.vendor IS 'The vendor (a party of kind vendor) whose agreements the role sees';
COMMENT ON COLUMN dsx.vendor_roles.granted_at IS 'When the mapping was made';
COMMENT ON COLUMN dsx.vendor_roles.granted_by IS 'Role that made it';

SELECT pg_catalog.pg_extension_config_dump('dsx.partner_roles', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.vendor_roles', '');
-- Rows loaded but not yet ingested are user data too, and so is the position of the
-- identity behind dsx.usage_conflicts: a restored database must carry on numbering.
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_inbox', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.usage_conflicts_conflict_id_seq', '');

/*
 * Whose rows the current role sees. These run with the caller's rights (a policy is
 * evaluated as the querying role) and decide from the maps and pg_has_role alone: a
 * caller's search_path, temporary objects or own rows change nothing, since every name is
 * qualified and the search_path pinned. Policies call them as (SELECT f()): once a query.
 */
CREATE FUNCTION dsx.current_partners() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(DISTINCT r.partner), '{}'::text[])
      FROM dsx.partner_roles r
      JOIN pg_catalog.pg_roles g ON g.rolname OPERATOR(pg_catalog.=) r.role
     WHERE pg_catalog.pg_has_role(g.oid, 'USAGE')
$$;
COMMENT ON FUNCTION dsx.current_partners() IS 'Partners whose rows the current role sees: those dsx.partner_roles maps to a role whose privileges it has (itself, or a group it inherits from)';

CREATE FUNCTION dsx.current_vendors() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(DISTINCT r.vendor), '{}'::text[])
      FROM dsx.vendor_roles r
      JOIN pg_catalog.pg_roles g ON g.rolname OPERATOR(pg_catalog.=) r.role
     WHERE pg_catalog.pg_has_role(g.oid, 'USAGE')
$$;
COMMENT ON FUNCTION dsx.current_vendors() IS 'Vendors whose agreements the current role sees: those dsx.vendor_roles maps to a role whose privileges it has';

CREATE FUNCTION dsx.current_factories() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(f.factory), '{}'::text[])
      FROM dsx.factories f
     WHERE f.partner OPERATOR(pg_catalog.=) ANY ((SELECT dsx.current_partners())::text[])
$$;
COMMENT ON FUNCTION dsx.current_factories() IS 'Factories of the current role''s partners: whose usage, customers and plans it sees';

CREATE FUNCTION dsx.current_agreements(with_vendor boolean DEFAULT true) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(a.agreement), '{}'::text[])
      FROM dsx.agreements a
     WHERE a.partner OPERATOR(pg_catalog.=) ANY ((SELECT dsx.current_partners())::text[])
        OR (with_vendor AND a.vendor OPERATOR(pg_catalog.=) ANY ((SELECT dsx.current_vendors())::text[]))
$$;
COMMENT ON FUNCTION dsx.current_agreements(boolean) IS 'Agreements the current role sees: those of its partners and, when with_vendor, those of its vendors';

/*
 * Mapping roles to parties. Run by the extension owner or a member of dsx_operator (who
 * holds the ADMIN OPTION on dsx_partner and dsx_vendor); with the caller's rights.
 */
CREATE FUNCTION dsx.grant_role_check(role name, party text, kind text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
BEGIN
    IF role IS NULL OR party IS NULL THEN
        RAISE EXCEPTION 'a role and a % are needed', kind USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create the login role first, e.g. CREATE ROLE ... LOGIN PASSWORD ...';
    END IF;
    IF role IN ('dsx_operator', 'dsx_loader', 'dsx_partner', 'dsx_vendor') THEN
        RAISE EXCEPTION 'role "%" is one of dsx''s own groups and cannot be mapped to a party', role
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
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

CREATE FUNCTION dsx.grant_partner(role name, partner text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mapped text;
BEGIN
    PERFORM dsx.grant_role_check(role, partner, 'partner');
    SELECT r.partner INTO mapped FROM dsx.partner_roles r WHERE r.role = grant_partner.role FOR UPDATE;
    IF FOUND AND mapped <> partner THEN
        RAISE EXCEPTION 'role "%" is already mapped to partner "%"', role, mapped
            USING ERRCODE = 'unique_violation',
                  HINT = 'Call dsx.revoke_partner() first: a role sees one partner.';
    END IF;
    IF NOT FOUND THEN
        INSERT INTO dsx.partner_roles (role, partner) VALUES (role, partner);
    END IF;
    -- also when already mapped: after a restore into another cluster only the map came back
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                    WHERE m.roleid = 'dsx_partner'::regrole AND m.member = (SELECT g.oid FROM pg_catalog.pg_roles g WHERE g.rolname = role)) THEN
        EXECUTE pg_catalog.format('GRANT dsx_partner TO %I', role);
    END IF;
    RETURN mapped IS NULL;
END
$$;
COMMENT ON FUNCTION dsx.grant_partner(name, text) IS 'Map a role to a partner and make it a member of dsx_partner: it can then read that partner''s rows through the views and tables, and nothing else; true when newly mapped, false when it already was (the membership is granted again). For the extension owner and dsx_operator';

CREATE FUNCTION dsx.revoke_partner(role name) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM dsx.partner_roles r WHERE r.role = revoke_partner.role;
    IF NOT FOUND THEN
        RAISE NOTICE 'role "%" is not mapped to a partner', role;
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = role)
       AND pg_catalog.pg_has_role(role, 'dsx_partner', 'MEMBER') THEN
        EXECUTE pg_catalog.format('REVOKE dsx_partner FROM %I', role);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION dsx.revoke_partner(name) IS 'Remove a role''s partner mapping and its membership of dsx_partner; false (and says so) when it had none. Revoke before dropping a role: the map is kept by name';

CREATE FUNCTION dsx.grant_vendor(role name, vendor text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mapped text;
BEGIN
    PERFORM dsx.grant_role_check(role, vendor, 'vendor');
    SELECT r.vendor INTO mapped FROM dsx.vendor_roles r WHERE r.role = grant_vendor.role FOR UPDATE;
    IF FOUND AND mapped <> vendor THEN
        RAISE EXCEPTION 'role "%" is already mapped to vendor "%"', role, mapped
            USING ERRCODE = 'unique_violation',
                  HINT = 'Call dsx.revoke_vendor() first: a role sees one vendor.';
    END IF;
    IF NOT FOUND THEN
        INSERT INTO dsx.vendor_roles (role, vendor) VALUES (role, vendor);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                    WHERE m.roleid = 'dsx_vendor'::regrole AND m.member = (SELECT g.oid FROM pg_catalog.pg_roles g WHERE g.rolname = role)) THEN
        EXECUTE pg_catalog.format('GRANT dsx_vendor TO %I', role);
    END IF;
    RETURN mapped IS NULL;
END
$$;
COMMENT ON FUNCTION dsx.grant_vendor(name, text) IS 'Map a role to a vendor and make it a member of dsx_vendor: it can then read the vendor''s agreements across partners (dsx.vendor_portfolio, statements, credit support), and nothing else; true when newly mapped. For the extension owner and dsx_operator';

CREATE FUNCTION dsx.revoke_vendor(role name) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM dsx.vendor_roles r WHERE r.role = revoke_vendor.role;
    IF NOT FOUND THEN
        RAISE NOTICE 'role "%" is not mapped to a vendor', role;
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = role)
       AND pg_catalog.pg_has_role(role, 'dsx_vendor', 'MEMBER') THEN
        EXECUTE pg_catalog.format('REVOKE dsx_vendor FROM %I', role);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION dsx.revoke_vendor(name) IS 'Remove a role''s vendor mapping and its membership of dsx_vendor; false (and says so) when it had none';

/*
 * Row-level security. Two permissive policies on each table a partner or vendor can read:
 * dsx_staff lets dsx_operator and dsx_loader see and write every row (their table
 * privileges decide what they may do), dsx_read lets dsx_partner and dsx_vendor members
 * read the rows of their parties. Any other role sees no row even if granted SELECT.
 */
ALTER TABLE dsx.parties ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.factories ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.price_plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.customer_plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.agreements ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.credit_facilities ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.usage_conflicts ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statements ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statement_lines ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.statement_shares ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.ledger_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.partner_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE dsx.vendor_roles ENABLE ROW LEVEL SECURITY;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['parties', 'factories', 'price_plans', 'customer_plans', 'agreements',
                             'credit_facilities', 'usage_events', 'usage_daily', 'usage_conflicts',
                             'statements', 'statement_lines', 'statement_shares', 'ledger_entries',
                             'partner_roles', 'vendor_roles'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE POLICY dsx_staff ON dsx.%I FOR ALL TO dsx_operator, dsx_loader USING (true) WITH CHECK (true)', t);
        EXECUTE pg_catalog.format(
            'COMMENT ON POLICY dsx_staff ON dsx.%I IS %L', t,
            'dsx_operator and dsx_loader see every row; their privileges decide what they may write');
    END LOOP;
END
$$;

-- a partner sees itself, its counterparties and its customers; a vendor the parties of its agreements
CREATE POLICY dsx_read ON dsx.parties FOR SELECT TO dsx_partner, dsx_vendor USING (
    parties.party = ANY ((SELECT dsx.current_partners())::text[])
    OR parties.party = ANY ((SELECT dsx.current_vendors())::text[])
    OR EXISTS (SELECT 1 FROM dsx.agreements a WHERE parties.party IN (a.partner, a.vendor))
    OR EXISTS (SELECT 1 FROM dsx.credit_facilities f WHERE f.lender = parties.party)
    OR EXISTS (SELECT 1 FROM dsx.customer_plans c WHERE c.customer = parties.party)
    OR EXISTS (SELECT 1 FROM dsx.statement_shares s WHERE s.party = parties.party));
CREATE POLICY dsx_read ON dsx.factories FOR SELECT TO dsx_partner, dsx_vendor USING (
    factories.partner = ANY ((SELECT dsx.current_partners())::text[])
    OR EXISTS (SELECT 1 FROM dsx.agreements a
                WHERE a.factory = factories.factory AND a.vendor = ANY ((SELECT dsx.current_vendors())::text[])));
CREATE POLICY dsx_read ON dsx.price_plans FOR SELECT TO dsx_partner, dsx_vendor USING (
    EXISTS (SELECT 1 FROM dsx.customer_plans c
             WHERE c.plan = price_plans.plan AND c.factory = ANY ((SELECT dsx.current_factories())::text[])));
CREATE POLICY dsx_read ON dsx.customer_plans FOR SELECT TO dsx_partner, dsx_vendor
    USING (factory = ANY ((SELECT dsx.current_factories())::text[]));
CREATE POLICY dsx_read ON dsx.usage_events FOR SELECT TO dsx_partner, dsx_vendor
    USING (factory = ANY ((SELECT dsx.current_factories())::text[]));
CREATE POLICY dsx_read ON dsx.usage_daily FOR SELECT TO dsx_partner, dsx_vendor
    USING (factory = ANY ((SELECT dsx.current_factories())::text[]));
CREATE POLICY dsx_read ON dsx.usage_conflicts FOR SELECT TO dsx_partner, dsx_vendor
    USING (factory = ANY ((SELECT dsx.current_factories())::text[]));
CREATE POLICY dsx_read ON dsx.agreements FOR SELECT TO dsx_partner, dsx_vendor
    USING (partner = ANY ((SELECT dsx.current_partners())::text[]) OR vendor = ANY ((SELECT dsx.current_vendors())::text[]));
CREATE POLICY dsx_read ON dsx.credit_facilities FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements())::text[]));
CREATE POLICY dsx_read ON dsx.statements FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements())::text[]));
CREATE POLICY dsx_read ON dsx.statement_lines FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements(false))::text[]));
CREATE POLICY dsx_read ON dsx.statement_shares FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements())::text[]));
CREATE POLICY dsx_read ON dsx.ledger_entries FOR SELECT TO dsx_partner, dsx_vendor
    USING (agreement = ANY ((SELECT dsx.current_agreements())::text[]));
CREATE POLICY dsx_read ON dsx.partner_roles FOR SELECT TO dsx_partner, dsx_vendor
    USING (role IN (SELECT g.rolname FROM pg_catalog.pg_roles g WHERE pg_catalog.pg_has_role(g.oid, 'USAGE')));
CREATE POLICY dsx_read ON dsx.vendor_roles FOR SELECT TO dsx_partner, dsx_vendor
    USING (role IN (SELECT g.rolname FROM pg_catalog.pg_roles g WHERE pg_catalog.pg_has_role(g.oid, 'USAGE')));

COMMENT ON POLICY dsx_read ON dsx.parties IS 'Partners and vendors see their own party, the parties of their agreements, their lenders, their customers and the parties sharing their revenue';
COMMENT ON POLICY dsx_read ON dsx.factories IS 'Partners see their factories; vendors the factories of their agreements';
COMMENT ON POLICY dsx_read ON dsx.price_plans IS 'Partners see the plans their customers are on';
COMMENT ON POLICY dsx_read ON dsx.customer_plans IS 'Partners see the plans of their factories'' customers';
COMMENT ON POLICY dsx_read ON dsx.usage_events IS 'Partners see the events of their factories; vendors see no customer-level usage';
COMMENT ON POLICY dsx_read ON dsx.usage_daily IS 'Partners see the daily usage of their factories; vendors see no customer-level usage';
COMMENT ON POLICY dsx_read ON dsx.usage_conflicts IS 'Partners see the conflicting events of their factories';
COMMENT ON POLICY dsx_read ON dsx.agreements IS 'Partners and vendors see their agreements';
COMMENT ON POLICY dsx_read ON dsx.credit_facilities IS 'Partners and vendors see the facilities of their agreements';
COMMENT ON POLICY dsx_read ON dsx.statements IS 'Partners and vendors see the statements of their agreements';
COMMENT ON POLICY dsx_read ON dsx.statement_lines IS 'Partners see the customer lines of their statements; vendors do not';
COMMENT ON POLICY dsx_read ON dsx.statement_shares IS 'Partners and vendors see the shares of their statements';
COMMENT ON POLICY dsx_read ON dsx.ledger_entries IS 'Partners and vendors see the ledger of their agreements';
COMMENT ON POLICY dsx_read ON dsx.partner_roles IS 'A role sees its own mappings';
COMMENT ON POLICY dsx_read ON dsx.vendor_roles IS 'A role sees its own mappings';

-- Principal of a facility still owed after the payments due before a date, on the schedule
-- settlement charges (amounts in the minor units of the agreement's currency).
CREATE FUNCTION dsx.facility_outstanding(facility text, as_of date) RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE((SELECT x.closing
                       FROM dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method,
                                         f.frequency, f.day_count, c.minor_units, f.grace_periods) x
                      WHERE x.due < $2
                      ORDER BY x.period DESC
                      LIMIT 1), f.principal)
      FROM dsx.credit_facilities f
      JOIN dsx.agreements a ON a.agreement = f.agreement
      JOIN dsx.factories fa ON fa.factory = a.factory
      JOIN dsx.currencies c ON c.currency = fa.currency
     WHERE f.facility = $1
$$;
COMMENT ON FUNCTION dsx.facility_outstanding(text, date) IS 'Principal of a credit facility still owed to the lender after the payments due before as_of (the closing balance of the last one; the principal before the first): the schedule settlement charges, in the minor units of the agreement''s currency. NULL for a facility the caller cannot see';

/*
 * The views. security_invoker: the querying role's privileges and row-level security
 * apply to the tables beneath. Only built-in column types (BI drivers do not know dsx's).
 */
CREATE VIEW dsx.partner_statements WITH (security_invoker = true) AS
SELECT a.partner, s.agreement, a.factory, a.vendor, s.period_start, s.period_end, s.currency,
       s.input_tokens, s.output_tokens, s.revenue, s.adjustments, s.gross,
       s.debt_service_due, s.debt_service_paid, s.support_opening, s.support_drawn,
       s.support_interest, s.support_repaid, s.support_balance, s.distributable,
       s.vendor_share, s.partner_share,
       s.distributable - s.vendor_share - s.partner_share AS other_shares,
       s.settled_at
  FROM dsx.statements s
  JOIN dsx.agreements a ON a.agreement = s.agreement;
COMMENT ON VIEW dsx.partner_statements IS 'One row per agreement and settled monthly period: every figure of the waterfall (SPEC section 6), in the factory''s currency. gross = debt_service_paid + support_repaid + distributable; distributable = vendor_share + partner_share + other_shares';
COMMENT ON COLUMN dsx.partner_statements.partner IS 'The capital partner running the factory';
COMMENT ON COLUMN dsx.partner_statements.agreement IS 'Agreement settled';
COMMENT ON COLUMN dsx.partner_statements.factory IS 'The agreement''s factory';
COMMENT ON COLUMN dsx.partner_statements.vendor IS 'The vendor taking a revenue share and giving credit support';
COMMENT ON COLUMN dsx.partner_statements.period_start IS 'First day of the settled month (UTC)';
COMMENT ON COLUMN dsx.partner_statements.period_end IS 'First day of the next month: the period is [period_start, period_end)';
COMMENT ON COLUMN dsx.partner_statements.currency IS 'ISO 4217 currency of every amount in the row';
COMMENT ON COLUMN dsx.partner_statements.input_tokens IS 'Input tokens served in the period (its own lines, late usage excluded)';
COMMENT ON COLUMN dsx.partner_statements.output_tokens IS 'Output tokens served in the period (its own lines, late usage excluded)';
COMMENT ON COLUMN dsx.partner_statements.revenue IS 'Sum of the period''s rated customer lines, each rounded once to the minor unit';
COMMENT ON COLUMN dsx.partner_statements.adjustments IS 'Late usage of earlier, closed periods, re-rated: the difference from what was settled then';
COMMENT ON COLUMN dsx.partner_statements.gross IS 'revenue + adjustments';
COMMENT ON COLUMN dsx.partner_statements.debt_service_due IS 'Credit facility payments due in the period';
COMMENT ON COLUMN dsx.partner_statements.debt_service_paid IS 'Part of the debt service paid from gross: min(max(gross, 0), debt_service_due)';
COMMENT ON COLUMN dsx.partner_statements.support_opening IS 'Credit support owed to the vendor at the start of the period';
COMMENT ON COLUMN dsx.partner_statements.support_drawn IS 'Debt service shortfall the vendor''s credit support paid to the lender in the period';
COMMENT ON COLUMN dsx.partner_statements.support_interest IS 'Interest on the opening credit support balance, at the facility rate and day count';
COMMENT ON COLUMN dsx.partner_statements.support_repaid IS 'Repaid to the vendor from what remained after debt service, interest first';
COMMENT ON COLUMN dsx.partner_statements.support_balance IS 'Credit support owed to the vendor at the end of the period';
COMMENT ON COLUMN dsx.partner_statements.distributable IS 'gross - debt_service_paid - support_repaid: what the revenue split divides (negative: a claw-back)';
COMMENT ON COLUMN dsx.partner_statements.vendor_share IS 'The vendor''s part of the distributable amount';
COMMENT ON COLUMN dsx.partner_statements.partner_share IS 'The partner''s part of the distributable amount';
COMMENT ON COLUMN dsx.partner_statements.other_shares IS 'Parts of further parties the split names (0 for a vendor/partner split); their detail is in dsx.statement_shares';
COMMENT ON COLUMN dsx.partner_statements.settled_at IS 'When the period was settled; the row never changes afterwards';

CREATE VIEW dsx.partner_usage_daily WITH (security_invoker = true) AS
SELECT f.partner, d.factory, d.customer, d.model, d.day, f.currency,
       d.events, d.input_tokens, d.output_tokens, d.input_tokens + d.output_tokens AS total_tokens,
       CASE WHEN pp.plan IS NOT NULL THEN
              dsx.charge(d.month_input, pp.input_price) + dsx.charge(d.month_output, pp.output_price)
            - dsx.charge(d.month_input - d.input_tokens, pp.input_price)
            - dsx.charge(d.month_output - d.output_tokens, pp.output_price)
       END AS revenue
  FROM (SELECT u.factory, u.customer, u.model, u.day, u.events, u.input_tokens, u.output_tokens,
               (pg_catalog.sum(u.input_tokens) OVER w)::bigint AS month_input,
               (pg_catalog.sum(u.output_tokens) OVER w)::bigint AS month_output
          FROM (SELECT x.factory, x.customer, x.model, x.day, dsx.events(x.usage) AS events,
                       dsx.input_tokens(x.usage) AS input_tokens, dsx.output_tokens(x.usage) AS output_tokens
                  FROM dsx.usage_daily x) u
        WINDOW w AS (PARTITION BY u.factory, u.customer, u.model, pg_catalog.date_trunc('month', u.day::timestamp)
                     ORDER BY u.day)) d
  JOIN dsx.factories f ON f.factory = d.factory
  LEFT JOIN dsx.customer_plans cp ON cp.customer = d.customer AND cp.factory = d.factory
  LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = d.model;
COMMENT ON VIEW dsx.partner_usage_daily IS 'One row per factory, customer, model and UTC day of usage, with the revenue the day added to the month; live: late usage shows as soon as it is ingested. Settled figures are in dsx.partner_statements';
COMMENT ON COLUMN dsx.partner_usage_daily.partner IS 'The capital partner running the factory';
COMMENT ON COLUMN dsx.partner_usage_daily.factory IS 'Factory that served the tokens';
COMMENT ON COLUMN dsx.partner_usage_daily.customer IS 'Customer the tokens are billed to';
COMMENT ON COLUMN dsx.partner_usage_daily.model IS 'Model that served them';
COMMENT ON COLUMN dsx.partner_usage_daily.day IS 'UTC calendar day';
COMMENT ON COLUMN dsx.partner_usage_daily.currency IS 'ISO 4217 currency of revenue (the factory''s)';
COMMENT ON COLUMN dsx.partner_usage_daily.events IS 'Usage events of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.input_tokens IS 'Input tokens of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.output_tokens IS 'Output tokens of the day';
COMMENT ON COLUMN dsx.partner_usage_daily.total_tokens IS 'input_tokens + output_tokens';
COMMENT ON COLUMN dsx.partner_usage_daily.revenue IS 'What the day added to the month''s exact charge for this customer and model at the customer''s current plan: charge(month-to-date tokens through the day) - charge(through the day before), tiers counted on the month''s volume. Exact and unrounded: the days of a month add up to the month''s exact charge, which the statement line rounds once to the minor unit. Can be negative under volume tiers (a day that lifts the month into a cheaper tier). NULL when the customer has no plan or no price for the model';

CREATE VIEW dsx.credit_support_position WITH (security_invoker = true) AS
SELECT a.partner, s.agreement, a.vendor, f.facility, f.lender, s.period_start, s.period_end, s.currency,
       s.debt_service_due, s.debt_service_paid, s.support_opening, s.support_drawn,
       s.support_interest, s.support_repaid, s.support_balance,
       dsx.facility_outstanding(f.facility, s.period_end) AS loan_outstanding
  FROM dsx.statements s
  JOIN dsx.agreements a ON a.agreement = s.agreement
  JOIN dsx.credit_facilities f ON f.agreement = s.agreement;
COMMENT ON VIEW dsx.credit_support_position IS 'One row per settled period of every agreement with a credit facility: the debt service due and how it was paid, and the vendor''s credit support (drawn, interest, repaid, balance). support_balance = support_opening + support_interest + support_drawn - support_repaid';
COMMENT ON COLUMN dsx.credit_support_position.partner IS 'The capital partner whose factory the facility finances';
COMMENT ON COLUMN dsx.credit_support_position.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.credit_support_position.vendor IS 'The vendor giving credit support';
COMMENT ON COLUMN dsx.credit_support_position.facility IS 'The credit facility';
COMMENT ON COLUMN dsx.credit_support_position.lender IS 'The lender, always paid in full';
COMMENT ON COLUMN dsx.credit_support_position.period_start IS 'First day of the settled month (UTC)';
COMMENT ON COLUMN dsx.credit_support_position.period_end IS 'First day of the next month';
COMMENT ON COLUMN dsx.credit_support_position.currency IS 'ISO 4217 currency of every amount in the row';
COMMENT ON COLUMN dsx.credit_support_position.debt_service_due IS 'Facility payments (interest and principal) due in the period';
COMMENT ON COLUMN dsx.credit_support_position.debt_service_paid IS 'Part of the debt service paid from the period''s revenue';
COMMENT ON COLUMN dsx.credit_support_position.support_opening IS 'Credit support owed to the vendor at the start of the period';
COMMENT ON COLUMN dsx.credit_support_position.support_drawn IS 'Drawn on the vendor''s credit support to pay the lender: debt_service_due - debt_service_paid';
COMMENT ON COLUMN dsx.credit_support_position.support_interest IS 'Interest accrued on the opening balance';
COMMENT ON COLUMN dsx.credit_support_position.support_repaid IS 'Repaid to the vendor in the period, interest first';
COMMENT ON COLUMN dsx.credit_support_position.support_balance IS 'Credit support owed to the vendor at the end of the period';
COMMENT ON COLUMN dsx.credit_support_position.loan_outstanding IS 'Facility principal still owed to the lender after the payments due before period_end (the facility schedule''s closing balance)';

CREATE VIEW dsx.vendor_portfolio WITH (security_invoker = true) AS
SELECT a.vendor, a.partner, a.agreement, a.factory, fa.region, fa.gpus::bigint AS gpus, fa.power_mw,
       fa.currency, a.starts,
       COALESCE(t.periods_settled, 0) AS periods_settled, t.first_period, l.period_start AS last_period,
       COALESCE(t.revenue, 0) AS revenue,
       COALESCE(t.vendor_share, 0) AS vendor_share_earned,
       COALESCE(t.partner_share, 0) AS partner_share_earned,
       COALESCE(t.support_drawn, 0) AS support_drawn_total,
       COALESCE(t.support_interest, 0) AS support_interest_total,
       COALESCE(t.support_repaid, 0) AS support_repaid_total,
       COALESCE(l.support_balance, 0) AS support_balance,
       o.loan_outstanding,
       COALESCE(l.support_balance, 0) + COALESCE(o.loan_outstanding, 0) AS credit_exposure,
       l.input_tokens + l.output_tokens AS last_period_tokens,
       CASE WHEN fa.gpus > 0 AND l.period_start IS NOT NULL THEN
            pg_catalog.round((l.input_tokens + l.output_tokens)::numeric
                             / (fa.gpus::numeric * (l.period_end - l.period_start) * 24), 2)
       END AS utilisation
  FROM dsx.agreements a
  JOIN dsx.factories fa ON fa.factory = a.factory
  LEFT JOIN LATERAL (
       SELECT pg_catalog.count(*) AS periods_settled, pg_catalog.min(s.period_start) AS first_period,
              pg_catalog.sum(s.gross) AS revenue, pg_catalog.sum(s.vendor_share) AS vendor_share,
              pg_catalog.sum(s.partner_share) AS partner_share, pg_catalog.sum(s.support_drawn) AS support_drawn,
              pg_catalog.sum(s.support_interest) AS support_interest, pg_catalog.sum(s.support_repaid) AS support_repaid
         FROM dsx.statements s WHERE s.agreement = a.agreement) t ON true
  LEFT JOIN LATERAL (
       SELECT s.period_start, s.period_end, s.support_balance, s.input_tokens, s.output_tokens
         FROM dsx.statements s WHERE s.agreement = a.agreement
        ORDER BY s.period_start DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (
       SELECT dsx.facility_outstanding(f.facility, COALESCE(l.period_end, a.starts)) AS loan_outstanding
         FROM dsx.credit_facilities f
        WHERE f.agreement = a.agreement) o ON true;
COMMENT ON VIEW dsx.vendor_portfolio IS 'The vendor''s view across partners, one row per agreement: what it earned, its credit support exposure, and how busy each factory was in its last settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.vendor IS 'The vendor';
COMMENT ON COLUMN dsx.vendor_portfolio.partner IS 'The capital partner';
COMMENT ON COLUMN dsx.vendor_portfolio.agreement IS 'Agreement';
COMMENT ON COLUMN dsx.vendor_portfolio.factory IS 'The agreement''s factory';
COMMENT ON COLUMN dsx.vendor_portfolio.region IS 'Where the factory is';
COMMENT ON COLUMN dsx.vendor_portfolio.gpus IS 'GPUs installed in the factory';
COMMENT ON COLUMN dsx.vendor_portfolio.power_mw IS 'Factory power in megawatts';
COMMENT ON COLUMN dsx.vendor_portfolio.currency IS 'ISO 4217 currency of every amount in the row';
COMMENT ON COLUMN dsx.vendor_portfolio.starts IS 'First month the agreement settles';
COMMENT ON COLUMN dsx.vendor_portfolio.periods_settled IS 'Monthly periods settled so far';
COMMENT ON COLUMN dsx.vendor_portfolio.first_period IS 'First settled period (NULL before any)';
COMMENT ON COLUMN dsx.vendor_portfolio.last_period IS 'Latest settled period (NULL before any)';
COMMENT ON COLUMN dsx.vendor_portfolio.revenue IS 'Total gross revenue (revenue + adjustments) of the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.vendor_share_earned IS 'Total revenue share allocated to the vendor over the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.partner_share_earned IS 'Total revenue share allocated to the partner over the settled periods';
COMMENT ON COLUMN dsx.vendor_portfolio.support_drawn_total IS 'Total credit support the vendor paid to the lender';
COMMENT ON COLUMN dsx.vendor_portfolio.support_interest_total IS 'Total interest accrued on credit support';
COMMENT ON COLUMN dsx.vendor_portfolio.support_repaid_total IS 'Total repaid to the vendor';
COMMENT ON COLUMN dsx.vendor_portfolio.support_balance IS 'Credit support owed to the vendor after the latest settled period';
COMMENT ON COLUMN dsx.vendor_portfolio.loan_outstanding IS 'Facility principal still owed to the lender after the payments due before the end of the latest settled period (before the agreement starts when none is settled); NULL without a facility';
COMMENT ON COLUMN dsx.vendor_portfolio.credit_exposure IS 'support_balance + loan_outstanding: what the vendor is owed plus the principal it stands behind (future interest not included)';
COMMENT ON COLUMN dsx.vendor_portfolio.last_period_tokens IS 'Tokens (input + output) served in the latest settled period, late usage excluded';
COMMENT ON COLUMN dsx.vendor_portfolio.utilisation IS 'Tokens served per GPU-hour in the latest settled period: last_period_tokens / (gpus x hours in the period), rounded to 2 decimals; NULL before any settlement or without GPUs. A throughput measure, not a percentage: dsx does not know a GPU''s capacity';

/*
 * Privileges. PostgreSQL lets PUBLIC execute every new function: what writes (ingest,
 * settlement, scheduling, role maps) is kept for the owner and the groups below.
 */
REVOKE EXECUTE ON FUNCTION dsx.ingest(), dsx.settle(text, date), dsx.settle_period(text[], date),
    dsx.run_due_settlements(), dsx.schedule_settlements(text), dsx.unschedule_settlements(),
    dsx.grant_partner(name, text), dsx.revoke_partner(name),
    dsx.grant_vendor(name, text), dsx.revoke_vendor(name), dsx.grant_role_check(name, text, text)
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
GRANT EXECUTE ON FUNCTION dsx.ingest() TO dsx_loader, dsx_operator;

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
    dsx.run_due_settlements(), dsx.schedule_settlements(text), dsx.unschedule_settlements(),
    dsx.grant_partner(name, text), dsx.revoke_partner(name),
    dsx.grant_vendor(name, text), dsx.revoke_vendor(name), dsx.grant_role_check(name, text, text)
    TO dsx_operator;
