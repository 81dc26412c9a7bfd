-- Demo report: what each party sees. The same queries run as each demo role in turn
-- (SET ROLE, roles from 80-roles.sql): row-level security, not the query, decides which
-- rows come back. The partner section is this file again, included once per partner.
\if :{?dsx_partner_section}
\echo '-- dsx.partner_usage_daily, summed per factory and month'
SELECT partner, factory, date_trunc('month', day)::date AS month, count(DISTINCT day) AS days,
       count(DISTINCT customer) AS customers, currency,
       to_char(sum(total_tokens), 'FM999G999G999G999G999') AS tokens,
       to_char(sum(revenue), 'FM999G999G999G999G990D00') AS revenue
  FROM dsx.partner_usage_daily GROUP BY 1, 2, 3, 6 ORDER BY 1, 2, 3;
\echo '-- dsx.partner_statements'
SELECT agreement, period_start, currency,
       to_char(gross, 'FM999G999G999G990D00') AS gross,
       to_char(debt_service_paid, 'FM999G999G990D00') AS debt_paid,
       to_char(support_drawn, 'FM999G999G990D00') AS support_drawn,
       to_char(support_repaid, 'FM999G999G990D00') AS support_repaid,
       to_char(vendor_share, 'FM999G999G999G990D00') AS vendor_share,
       to_char(partner_share, 'FM999G999G999G990D00') AS partner_share
  FROM dsx.partner_statements ORDER BY agreement, period_start;
\echo '-- dsx.credit_support_position, latest period'
SELECT DISTINCT ON (agreement) agreement, lender, period_start,
       to_char(support_balance, 'FM999G999G990D00') AS support_owed_to_vendor,
       to_char(loan_outstanding, 'FM999G999G999G990D00') AS loan_outstanding
  FROM dsx.credit_support_position ORDER BY agreement, period_start DESC;
\echo '-- beyond its own rows: other partners'' rows it can see, what it may write or run'
SELECT (SELECT count(*) FROM dsx.usage_events e JOIN dsx.factories f USING (factory)
         WHERE f.partner <> ALL (dsx.current_partners())) AS other_partners_events,
       (SELECT count(*) FROM dsx.partner_statements WHERE partner <> ALL (dsx.current_partners())) AS other_partners_statements,
       has_table_privilege('dsx.ledger_entries', 'INSERT') AS may_write_ledger,
       has_function_privilege('dsx.settle(text, date)', 'EXECUTE') AS may_settle;
\else
\pset footer off
\set dsx_partner_section 1

\echo
\echo '== As sharon_ai_finance (partner sharon-ai) =='
SET ROLE sharon_ai_finance;
\ir 95-party-views.sql
RESET ROLE;

\echo
\echo '== As firmus_finance (partner firmus) =='
SET ROLE firmus_finance;
\ir 95-party-views.sql
RESET ROLE;
\unset dsx_partner_section

\echo
\echo '== As nvidia_finance (vendor nvidia) =='
SET ROLE nvidia_finance;
\echo '-- dsx.vendor_portfolio'
SELECT partner, agreement, factory, gpus, periods_settled AS periods, last_period,
       to_char(revenue, 'FM999G999G999G990D00') AS revenue,
       to_char(vendor_share_earned, 'FM999G999G999G990D00') AS vendor_share,
       to_char(support_balance, 'FM999G999G990D00') AS support_owed,
       to_char(credit_exposure, 'FM999G999G999G990D00') AS exposure,
       utilisation AS tokens_per_gpu_hour
  FROM dsx.vendor_portfolio ORDER BY partner, agreement;
\echo '-- rows it sees, per view and partner (no customer-level usage for the vendor)'
-- (one query a view: on Citus 13.2, one query over the four, the books' views and the
-- distributed usage together, crashes the coordinator's planner under row-level security;
-- docs/scale-out.md, Limits)
SET client_min_messages = error;   -- (Citus warns that a temporary function stays on this node)
CREATE FUNCTION pg_temp.rows_by_partner(v text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE format('SELECT COALESCE(string_agg(partner || '': '' || n, '', '' ORDER BY partner), ''none'')
                      FROM (SELECT partner, count(*) AS n FROM dsx.%I GROUP BY partner) x', v) INTO r;
    RETURN r;
END $$;
RESET client_min_messages;
SELECT w.view, pg_temp.rows_by_partner(w.view) AS rows_by_partner
  FROM (VALUES ('partner_statements'), ('credit_support_position'), ('partner_usage_daily'), ('vendor_portfolio')) w(view)
 ORDER BY w.view;
\echo '-- it verifies every statement it sees from the raw events, which it may not read itself'
SELECT agreement, period_start, dsx.verify_settlement(agreement, period_start) AS verified
  FROM dsx.partner_statements ORDER BY agreement, period_start;
RESET ROLE;

\echo
\echo '== As audit_team (auditor) =='
SET ROLE audit_team;
\echo '-- the configuration history: every change to the configuration, by whom'
SELECT table_name, operation, count(*) AS changes, string_agg(DISTINCT changed_by, ', ') AS by
  FROM dsx.config_history GROUP BY 1, 2 ORDER BY 1, 2;
\echo '-- what a meter may not do: load another partner''s factory (refused, nothing stored)'
RESET ROLE;
SET ROLE firmus_meter;
\set ON_ERROR_STOP 0
INSERT INTO dsx.usage_inbox VALUES ('demo-x', '2026-10-31 12:00Z', 'sharon-ai-gb300', 'atlas-models', 'open-70b', 1, 1);
\set ON_ERROR_STOP 1
RESET ROLE;
\endif
