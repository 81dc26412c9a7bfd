-- Seed scenario, part 96: one statement for people, dsx.statement_report, read by Firmus's
-- finance team (a partner sees its lines; the vendor would get the statement without them).
\pset footer off
\pset tuples_only on
\pset format unaligned
\echo
\echo '== dsx.statement_report: Firmus, October 2026, as firmus_finance =='
SET ROLE firmus_finance;
SELECT dsx.statement_report('dsx-firmus', '2026-10-01');
RESET ROLE;
