-- pgTAP: the settlement API surface — functions with their signatures and labels, the
-- waterfall on three cases, the tables and keys the spec names, the append-only triggers,
-- and who may run dsx.settle_period. (Whether SECURITY DEFINER functions pin their
-- search_path is checked, with a control, in access.sql.)
BEGIN;
SELECT plan(47);

SELECT has_function('dsx', 'settle', ARRAY['text', 'date']);
SELECT function_returns('dsx', 'settle', ARRAY['text', 'date'], 'boolean');
SELECT volatility_is('dsx', 'settle', ARRAY['text', 'date'], 'volatile');
SELECT has_function('dsx', 'run_due_settlements', ARRAY[]::text[]);
SELECT function_returns('dsx', 'run_due_settlements', ARRAY[]::text[], 'integer');
SELECT has_function('dsx', 'verify_settlement', ARRAY['text', 'date']);
SELECT function_returns('dsx', 'verify_settlement', ARRAY['text', 'date'], 'boolean');
SELECT has_function('dsx', 'schedule_settlements', ARRAY['text']);
SELECT function_returns('dsx', 'schedule_settlements', ARRAY['text'], 'bigint');
SELECT has_function('dsx', 'unschedule_settlements', ARRAY[]::text[]);
SELECT is((SELECT pg_get_function_arguments('dsx.schedule_settlements(text)'::regprocedure)),
          'cron text DEFAULT ''15 0 * * *''::text', 'schedule_settlements defaults to 00:15 daily');
SELECT has_function('dsx', 'waterfall', ARRAY['numeric', 'numeric', 'numeric', 'numeric']);
SELECT volatility_is('dsx', 'waterfall', ARRAY['numeric', 'numeric', 'numeric', 'numeric'], 'immutable');

-- the waterfall as a pure function: shortfall, repayment interest first, claw-back
SELECT results_eq($$SELECT * FROM dsx.waterfall(500.00, 1066.19, 0, 0)$$,
                  $$VALUES (500.00, 566.19, 0.00, 566.19, 0.00)$$, 'revenue below debt service draws support');
SELECT results_eq($$SELECT * FROM dsx.waterfall(3200.00, 1066.19, 566.19, 5.66)$$,
                  $$VALUES (1066.19, 0.00, 571.85, 0.00, 1561.96)$$, 'what remains repays the vendor, interest first');
SELECT results_eq($$SELECT * FROM dsx.waterfall(-100, 50, 20, 1)$$,
                  $$VALUES (0::numeric, 50::numeric, 0::numeric, 71::numeric, -100::numeric)$$, 'a negative gross pays nothing and is clawed back');

SELECT has_table('dsx', t, 'table dsx.' || t) FROM unnest(ARRAY['agreements', 'credit_facilities',
    'statements', 'statement_lines', 'statement_shares', 'ledger_entries']) t;
SELECT col_is_pk('dsx', 'statements', ARRAY['agreement', 'period_start'], 'one statement per agreement and period');
SELECT col_is_pk('dsx', 'ledger_entries', ARRAY['txn_id', 'entry_no'], 'ledger entries keyed by transaction and entry');
SELECT has_column('dsx', 'statements', c, 'statements.' || c) FROM unnest(ARRAY['period_end', 'currency',
    'input_tokens', 'output_tokens', 'revenue', 'adjustments', 'gross', 'debt_service_due', 'debt_service_paid',
    'support_drawn', 'support_interest', 'support_repaid', 'support_balance', 'distributable', 'vendor_share',
    'partner_share', 'settled_at']) c;
SELECT has_trigger('dsx', t, 'append_only', t || ' refuses UPDATE and DELETE')
  FROM unnest(ARRAY['ledger_entries', 'statements']) t;
SELECT has_trigger('dsx', 'ledger_entries', 'append_only_truncate', 'ledger_entries refuses TRUNCATE');

-- settling writes the books: not for PUBLIC, nor for partner roles
SELECT has_function('dsx', 'settle_period', ARRAY['text[]', 'date']);
SELECT ok(NOT has_function_privilege('public', 'dsx.settle_period(text[], date)', 'EXECUTE'),
          'PUBLIC cannot run dsx.settle_period');
SELECT ok(NOT has_function_privilege('dsx_partner', 'dsx.settle_period(text[], date)', 'EXECUTE'),
          'partner roles cannot run dsx.settle_period');

SELECT * FROM finish();
ROLLBACK;
