-- dsx.usage: text and binary I/O, canonical form, accessors, operators, and bad input.
\set VERBOSITY terse
SET timezone = 'America/New_York';   -- text form must not depend on the session's zone
SET datestyle = 'SQL, DMY';

-- canonical output, whatever spacing, zone notation or precision the input used
SELECT 'events=3, input_tokens=100, output_tokens=200, first_at=2026-11-01 00:00:00+00, last_at=2026-11-01 01:00:00+00'::dsx.usage;
SELECT ' events = 1 ,input_tokens=0,output_tokens=0,first_at=2026-02-28T23:59:59.999999Z,last_at=2026-03-01T05:30:00+05:30 '::dsx.usage;
SELECT 'events=9223372036854775807, input_tokens=9223372036854775807, output_tokens=0, first_at=0001-01-01 00:00:00Z, last_at=9999-12-31 23:59:59.999999Z'::dsx.usage;

-- accessors
WITH u AS (SELECT 'events=3, input_tokens=100, output_tokens=200, first_at=2026-11-01 00:00:00+00, last_at=2026-11-01 01:00:00.25+00'::dsx.usage AS u)
SELECT dsx.events(u), dsx.input_tokens(u), dsx.output_tokens(u), dsx.total_tokens(u),
       dsx.first_at(u) = '2026-11-01 00:00:00+00'::timestamptz AS first_ok,
       dsx.last_at(u) = '2026-11-01 01:00:00.25+00'::timestamptz AS last_ok
  FROM u;
\set VERBOSITY sqlstate
SELECT dsx.total_tokens('events=1, input_tokens=9223372036854775807, output_tokens=1, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z');

\set VERBOSITY terse
-- text round trip and binary round trip over generated values, in another zone too
CREATE TEMP TABLE gen AS
SELECT dsx.usage_agg(i, (i * 7919) % 100003, timestamptz '2026-01-01 00:00:00+00' + (i * 37 % 1000) * interval '1.000001 second') AS u
  FROM generate_series(1, 2000) i GROUP BY i % 200;
-- binary: COPY out and back in, in binary format, through usage_send / usage_recv
\getenv abs_builddir PG_ABS_BUILDDIR
\set binfile :abs_builddir '/results/usage_type.bin'
COPY (SELECT u FROM gen) TO :'binfile' WITH (FORMAT binary);
CREATE TEMP TABLE back (u dsx.usage);
COPY back FROM :'binfile' WITH (FORMAT binary);
SELECT (SELECT count(*) FROM back) AS values,
       (SELECT count(*) FROM gen g WHERE EXISTS (SELECT 1 FROM back b WHERE b.u OPERATOR(dsx.=) g.u)) AS binary_round_trips;
SET timezone = 'Asia/Jakarta';
SELECT count(*) AS values,
       count(*) FILTER (WHERE u::text::dsx.usage OPERATOR(dsx.=) u) AS text_round_trips
  FROM gen;

-- operators: =, <>, + (strict, associative, commutative)
SELECT a OPERATOR(dsx.+) b AS sum,
       (a OPERATOR(dsx.+) b) OPERATOR(dsx.=) (b OPERATOR(dsx.+) a) AS commutes,
       a OPERATOR(dsx.<>) b AS differ
  FROM (SELECT 'events=1, input_tokens=5, output_tokens=6, first_at=2026-01-02 00:00:00Z, last_at=2026-01-02 00:00:00Z'::dsx.usage AS a,
               'events=2, input_tokens=1, output_tokens=1, first_at=2026-01-01 00:00:00Z, last_at=2026-01-03 00:00:00Z'::dsx.usage AS b) t;
SELECT ('events=1, input_tokens=5, output_tokens=6, first_at=2026-01-02 00:00:00Z, last_at=2026-01-02 00:00:00Z'::dsx.usage OPERATOR(dsx.+) NULL) IS NULL AS plus_null_is_null;
\set VERBOSITY sqlstate
SELECT 'events=1, input_tokens=9223372036854775807, output_tokens=0, first_at=2026-01-02 00:00:00Z, last_at=2026-01-02 00:00:00Z'::dsx.usage
       OPERATOR(dsx.+) 'events=1, input_tokens=1, output_tokens=0, first_at=2026-01-02 00:00:00Z, last_at=2026-01-02 00:00:00Z'::dsx.usage;
SELECT 'events=9223372036854775807, input_tokens=1, output_tokens=0, first_at=2026-01-02 00:00:00Z, last_at=2026-01-02 00:00:00Z'::dsx.usage
       OPERATOR(dsx.+) 'events=1, input_tokens=1, output_tokens=0, first_at=2026-01-02 00:00:00Z, last_at=2026-01-02 00:00:00Z'::dsx.usage;

-- malformed text: 22P02; impossible values: 22023; too large: 22003; bad time: 22008
\set VERBOSITY sqlstate
SELECT ''::dsx.usage;
SELECT 'events=1'::dsx.usage;
SELECT 'events=1, input_tokens=1, output_tokens=1, first_at=2026-01-01 00:00:00Z'::dsx.usage;
SELECT 'events=-1, input_tokens=1, output_tokens=1, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z'::dsx.usage;
SELECT 'events=1, input_tokens=1.5, output_tokens=1, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z'::dsx.usage;
SELECT 'input_tokens=1, events=1, output_tokens=1, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z'::dsx.usage;
SELECT 'events=1, input_tokens=1, output_tokens=1, first_at=2026-01-01 00:00:00, last_at=2026-01-01 00:00:00Z'::dsx.usage;
SELECT 'events=1, input_tokens=1, output_tokens=1, first_at=2026-02-30 00:00:00Z, last_at=2026-03-01 00:00:00Z'::dsx.usage;
SELECT 'events=1, input_tokens=1, output_tokens=1, first_at=2026-01-01 24:00:00Z, last_at=2026-01-02 00:00:00Z'::dsx.usage;
SELECT 'events=1, input_tokens=1, output_tokens=1, first_at=2026-01-01 00:00:00.1234567Z, last_at=2026-01-02 00:00:00Z'::dsx.usage;
SELECT 'events=1, input_tokens=1, output_tokens=1, first_at=2026-01-01 00:00:00Z, last_at=2026-01-02 00:00:00Z x'::dsx.usage;
SELECT 'events=1, input_tokens=1, output_tokens=1, first_at=2026-01-01 00:00:00Z, last_at=2026-01-02 00:00:00Z,'::dsx.usage;
SELECT 'events=0, input_tokens=0, output_tokens=0, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z'::dsx.usage;
SELECT 'events=1, input_tokens=0, output_tokens=0, first_at=2026-01-02 00:00:00Z, last_at=2026-01-01 00:00:00Z'::dsx.usage;
SELECT 'events=99999999999999999999, input_tokens=0, output_tokens=0, first_at=2026-01-01 00:00:00Z, last_at=2026-01-01 00:00:00Z'::dsx.usage;
SELECT 'events=1, input_tokens=0, output_tokens=0, first_at=0000-12-31 00:00:00Z, last_at=2026-01-01 00:00:00Z'::dsx.usage;
-- binary input is validated like text: a bytea's binary form is its raw bytes, so a bytea
-- written out can be read back as a dsx.usage.
CREATE TEMP TABLE raw (b bytea);
CREATE TEMP TABLE cooked (u dsx.usage);
\set VERBOSITY terse
-- a good value, written by hand: flags 0, events 1, tokens 2 and 3, first = last = 0 (2000-01-01)
INSERT INTO raw VALUES ('\x00000000' || '\x0000000000000001'::bytea || '\x0000000000000002'::bytea || '\x0000000000000003'::bytea || '\x0000000000000000'::bytea || '\x0000000000000000'::bytea);
COPY raw TO :'binfile' WITH (FORMAT binary);
COPY cooked FROM :'binfile' WITH (FORMAT binary);
SELECT u FROM cooked;
-- unknown version word
TRUNCATE raw; INSERT INTO raw VALUES ('\x00000001' || '\x0000000000000001'::bytea || '\x0000000000000002'::bytea || '\x0000000000000003'::bytea || '\x0000000000000000'::bytea || '\x0000000000000000'::bytea);
COPY raw TO :'binfile' WITH (FORMAT binary);
COPY cooked FROM :'binfile' WITH (FORMAT binary);
-- too short
TRUNCATE raw; INSERT INTO raw VALUES ('\x00000000'::bytea);
COPY raw TO :'binfile' WITH (FORMAT binary);
COPY cooked FROM :'binfile' WITH (FORMAT binary);
-- negative tokens
TRUNCATE raw; INSERT INTO raw VALUES ('\x00000000' || '\x0000000000000001'::bytea || '\xffffffffffffffff'::bytea || '\x0000000000000003'::bytea || '\x0000000000000000'::bytea || '\x0000000000000000'::bytea);
COPY raw TO :'binfile' WITH (FORMAT binary);
COPY cooked FROM :'binfile' WITH (FORMAT binary);
-- first after last
TRUNCATE raw; INSERT INTO raw VALUES ('\x00000000' || '\x0000000000000001'::bytea || '\x0000000000000002'::bytea || '\x0000000000000003'::bytea || '\x0000000000000010'::bytea || '\x0000000000000000'::bytea);
COPY raw TO :'binfile' WITH (FORMAT binary);
COPY cooked FROM :'binfile' WITH (FORMAT binary);
SELECT count(*) AS rows_after_bad_input FROM cooked;
