-- Seed scenario, part 25: the Batam campus's metered energy, one reading per local day
-- through dsx.load_energy(). A 360 MW campus draws 30 % of its power idle and the rest in
-- proportion to its load, with a deterministic jitter of up to 2 %.
SELECT count(*) FILTER (WHERE dsx.load_energy('firmus-batam', d::date,
                                              round(360 * 24 * (0.30 + 0.70 * m.load)
                                                    * (0.99 + ((hashtext(d::text) & 1023) % 21) / 1000.0), 3)))
           AS days_metered
  FROM (VALUES (date '2026-08-01', 0.20), (date '2026-09-01', 0.85), (date '2026-10-01', 0.95), (date '2026-11-01', 1.00)) m(month, load)
 CROSS JOIN LATERAL generate_series(m.month, (m.month + interval '1 month' - interval '1 day'), interval '1 day') d;
