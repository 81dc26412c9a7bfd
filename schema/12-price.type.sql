-- schema/12-price.type.sql — the dsx.price type (a flat or tiered price per million tokens):
-- I/O, equality, hashing. Created once.

-- dsx.price ------------------------------------------------------------------------
CREATE TYPE dsx.price;
CREATE FUNCTION dsx.price_in(cstring) RETURNS dsx.price
    AS 'MODULE_PATHNAME', 'dsx_price_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_out(dsx.price) RETURNS cstring
    AS 'MODULE_PATHNAME', 'dsx_price_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_recv(internal) RETURNS dsx.price
    AS 'MODULE_PATHNAME', 'dsx_price_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_send(dsx.price) RETURNS bytea
    AS 'MODULE_PATHNAME', 'dsx_price_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE dsx.price (
    INPUT = dsx.price_in, OUTPUT = dsx.price_out,
    RECEIVE = dsx.price_recv, SEND = dsx.price_send,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE dsx.price IS 'Price per million tokens, exact to 9 decimal places: flat (''2.5'') or tiered on the token volume (''graduated: 0: 3, 1000000000: 2.5'', ''volume: ...'')';
COMMENT ON FUNCTION dsx.price_in(cstring) IS 'Text input of dsx.price (22P02 bad syntax, 22023 bad value, 22003 out of range)';
COMMENT ON FUNCTION dsx.price_out(dsx.price) IS 'Canonical text output of dsx.price: trimmed decimals, lower-case kind';
COMMENT ON FUNCTION dsx.price_recv(internal) IS 'Binary input of dsx.price (validated like text input)';
COMMENT ON FUNCTION dsx.price_send(dsx.price) IS 'Binary output of dsx.price';

CREATE FUNCTION dsx.price_eq(dsx.price, dsx.price) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_price_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_ne(dsx.price, dsx.price) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_price_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.price_hash(dsx.price) RETURNS integer
    AS 'MODULE_PATHNAME', 'dsx_price_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.price_eq(dsx.price, dsx.price) IS 'True when both prices are the same (same canonical text)';
COMMENT ON FUNCTION dsx.price_ne(dsx.price, dsx.price) IS 'True when the prices differ';
COMMENT ON FUNCTION dsx.price_hash(dsx.price) IS 'Hash of a price, for hash aggregation and joins';
CREATE OPERATOR dsx.= (LEFTARG = dsx.price, RIGHTARG = dsx.price, FUNCTION = dsx.price_eq,
                       COMMUTATOR = OPERATOR(dsx.=), NEGATOR = OPERATOR(dsx.<>),
                       RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR dsx.<> (LEFTARG = dsx.price, RIGHTARG = dsx.price, FUNCTION = dsx.price_ne,
                        COMMUTATOR = OPERATOR(dsx.<>), NEGATOR = OPERATOR(dsx.=),
                        RESTRICT = neqsel, JOIN = neqjoinsel);
COMMENT ON OPERATOR dsx.=(dsx.price, dsx.price) IS 'Same price';
COMMENT ON OPERATOR dsx.<>(dsx.price, dsx.price) IS 'Different prices';
CREATE OPERATOR CLASS dsx.price_hash_ops DEFAULT FOR TYPE dsx.price USING hash AS
    OPERATOR 1 dsx.= (dsx.price, dsx.price),
    FUNCTION 1 dsx.price_hash(dsx.price);
