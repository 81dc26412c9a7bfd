-- dsx.split: canonical text form, text and binary round trips, accessors, and every
-- validation error with its SQLSTATE (22P02 bad syntax, 22023 bad value, 22003 overflow).
SET client_min_messages = warning;

-- What a cast gives: the canonical text, or SQLSTATE and message.
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

-- Canonical forms: percentages or fractions in, trimmed percentages out, parties in
-- input order, names quoted only when they must be; the canonical form reads back as itself.
SELECT lit, pg_temp.try(lit, 'dsx.split') AS canonical,
       pg_temp.try(pg_temp.try(lit, 'dsx.split'), 'dsx.split') = pg_temp.try(lit, 'dsx.split') AS text_roundtrip
  FROM (VALUES
    ('vendor=30%, partner=70%'),
    ('vendor=0.3,partner=0.7'),
    ('  vendor = 30 % ,  partner =70%  '),
    ('a=12.5%, b=0.875'),
    ('solo=100%'),
    ('solo=1'),
    ('a=0%, b=100%'),
    ('a=33.3333333333%, b=33.3333333333%, c=33.3333333334%'),
    ('a=0.333333333333, b=0.666666666667'),
    ('a=30.000%, b=70.0000000000000000000%'),
    ('"Acme Corp"=50%, "say ""hi"""=50%'),
    ('"plain"=50%, "from"=50%'),
    ('from=50%, to=50%'),
    ('acme.ai=25%, x_y-z$1=25%, ünïcode=50%'),
    ('"3m"=100%'),
    ('vendor=30%, partner=70%; from 10000000: vendor=20%, partner=80%'),
    ('vendor=30%,partner=70%;from 10000000.000:vendor=20%,partner=80%;FROM 20000000: vendor=10%, partner=90%'),
    ('from 0: a=100%; from 0.5: a=50%, b=50%; from 1000000000000: b=100%'),
    ('vendor=30%, partner=70%; from 100: partner=60%, vendor=20%, lender=20%'),
    ('vendor=30%, partner=70%; from 1000000000000000: vendor=20%, partner=80%; from 9223372036854775807: partner=100%'),
    ('a=100%; from 9223372036854.775807: b=100%')
  ) AS t(lit);

-- Every way to be wrong, with its SQLSTATE.
SELECT lit, pg_temp.try(lit, 'dsx.split') AS result
  FROM (VALUES
    (''), ('   '), ('vendor'), ('vendor='), ('vendor=30'), ('=30%'), ('vendor 30%'),
    ('vendor=30%,'), ('vendor=30%;'), ('vendor=30%, partner=70%;'), ('vendor==30%'),
    ('vendor=30%%, partner=70%'), ('vendor=1.2.3%, b=98.8%'), ('vendor=3O%'), ('vendor=.%'), ('vendor=1/3'),
    ('"vendor=100%'), ('vendor=100% junk'), ('a=50%; b=50%'), ('a=100%; from : b=100%'),
    ('a=100%; from 10 b=100%'), ('a=100%; from x: b=100%'), ('1a=100%'), ('a=100% b=0%'),
    ('a=30%, b=60%'), ('a=30%, b=80%'), ('a=0.5, b=0.5000000000001'), ('a=50%, a=50%'),
    ('""=100%'), ('a=-10%, b=110%'), ('a=101%, b=-1%'), ('a=150%'),
    ('a=33.33333333333%, b=66.66666666667%'), ('a=0.3333333333333, b=0.6666666666667'),
    ('a=99999999999999999999999999999999999999999%'),
    ('from 5: a=100%'), ('a=100%; from 0: b=100%'), ('a=100%; from 10: b=100%; from 10: a=100%'),
    ('a=100%; from 10: b=100%; from 9: a=100%'), ('a=100%; from -1: b=100%'),
    ('a=100%; from 1.0000001: b=100%'), ('a=100%; from 99999999999999999999: b=100%'),
    ('a=100%; from 10000000000000000000: b=100%'), ('a=100%; from 0.0000001: b=100%')
  ) AS t(lit);

-- The error message in full for a few, as a user sees it.
\set VERBOSITY default
SELECT 'vendor=30%, partner=60%'::dsx.split;
SELECT 'vendor=30%, vendor=70%'::dsx.split;
SELECT 'vendor=30% partner=70%'::dsx.split;

-- Accessors: share is the first tier's share as a fraction; parties in first-appearance order.
SELECT dsx.share(s, 'vendor') AS vendor, dsx.share(s, 'partner') AS partner,
       dsx.share(s, 'lender') AS lender_not_in_first_tier, dsx.share(s, 'nobody') AS nobody,
       dsx.parties(s)
  FROM (SELECT 'vendor=30%, partner=70%; from 100: partner=60%, vendor=20%, lender=20%'::dsx.split AS s) x;
SELECT dsx.share('a=12.5%, b=87.5%', 'a'), dsx.share('a=33.3333333333%, b=66.6666666667%', 'a'),
       dsx.share('a=0%, b=100%', 'a'), dsx.share('"Acme Corp"=100%', 'Acme Corp');
SELECT * FROM dsx.tiers('vendor=30%, partner=70%; from 10000000.5: vendor=20%, partner=80%');
SELECT dsx.parties(NULL), dsx.share(NULL, 'a'), dsx.share('a=100%', NULL);

-- Binary round trip through COPY (FORMAT binary), for a batch of splits.
SELECT lit, pg_temp.recv(dsx.split_send(lit::dsx.split), 'dsx.split') = lit::dsx.split::text AS binary_roundtrip
  FROM (VALUES ('vendor=30%, partner=70%'), ('"say ""hi"""=1'),
               ('vendor=30%, partner=70%; from 10000000.25: vendor=20%, partner=80%; from 1000000000: x=100%'),
               ('ünïcode=33.3333333333%, b=66.6666666667%')) AS t(lit);

-- Hostile binary input: checked before anything is allocated, then validated like text.
SELECT what, pg_temp.recv(payload, 'dsx.split') AS result
  FROM (SELECT dsx.split_send('a=30%, b=70%') AS ok) v,
  LATERAL (VALUES
    ('valid', ok),
    ('version 1', overlay(ok PLACING '\x00000001' FROM 1 FOR 4)),
    ('no tiers', overlay(ok PLACING '\x00000000' FROM 5 FOR 4)),
    ('a million tiers', overlay(ok PLACING '\x000f4240' FROM 5 FOR 4)),
    ('negative tiers', overlay(ok PLACING '\xffffffff' FROM 5 FOR 4)),
    ('no entries', overlay(ok PLACING '\x00000000' FROM 21 FOR 4)),
    ('2^31-1 entries', overlay(ok PLACING '\x7fffffff' FROM 21 FOR 4)),
    ('name length 2^31-1', overlay(ok PLACING '\x7fffffff' FROM 25 FOR 4)),
    ('name length 0', overlay(ok PLACING '\x00000000' FROM 25 FOR 4)),
    ('name with a zero byte', overlay(ok PLACING '\x00' FROM 29 FOR 1)),
    ('threshold scale 7', overlay(ok PLACING '\x00000007' FROM 17 FOR 4)),
    ('first tier from 1', overlay(ok PLACING '\x0000000000000001' FROM 9 FOR 8)),
    ('share above 100%', overlay(ok PLACING '\x000000e8d4a51001' FROM 30 FOR 8)),
    ('negative share', overlay(ok PLACING '\xffffffffffffffff' FROM 30 FOR 8)),
    ('duplicate party', overlay(ok PLACING 'a' FROM 42 FOR 1)),
    ('truncated', substr(ok, 1, length(ok) - 1)),
    ('trailing byte', ok || '\x00'::bytea),
    ('empty', ''::bytea)
  ) AS t(what, payload);

-- Equality: the same split however it was written; GROUP BY and DISTINCT hash it.
SELECT 'a=0.3, b=70%'::dsx.split OPERATOR(dsx.=) 'a = 30%,b=0.7' AS same_spelled_differently,
       'a=30%, b=70%'::dsx.split OPERATOR(dsx.=) 'b=70%, a=30%' AS reordered_is_equal,
       'a=30%, b=70%'::dsx.split OPERATOR(dsx.<>) 'a=31%, b=69%' AS different,
       'a=100%; from 10.50: b=100%'::dsx.split OPERATOR(dsx.=) 'a=100%; from 10.5: b=100%' AS same_threshold;
SELECT s::text, count(*) FROM (VALUES ('a=100%'::dsx.split), ('a=1'), ('b=1'), ('from 0: a=100.0%')) v(s)
 GROUP BY s ORDER BY 1;
SELECT count(*) FROM (SELECT DISTINCT s FROM (VALUES ('a=100%'::dsx.split), ('a=1'), ('b=1')) v(s)) d;
