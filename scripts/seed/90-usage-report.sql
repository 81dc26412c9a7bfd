-- Demo report: per partner and local day of its campus (the latest month), the usage summarised by
-- dsx.rollup over the daily rollup dsx.ingest() keeps; then each month per partner,
-- checked against dsx.usage_agg over the raw events.
\pset footer off
\echo
\echo '== Token usage per partner and local day, October 2026 (dsx.rollup over dsx.usage_daily) =='
\echo '   Sydney time gains an hour on 4 October (summer time): its day has 23 hours'
SELECT f.partner, d.day,
       to_char(dsx.events(dsx.rollup(d.usage)), 'FM999G999G999') AS events,
       to_char(dsx.input_tokens(dsx.rollup(d.usage)), 'FM999G999G999G999G999') AS input_tokens,
       to_char(dsx.output_tokens(dsx.rollup(d.usage)), 'FM999G999G999G999G999') AS output_tokens
  FROM dsx.usage_daily d JOIN dsx.factories f USING (factory)
 WHERE d.day >= date '2026-10-01'
 GROUP BY f.partner, d.day
 ORDER BY f.partner, d.day;

\echo '== Each local month per partner: rollup of the days = usage_agg of the raw events =='
-- (each side grouped by factory and month, then joined: the same query runs on Citus,
-- where both sides are aggregated on the workers)
SELECT f.partner, r.month,
       to_char(dsx.events(r.u), 'FM999G999G999') AS events,
       to_char(dsx.total_tokens(r.u), 'FM999G999G999G999G999') AS total_tokens,
       dsx.first_at(r.u) AS first_at, dsx.last_at(r.u) AS last_at,
       r.u OPERATOR(dsx.=) e.u AS rollup_equals_raw
  FROM dsx.factories f
  JOIN (SELECT d.factory, dsx.month_of(d.day) AS month, dsx.rollup(d.usage) AS u
          FROM dsx.usage_daily d GROUP BY d.factory, dsx.month_of(d.day)) r ON r.factory = f.factory
  JOIN (SELECT e.factory, date_trunc('month', e.occurred_at AT TIME ZONE z.time_zone)::date AS month,
               dsx.usage_agg(e.input_tokens, e.output_tokens, e.occurred_at) AS u
          FROM dsx.usage_events e JOIN dsx.factories z ON z.factory = e.factory
         GROUP BY e.factory, date_trunc('month', e.occurred_at AT TIME ZONE z.time_zone)::date) e
       ON e.factory = r.factory AND e.month = r.month
 ORDER BY f.partner, r.month;
