-- Demo report: per partner and UTC day (the latest month), the usage summarised by
-- dsx.rollup over the daily rollup dsx.ingest() keeps; then each month per partner,
-- checked against dsx.usage_agg over the raw events.
\pset footer off
\echo
\echo '== Token usage per partner and day, October 2026 (dsx.rollup over dsx.usage_daily) =='
SELECT f.partner, d.day,
       to_char(dsx.events(dsx.rollup(d.usage)), 'FM999G999G999') AS events,
       to_char(dsx.input_tokens(dsx.rollup(d.usage)), 'FM999G999G999G999G999') AS input_tokens,
       to_char(dsx.output_tokens(dsx.rollup(d.usage)), 'FM999G999G999G999G999') AS output_tokens
  FROM dsx.usage_daily d JOIN dsx.factories f USING (factory)
 WHERE d.day >= date '2026-10-01'
 GROUP BY f.partner, d.day
 ORDER BY f.partner, d.day;

\echo '== Each month per partner: rollup of the days = usage_agg of the raw events =='
SELECT f.partner, m.month,
       to_char(dsx.events(r.u), 'FM999G999G999') AS events,
       to_char(dsx.total_tokens(r.u), 'FM999G999G999G999G999') AS total_tokens,
       dsx.first_at(r.u) AS first_at, dsx.last_at(r.u) AS last_at,
       r.u OPERATOR(dsx.=) e.u AS rollup_equals_raw
  FROM dsx.factories f
 CROSS JOIN (VALUES (date '2026-08-01'), (date '2026-09-01'), (date '2026-10-01')) m(month)
 CROSS JOIN LATERAL (SELECT dsx.rollup(usage) AS u FROM dsx.usage_daily d
                      WHERE d.factory = f.factory AND d.day >= m.month AND d.day < dsx.period_end(m.month)) r
 CROSS JOIN LATERAL (SELECT dsx.usage_agg(input_tokens, output_tokens, occurred_at) AS u
                       FROM dsx.usage_events e
                      WHERE e.factory = f.factory
                        AND e.occurred_at >= m.month::timestamp AT TIME ZONE 'UTC'
                        AND e.occurred_at < dsx.period_end(m.month)::timestamp AT TIME ZONE 'UTC') e
 ORDER BY f.partner, m.month;
