-- dsx.price: canonical text form, text and binary round trips, every validation error with
-- its SQLSTATE, and dsx.charge / dsx.rate checked exactly against numeric arithmetic.
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.try(lit text, typ text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    EXECUTE format('SELECT %L::%s::text', lit, typ) INTO r;
    RETURN r;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Binary input: wraps payload in a one-column binary COPY file and loads it.
CREATE FUNCTION pg_temp.recv(payload bytea, typ text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    f text := '/tmp/dsx_regress_recv_' || pg_backend_pid() || '.bin';
    o oid;
    r text;
BEGIN
    o := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
                          || '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea);
    PERFORM lo_export(o, f);
    PERFORM lo_unlink(o);
    EXECUTE format('CREATE TEMP TABLE IF NOT EXISTS recv_%s (v %s)', replace(typ, 'dsx.', ''), typ);
    EXECUTE format('TRUNCATE recv_%s', replace(typ, 'dsx.', ''));
    EXECUTE format('COPY recv_%s FROM %L WITH (FORMAT binary)', replace(typ, 'dsx.', ''), f);
    EXECUTE format('SELECT v::text FROM recv_%s', replace(typ, 'dsx.', '')) INTO r;
    EXECUTE format('COPY (SELECT WHERE false) TO PROGRAM %L', 'cat >/dev/null; rm -f ' || f);
    RETURN r;
EXCEPTION WHEN OTHERS THEN
    EXECUTE format('COPY (SELECT WHERE false) TO PROGRAM %L', 'cat >/dev/null; rm -f ' || f);
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Canonical forms: trimmed decimals, lower-case kind, one space after each ":" and ",".
SELECT lit, pg_temp.try(lit, 'dsx.price') AS canonical,
       pg_temp.try(pg_temp.try(lit, 'dsx.price'), 'dsx.price') = pg_temp.try(lit, 'dsx.price') AS text_roundtrip
  FROM (VALUES
    ('2.5'), ('2.50'), (' 0 '), ('0.000000001'), ('999999999.999999999'), ('007.100'),
    ('1.0000000000000'), ('+3'), ('.5'), ('5.'),
    ('graduated: 0: 3.00, 1000000000: 2.50, 10000000000: 2.00'),
    ('GRADUATED:0:3,1000000000:2.5'),
    ('volume: 0: 3.00, 1000000000: 2.50'),
    ('volume:0:1'),
    ('graduated : 0 : 0.123456789 , 9223372036854775807 : 0')
  ) AS t(lit);

-- Every way to be wrong, with its SQLSTATE.
SELECT lit, pg_temp.try(lit, 'dsx.price') AS result
  FROM (VALUES
    (''), ('  '), ('abc'), ('1 2'), ('1e5'), ('NaN'), ('Infinity'), ('$2'), ('2.5.1'), ('.'), ('-'),
    ('graduated'), ('graduated:'), ('graduated: 0'), ('graduated: 0:'), ('graduated: 0 3'),
    ('graduated: 0: 3,'), ('graduated: 0: 3, 10'), ('volume 0: 1'), ('tiered: 0: 1'),
    ('graduated: 0: 3; 10: 2'), ('graduated: 0: 3 10: 2'), ('graduated: x: 3'),
    ('-1'), ('-0.000000001'), ('1.0000000001'), ('0.1234567891'),
    ('1000000000'), ('99999999999999999999999999999999999999999'),
    ('graduated: 1: 3'), ('graduated: 0: 3, 0: 2'), ('graduated: 0: 3, 10: 2, 5: 1'),
    ('graduated: 0: 3, 1.5: 2'), ('graduated: 0: 3, -1: 2'), ('volume: 0: -1'),
    ('volume: 0: 1, 10: 1.0000000001'), ('graduated: 0: 3, 9223372036854775808: 2'),
    ('graduated: 0: 1000000000')
  ) AS t(lit);

\set VERBOSITY default
SELECT 'graduated: 0: 3, 1000: 2.5, 1000: 2'::dsx.price;
SELECT '2.5 USD'::dsx.price;
SELECT '0.0000000001'::dsx.price;

-- Binary round trip through COPY (FORMAT binary).
SELECT lit, pg_temp.recv(dsx.price_send(lit::dsx.price), 'dsx.price') = lit::dsx.price::text AS binary_roundtrip
  FROM (VALUES ('2.5'), ('0'), ('999999999.999999999'), ('graduated: 0: 3, 1000000000: 2.5'),
               ('volume: 0: 3, 1000000000: 2.5, 9223372036854775807: 0')) AS t(lit);

-- Hostile binary input.
SELECT what, pg_temp.recv(payload, 'dsx.price') AS result
  FROM (SELECT dsx.price_send('graduated: 0: 3, 1000: 2') AS ok) v,
  LATERAL (VALUES
    ('valid', ok),
    ('version 1', overlay(ok PLACING '\x00000001' FROM 1 FOR 4)),
    ('kind 3', overlay(ok PLACING '\x00000003' FROM 5 FOR 4)),
    ('flat with two tiers', overlay(ok PLACING '\x00000000' FROM 5 FOR 4)),
    ('no tiers', overlay(ok PLACING '\x00000000' FROM 9 FOR 4)),
    ('2^31-1 tiers', overlay(ok PLACING '\x7fffffff' FROM 9 FOR 4)),
    ('one tier too many for the bytes', overlay(ok PLACING '\x00000003' FROM 9 FOR 4)),
    ('first tier from 1', overlay(ok PLACING '\x0000000000000001' FROM 13 FOR 8)),
    ('thresholds not increasing', overlay(ok PLACING '\x0000000000000000' FROM 29 FOR 8)),
    ('negative price', overlay(ok PLACING '\xffffffffffffffff' FROM 21 FOR 8)),
    ('price 10^18 units', overlay(ok PLACING '\x0de0b6b3a7640000' FROM 21 FOR 8)),
    ('truncated', substr(ok, 1, length(ok) - 1)),
    ('trailing byte', ok || '\x00'::bytea),
    ('empty', ''::bytea)
  ) AS t(what, payload);

-- Charges are exact and unrounded: tokens x price / 1,000,000.
SELECT dsx.charge(1000000, '2.5') AS one_million, dsx.charge(1, '2.5') AS one_token,
       dsx.charge(0, '2.5') AS none, dsx.charge(123456789, '0.000000001') AS tiny,
       dsx.charge(7, '0') AS free;
-- Graduated: each tier's price on the tokens inside it (like tax brackets).
SELECT tokens, dsx.charge(tokens, 'graduated: 0: 3.00, 1000000000: 2.50, 10000000000: 2.00') AS graduated,
       dsx.charge(tokens, 'volume: 0: 3.00, 1000000000: 2.50, 10000000000: 2.00') AS volume
  FROM unnest(ARRAY[0, 1, 999999999, 1000000000, 1000000001, 1500000000, 10000000000, 12000000000]::bigint[]) AS tokens;
-- The largest charge there can be is still exact.
SELECT dsx.charge(9223372036854775807, '999999999.999999999') AS max_charge,
       dsx.charge(9223372036854775807, '999999999.999999999')
         = 9223372036854775807::numeric * 999999999.999999999 * 0.000001 AS exact;
SELECT dsx.charge(-1, '2.5');
SELECT dsx.charge(NULL::bigint, '2.5'), dsx.charge(1, NULL::dsx.price);

-- A usage summary: input tokens at the input price, output tokens at the output price.
SELECT dsx.charge(u, '3', '15') AS charge, dsx.rate(u, '3', '15') AS usd, dsx.rate(u, '3', '15', 0) AS jpy,
       dsx.rate(u, '3', '15', 6) AS six_places
  FROM (SELECT 'events=2, input_tokens=1234567, output_tokens=765433, first_at=2026-01-01 00:00:00+00, last_at=2026-01-02 00:00:00+00'::dsx.usage AS u) x;
-- Rounded once, half away from zero: 0.005 goes up, 0.004999999999999999 does not.
SELECT dsx.rate(format('events=1, input_tokens=%s, output_tokens=0, first_at=2026-01-01 00:00:00+00, last_at=2026-01-01 00:00:00+00', t)::dsx.usage,
                p::dsx.price, '0') AS amount, t, p
  FROM (VALUES (5000, '1'), (4999, '1'), (1, '4999.999999999'), (1, '5000'), (500000, '1'), (1500000, '1')) AS v(t, p);
SELECT dsx.rate('events=1, input_tokens=1, output_tokens=0, first_at=2026-01-01 00:00:00+00, last_at=2026-01-01 00:00:00+00', '1', '1', 7);

-- dsx.round_money: half away from zero, to 0..6 places.
SELECT x, dsx.round_money(x, 2) AS cents, dsx.round_money(x, 0) AS units, round(x, 2) = dsx.round_money(x, 2) AS same_as_round
  FROM unnest(ARRAY[0, 0.005, -0.005, 0.00499999, 2.5, -2.5, 1.994999, 123456789012345678901234567890.125,
                    1e-50, 12345678901234567890123456789012345678901234567890.5, 1e60, -1e-70,
                    1.5::numeric(120, 100), 99999999999999999999999999999999.995]::numeric[]) AS x;
SELECT dsx.round_money(1, 7);
SELECT dsx.round_money('NaN', 2);

-- Property test: 5000 random prices and token counts against the same rule in numeric.
SELECT setseed(0.25);
CREATE TEMP TABLE price_cases AS
SELECT id, kind, froms, prices, tokens,
       (CASE kind WHEN 'flat' THEN prices[1]::text
             ELSE kind || ': ' || (SELECT string_agg(froms[i] || ': ' || prices[i], ', ' ORDER BY i)
                                     FROM generate_subscripts(froms, 1) i) END)::dsx.price AS p
  FROM (SELECT id, kind, tokens,
               (SELECT array_agg(f ORDER BY f) FROM (SELECT 0::bigint AS f UNION
                    SELECT (random() * 10 ^ (3 + floor(random() * 9)))::bigint FROM generate_series(1, n - 1)) x) AS froms,
               (SELECT array_agg(round((random() * 10 ^ floor(random() * 4))::numeric, floor(random() * 10)::int))
                  FROM generate_series(1, n)) AS prices
          FROM (SELECT id, (ARRAY['flat', 'graduated', 'volume'])[1 + floor(random() * 3)::int] AS kind,
                       (random() * 10 ^ floor(random() * 13))::bigint AS tokens, 1 + floor(random() * 4)::int AS n0
                  FROM generate_series(1, 5000) id) y,
               LATERAL (SELECT CASE WHEN kind = 'flat' THEN 1 ELSE n0 END AS n) z) w;
SELECT kind, count(*) FROM price_cases GROUP BY kind ORDER BY kind;
SELECT count(*) FILTER (WHERE dsx.charge(tokens, p) <> ref) AS charge_violations,
       count(*) FILTER (WHERE dsx.charge(tokens, p)::text ~ '\.\d*0$') AS trailing_zeros,
       count(*) FILTER (WHERE p::text::dsx.price::text <> p::text) AS roundtrip_violations
  FROM (SELECT c.*,
               CASE kind
                 WHEN 'volume' THEN tokens * (SELECT prices[i] FROM generate_subscripts(froms, 1) i
                                               WHERE froms[i] <= tokens ORDER BY i DESC LIMIT 1) * 0.000001
                 ELSE (SELECT sum(greatest(0, least(tokens, coalesce(froms[i + 1], tokens)) - froms[i]) * prices[i])
                         FROM generate_subscripts(froms, 1) i) * 0.000001
               END AS ref
          FROM price_cases c) x;
-- dsx.rate = round(exact charge, minor units) for input and output priced separately.
SELECT count(*) AS rate_violations
  FROM price_cases a JOIN price_cases b ON b.id = a.id % 5000 + 1,
       LATERAL (SELECT format('events=1, input_tokens=%s, output_tokens=%s, first_at=2026-01-01 00:00:00+00, last_at=2026-01-01 00:00:00+00',
                              a.tokens, b.tokens)::dsx.usage AS u, a.id % 7 AS mu) x
 WHERE dsx.rate(u, a.p, b.p, mu) <> round(dsx.charge(a.tokens, a.p) + dsx.charge(b.tokens, b.p), mu)
    OR dsx.charge(u, a.p, b.p) <> dsx.charge(a.tokens, a.p) + dsx.charge(b.tokens, b.p)
    OR scale(dsx.rate(u, a.p, b.p, mu)) <> mu;

-- dsx.round_money against numeric's round() (which also rounds half away from zero) over
-- 30,000 random numbers of every size and sign: the same text, hence the same value and
-- scale, through dsx's fast int128 paths and its general ones alike.
SELECT setseed(0.375);
SELECT count(*) AS cases,
       count(*) FILTER (WHERE dsx.round_money(x, k)::text IS DISTINCT FROM round(x, k)::text) AS violations
  FROM (SELECT (random() * 10 ^ (floor(random() * 90) - 45) * sign(random() - 0.3))::numeric AS x,
               floor(random() * 7)::int AS k
          FROM generate_series(1, 30000)) s;

-- Equality: the same price however it was written; GROUP BY and DISTINCT hash it.
SELECT '2.50'::dsx.price OPERATOR(dsx.=) '2.5' AS same_value,
       'volume: 0: 1'::dsx.price OPERATOR(dsx.=) 'graduated: 0: 1' AS volume_equals_graduated,
       'volume: 0: 1'::dsx.price OPERATOR(dsx.<>) '1' AS tiered_is_not_flat;
SELECT p::text, count(*) FROM (VALUES ('1'::dsx.price), ('1.0'), ('2'), ('volume: 0: 1'), ('VOLUME:0:1.000')) v(p)
 GROUP BY p ORDER BY 1;
