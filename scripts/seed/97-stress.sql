-- Demo close: the vendor's exposure if utilisation falls. Each agreement projected by
-- dsx.project from its last settled month, at 100, 75, 50, 25 and 0 % of that month's gross
-- and its costs in force, through its last scheduled payment.
\pset footer off
\echo
\echo '== The vendor''s stress table (dsx.vendor_stress): credit support exposure if utilisation falls =='
SELECT vendor, agreement, scenario_pct AS "gross %",
       to_char(peak_support_balance, 'FM999G999G999G990D00') AS peak_support_balance,
       periods_with_draws, to_char(support_balance_at_maturity, 'FM999G999G999G999G990D00') AS balance_at_maturity,
       through_period
  FROM dsx.vendor_stress ORDER BY agreement, scenario_pct DESC;
