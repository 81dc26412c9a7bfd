-- updates/1.0--1.1.sql — what takes a 1.0 database to 1.1 before the code is replayed.
--
-- dsx--1.0--1.1.sql is this file followed by every code part of schema/ (the files that are
-- not *.type.sql or *.tables.sql), the same files the fresh install script dsx--1.1.sql is
-- assembled from: a function, trigger, view, policy or privilege is defined once, in its
-- part, and an update replaces it from there. What stands here is only what a code part
-- cannot say: changes to the tables and types a 1.0 database already has, objects 1.1
-- creates once, and 1.0 objects 1.1 no longer has. test/upgrade.sh checks that a 1.0
-- database updated by this script has the catalogue of a fresh 1.1 install.
\echo Use "ALTER EXTENSION dsx UPDATE TO '1.1'" to load this file. \quit

-- 1.1's views declare the size of every column (numeric(38,6) for amounts, and so on:
-- schema/80-views.sql), which a view cannot change in place: 1.0's are dropped here and
-- created again, with their comments and grants, by the code parts. (A view of the user's
-- own over one of them must be dropped before the update and created again after it.)
DROP VIEW dsx.partner_statements, dsx.partner_usage_daily, dsx.credit_support_position, dsx.vendor_portfolio,
    dsx.facility_position;

-- The ingest log records the real login of each batch (dsx.ingest() runs with the owner's
-- rights, so CURRENT_USER would name the owner).
ALTER TABLE dsx.ingest_log ALTER COLUMN ingested_by SET DEFAULT SESSION_USER;
COMMENT ON COLUMN dsx.ingest_log.ingested_by IS 'The real login (session_user) that ran it, whatever role it acted as';

-- 1.1 maps loaders to factories (dsx.grant_loader). A member of dsx_loader under 1.0 could
-- load any factory; under 1.1 a loader with no mapping loads nothing: secure by default.
-- Say who is affected.
DO $$
DECLARE
    who text;
BEGIN
    SELECT pg_catalog.string_agg(m.member::regrole::text, ', ' ORDER BY m.member::regrole::text) INTO who
      FROM pg_catalog.pg_auth_members m
     WHERE m.roleid = 'dsx_loader'::regrole AND m.member <> 'dsx_operator'::regrole;
    IF who IS NOT NULL THEN
        RAISE WARNING 'dsx 1.1: members of dsx_loader (%) load nothing until they are mapped to factories', who
            USING HINT = 'Map each loader to its factories with SELECT dsx.grant_loader(role, factory).';
    END IF;
END
$$;

-- Every key of a usage table holds the factory, by which Citus distributes them
-- (dsx.distribute): the conflicts' surrogate key becomes (factory, conflict_id).
ALTER TABLE dsx.usage_conflicts DROP CONSTRAINT usage_conflicts_pkey,
    ADD CONSTRAINT usage_conflicts_pkey PRIMARY KEY (factory, conflict_id);
COMMENT ON COLUMN dsx.usage_conflicts.conflict_id IS 'Surrogate key (with the factory: on Citus each worker numbers its own, so only the pair is unique)';

-- The shares of a split are a pure function of the agreement's terms, which its callers
-- read (on Citus a function that reads a table cannot be inlined into their queries).
DROP FUNCTION dsx.agreement_shares(text, numeric, integer);

-- 1.1's terms are dated: a price, a customer's plan or a split changes by a new row from a
-- month on, and a change reaching into a settled period is refused (55000), where 1.0 let
-- prices be edited in place. Say so where books are already settled.
DO $$
DECLARE
    n bigint;
BEGIN
    SELECT pg_catalog.count(DISTINCT s.agreement) INTO n FROM dsx.statements s;
    IF n > 0 THEN
        RAISE WARNING 'dsx 1.1: terms are dated; % agreement(s) have settled periods, whose prices, plans and splits can no longer be edited in place', n
            USING HINT = 'Amend from a month after the last settled period: INSERT INTO dsx.price_plans (plan, model, input_price, output_price, valid_from) ..., and likewise dsx.customer_plans and dsx.agreement_splits.';
    END IF;
END
$$;
