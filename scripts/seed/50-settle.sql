-- Seed scenario, part 50: settle every period that is due, as the nightly pg_cron job
-- would, then check every statement against the raw events.
\pset footer off
SELECT dsx.run_due_settlements() AS periods_settled;
SELECT agreement, period_start, dsx.verify_settlement(agreement, period_start) AS verified
  FROM dsx.statements ORDER BY 1, 2;
