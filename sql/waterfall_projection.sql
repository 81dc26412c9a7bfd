-- dsx.project runs settlement's own waterfall forward, storing nothing: given the gross and
-- costs of settled periods it reproduces their statements figure for figure; from the last
-- settled period it projects; dsx.vendor_stress projects every agreement at 100, 75, 50,
-- 25 and 0 % of its last gross. Refusals. (Uses the agreements the suite settled before it.)
\set VERBOSITY terse
SET timezone = 'UTC';
-- every settled agreement of the suite, run again from its start with its gross and costs
CREATE TEMP TABLE rerun AS
SELECT p.*, g.agreement
  FROM dsx.agreements g
 CROSS JOIN LATERAL dsx.project(g.agreement,
                                ARRAY(SELECT s.gross FROM dsx.statements s WHERE s.agreement = g.agreement ORDER BY s.period_start),
                                ARRAY(SELECT s.opex_due FROM dsx.statements s WHERE s.agreement = g.agreement ORDER BY s.period_start),
                                g.starts) p
 WHERE EXISTS (SELECT 1 FROM dsx.statements s WHERE s.agreement = g.agreement)
   AND NOT EXISTS (SELECT 1 FROM dsx.statements s WHERE s.agreement = g.agreement AND s.period_start < g.starts);
SELECT count(DISTINCT agreement) > 20 AS many_agreements, count(*) > 100 AS many_periods,
       count(*) FILTER (WHERE lockup_trapped > 0) > 0 AS with_lockup,
       count(*) FILTER (WHERE opex_arrears > 0) > 0 AS with_cost_arrears,
       count(*) FILTER (WHERE reserve_drawn > 0) > 0 AS with_reserve,
       count(*) FILTER (WHERE debt_arrears > 0) > 0 AS with_debt_arrears
  FROM rerun;
-- the same figures as the statements settled
SELECT count(*) AS differing FROM rerun p JOIN dsx.statements s USING (agreement, period_start)
 WHERE (p.period_end, p.currency, p.gross, p.opex_due, p.opex_arrears_opening, p.opex_paid, p.opex_arrears, p.cfads,
        p.debt_service_due, p.debt_service_paid, p.reserve_opening, p.reserve_drawn, p.reserve_topup, p.reserve_released,
        p.reserve_balance, p.support_opening, p.support_drawn, p.support_interest, p.support_repaid, p.support_balance,
        p.debt_arrears, p.lockup_opening, p.lockup_trapped, p.lockup_released, p.lockup_balance, p.dscr, p.distributable,
        p.vendor_share, p.partner_share)
       IS DISTINCT FROM
       (s.period_end, s.currency, s.gross, s.opex_due, s.opex_arrears_opening, s.opex_paid, s.opex_arrears, s.cfads,
        s.debt_service_due, s.debt_service_paid, s.reserve_opening, s.reserve_drawn, s.reserve_topup, s.reserve_released,
        s.reserve_balance, s.support_opening, s.support_drawn, s.support_interest, s.support_repaid, s.support_balance,
        s.debt_arrears, s.lockup_opening, s.lockup_trapped, s.lockup_released, s.lockup_balance, s.dscr, s.distributable,
        s.vendor_share, s.partner_share);
SELECT count(*) AS missing FROM dsx.statements s JOIN rerun r0 ON r0.agreement = s.agreement
 WHERE NOT EXISTS (SELECT 1 FROM rerun p WHERE p.agreement = s.agreement AND p.period_start = s.period_start);
-- control: a cent more gross in one period changes what follows
SELECT count(*) > 0 AS a_cent_shows
  FROM dsx.project('lk-a', '{2000,1600.01,1700,1699.99}', '{500,500,500,500}', '2026-01-01') p
  JOIN dsx.statements s USING (period_start)
 WHERE s.agreement = 'lk-a' AND (p.lockup_trapped, p.distributable) IS DISTINCT FROM (s.lockup_trapped, s.distributable);
-- forward from the last settled period: the costs default to the fixed costs in force
SELECT period_start, gross, opex_due, opex_paid, debt_service_due, dscr, lockup_trapped, distributable, vendor_share
  FROM dsx.project('lk-a', '{0,1000,5000}');
-- the reserve agreement projected: nothing more is scheduled, balances carry
SELECT period_start, gross, support_opening, support_balance, reserve_balance FROM dsx.project('rs-a', '{100}');
-- zero, negative and huge gross
SELECT gross, opex_paid, opex_arrears, distributable, vendor_share + partner_share = distributable AS shares_add_up
  FROM dsx.project('oc-a', '{0,-250.00,999999999999999999.99}', '{10,10,10}');
-- the vendor's stress table
SELECT vendor, agreement, scenario_pct, peak_support_balance, periods_with_draws, support_balance_at_maturity, through_period
  FROM dsx.vendor_stress WHERE agreement IN ('lk-a', 'rs-a', 'rd-a') ORDER BY agreement, scenario_pct DESC;
-- it is the projection: each agreement's 50 % scenario recomputed with dsx.project, and the
-- scenarios in order (less gross, no less exposure)
SELECT count(*) AS scenarios, count(*) FILTER (WHERE NOT ok) AS not_the_projection
  FROM (SELECT s.agreement,
               (s.peak_support_balance, s.periods_with_draws, s.support_balance_at_maturity)
               IS NOT DISTINCT FROM
               (SELECT ROW(GREATEST(l.support_balance, COALESCE(max(p.support_balance), l.support_balance)),
                           count(*) FILTER (WHERE p.support_drawn > 0)::int,
                           COALESCE((array_agg(p.support_balance ORDER BY p.period_start DESC))[1], l.support_balance))
                  FROM dsx.project(s.agreement, array_fill(round(l.gross / 2, c.minor_units), ARRAY[n.months]),
                                   ARRAY(SELECT (SELECT COALESCE(round(sum(x.amount), c.minor_units), 0)
                                                   FROM dsx.cost_lines(s.agreement, (l.period_start + k * interval '1 month')::date,
                                                                       dsx.period_energy((SELECT g.factory FROM dsx.agreements g WHERE g.agreement = s.agreement),
                                                                                         l.period_start, l.energy_through)) x)
                                           FROM generate_series(1, n.months) k ORDER BY k)) p) AS ok
          FROM dsx.vendor_stress s
          JOIN LATERAL (SELECT * FROM dsx.statements t WHERE t.agreement = s.agreement ORDER BY t.period_start DESC LIMIT 1) l ON true
          JOIN dsx.currencies c ON c.currency = l.currency
         CROSS JOIN LATERAL (SELECT ((date_part('year', age(s.through_period, l.period_start)) * 12
                                      + date_part('month', age(s.through_period, l.period_start))))::int AS months) n
         WHERE s.scenario_pct = 50) x;
SELECT count(*) AS out_of_order FROM dsx.vendor_stress a JOIN dsx.vendor_stress b USING (agreement)
 WHERE a.scenario_pct > b.scenario_pct AND a.peak_support_balance > b.peak_support_balance;
SELECT count(DISTINCT agreement) FILTER (WHERE periods_with_draws > 0) > 0 AS some_draw_under_stress,
       count(*) FILTER (WHERE scenario_pct = 0 AND periods_with_draws > 0) > 0 AS zero_gross_draws
  FROM dsx.vendor_stress;
-- Refusals
\set VERBOSITY sqlstate
SELECT * FROM dsx.project('no-such-agreement', '{1}');
SELECT * FROM dsx.project('lk-a', NULL);
SELECT * FROM dsx.project('lk-a', '{1,NULL}');
SELECT * FROM dsx.project('lk-a', '{1,2}', '{1}');
SELECT * FROM dsx.project('lk-a', '{1.001}');
SELECT * FROM dsx.project('lk-a', '{{1},{2}}');
SELECT * FROM dsx.project('lk-a', '{1}', NULL, '2026-03-15');
SELECT * FROM dsx.project('lk-a', '{1}', NULL, '2027-01-01');
SELECT * FROM dsx.project(NULL, '{1}');
SELECT * FROM dsx.project('lk-a', '{0,1000}', '[0:1]={10,20}');
SELECT * FROM dsx.project('lk-a', '[0:1]={1,2}');
SELECT * FROM dsx.project('lk-a', '{NaN}');
SELECT * FROM dsx.project('lk-a', '{1}', '{Infinity}');
SELECT * FROM dsx.priority_of_payments(100, 0, 0, '[2:3]={1,2}', '{0,0}', '{t,t}', 0, 0, 0, 0, NULL, 0);
\set VERBOSITY terse
-- an agreement the role may not see is, to it, unknown; its own it may project
CREATE ROLE regress_pj_partner;
SELECT dsx.grant_partner('regress_pj_partner', 'lk-p');
SET ROLE regress_pj_partner;
SELECT count(*) AS rows FROM dsx.project('lk-a', '{1,2}');
SELECT DISTINCT agreement FROM dsx.vendor_stress ORDER BY 1;
\set VERBOSITY sqlstate
SELECT * FROM dsx.project('oc-a', '{1}');
\set VERBOSITY terse
RESET ROLE;
SELECT dsx.revoke_partner('regress_pj_partner');
DROP ROLE regress_pj_partner;
-- A century of months at most (54000), and amounts below 1e32 (22003), refused up front.
\set VERBOSITY sqlstate
SELECT count(*) FROM dsx.project('rs-a', array_fill(1::numeric, ARRAY[1201]));
SELECT count(*) FROM dsx.project('rs-a', '{1e32}');
\set VERBOSITY terse
SELECT count(*) AS periods FROM dsx.project('rs-a', array_fill(1::numeric, ARRAY[1200]));
