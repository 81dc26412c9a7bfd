-- schema/11-split.type.sql — the dsx.split type (a tiered revenue split): I/O, equality,
-- hashing. Created once.

-- dsx.split ------------------------------------------------------------------------
CREATE TYPE dsx.split;
CREATE FUNCTION dsx.split_in(cstring) RETURNS dsx.split
    AS 'MODULE_PATHNAME', 'dsx_split_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_out(dsx.split) RETURNS cstring
    AS 'MODULE_PATHNAME', 'dsx_split_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_recv(internal) RETURNS dsx.split
    AS 'MODULE_PATHNAME', 'dsx_split_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_send(dsx.split) RETURNS bytea
    AS 'MODULE_PATHNAME', 'dsx_split_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE dsx.split (
    INPUT = dsx.split_in, OUTPUT = dsx.split_out,
    RECEIVE = dsx.split_recv, SEND = dsx.split_send,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE dsx.split IS 'Revenue split between parties, e.g. ''vendor=30%, partner=70%'', optionally tiered: ''...; from 10000000: vendor=20%, partner=80%''; shares exact to 10^-12';
COMMENT ON FUNCTION dsx.split_in(cstring) IS 'Text input of dsx.split (22P02 bad syntax, 22023 bad value)';
COMMENT ON FUNCTION dsx.split_out(dsx.split) IS 'Canonical text output of dsx.split: percentages, parties in input order';
COMMENT ON FUNCTION dsx.split_recv(internal) IS 'Binary input of dsx.split (validated like text input)';
COMMENT ON FUNCTION dsx.split_send(dsx.split) IS 'Binary output of dsx.split';

CREATE FUNCTION dsx.split_eq(dsx.split, dsx.split) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_split_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_ne(dsx.split, dsx.split) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_split_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.split_hash(dsx.split) RETURNS integer
    AS 'MODULE_PATHNAME', 'dsx_split_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.split_eq(dsx.split, dsx.split) IS 'True when both splits are the same (same canonical text)';
COMMENT ON FUNCTION dsx.split_ne(dsx.split, dsx.split) IS 'True when the splits differ';
COMMENT ON FUNCTION dsx.split_hash(dsx.split) IS 'Hash of a split, for hash aggregation and joins';
CREATE OPERATOR dsx.= (LEFTARG = dsx.split, RIGHTARG = dsx.split, FUNCTION = dsx.split_eq,
                       COMMUTATOR = OPERATOR(dsx.=), NEGATOR = OPERATOR(dsx.<>),
                       RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR dsx.<> (LEFTARG = dsx.split, RIGHTARG = dsx.split, FUNCTION = dsx.split_ne,
                        COMMUTATOR = OPERATOR(dsx.<>), NEGATOR = OPERATOR(dsx.=),
                        RESTRICT = neqsel, JOIN = neqjoinsel);
COMMENT ON OPERATOR dsx.=(dsx.split, dsx.split) IS 'Same split';
COMMENT ON OPERATOR dsx.<>(dsx.split, dsx.split) IS 'Different splits';
CREATE OPERATOR CLASS dsx.split_hash_ops DEFAULT FOR TYPE dsx.split USING hash AS
    OPERATOR 1 dsx.= (dsx.split, dsx.split),
    FUNCTION 1 dsx.split_hash(dsx.split);
