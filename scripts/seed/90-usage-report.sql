-- Demo report: per partner and UTC day, the usage summarised by dsx.rollup over the daily
-- rollup dsx.ingest() keeps, then the month per partner checked against dsx.usage_agg over
-- the raw events.
\pset footer off
\echo
\echo '== Token usage per partner and day (dsx.rollup over dsx.usage_daily) =='
SELECT f.partner, d.day,
       to_char(dsx.events(dsx.rollup(d.usage)), 'FM999G999G999') AS events,
       to_char(dsx.input_tokens(dsx.rollup(d.usage)), 'FM999G999G999G999G999') AS input_tokens,
       to_char(dsx.output_tokens(dsx.rollup(d.usage)), 'FM999G999G999G999G999') AS output_tokens
  FROM dsx.usage_daily d JOIN dsx.factories f USING (factory)
 GROUP BY f.partner, d.day
 ORDER BY f.partner, d.day;

\echo '== The month per partner: rollup of the days = usage_agg of the raw events =='
SELECT f.partner,
       to_char(dsx.total_tokens(r.u), 'FM999G999G999G999G999') AS total_tokens,
       dsx.first_at(r.u) AS first_at, dsx.last_at(r.u) AS last_at,
       r.u OPERATOR(dsx.=) e.u AS rollup_equals_raw
  FROM dsx.factories f
 CROSS JOIN LATERAL (SELECT dsx.rollup(usage) AS u FROM dsx.usage_daily d WHERE d.factory = f.factory) r
 CROSS JOIN LATERAL (SELECT dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u
                       FROM dsx.usage_events e WHERE e.factory = f.factory) e
 ORDER BY f.partner;
