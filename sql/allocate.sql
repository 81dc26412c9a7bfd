-- dsx.allocate: the largest-remainder method over exact tiered entitlements. Published
-- examples, ties, refunds, errors, and property tests over thousands of generated splits
-- and amounts against a plain SQL reference of the same rule.
SET client_min_messages = warning;

-- The rule in plain SQL over numeric: entitlement = sum over tiers of the slice of |amount|
-- inside the tier times the share; truncate to minor units; the units left over go to the
-- largest remainders, ties to the party listed first; a negative amount is mirrored.
CREATE FUNCTION pg_temp.ref_allocate(amt numeric, s dsx.split, mu int)
RETURNS TABLE(party text, amount numeric, exact numeric, remainder numeric)
LANGUAGE sql AS $$
    WITH tr AS (SELECT * FROM dsx.tiers(s)),
         b AS (SELECT tier, starts, lead(starts) OVER (ORDER BY tier) AS ends
                 FROM (SELECT DISTINCT tier, starts FROM tr) x),
         e AS (SELECT tr.party,
                      sum(greatest(0, least(abs(amt), coalesce(b.ends, abs(amt))) - b.starts) * tr.share)
                        * power(10::numeric, mu) AS ent
                 FROM tr JOIN b USING (tier) GROUP BY tr.party),
         f AS (SELECT e.party, e.ent, trunc(e.ent) AS q, e.ent - trunc(e.ent) AS r,
                      array_position(dsx.parties(s), e.party) AS pos
                 FROM e),
         k AS (SELECT f.*, row_number() OVER (ORDER BY r DESC, pos) AS rn,
                      abs(amt) * power(10::numeric, mu) - sum(q) OVER () AS leftover
                 FROM f)
    SELECT k.party,
           round(sign(amt) * (q + CASE WHEN rn <= leftover THEN 1 ELSE 0 END) / power(10::numeric, mu), mu),
           sign(amt) * ent / power(10::numeric, mu),
           r
      FROM k ORDER BY pos
$$;

-- Published example (Wikipedia, "Largest remainder method", Hare quota): 100,000 votes
-- of which Yellow 47,000, White 16,000, Red 15,800, Green 12,000, Blue 6,100, Pink 3,100;
-- 10 seats: 5, 2, 1, 1, 1, 0.
SELECT * FROM dsx.allocate(10, 'Yellow=47%, White=16%, Red=15.8%, Green=12%, Blue=6.1%, Pink=3.1%', 0);
-- Whole shares divide exactly.
SELECT * FROM dsx.allocate(100, 'a=20%, b=30%, c=50%', 0);
-- 100 over 2:3:1 (shares written to 10 decimal places of a percent): 33, 50, 17.
SELECT * FROM dsx.allocate(100, 'a=33.3333333333%, b=50%, c=16.6666666667%', 0);
SELECT * FROM dsx.allocate(1000.00, 'vendor=30%, partner=70%');
-- Thirds: each gets 33 cents, and the cent left over goes to the largest remainder, c's.
SELECT * FROM dsx.allocate(1.00, 'a=33.3333333333%, b=33.3333333333%, c=33.3333333334%');
-- Equal remainders: the party listed first wins; a refund mirrors it exactly.
SELECT * FROM dsx.allocate(0.01, 'a=50%, b=50%');
SELECT * FROM dsx.allocate(-0.01, 'a=50%, b=50%');
SELECT * FROM dsx.allocate(0.03, 'b=25%, a=25%, c=50%');
-- Zero and no rounding needed.
SELECT * FROM dsx.allocate(0, 'a=33.3333333333%, b=66.6666666667%');
SELECT * FROM dsx.allocate(100.00, 'a=100%', 0);
-- Tiered (like tax brackets): 30/70 on the first 10,000,000, 20/80 above.
SELECT * FROM dsx.allocate(15000000.00, 'vendor=30%, partner=70%; from 10000000: vendor=20%, partner=80%');
SELECT * FROM dsx.allocate(10000000.01, 'vendor=30%, partner=70%; from 10000000: vendor=20%, partner=80%');
SELECT * FROM dsx.allocate(-15000000.00, 'vendor=30%, partner=70%; from 10000000: vendor=20%, partner=80%');
-- A party only in a higher tier gets nothing below it; rows come in first-appearance order.
SELECT * FROM dsx.allocate(100, 'vendor=30%, partner=70%; from 100: partner=60%, vendor=20%, lender=20%', 0);
SELECT * FROM dsx.allocate(150, 'vendor=30%, partner=70%; from 100: partner=60%, vendor=20%, lender=20%', 0);
-- A threshold finer than the minor unit: slices are exact, then rounded by the rule.
SELECT * FROM dsx.allocate(11, 'a=100%; from 10.5: b=100%', 0);
-- Large amounts stay exact: the largest amount accepted at 2 minor units, and one above it.
SELECT * FROM dsx.allocate(999999999999999999999999.99, 'a=33.3333333333%, b=66.6666666667%');
SELECT sum(amount) = 999999999999999999999999.99 AS exact FROM dsx.allocate(999999999999999999999999.99, 'a=0.000000000001, b=0.999999999999');
-- Thresholds as large as a bigint of digits (in rupiah, say) still allocate exactly.
SELECT * FROM dsx.allocate(9223372036854775807, 'a=30%, b=70%; from 9223372036854775806: a=1%, b=99%', 0);
SELECT * FROM dsx.allocate(9223372036854.775807, 'a=30%, b=70%; from 9223372036854.775806: a=1%, b=99%', 6);
-- NULL in, no rows out.
SELECT count(*) FROM dsx.allocate(NULL, 'a=100%');
SELECT count(*) FROM dsx.allocate(1, NULL);

-- Errors and their SQLSTATEs.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    EXECUTE q INTO r;
    RETURN r;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT q, pg_temp.try(q) AS result FROM (VALUES
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate(10.001, 'a=100%')$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate(0.5, 'a=100%', 0)$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate(1, 'a=100%', 7)$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate(1, 'a=100%', -1)$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate('NaN', 'a=100%')$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate('Infinity', 'a=100%')$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate(1000000000000000000000000, 'a=100%')$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate(1e30, 'a=100%')$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate(-1e100, 'a=100%', 0)$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate(1e-100, 'a=100%', 0)$$),
    ($$SELECT string_agg(amount::text, ' ') FROM dsx.allocate(100000000000000000000, 'a=100%; from 0.000001: b=100%', 0)$$)
) AS t(q);

-- Property tests: 4000 random splits (1 to 3 tiers, 1 to 5 parties per tier, shares to
-- 0.001%, thresholds with up to 3 decimals) and amounts (any sign, 0 to 4 minor units).
SELECT setseed(0.5);
CREATE FUNCTION pg_temp.random_split() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    pool text[] := ARRAY['vendor', 'partner', 'lender', '"Acme Corp"', 'x', 'y'];
    ntiers int := 1 + floor(random() * 3)::int;
    result text := '';
    from_amount numeric := 0;
    names text[];
    cuts int[];
    k int;
BEGIN
    FOR t IN 1 .. ntiers LOOP
        IF t > 1 THEN
            from_amount := from_amount + round((random() * 10 ^ floor(random() * 7))::numeric, floor(random() * 4)::int) + 0.001;
            result := result || '; from ' || from_amount || ': ';
        END IF;
        SELECT array_agg(n ORDER BY random()) INTO names FROM unnest(pool) n;
        k := 1 + floor(random() * 5)::int;
        SELECT array_agg(c ORDER BY c) INTO cuts
          FROM (SELECT floor(random() * 100001)::int AS c FROM generate_series(1, k - 1)) x;
        cuts := 0 || coalesce(cuts, '{}') || 100000;
        FOR i IN 1 .. k LOOP
            result := result || CASE WHEN i > 1 THEN ', ' ELSE '' END || names[i] || '='
                      || CASE WHEN random() < 0.5 THEN ((cuts[i + 1] - cuts[i]) / 1000.0)::text || '%'
                              ELSE ((cuts[i + 1] - cuts[i]) / 100000.0)::text END;
        END LOOP;
    END LOOP;
    RETURN result;
END $$;
CREATE TEMP TABLE cases AS
SELECT g AS id, s, mu,
       CASE WHEN random() < 0.05 THEN 0
            ELSE (CASE WHEN random() < 0.3 THEN -1 ELSE 1 END)
                 * floor(random() * 10 ^ floor(random() * 12))::numeric / power(10::numeric, mu) END AS amount
  FROM (SELECT g, pg_temp.random_split()::dsx.split AS s, floor(random() * 5)::int AS mu
          FROM generate_series(1, 4000) g) x;
SELECT count(*) AS cases, count(DISTINCT s::text) AS distinct_splits,
       count(*) FILTER (WHERE amount < 0) AS refunds, count(*) FILTER (WHERE amount = 0) AS zeros,
       count(*) FILTER (WHERE (SELECT max(tier) FROM dsx.tiers(s)) > 1) AS tiered
  FROM cases;

CREATE TEMP TABLE results AS
SELECT c.id, a.ord, a.party, a.amount, r.amount AS ref_amount, r.exact, r.remainder
  FROM cases c
 CROSS JOIN LATERAL dsx.allocate(c.amount, c.s, c.mu) WITH ORDINALITY AS a(party, amount, ord)
  LEFT JOIN LATERAL (SELECT row_number() OVER () AS ord, * FROM pg_temp.ref_allocate(c.amount, c.s, c.mu)) r
         ON r.ord = a.ord;
CREATE INDEX ON results (id);
ANALYZE results;

-- Identical to the reference, party by party, in the same order.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE ref_amount IS DISTINCT FROM amount) AS differ_from_reference
  FROM results;
SELECT count(*) AS cases_missing_rows FROM cases c
 WHERE (SELECT count(*) FROM results r WHERE r.id = c.id) <> cardinality(dsx.parties(c.s));
-- The parts add up to the whole, exactly.
SELECT count(*) AS sum_violations FROM cases c
 WHERE (SELECT sum(amount) FROM results r WHERE r.id = c.id) <> c.amount;
-- Each part is within one minor unit of its exact entitlement.
SELECT count(*) AS unit_violations FROM results r JOIN cases c USING (id)
 WHERE abs(r.amount - r.exact) >= power(10::numeric, -c.mu);
-- A refund mirrors the charge: allocate(-x) = -allocate(x).
SELECT count(*) AS mirror_violations
  FROM cases c
 CROSS JOIN LATERAL dsx.allocate(c.amount, c.s, c.mu) WITH ORDINALITY AS a(party, amount, ord)
  JOIN LATERAL dsx.allocate(-c.amount, c.s, c.mu) WITH ORDINALITY AS m(party, amount, ord) ON m.ord = a.ord
 WHERE m.party <> a.party OR m.amount <> -a.amount;
-- Listing the parties of each tier in reverse order gives every party the same amount,
-- unless two parties tie on their remainders (then the order decides, by design).
CREATE FUNCTION pg_temp.reversed(s dsx.split) RETURNS dsx.split LANGUAGE sql AS $$
    SELECT string_agg(tier_text, '; ' ORDER BY tier)::dsx.split
      FROM (SELECT tier, CASE WHEN tier > 1 THEN 'from ' || starts || ': ' ELSE '' END
                         || string_agg('"' || replace(party, '"', '""') || '"=' || share, ', ' ORDER BY n DESC) AS tier_text
              FROM dsx.tiers(s) WITH ORDINALITY AS t(tier, starts, party, share, n)
             GROUP BY tier, starts) x
$$;
SELECT count(*) FILTER (WHERE NOT tied) AS permuted_cases,
       count(*) FILTER (WHERE NOT tied AND differs) AS permutation_violations,
       count(*) FILTER (WHERE tied AND differs) AS decided_by_order
  FROM (SELECT c.id,
               (SELECT count(DISTINCT remainder) < count(*) FROM results r WHERE r.id = c.id) AS tied,
               EXISTS (SELECT 1 FROM dsx.allocate(c.amount, pg_temp.reversed(c.s), c.mu) p
                         JOIN results r ON r.id = c.id AND r.party = p.party
                        WHERE r.amount <> p.amount) AS differs
          FROM cases c) x;
-- Called from a select list (rows handed out one per call) it gives the same rows as in FROM.
SELECT count(*) FILTER (WHERE ARRAY(SELECT dsx.allocate(c.amount, c.s, c.mu)::text)
                          IS DISTINCT FROM ARRAY(SELECT a::text FROM dsx.allocate(c.amount, c.s, c.mu) a))
         AS select_list_differences
  FROM cases c;
