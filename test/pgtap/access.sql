-- pgTAP: who sees and may do what. Two partners with data, a vendor, an operator, a loader
-- and an attacker; for each role, each view and each table: the rows it sees; each write
-- refused (42501); settlement, ingest and the role maps closed to partners; a search_path
-- attack; and the catalogue checks (security_invoker views, built-in column types,
-- comments, row-level security, pinned search_path, config dump registration), each with
-- a control that plants the fault it looks for and shows the same query catching it.
BEGIN;
SELECT plan(241);
SET LOCAL timezone = 'UTC';

-- Run q as role r and return its single value; sqlstate_as returns the SQLSTATE q raised,
-- or 'ok' (and undoes q). pgTAP's own temporary tables belong to the superuser running
-- the test, so assertions are made as the superuser on what these return. path, when
-- given, is the search_path q runs with.
CREATE FUNCTION pg_temp.value_as(r name, q text, path text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v text;
    old text := current_setting('search_path');
BEGIN
    EXECUTE format('SET ROLE %I', r);
    IF path IS NOT NULL THEN PERFORM set_config('search_path', path, false); END IF;
    BEGIN
        EXECUTE q INTO v;
    EXCEPTION WHEN OTHERS THEN
        PERFORM set_config('search_path', old, false);
        RESET ROLE;
        RAISE;
    END;
    PERFORM set_config('search_path', old, false);
    RESET ROLE;
    RETURN v;
END
$$;
CREATE FUNCTION pg_temp.sqlstate_as(r name, q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text;
BEGIN
    EXECUTE format('SET ROLE %I', r);
    BEGIN
        EXECUTE q;
        st := 'ok';
        RAISE EXCEPTION 'undo' USING ERRCODE = 'P0099';
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE <> 'P0099' THEN st := SQLSTATE; END IF;
    END;
    RESET ROLE;
    RETURN st;
END
$$;

-- the scenario, as the superuser who owns the extension
INSERT INTO dsx.parties (party, kind, display_name) VALUES
    ('tap-vendor', 'vendor', 'Vendor'), ('tap-p1', 'partner', 'Partner one'),
    ('tap-p2', 'partner', 'Partner two'), ('tap-bank', 'lender', 'Bank'),
    ('tap-cust1', 'customer', 'Customer of one'), ('tap-cust2', 'customer', 'Customer of two');
INSERT INTO dsx.factories VALUES ('tap-f1', 'tap-p1', 'USD', 'north', 100, 2), ('tap-f2', 'tap-p2', 'USD', 'south', 50, 1);
INSERT INTO dsx.price_plans VALUES ('tap-plan1', 'm', '1', '2'), ('tap-plan2', 'm', '3', '4'), ('tap-plan2', 'n', '5', '6');
INSERT INTO dsx.customer_plans VALUES ('tap-cust1', 'tap-f1', 'tap-plan1'), ('tap-cust2', 'tap-f2', 'tap-plan2');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts) VALUES
    ('tap-a1', 'tap-p1', 'tap-vendor', 'tap-f1', 'vendor=30%, partner=70%', '2026-01-01'),
    ('tap-a2', 'tap-p2', 'tap-vendor', 'tap-f2', 'vendor=40%, partner=60%', '2026-01-01');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('tap-loan1', 'tap-a1', 'tap-bank', 1200, 0.06, 12, '2026-01-31');
INSERT INTO dsx.usage_inbox VALUES
    ('e1', '2026-01-10 01:00Z', 'tap-f1', 'tap-cust1', 'm', 1000000000, 0),
    ('e2', '2026-01-11 01:00Z', 'tap-f1', 'tap-cust1', 'm', 1000000, 1000000),
    ('e3', '2026-02-10 01:00Z', 'tap-f1', 'tap-cust1', 'm', 50000000, 0),
    ('e1', '2026-01-05 01:00Z', 'tap-f2', 'tap-cust2', 'm', 2000000, 0),
    ('e2', '2026-01-05 02:00Z', 'tap-f2', 'tap-cust2', 'n', 3000000, 1000000);
SELECT is((SELECT inserted FROM dsx.ingest()), 5::bigint, 'scenario: five events ingested');
INSERT INTO dsx.usage_inbox VALUES ('e1', '2026-01-05 01:00Z', 'tap-f2', 'tap-cust2', 'm', 9, 0);
SELECT is((SELECT conflicts FROM dsx.ingest()), 1::bigint, 'scenario: one conflicting event for tap-f2');
SELECT ok(dsx.settle(a, p), format('scenario: %s %s settled', a, p))
  FROM (VALUES ('tap-a1'), ('tap-a2')) g(a), (VALUES (date '2026-01-01'), ('2026-02-01')) q(p) ORDER BY a, p;

-- the roles
CREATE ROLE tap_p1 LOGIN;
CREATE ROLE tap_p2 LOGIN;
CREATE ROLE tap_vendor LOGIN;
CREATE ROLE tap_nobody LOGIN IN ROLE dsx_partner, dsx_vendor;   -- in the groups, mapped to no party
CREATE ROLE tap_op LOGIN IN ROLE dsx_operator;
CREATE ROLE tap_loader LOGIN IN ROLE dsx_loader;
CREATE ROLE tap_evil LOGIN;
CREATE ROLE tap_p1_staff LOGIN IN ROLE tap_p1;                  -- inherits tap_p1's mapping
SELECT ok(dsx.grant_partner('tap_p1', 'tap-p1'), 'grant_partner maps a role');
SELECT ok(NOT dsx.grant_partner('tap_p1', 'tap-p1'), 'grant_partner again: already mapped');
SELECT throws_ok($$SELECT dsx.grant_partner('tap_p1', 'tap-p2')$$, '23505', NULL, 'a role maps to one partner');
SELECT throws_ok($$SELECT dsx.grant_partner('tap_nosuchrole', 'tap-p1')$$, '42704', NULL, 'grant_partner: the role must exist');
SELECT throws_ok($$SELECT dsx.grant_partner('tap_p2', 'tap-vendor')$$, '22023', NULL, 'grant_partner: the party must be a partner');
SELECT throws_ok($$SELECT dsx.grant_partner('dsx_operator', 'tap-p1')$$, '22023', NULL, 'grant_partner: dsx groups cannot be mapped');
SELECT ok(pg_has_role('tap_p1', 'dsx_partner', 'MEMBER'), 'grant_partner makes the role a member of dsx_partner');
SELECT ok(pg_temp.value_as('tap_op', $$SELECT dsx.grant_partner('tap_p2', 'tap-p2')$$)::boolean, 'an operator maps a role (no superuser)');
SELECT ok(pg_temp.value_as('tap_op', $$SELECT dsx.grant_vendor('tap_vendor', 'tap-vendor')$$)::boolean, 'an operator maps a vendor role');
SELECT ok(pg_temp.value_as('tap_op', $$SELECT dsx.grant_partner('tap_evil', 'tap-p2')$$)::boolean, 'the attacker is mapped to tap-p2');

-- What each role sees: rows of its own parties only, in every table and view it can read.
CREATE TEMP TABLE sees (role name, rel text, n bigint, ord serial);
INSERT INTO sees (role, rel, n) VALUES
    ('tap_p1', 'dsx.parties', 4), ('tap_p2', 'dsx.parties', 3), ('tap_vendor', 'dsx.parties', 4),
    ('tap_p1', 'dsx.factories', 1), ('tap_p2', 'dsx.factories', 1), ('tap_vendor', 'dsx.factories', 2),
    ('tap_p1', 'dsx.price_plans', 1), ('tap_p2', 'dsx.price_plans', 2), ('tap_vendor', 'dsx.price_plans', 0),
    ('tap_p1', 'dsx.customer_plans', 1), ('tap_p2', 'dsx.customer_plans', 1), ('tap_vendor', 'dsx.customer_plans', 0),
    ('tap_p1', 'dsx.agreements', 1), ('tap_p2', 'dsx.agreements', 1), ('tap_vendor', 'dsx.agreements', 2),
    ('tap_p1', 'dsx.credit_facilities', 1), ('tap_p2', 'dsx.credit_facilities', 0), ('tap_vendor', 'dsx.credit_facilities', 1),
    ('tap_p1', 'dsx.usage_events', 3), ('tap_p2', 'dsx.usage_events', 2), ('tap_vendor', 'dsx.usage_events', 0),
    ('tap_p1', 'dsx.usage_daily', 3), ('tap_p2', 'dsx.usage_daily', 2), ('tap_vendor', 'dsx.usage_daily', 0),
    ('tap_p1', 'dsx.usage_conflicts', 0), ('tap_p2', 'dsx.usage_conflicts', 1), ('tap_vendor', 'dsx.usage_conflicts', 0),
    ('tap_p1', 'dsx.statements', 2), ('tap_p2', 'dsx.statements', 2), ('tap_vendor', 'dsx.statements', 4),
    ('tap_p1', 'dsx.statement_lines', 2), ('tap_p2', 'dsx.statement_lines', 2), ('tap_vendor', 'dsx.statement_lines', 0),
    ('tap_p1', 'dsx.statement_shares', 4), ('tap_p2', 'dsx.statement_shares', 4), ('tap_vendor', 'dsx.statement_shares', 8),
    ('tap_p1', 'dsx.statement_debt', 2), ('tap_p2', 'dsx.statement_debt', 0), ('tap_vendor', 'dsx.statement_debt', 2),
    ('tap_p1', 'dsx.partner_roles', 1), ('tap_p2', 'dsx.partner_roles', 1), ('tap_vendor', 'dsx.partner_roles', 0),
    ('tap_p1', 'dsx.vendor_roles', 0), ('tap_p2', 'dsx.vendor_roles', 0), ('tap_vendor', 'dsx.vendor_roles', 1),
    ('tap_p1', 'dsx.partner_statements', 2), ('tap_p2', 'dsx.partner_statements', 2), ('tap_vendor', 'dsx.partner_statements', 4),
    ('tap_p1', 'dsx.partner_usage_daily', 3), ('tap_p2', 'dsx.partner_usage_daily', 2), ('tap_vendor', 'dsx.partner_usage_daily', 0),
    ('tap_p1', 'dsx.credit_support_position', 2), ('tap_p2', 'dsx.credit_support_position', 0), ('tap_vendor', 'dsx.credit_support_position', 2),
    ('tap_p1', 'dsx.vendor_portfolio', 1), ('tap_p2', 'dsx.vendor_portfolio', 1), ('tap_vendor', 'dsx.vendor_portfolio', 2),
    ('tap_p1', 'dsx.facility_position', 1), ('tap_p2', 'dsx.facility_position', 0), ('tap_vendor', 'dsx.facility_position', 1),
    ('tap_p1_staff', 'dsx.partner_statements', 2), ('tap_p1_staff', 'dsx.usage_events', 3);
SELECT is(pg_temp.value_as(role, 'SELECT count(*) FROM ' || rel)::bigint, n, format('%s sees %s rows of %s', role, n, rel))
  FROM sees ORDER BY ord;
-- ... and the rows it sees are its own (partner column), while others exist
SELECT is(pg_temp.value_as(r, format('SELECT count(*) FROM %s WHERE partner <> %L', v, p))::bigint, 0::bigint,
          format('%s sees only %s in %s', r, p, v))
  FROM (VALUES ('tap_p1', 'tap-p1'), ('tap_p2', 'tap-p2')) x(r, p),
       (VALUES ('dsx.partner_statements'), ('dsx.partner_usage_daily'), ('dsx.credit_support_position'), ('dsx.vendor_portfolio')) y(v);
SELECT is(pg_temp.value_as('tap_p1', $$SELECT count(*) FROM dsx.ledger_entries$$)::bigint,
          (SELECT count(*) FROM dsx.ledger_entries WHERE agreement = 'tap-a1'), 'tap_p1 sees the ledger of tap-a1');
SELECT is(pg_temp.value_as('tap_p2', $$SELECT count(*) FROM dsx.ledger_entries$$)::bigint,
          (SELECT count(*) FROM dsx.ledger_entries WHERE agreement = 'tap-a2'), 'tap_p2 sees the ledger of tap-a2');
SELECT is(pg_temp.value_as('tap_vendor', $$SELECT count(*) FROM dsx.ledger_entries$$)::bigint,
          (SELECT count(*) FROM dsx.ledger_entries WHERE agreement IN ('tap-a1', 'tap-a2')), 'tap_vendor sees the ledger of its agreements');
SELECT cmp_ok((SELECT count(*) FROM dsx.ledger_entries WHERE agreement = 'tap-a2'), '>', 0::bigint, 'tap-a2 has ledger entries');
SELECT is(pg_temp.value_as('tap_vendor', $$SELECT string_agg(DISTINCT partner, ',' ORDER BY partner) FROM dsx.vendor_portfolio$$),
          'tap-p1,tap-p2', 'the vendor''s portfolio spans both partners');
SELECT is(pg_temp.value_as('tap_p1', $$SELECT count(*) FROM dsx.currencies$$)::bigint, (SELECT count(*) FROM dsx.currencies),
          'currencies are reference data every partner reads');

-- a role in the groups but mapped to nobody sees nothing
SELECT is(pg_temp.value_as('tap_nobody', 'SELECT count(*) FROM ' || v)::bigint, 0::bigint, 'an unmapped role sees no row of ' || v)
  FROM unnest(ARRAY['dsx.parties', 'dsx.factories', 'dsx.agreements', 'dsx.usage_events', 'dsx.statements',
                    'dsx.ledger_entries', 'dsx.partner_statements', 'dsx.vendor_portfolio']) v;
-- a role not in the groups cannot read at all
SELECT is(pg_temp.sqlstate_as('tap_loader', 'SELECT count(*) FROM dsx.partner_statements'), '42501', 'a loader cannot read statements');

-- What a partner and a vendor cannot do: every write, settlement, ingest, role maps.
CREATE TEMP TABLE writes (q text, ord serial);
INSERT INTO writes (q) VALUES
    ($$INSERT INTO dsx.parties VALUES ('x', 'partner', 'x')$$),
    ($$UPDATE dsx.parties SET display_name = 'x'$$),
    ($$INSERT INTO dsx.currencies VALUES ('XTS', 2, 'test')$$),
    ($$UPDATE dsx.factories SET gpus = 1$$),
    ($$DELETE FROM dsx.factories$$),
    ($$INSERT INTO dsx.price_plans VALUES ('x', 'm', '0', '0')$$),
    ($$UPDATE dsx.customer_plans SET plan = 'tap-plan2'$$),
    ($$UPDATE dsx.agreements SET settle_lag = '0'$$),
    ($$DELETE FROM dsx.credit_facilities$$),
    ($$INSERT INTO dsx.usage_inbox VALUES ('x', now(), 'tap-f1', 'c', 'm', 1, 1)$$),
    ($$SELECT count(*) FROM dsx.usage_inbox$$),
    ($$INSERT INTO dsx.usage_events VALUES ('tap-f1', 'x', now(), 'c', 'm', 1, 1, 1)$$),
    ($$UPDATE dsx.usage_daily SET day = day$$),
    ($$DELETE FROM dsx.usage_conflicts$$),
    ($$SELECT count(*) FROM dsx.ingest_log$$),
    ($$INSERT INTO dsx.statements SELECT * FROM dsx.statements$$),
    ($$UPDATE dsx.statements SET revenue = 0$$),
    ($$DELETE FROM dsx.statement_lines$$),
    ($$UPDATE dsx.statement_shares SET amount = 0$$),
    ($$INSERT INTO dsx.ledger_entries SELECT * FROM dsx.ledger_entries$$),
    ($$DELETE FROM dsx.ledger_entries$$),
    ($$TRUNCATE dsx.ledger_entries$$),
    ($$INSERT INTO dsx.partner_roles VALUES ('tap_evil', 'tap-p1')$$),
    ($$UPDATE dsx.partner_roles SET partner = 'tap-p2'$$),
    ($$INSERT INTO dsx.vendor_roles VALUES (current_user, 'tap-vendor')$$),
    ($$SELECT nextval('dsx.ledger_txn_seq')$$),
    ($$CREATE TABLE dsx.mine (x int)$$),
    ($$SELECT dsx.settle('tap-a1', '2026-03-01')$$),
    ($$SELECT dsx.run_due_settlements()$$),
    ($$SELECT * FROM dsx.ingest()$$),
    ($$SELECT dsx.schedule_settlements()$$),
    ($$SELECT dsx.unschedule_settlements()$$),
    ($$SELECT dsx.grant_partner(current_user, 'tap-p2')$$),
    ($$SELECT dsx.revoke_partner('tap_p2')$$),
    ($$SELECT dsx.grant_vendor(current_user, 'tap-vendor')$$);
SELECT is(pg_temp.sqlstate_as(r, w.q), '42501', format('%s refused: %s', r, w.q))
  FROM writes w CROSS JOIN (VALUES ('tap_p1'), ('tap_vendor')) x(r)
 ORDER BY x.r, w.ord;
SELECT is(pg_temp.sqlstate_as('tap_p1', $$SELECT dsx.verify_settlement('tap-a1', '2026-01-01')$$), 'ok',
          'a partner may verify its own statements');
SELECT is(pg_temp.value_as('tap_p1', $$SELECT dsx.verify_settlement('tap-a1', '2026-02-01')::text$$), 'true',
          'and they verify from what it can see');

-- operators and loaders work without a superuser; a loader loads the factories it is mapped to
SELECT ok(dsx.grant_loader('tap_loader', 'tap-f1'), 'a loader is mapped to its factory');
SELECT is(pg_temp.value_as('tap_loader', $$INSERT INTO dsx.usage_inbox VALUES ('e4', '2026-03-02 00:00Z', 'tap-f1', 'tap-cust1', 'm', 7000000, 0) RETURNING 'loaded'$$),
          'loaded', 'a loader writes the inbox');
SELECT is(pg_temp.value_as('tap_loader', $$SELECT inserted FROM dsx.ingest()$$), '1', 'a loader runs dsx.ingest()');
SELECT is(pg_temp.sqlstate_as('tap_loader', $$SELECT dsx.settle('tap-a1', '2026-03-01')$$), '42501', 'a loader cannot settle');
SELECT is(pg_temp.sqlstate_as('tap_loader', $$UPDATE dsx.factories SET gpus = 1$$), '42501', 'a loader cannot write configuration');
SELECT is(pg_temp.value_as('tap_op', $$SELECT count(*) FROM dsx.statements$$)::bigint, (SELECT count(*) FROM dsx.statements),
          'an operator sees every statement');
SELECT is(pg_temp.value_as('tap_op', $$SELECT count(*) FROM dsx.usage_events$$)::bigint, (SELECT count(*) FROM dsx.usage_events),
          'an operator sees every event');
SELECT is(pg_temp.sqlstate_as('tap_op', $$UPDATE dsx.factories SET gpus = 120 WHERE factory = 'tap-f1'$$), 'ok', 'an operator writes configuration');
SELECT is(pg_temp.sqlstate_as('tap_op', $$UPDATE dsx.statements SET revenue = 0$$), '42501', 'an operator cannot rewrite statements');
-- what an operator writes to the books directly is checked as settlement's own rows are:
-- each line, share and entry names an existing statement (and party, currency), 23503 otherwise
-- the books' foreign keys, checked once per statement, bind even the owner (the only
-- writer: dsx's settlement runs as the owner); an operator may not write the books at all
SELECT is(pg_temp.sqlstate_as('tap_op', $$INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
                                          VALUES (-1, 1, 'tap-a1', '2026-01-01', 'x', 0, 'USD')$$), '42501',
          'an operator cannot write the ledger');
SELECT is(pg_temp.sqlstate_as(session_user, $$INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
                                          VALUES (-1, 1, 'tap-a1', '1999-01-01', 'x', 0, 'USD')$$), '23503',
          'even the owner cannot post a ledger entry for a statement that does not exist');
SELECT is(pg_temp.sqlstate_as(session_user, $$INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
                                          VALUES (-1, 1, 'tap-a1', '2026-01-01', 'x', 1, 'USD'), (-1, 2, 'tap-nosuch', '2026-01-01', 'x', -1, 'USD')$$), '23503',
          'one entry of many naming an unknown agreement refuses them all');
SELECT is(pg_temp.sqlstate_as(session_user, $$INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
                                          VALUES (-1, 1, 'tap-a1', '2026-01-01', 'x', 0, 'XXX')$$), '23503',
          'even the owner cannot post a ledger entry in an unknown currency');
SELECT is(pg_temp.sqlstate_as(session_user, $$INSERT INTO dsx.ledger_entries (txn_id, entry_no, agreement, period_start, account, amount, currency)
                                          VALUES (-1, 1, 'tap-a1', '2026-01-01', 'x', 0, 'USD')$$), 'ok',
          'control: an entry naming an existing statement and currency is written');
SELECT is(pg_temp.sqlstate_as(session_user, $$INSERT INTO dsx.statement_lines VALUES ('tap-a1', '1999-01-01', '1999-01-01', 'c', 'm', 0, 0, 0, 'p', '1', '1')$$), '23503',
          'even the owner cannot add a line to a statement that does not exist');
SELECT is(pg_temp.sqlstate_as(session_user, $$INSERT INTO dsx.statement_shares VALUES ('tap-nosuch', '2026-01-01', 'tap-p1', 0)$$), '23503',
          'even the owner cannot add a share to a statement that does not exist');
SELECT is(pg_temp.sqlstate_as(session_user, $$INSERT INTO dsx.statement_shares VALUES ('tap-a1', '2026-01-01', 'tap-nobody', 0)$$), '23503',
          'even the owner cannot add a share for an unknown party');

-- The search_path attack. The attacker (mapped to tap-p2) owns a schema with a text = that
-- is always true, a pg_has_role that always says yes and a now() that records its calls,
-- and a temporary partner_roles that maps it to tap-p1; it puts them first on its path.
CREATE SCHEMA tap_evil AUTHORIZATION tap_evil;
SET LOCAL ROLE tap_evil;
CREATE TABLE tap_evil.called (fn text);
GRANT INSERT, SELECT ON tap_evil.called TO PUBLIC;
GRANT USAGE ON SCHEMA tap_evil TO PUBLIC;
CREATE FUNCTION tap_evil.texteq(text, text) RETURNS boolean LANGUAGE sql
    AS $$ INSERT INTO tap_evil.called VALUES ('='); SELECT true $$;
CREATE OPERATOR tap_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_evil.texteq);
CREATE FUNCTION tap_evil.pg_has_role(oid, text) RETURNS boolean LANGUAGE sql
    AS $$ INSERT INTO tap_evil.called VALUES ('pg_has_role'); SELECT true $$;
CREATE FUNCTION tap_evil.now() RETURNS timestamptz LANGUAGE sql
    AS $$ INSERT INTO tap_evil.called VALUES ('now'); SELECT pg_catalog.now() $$;
CREATE TEMP TABLE partner_roles (role name, partner text);
INSERT INTO partner_roles VALUES ('tap_evil', 'tap-p1');
RESET ROLE;
GRANT SELECT ON pg_temp.partner_roles TO PUBLIC;
SELECT is(pg_temp.value_as('tap_evil', $$SELECT ('a' = 'b')::text$$, 'tap_evil, pg_catalog'), 'true',
          'control: on the attacker''s path, its = is the one a query uses');
SELECT is(pg_temp.value_as('tap_evil', $$SELECT pg_has_role('dsx_operator'::regrole::oid, 'USAGE')::text$$, 'tap_evil, pg_catalog'),
          'true', 'control: on the attacker''s path, its pg_has_role is the one a query uses');
SELECT is(pg_temp.value_as('tap_evil', $$SELECT (now() IS NOT NULL)::text$$, 'tap_evil, pg_catalog'), 'true',
          'control: on the attacker''s path, its now() is the one a query uses');
SELECT is(pg_temp.value_as('tap_evil', 'SELECT count(*) FROM ' || v, 'pg_temp, tap_evil, pg_catalog, dsx')::bigint, n,
          format('attacker on its own path still sees %s rows of %s', n, v))
  FROM (VALUES ('dsx.partner_statements', 2::bigint), ('dsx.partner_usage_daily', 2), ('dsx.usage_events', 2),
               ('dsx.statements', 2), ('dsx.statement_lines', 2), ('dsx.factories', 1), ('dsx.agreements', 1)) x(v, n);
SELECT is(pg_temp.value_as('tap_evil', $$SELECT count(*) FROM dsx.partner_statements WHERE partner OPERATOR(pg_catalog.=) 'tap-p1'$$,
                           'pg_temp, tap_evil, pg_catalog, dsx')::bigint, 0::bigint, 'attacker sees no row of tap-p1');
-- a victim operator settling with the attacker's schema first on its path
SELECT is(pg_temp.value_as('tap_op', $$SELECT dsx.settle('tap-a1', '2026-03-01')::text$$, 'tap_evil, pg_catalog, dsx'), 'true',
          'an operator settles with the attacker''s schema first on its path');
SELECT is(pg_temp.value_as('tap_op', $$SELECT count(*) FROM dsx.partner_statements$$, 'tap_evil, pg_catalog, dsx')::bigint,
          (SELECT count(*) FROM dsx.statements), 'and reads the views there');
SELECT ok(dsx.verify_settlement('tap-a1', '2026-03-01'), 'what it settled verifies');
SELECT is((SELECT array_agg(fn ORDER BY fn) FROM tap_evil.called), ARRAY['=', 'now', 'pg_has_role'],
          'no dsx function, view or policy called the attacker''s objects: only the controls did, once each');

-- revoking; and granting again after a restore into another cluster brought back the map only
CREATE ROLE tap_p3 LOGIN;
SELECT ok(dsx.grant_partner('tap_p3', 'tap-p1'), 'tap_p3 mapped to tap-p1');
SELECT ok(dsx.revoke_partner('tap_p3'), 'revoke_partner removes the mapping');
SELECT ok(NOT pg_has_role('tap_p3', 'dsx_partner', 'MEMBER'), 'and the dsx_partner membership');
SELECT is(pg_temp.sqlstate_as('tap_p3', 'SELECT count(*) FROM dsx.partner_statements'), '42501', 'a revoked role reads nothing');
SELECT ok(NOT dsx.revoke_partner('tap_p3'), 'revoking again: there was nothing to revoke');
REVOKE dsx_partner FROM tap_p2;
SELECT ok(NOT dsx.grant_partner('tap_p2', 'tap-p2'), 'granting a mapped role again: not newly mapped');
SELECT ok(pg_has_role('tap_p2', 'dsx_partner', 'MEMBER'), 'but its dsx_partner membership is back');

-- The catalogue. Each check is a query in a function, asserted on dsx as installed and then,
-- as a control, with the fault it looks for planted (and at once undone), to show that it
-- sees the fault: a check that could never count anything would pass all the same.

-- The dsx functions a list names that do not exist: a check over a list of names says
-- nothing of a name no function has.
CREATE FUNCTION pg_temp.missing(fns name[]) RETURNS name[] LANGUAGE sql AS $$
    SELECT array_agg(f ORDER BY f) FROM unnest(fns) f
     WHERE NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = 'dsx'::regnamespace AND p.proname = f)
$$;
SELECT is(pg_temp.missing(ARRAY['settle', 'tap_nosuch']), '{tap_nosuch}', 'control: a name no dsx function has is missing');

-- SECURITY DEFINER functions in dsx without a search_path.
CREATE FUNCTION pg_temp.definers_unpinned() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_proc WHERE pronamespace = 'dsx'::regnamespace AND prosecdef
       AND NOT EXISTS (SELECT 1 FROM unnest(proconfig) c WHERE c LIKE 'search\_path=%')
$$;
SELECT is(pg_temp.definers_unpinned(), 0::bigint, 'every SECURITY DEFINER function in dsx pins its search_path');
CREATE FUNCTION dsx.tap_definer() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
SELECT is(pg_temp.definers_unpinned(), 1::bigint, 'control: a SECURITY DEFINER function without a search_path is counted');
ALTER FUNCTION dsx.tap_definer() SET search_path = pg_catalog, pg_temp;
SELECT is(pg_temp.definers_unpinned(), 0::bigint, 'control: and not once it pins one');
DROP FUNCTION dsx.tap_definer();

-- Of the functions named, those that run with their owner's rights or without the
-- search_path pg_catalog, pg_temp.
CREATE FUNCTION pg_temp.callers_rights_functions() RETURNS name[] LANGUAGE sql AS $$
    SELECT ARRAY['current_partners', 'current_vendors', 'current_factories', 'current_agreements',
                 'grant_partner', 'revoke_partner', 'grant_vendor', 'revoke_vendor', 'grant_role_check',
                 'map_role', 'unmap_role', 'rate_lines']::name[]
$$;
CREATE FUNCTION pg_temp.definers_or_unpinned(fns name[]) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_proc WHERE pronamespace = 'dsx'::regnamespace AND proname = ANY (fns)
       AND (prosecdef OR NOT EXISTS (SELECT 1 FROM unnest(proconfig) c WHERE c = 'search_path=pg_catalog, pg_temp'))
$$;
SELECT is(pg_temp.missing(pg_temp.callers_rights_functions()), NULL,
          'the row-level security helpers, role maps and rating functions all exist');
SELECT is(pg_temp.definers_or_unpinned(pg_temp.callers_rights_functions()),
          0::bigint, 'the row-level security helpers, role maps and rating run with the caller''s rights and a pinned search_path');
ALTER FUNCTION dsx.rate_lines(text, timestamptz, timestamptz) SECURITY DEFINER;
SELECT is(pg_temp.definers_or_unpinned(pg_temp.callers_rights_functions()), 1::bigint,
          'control: dsx.rate_lines running with its owner''s rights is counted');
ALTER FUNCTION dsx.rate_lines(text, timestamptz, timestamptz) SECURITY INVOKER RESET search_path;
SELECT is(pg_temp.definers_or_unpinned(pg_temp.callers_rights_functions()), 1::bigint,
          'control: dsx.rate_lines without its search_path is counted');
ALTER FUNCTION dsx.rate_lines(text, timestamptz, timestamptz) SET search_path = pg_catalog, pg_temp;

-- Of the functions named, those PUBLIC may execute.
CREATE FUNCTION pg_temp.closed_functions() RETURNS name[] LANGUAGE sql AS $$
    SELECT ARRAY['settle', 'run_due_settlements', 'ingest', 'ingest_rows', 'schedule_settlements', 'unschedule_settlements',
                 'grant_partner', 'revoke_partner', 'grant_vendor', 'revoke_vendor',
                 'map_role', 'unmap_role']::name[]
$$;
CREATE FUNCTION pg_temp.public_executes(fns name[]) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'dsx'::regnamespace AND p.proname = ANY (fns)
       AND has_function_privilege('public', p.oid, 'EXECUTE')
$$;
SELECT is(pg_temp.missing(pg_temp.closed_functions()), NULL,
          'ingest, settlement, scheduling and the role maps all exist');
SELECT is(pg_temp.public_executes(pg_temp.closed_functions()),
          0::bigint, 'PUBLIC cannot execute ingest, settlement, scheduling or the role maps');
GRANT EXECUTE ON FUNCTION dsx.settle(text, date) TO PUBLIC;
SELECT is(pg_temp.public_executes(pg_temp.closed_functions()), 1::bigint, 'control: dsx.settle granted to PUBLIC is counted');
REVOKE EXECUTE ON FUNCTION dsx.settle(text, date) FROM PUBLIC;

-- Tables (but the public reference data: currencies, FX rates) a partner can read without
-- row-level security.
CREATE FUNCTION pg_temp.readable_without_rls() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('r', 'p')
       AND c.relname NOT IN ('currencies', 'fx_rates') AND has_table_privilege('dsx_partner', c.oid, 'SELECT') AND NOT c.relrowsecurity
$$;
SELECT is(pg_temp.readable_without_rls(), 0::bigint, 'every table a partner can read (but currencies and FX rates) has row-level security');
ALTER TABLE dsx.statements DISABLE ROW LEVEL SECURITY;
SELECT is(pg_temp.readable_without_rls(), 1::bigint, 'control: dsx.statements without row-level security is counted');
ALTER TABLE dsx.statements ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON dsx.usage_inbox TO dsx_partner;
SELECT is(pg_temp.readable_without_rls(), 1::bigint, 'control: dsx.usage_inbox (no row-level security) granted to partners is counted');
REVOKE SELECT ON dsx.usage_inbox FROM dsx_partner;
SELECT cmp_ok((SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'r'
                  AND has_table_privilege('dsx_partner', c.oid, 'SELECT') AND c.relrowsecurity),
              '>=', 15::bigint, 'fifteen tables or more under row-level security');

-- Tables that force row-level security on their owner.
CREATE FUNCTION pg_temp.forcing_rls() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'dsx'::regnamespace AND c.relforcerowsecurity
$$;
SELECT is(pg_temp.forcing_rls(), 0::bigint, 'no table forces row-level security on its owner (settlement)');
ALTER TABLE dsx.statements FORCE ROW LEVEL SECURITY;
SELECT is(pg_temp.forcing_rls(), 1::bigint, 'control: dsx.statements forcing row-level security is counted');
ALTER TABLE dsx.statements NO FORCE ROW LEVEL SECURITY;

-- Writes dsx_partner or dsx_vendor may make, one per relation and privilege.
CREATE FUNCTION pg_temp.party_writes() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_class c, unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) priv
     WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('r', 'p', 'v')
       AND (has_table_privilege('dsx_partner', c.oid, priv) OR has_table_privilege('dsx_vendor', c.oid, priv))
$$;
SELECT is(pg_temp.party_writes(), 0::bigint, 'dsx_partner and dsx_vendor can write no table');
GRANT UPDATE ON dsx.statements TO dsx_vendor;
SELECT is(pg_temp.party_writes(), 1::bigint, 'control: UPDATE on dsx.statements granted to vendors is counted');
REVOKE UPDATE ON dsx.statements FROM dsx_vendor;

-- Views that are not security_invoker.
CREATE FUNCTION pg_temp.definer_views() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'v'
       AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)
$$;
SELECT is(pg_temp.definer_views(), 0::bigint, 'every dsx view is security_invoker');
ALTER VIEW dsx.vendor_portfolio RESET (security_invoker);
SELECT is(pg_temp.definer_views(), 1::bigint, 'control: dsx.vendor_portfolio without security_invoker is counted');
ALTER VIEW dsx.vendor_portfolio SET (security_invoker = true);

-- Columns of the relations given whose type is not text, numeric, bigint, date, timestamptz or boolean.
CREATE FUNCTION pg_temp.odd_columns(rels regclass[]) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(format('%s.%s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY c.relname, a.attnum)
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_type t ON t.oid = a.atttypid
     WHERE c.oid = ANY (rels)
       AND (t.typnamespace <> 'pg_catalog'::regnamespace
            OR t.typname NOT IN ('text', 'numeric', 'int8', 'date', 'timestamptz', 'bool'))
$$;
SELECT is(pg_temp.odd_columns(ARRAY['dsx.partner_statements', 'dsx.partner_usage_daily', 'dsx.partner_revenue_lines',
                                    'dsx.credit_support_position', 'dsx.vendor_portfolio']::regclass[]),
          NULL, 'the party views have only text, numeric, bigint, date, timestamptz and boolean columns');
SELECT is(pg_temp.odd_columns(ARRAY['dsx.factories', 'dsx.usage_daily']::regclass[]),
          ARRAY['factories.gpus integer', 'usage_daily.usage dsx.usage'],
          'control: an integer and a dsx.usage column are listed');

-- Views and view columns without a comment.
CREATE FUNCTION pg_temp.uncommented_views() RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(format('%s.%s', c.relname, coalesce(a.attname, '(view)')) ORDER BY c.relname, a.attnum)
      FROM pg_class c LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'v'
       AND (obj_description(c.oid, 'pg_class') IS NULL OR col_description(c.oid, a.attnum) IS NULL)
$$;
SELECT is(pg_temp.uncommented_views(), NULL, 'every dsx view and view column has a comment');
CREATE VIEW dsx.tap_view WITH (security_invoker = true) AS SELECT 1 AS x;
COMMENT ON VIEW dsx.tap_view IS 'a view';
SELECT is(pg_temp.uncommented_views(), '{tap_view.x}', 'control: a view column without a comment is listed');
COMMENT ON COLUMN dsx.tap_view.x IS 'a column';
COMMENT ON VIEW dsx.tap_view IS NULL;
SELECT is(pg_temp.uncommented_views(), '{tap_view.x}', 'control: a view without a comment is listed');
DROP VIEW dsx.tap_view;

SELECT ok((SELECT bool_and(EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = v::regclass AND a.attname = 'partner')) FROM
           unnest(ARRAY['dsx.partner_statements', 'dsx.partner_usage_daily', 'dsx.credit_support_position', 'dsx.vendor_portfolio']) v),
          'every party view has a partner column');

-- Tables and sequences of dsx not registered with pg_extension_config_dump (on Citus, the
-- shards of dsx's tables are Citus's, not dsx's: test/citus.sh runs this file there too).
CREATE FUNCTION pg_temp.citus_shard(rel oid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    shard boolean;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_shard') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT pg_catalog.relation_is_a_known_shard($1)' INTO shard USING rel;
    RETURN shard;
END
$$;
CREATE FUNCTION pg_temp.undumped() RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(c.oid::regclass::text ORDER BY c.oid::regclass::text) FROM pg_class c
     WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('r', 'S')
       AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'dsx')::oid[])
       AND NOT pg_temp.citus_shard(c.oid)
$$;
SELECT is(pg_temp.undumped(), NULL, 'every dsx table and sequence is registered with pg_extension_config_dump');
CREATE TABLE dsx.tap_table (x int);
ALTER EXTENSION dsx ADD TABLE dsx.tap_table;
SELECT is(pg_temp.undumped(), '{dsx.tap_table}', 'control: a table of the extension not registered is listed');
ALTER EXTENSION dsx DROP TABLE dsx.tap_table;
DROP TABLE dsx.tap_table;

SELECT * FROM finish();
ROLLBACK;
