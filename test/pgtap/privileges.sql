-- pgTAP: the privilege matrix. For every table, view and function of schema dsx, what each
-- group (dsx_operator, dsx_loader, dsx_partner, dsx_vendor, dsx_auditor) and PUBLIC may
-- do, against the matrix written out below: a table or function that is not in it fails,
-- and so does any privilege more or less. Then that only the owner's functions write the
-- derived data, and that they check who calls them; with a control case for each
-- catalogue-wide check, showing it catching a planted fault.
BEGIN;
SELECT plan(23);

-- Expected table privileges: S(ELECT) I(NSERT) U(PDATE) D(ELETE) T(RUNCATE), per group.
CREATE TEMP TABLE expected_table (tab text PRIMARY KEY, operator text, loader text, partner text,
                                  vendor text, auditor text);
INSERT INTO expected_table VALUES
    -- configuration: operators write it
    ('currencies',        'SIUD', 'S', 'S', 'S', 'S'),
    ('parties',           'SIUD', '',  'S', 'S', 'S'),
    ('factories',         'SIUD', 'S', 'S', 'S', 'S'),
    ('price_plans',       'SIUD', '',  'S', 'S', 'S'),
    ('customer_plans',    'SIUD', '',  'S', 'S', 'S'),
    ('agreements',        'SIUD', '',  'S', 'S', 'S'),
    ('agreement_splits',  'SIUD', '',  'S', 'S', 'S'),
    ('fx_rates',          'SIUD', '',  'S', 'S', 'S'),
    ('credit_facilities', 'SIUD', '',  'S', 'S', 'S'),
    ('operating_costs',   'SIUD', '',  'S', 'S', 'S'),
    ('partner_roles',     'SIUD', '',  'S', 'S', 'S'),
    ('vendor_roles',      'SIUD', '',  'S', 'S', 'S'),
    ('loader_roles',      'SIUD', 'S', '',  '',  'S'),
    -- the inbox: loaders insert (their factories' rows), operators manage it
    ('usage_inbox',       'SIDT', 'I', '',  '',  'S'),
    -- derived data: nobody writes it but dsx's functions
    ('usage_events',      'S',    'S', 'S', 'S', 'S'),
    ('usage_daily',       'S',    'S', 'S', 'S', 'S'),
    ('usage_conflicts',   'S',    'S', 'S', 'S', 'S'),
    ('usage_voids',       'S',    'S', 'S', 'S', 'S'),
    ('energy_readings',   'S',    'S', 'S', 'S', 'S'),
    ('ingest_log',        'S',    'S', '',  '',  'S'),
    ('statements',        'S',    '',  'S', 'S', 'S'),
    ('statement_lines',   'S',    '',  'S', 'S', 'S'),
    ('statement_shares',  'S',    '',  'S', 'S', 'S'),
    ('statement_debt',    'S',    '',  'S', 'S', 'S'),
    ('statement_costs',   'S',    '',  'S', 'S', 'S'),
    ('ledger_entries',    'S',    '',  'S', 'S', 'S'),
    ('config_history',    'S',    '',  '',  '',  'S'),
    -- views
    ('facility_position',       'S', '', 'S', 'S', 'S'),
    ('prices_in_force',         'S', '', 'S', 'S', 'S'),
    ('price_versions',          'S', '', 'S', 'S', 'S'),
    ('partner_statements',      'S', '', 'S', 'S', 'S'),
    ('partner_usage_daily',     'S', '', 'S', 'S', 'S'),
    ('partner_revenue_lines',   'S', '', 'S', 'S', 'S'),
    ('credit_support_position', 'S', '', 'S', 'S', 'S'),
    ('vendor_portfolio',        'S', '', 'S', 'S', 'S'),
    ('vendor_stress',           'S', '', 'S', 'S', 'S'),
    ('unpriced_usage',          'S', '', '',  '',  'S');

-- What a role may do on a table, as the same letters (its own grants, those of the groups
-- it belongs to, and PUBLIC's).
CREATE FUNCTION pg_temp.table_privs(r text, t regclass) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(l, '' ORDER BY o)
      FROM (VALUES (1, 'S', 'SELECT'), (2, 'I', 'INSERT'), (3, 'U', 'UPDATE'), (4, 'D', 'DELETE'), (5, 'T', 'TRUNCATE')) p(o, l, priv)
     WHERE has_table_privilege(r, t, priv)
$$;
-- On Citus (test/citus.sh runs this file there too) the shards of dsx's tables are Citus's.
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
-- Every table and view of dsx whose privileges differ from the matrix (or that is not in it).
CREATE FUNCTION pg_temp.table_matrix_faults() RETURNS SETOF text LANGUAGE sql AS $$
    SELECT format('%s: %s has %L, expected %L', c.relname, g.grp, COALESCE(pg_temp.table_privs(g.grp, c.oid), ''),
                  CASE g.grp WHEN 'dsx_operator' THEN e.operator WHEN 'dsx_loader' THEN e.loader
                             WHEN 'dsx_partner' THEN e.partner WHEN 'dsx_vendor' THEN e.vendor
                             WHEN 'dsx_auditor' THEN e.auditor ELSE '' END)
      FROM pg_class c
      CROSS JOIN (VALUES ('dsx_operator'), ('dsx_loader'), ('dsx_partner'), ('dsx_vendor'), ('dsx_auditor'), ('public')) g(grp)
      LEFT JOIN pg_temp.expected_table e ON e.tab = c.relname
     WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT pg_temp.citus_shard(c.oid)
       AND COALESCE(pg_temp.table_privs(g.grp, c.oid), '') IS DISTINCT FROM
           CASE g.grp WHEN 'dsx_operator' THEN e.operator WHEN 'dsx_loader' THEN e.loader
                      WHEN 'dsx_partner' THEN e.partner WHEN 'dsx_vendor' THEN e.vendor
                      WHEN 'dsx_auditor' THEN e.auditor ELSE '' END
     ORDER BY 1
$$;
SELECT is(ARRAY(SELECT pg_temp.table_matrix_faults()), '{}'::text[],
          'every table and view of dsx grants each group exactly the matrix''s privileges');
SELECT is((SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('r', 'v')
                                           AND NOT pg_temp.citus_shard(c.oid)),
          (SELECT count(*) FROM pg_temp.expected_table), 'the matrix names every table and view');
-- controls: a planted grant, a missing grant and an unlisted table are each caught
GRANT UPDATE ON dsx.usage_daily TO dsx_loader;
SELECT is(ARRAY(SELECT pg_temp.table_matrix_faults()),
          ARRAY['usage_daily: dsx_loader has ''SU'', expected ''S''',
                'usage_daily: dsx_operator has ''SU'', expected ''S'''],   -- an operator is a member of dsx_loader
          'control: a loader granted UPDATE on the rollup is caught');
REVOKE UPDATE ON dsx.usage_daily FROM dsx_loader;
REVOKE SELECT ON dsx.config_history FROM dsx_auditor;
SELECT is(ARRAY(SELECT pg_temp.table_matrix_faults()), ARRAY['config_history: dsx_auditor has '''', expected ''S'''],
          'control: an auditor without the history is caught');
GRANT SELECT ON dsx.config_history TO dsx_auditor;
CREATE TABLE dsx.tap_planted (x int);
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.table_matrix_faults() f WHERE f LIKE 'tap_planted: %'),
          'control: a table the matrix does not name is caught');
DROP TABLE dsx.tap_planted;

-- Expected EXECUTE on functions: those not listed here are PUBLIC's (they read only what
-- row-level security lets the caller read, or nothing at all).
CREATE TEMP TABLE expected_function (fn text PRIMARY KEY, grantees text[]);
INSERT INTO expected_function VALUES
    -- the owner's alone: steps that run inside the functions that check
    ('ingest_rows', '{}'), ('ingest_rows_into', '{}'), ('ingest_shard', '{}'), ('ingest_on_shards', '{}'), ('settle_lock', '{}'), ('write_books', '{}'), ('post_ledger', '{}'),
    ('record_config_change', '{}'), ('visible_keys', '{}'), ('role_sees_agreement', '{}'), ('distribute', '{}'), ('citus_move', '{}'), ('on_every_node', '{}'),
    -- operators
    ('void_events', '{dsx_operator}'), ('settle', '{dsx_operator}'), ('settle_period', '{dsx_operator}'),
    ('run_due_settlements', '{dsx_operator}'), ('schedule_settlements', '{dsx_operator}'),
    ('unschedule_settlements', '{dsx_operator}'), ('grant_partner', '{dsx_operator}'),
    ('revoke_partner', '{dsx_operator}'), ('grant_vendor', '{dsx_operator}'), ('revoke_vendor', '{dsx_operator}'),
    ('grant_role_check', '{dsx_operator}'), ('map_role', '{dsx_operator}'), ('unmap_role', '{dsx_operator}'),
    ('grant_loader', '{dsx_operator}'), ('revoke_loader', '{dsx_operator}'),
    -- the search_path of a mapped role, which the role maps set
    ('view_path', '{dsx_operator}'),
    -- auditors are made by the owner
    ('grant_auditor', '{}'), ('revoke_auditor', '{}'),
    -- the terms triggers, which operators fire, hold settlement and ingest off with it
    ('serialize_with_books', '{dsx_operator}'),
    -- loaders and operators ingest
    ('ingest', '{dsx_operator,dsx_loader}'), ('ingest_as', '{dsx_operator,dsx_loader}'),
    ('load_energy', '{dsx_operator,dsx_loader}'), ('load_energy_as', '{dsx_operator,dsx_loader}'),
    -- whoever may see a statement verifies it (the function decides which statements)
    ('verify_settlement', '{dsx_operator,dsx_partner,dsx_vendor,dsx_auditor}'),
    ('verify_settlement_as', '{dsx_operator,dsx_partner,dsx_vendor,dsx_auditor}');
CREATE FUNCTION pg_temp.function_matrix_faults() RETURNS SETOF text LANGUAGE sql AS $$
    SELECT format('%s: %s, expected %s', p.oid::regprocedure, a.got, COALESCE(e.grantees, '{public}'))
      FROM pg_proc p
      LEFT JOIN pg_temp.expected_function e ON e.fn = p.proname
      CROSS JOIN LATERAL (
          SELECT CASE WHEN has_function_privilege('public', p.oid, 'EXECUTE') THEN '{public}'::text[]
                      ELSE ARRAY(SELECT g FROM unnest(ARRAY['dsx_operator', 'dsx_loader', 'dsx_partner', 'dsx_vendor', 'dsx_auditor']) g
                                  WHERE has_function_privilege(g, p.oid, 'EXECUTE')
                                    -- dsx_operator also holds what it inherits as a member of dsx_loader
                                    AND NOT (g = 'dsx_operator' AND has_function_privilege('dsx_loader', p.oid, 'EXECUTE')
                                             AND NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) x
                                                              WHERE x.grantee = 'dsx_operator'::regrole)))
                 END AS got) a
     WHERE p.pronamespace = 'dsx'::regnamespace
       AND a.got IS DISTINCT FROM COALESCE(e.grantees, '{public}')
     ORDER BY 1
$$;
SELECT is(ARRAY(SELECT pg_temp.function_matrix_faults()), '{}'::text[],
          'every function of dsx is executable by exactly the groups the matrix names');
GRANT EXECUTE ON FUNCTION dsx.ingest_rows(regclass, bigint, boolean) TO dsx_loader;
SELECT is(ARRAY(SELECT pg_temp.function_matrix_faults()),
          ARRAY['dsx.ingest_rows(regclass,bigint,boolean): {dsx_loader}, expected {}'],
          'control: a loader allowed to run the bulk step directly is caught');
REVOKE EXECUTE ON FUNCTION dsx.ingest_rows(regclass, bigint, boolean) FROM dsx_loader;
GRANT EXECUTE ON FUNCTION dsx.void_events(text, text[], text) TO PUBLIC;
SELECT is(ARRAY(SELECT pg_temp.function_matrix_faults()),
          ARRAY['dsx.void_events(text,text[],text): {public}, expected {dsx_operator}'],
          'control: voids open to PUBLIC are caught');
REVOKE EXECUTE ON FUNCTION dsx.void_events(text, text[], text) FROM PUBLIC;

-- The functions that write derived data run with the owner's rights and pin their
-- search_path; every other function runs with the caller's rights.
CREATE FUNCTION pg_temp.definer_faults() RETURNS SETOF text LANGUAGE sql AS $$
    SELECT p.oid::regprocedure::text || CASE WHEN p.prosecdef THEN ' runs as owner' ELSE ' runs as caller' END
      FROM pg_proc p
     WHERE p.pronamespace = 'dsx'::regnamespace
       AND p.prosecdef IS DISTINCT FROM (p.proname IN ('ingest_as', 'load_energy_as', 'void_events', 'settle', 'settle_period',
                                                       'run_due_settlements', 'verify_settlement_as', 'record_config_change',
                                                       'serialize_with_books', 'view_path'))
    UNION ALL
    SELECT p.oid::regprocedure::text || ' does not pin its search_path'
      FROM pg_proc p
     WHERE p.pronamespace = 'dsx'::regnamespace AND p.prosecdef
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c = 'search_path=pg_catalog, pg_temp')
$$;
SELECT is(ARRAY(SELECT pg_temp.definer_faults()), '{}'::text[],
          'exactly ingest, energy loads, voids, settlement, verification, the history trigger, the lock of the terms triggers and the mapped roles'' search_path run as the owner, each with a pinned search_path');
ALTER FUNCTION dsx.void_events(text, text[], text) RESET search_path;
SELECT is(ARRAY(SELECT pg_temp.definer_faults()), ARRAY['dsx.void_events(text,text[],text) does not pin its search_path'],
          'control: a SECURITY DEFINER function without a pinned search_path is caught');
ALTER FUNCTION dsx.void_events(text, text[], text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION dsx.rate_lines(text, timestamptz, timestamptz) SECURITY DEFINER;
SELECT is(ARRAY(SELECT pg_temp.definer_faults()), ARRAY['dsx.rate_lines(text,timestamp with time zone,timestamp with time zone) runs as owner'],
          'control: another function running as the owner is caught');
ALTER FUNCTION dsx.rate_lines(text, timestamptz, timestamptz) SECURITY INVOKER;

-- Behaviour: each group refused what it may not do (42501), by role.
-- logins: on Citus, a role's queries reach the workers under its own name
CREATE ROLE tap_pv_op LOGIN; GRANT dsx_operator TO tap_pv_op;
CREATE ROLE tap_pv_loader LOGIN; CREATE ROLE tap_pv_partner LOGIN; CREATE ROLE tap_pv_auditor LOGIN;
GRANT dsx_auditor TO tap_pv_auditor;
INSERT INTO dsx.parties VALUES ('tap-pv-vendor', 'vendor', 'V'), ('tap-pv-p', 'partner', 'P'), ('tap-pv-q', 'partner', 'Q');
INSERT INTO dsx.factories VALUES ('tap-pv-f', 'tap-pv-p', 'USD', 'x', 1, 1), ('tap-pv-g', 'tap-pv-q', 'USD', 'x', 1, 1);
SELECT dsx.grant_loader('tap_pv_loader', 'tap-pv-f');
SELECT dsx.grant_partner('tap_pv_partner', 'tap-pv-p');
CREATE FUNCTION pg_temp.sqlstate_as(r name, q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    BEGIN
        EXECUTE q;
    EXCEPTION WHEN OTHERS THEN
        RESET ROLE;
        RETURN SQLSTATE;
    END;
    RESET ROLE;
    RETURN 'ok';
END
$$;
SELECT is(pg_temp.sqlstate_as('tap_pv_loader', $$INSERT INTO dsx.usage_inbox VALUES ('x1', now(), 'tap-pv-g', 'c', 'm', 1, 1)$$),
          '42501', 'a loader loading another factory''s usage is refused');
SELECT is(pg_temp.sqlstate_as('tap_pv_loader', $$INSERT INTO dsx.usage_inbox VALUES ('x1', now(), 'tap-pv-f', 'c', 'm', 1, 1), ('x2', now(), 'tap-pv-g', 'c', 'm', 1, 1)$$),
          '42501', 'a batch with one row of another factory is refused whole');
SELECT is((SELECT count(*) FROM dsx.usage_inbox WHERE event_id IN ('x1', 'x2')), 0::bigint, 'and nothing of it was stored');
SELECT is(pg_temp.sqlstate_as('tap_pv_loader', $$INSERT INTO dsx.usage_inbox VALUES ('x3', now(), 'tap-pv-f', 'c', 'm', 1, 1)$$),
          'ok', 'a loader loads its own factory''s usage');
SELECT is(pg_temp.sqlstate_as('tap_pv_loader', $$SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 999, false)$$),
          '42501', 'a loader cannot run the bulk step directly');
SELECT is(pg_temp.sqlstate_as('tap_pv_loader', $$UPDATE dsx.usage_daily SET usage = usage$$), '42501',
          'a loader cannot rewrite the rollup');
SELECT is(pg_temp.sqlstate_as('tap_pv_loader', $$INSERT INTO dsx.ingest_log VALUES (999, now(), 'someone', 1, 0, 0)$$), '42501',
          'a loader cannot forge the ingest log');
SELECT is(pg_temp.sqlstate_as('tap_pv_op', $$INSERT INTO dsx.usage_events VALUES ('tap-pv-f', 'old', now(), 'c', 'm', 1, 1, 1)$$), '42501',
          'an operator cannot insert events behind ingest');
SELECT is(pg_temp.sqlstate_as('tap_pv_op', $$INSERT INTO dsx.statements SELECT * FROM dsx.statements$$), '42501',
          'an operator cannot write statements behind settlement');
SELECT is(pg_temp.sqlstate_as('tap_pv_partner', $$SELECT dsx.void_events('tap-pv-f', ARRAY['x'], 'x')$$), '42501',
          'a partner cannot void');
SELECT is(pg_temp.sqlstate_as('tap_pv_auditor', $$UPDATE dsx.factories SET gpus = 0$$), '42501',
          'an auditor writes nothing');
SELECT is(pg_temp.sqlstate_as('tap_pv_auditor', $$SELECT count(*) FROM dsx.config_history$$), 'ok',
          'an auditor reads the history');

SELECT * FROM finish();
ROLLBACK;
