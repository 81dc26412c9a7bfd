-- Hostile input: tens of thousands of random and mutated strings cast to dsx.split and
-- dsx.price, and mutated binary values fed to their receive functions. Every one must
-- either give a value whose canonical text reads back as itself, or a clean error with
-- one of the SQLSTATEs the types promise; a crash fails the whole run.
SET client_min_messages = warning;
SELECT setseed(0.125);

-- A random mutation of s: delete, insert, replace, duplicate, truncate, or splice in a
-- long run of digits or zeros, applied 1 to 4 times; or a random string now and then.
CREATE FUNCTION pg_temp.mutate(s text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    alphabet text[] := ARRAY[' ', '%', '=', ',', ';', ':', '"', '""', '.', '-', '+', '0', '1', '5', '9',
                             'a', 'from', 'e', 'E', 'NaN', E'\t', 'é', '€', '_', '$', '/', '\', '''',
                             'graduated', 'volume', ': 0: ', '100%', '0.5', 'x=', '; from 10: '];
    n int := 1 + floor(random() * 4)::int;
    pos int;
    len int;
BEGIN
    IF random() < 0.1 THEN
        s := '';
        FOR i IN 1 .. floor(random() * 20)::int LOOP
            s := s || alphabet[1 + floor(random() * cardinality(alphabet))::int];
        END LOOP;
        RETURN s;
    END IF;
    FOR i IN 1 .. n LOOP
        pos := floor(random() * (length(s) + 1))::int;
        len := floor(random() * 4)::int;
        CASE floor(random() * 7)::int
            WHEN 0 THEN s := overlay(s PLACING '' FROM pos + 1 FOR len);
            WHEN 1 THEN s := overlay(s PLACING alphabet[1 + floor(random() * cardinality(alphabet))::int] FROM pos + 1 FOR 0);
            WHEN 2 THEN s := overlay(s PLACING alphabet[1 + floor(random() * cardinality(alphabet))::int] FROM pos + 1 FOR 1);
            WHEN 3 THEN s := overlay(s PLACING substr(s, pos + 1, 1 + len * 3) FROM pos + 1 FOR 0);
            WHEN 4 THEN s := left(s, pos);
            WHEN 5 THEN s := overlay(s PLACING repeat((ARRAY['9', '0', '1'])[1 + floor(random() * 3)::int], 10 + floor(random() * 40)::int)
                                     FROM pos + 1 FOR 0);
            ELSE s := overlay(s PLACING repeat(', y=0%', 1 + floor(random() * 3)::int) FROM pos + 1 FOR 0);
        END CASE;
    END LOOP;
    RETURN s;
END $$;

-- Casts n mutations of the seeds to typ; one row per outcome: 'ok' (and the canonical
-- text read back as itself), 'not canonical' (it did not), or the SQLSTATE.
CREATE FUNCTION pg_temp.fuzz_text(typ text, seeds text[], n int) RETURNS TABLE(outcome text, cases bigint)
LANGUAGE plpgsql AS $$
DECLARE
    lit text;
    canon text;
    o text;
    tally jsonb := '{}';
BEGIN
    FOR i IN 1 .. n LOOP
        lit := pg_temp.mutate(seeds[1 + floor(random() * cardinality(seeds))::int]);
        BEGIN
            IF typ = 'dsx.split' THEN
                canon := lit::dsx.split::text;
                o := CASE WHEN canon::dsx.split::text = canon THEN 'ok' ELSE 'not canonical' END;
            ELSE
                canon := lit::dsx.price::text;
                o := CASE WHEN canon::dsx.price::text = canon THEN 'ok' ELSE 'not canonical' END;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            o := SQLSTATE;
        END;
        tally := jsonb_set(tally, ARRAY[o], to_jsonb(coalesce((tally ->> o)::bigint, 0) + 1));
    END LOOP;
    RETURN QUERY SELECT key, value::bigint FROM jsonb_each_text(tally) ORDER BY key;
END $$;

-- Each run's outcomes: 'ok', or only the SQLSTATEs the types promise: 22P02 bad syntax,
-- 22023 bad value, 22003 out of range; for binary also 22P03 bad binary format and 22021
-- bad encoding. A crash shows as the run's output going missing.
SELECT * FROM pg_temp.fuzz_text('dsx.split', ARRAY[
    'vendor=30%, partner=70%',
    'vendor=0.3, partner=0.7; from 10000000: vendor=20%, partner=80%',
    '"Acme ""AI"" Corp"=12.5%, b=87.5%; from 0.5: b=100%; from 1000000000000: c=33.3333333333%, d=66.6666666667%',
    'a=33.3333333333%, b=33.3333333333%, c=33.3333333334%',
    'from 0: x=1'], 25000);

SELECT * FROM pg_temp.fuzz_text('dsx.price', ARRAY[
    '2.5', '0.000000001', '999999999.999999999',
    'graduated: 0: 3.00, 1000000000: 2.50, 10000000000: 2.00',
    'volume: 0: 3.00, 1000000000: 2.50',
    'graduated:0:0.123456789,9223372036854775807:0'], 25000);

-- Binary: mutated send output through COPY (FORMAT binary) into the receive functions.
CREATE TEMP TABLE recv_split (v dsx.split);
CREATE TEMP TABLE recv_price (v dsx.price);
CREATE FUNCTION pg_temp.fuzz_binary(typ text, seeds bytea[], n int) RETURNS TABLE(outcome text, cases bigint)
LANGUAGE plpgsql AS $$
DECLARE
    f text := '/tmp/dsx_regress_fuzz_' || pg_backend_pid() || '.bin';
    tbl text := CASE typ WHEN 'dsx.split' THEN 'recv_split' ELSE 'recv_price' END;
    payload bytea;
    pos int;
    op int;
    o text;
    canon text;
    tally jsonb := '{}';
    lo oid;
BEGIN
    FOR i IN 1 .. n LOOP
        payload := seeds[1 + floor(random() * cardinality(seeds))::int];
        FOR k IN 1 .. 1 + floor(random() * 3)::int LOOP
            pos := floor(random() * length(payload))::int;
            op := CASE WHEN length(payload) = 0 THEN 3 ELSE floor(random() * 4)::int END;
            CASE op
                WHEN 0 THEN payload := set_byte(payload, pos, floor(random() * 256)::int);
                WHEN 1 THEN payload := set_byte(payload, pos, (ARRAY[0, 1, 127, 128, 255])[1 + floor(random() * 5)::int]);
                WHEN 2 THEN payload := substr(payload, 1, pos);
                ELSE payload := overlay(payload PLACING '\x00000000'::bytea FROM pos + 1 FOR 0);
            END CASE;
        END LOOP;
        lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
                               || '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea);
        PERFORM lo_export(lo, f);
        PERFORM lo_unlink(lo);
        BEGIN
            EXECUTE format('TRUNCATE %I', tbl);
            EXECUTE format('COPY %I FROM %L WITH (FORMAT binary)', tbl, f);
            IF typ = 'dsx.split' THEN
                SELECT v::text INTO canon FROM recv_split;
                o := CASE WHEN canon::dsx.split::text = canon THEN 'ok' ELSE 'not canonical' END;
            ELSE
                SELECT v::text INTO canon FROM recv_price;
                o := CASE WHEN canon::dsx.price::text = canon THEN 'ok' ELSE 'not canonical' END;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            o := SQLSTATE;
        END;
        tally := jsonb_set(tally, ARRAY[o], to_jsonb(coalesce((tally ->> o)::bigint, 0) + 1));
    END LOOP;
    EXECUTE format('COPY (SELECT WHERE false) TO PROGRAM %L', 'cat >/dev/null; rm -f ' || f);
    RETURN QUERY SELECT key, value::bigint FROM jsonb_each_text(tally) ORDER BY key;
END $$;

SELECT * FROM pg_temp.fuzz_binary('dsx.split', ARRAY[
    dsx.split_send('vendor=30%, partner=70%; from 10000000: vendor=20%, partner=80%'),
    dsx.split_send('a=33.3333333333%, b=33.3333333333%, c=33.3333333334%')], 2000);
SELECT * FROM pg_temp.fuzz_binary('dsx.price', ARRAY[
    dsx.price_send('graduated: 0: 3, 1000000000: 2.5, 10000000000: 2'),
    dsx.price_send('2.5')], 2000);

-- The functions of integrity and corrections, called with generated hostile arguments:
-- NULLs, empty and blank strings, quotes, long and non-ASCII names, arrays with NULLs and
-- repeats, names that exist and names that do not. Every call either succeeds or fails
-- with a promised SQLSTATE (22004 a NULL argument, 22023 a bad value, 23503 an unknown
-- party or factory, 42704 an unknown role, P0002 no such statement); never an internal
-- error. A call that fails writes nothing (each runs in its own subtransaction and the
-- voids, maps and history are compared before and after the failures).
SELECT last_value AS hi_seq, is_called AS hi_called FROM dsx.ingest_batch_seq \gset
INSERT INTO dsx.parties VALUES ('hi-vendor', 'vendor', 'V'), ('hi-p', 'partner', 'P');
INSERT INTO dsx.factories VALUES ('hi-f', 'hi-p', 'USD', 'x', 1, 1);
INSERT INTO dsx.usage_inbox VALUES ('hi-e1', '2026-01-02Z', 'hi-f', 'c', 'm', 1, 1), ('hi-e2', '2026-01-02Z', 'hi-f', 'c', 'm', 2, 2);
SELECT inserted AS hi_ingested FROM dsx.ingest();
CREATE ROLE regress_hi_role;
CREATE FUNCTION pg_temp.hostile_name() RETURNS text LANGUAGE sql AS $$
    SELECT (ARRAY[NULL, '', ' ', 'hi-f', 'hi-e1', 'hi-e2', 'regress_hi_role', 'dsx_loader', 'dsx_operator',
                  'x''; DROP TABLE dsx.usage_events; --', repeat('é', 300), repeat('z', 70), 'hi-f ', 'HI-F',
                  E'\t', '"quoted"', 'nosuch', 'postgres', '2026-01-01', 'public'])[1 + floor(random() * 20)::int]
$$;
CREATE FUNCTION pg_temp.fuzz_calls(n int) RETURNS TABLE(fn text, outcome text, cases bigint)
LANGUAGE plpgsql AS $$
DECLARE
    f text;
    o text;
    ids text[];
    tally jsonb := '{}';
BEGIN
    FOR i IN 1 .. n LOOP
        f := (ARRAY['void_events', 'grant_loader', 'revoke_loader', 'verify_settlement', 'void_events'])[1 + floor(random() * 5)::int];
        ids := CASE WHEN random() < 0.1 THEN NULL
                    ELSE ARRAY(SELECT pg_temp.hostile_name() FROM generate_series(0, floor(random() * 4)::int)) END;
        BEGIN
            CASE f
                WHEN 'void_events' THEN
                    -- voids are real: keep the events, undo the void
                    PERFORM dsx.void_events(pg_temp.hostile_name(), ids, pg_temp.hostile_name());
                    RAISE EXCEPTION USING ERRCODE = 'P0099';
                WHEN 'grant_loader' THEN
                    PERFORM dsx.grant_loader(pg_temp.hostile_name(), pg_temp.hostile_name());
                    RAISE EXCEPTION USING ERRCODE = 'P0099';
                WHEN 'revoke_loader' THEN
                    PERFORM dsx.revoke_loader(pg_temp.hostile_name(), pg_temp.hostile_name());
                ELSE
                    PERFORM dsx.verify_settlement(pg_temp.hostile_name(), CASE WHEN random() < 0.2 THEN NULL ELSE date '2026-01-01' END);
            END CASE;
            o := 'ok';
        EXCEPTION WHEN OTHERS THEN
            o := CASE WHEN SQLSTATE = 'P0099' THEN 'ok' ELSE SQLSTATE END;
        END;
        tally := jsonb_set(tally, ARRAY[f || ' ' || o], to_jsonb(coalesce((tally ->> (f || ' ' || o))::bigint, 0) + 1));
    END LOOP;
    RETURN QUERY SELECT split_part(key, ' ', 1), split_part(key, ' ', 2), value::bigint FROM jsonb_each_text(tally) ORDER BY key;
END $$;
SET client_min_messages = error;
SELECT count(*) AS history_before, (SELECT count(*) FROM dsx.usage_voids) AS voids_before FROM dsx.config_history \gset
SELECT fn, outcome, outcome IN ('ok', '22004', '22023', '23503', '42704', 'P0002') AS promised
  FROM pg_temp.fuzz_calls(3000) ORDER BY fn, outcome;
SELECT (SELECT count(*) FROM dsx.usage_voids) - :voids_before AS voids_left, (SELECT count(*) FROM dsx.loader_roles) AS maps_left,
       (SELECT count(*) FROM dsx.config_history) = :history_before AS history_unchanged;
DROP ROLE regress_hi_role;
-- leave the database as the files after this one expect it (batch numbers included)
TRUNCATE dsx.usage_events, dsx.usage_daily, dsx.ingest_log;
DELETE FROM dsx.factories WHERE factory = 'hi-f';
DELETE FROM dsx.parties WHERE party IN ('hi-vendor', 'hi-p');
SELECT setval('dsx.ingest_batch_seq', :hi_seq, :'hi_called'::boolean) IS NOT NULL AS batch_numbers_restored;
