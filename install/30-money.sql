-- dsx 1.0 — part 30: money. The dsx.split and dsx.price types, exact charges, rounding to
-- minor units, and dsx.allocate (largest-remainder split of an amount).

CREATE FUNCTION dsx.round_money(amount numeric, minor_units integer) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_round_money' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.round_money(numeric, integer) IS 'amount rounded half away from zero to minor_units (0 to 6) decimal places';

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

CREATE FUNCTION dsx.share(s dsx.split, party text) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_split_share' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.parties(s dsx.split) RETURNS text[]
    AS 'MODULE_PATHNAME', 'dsx_split_parties' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.tiers(s dsx.split)
    RETURNS TABLE(tier integer, starts numeric, party text, share numeric)
    AS 'MODULE_PATHNAME', 'dsx_split_tiers' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION dsx.share(dsx.split, text) IS 'The party''s share in the first tier as a fraction (0.3 for 30%); NULL when the first tier does not name it';
COMMENT ON FUNCTION dsx.parties(dsx.split) IS 'Every party of the split, in first-appearance order';
COMMENT ON FUNCTION dsx.tiers(dsx.split) IS 'One row per tier and party: tier number (from 1), the amount the tier starts from, party, share as a fraction';

CREATE FUNCTION dsx.allocate(amount numeric, s dsx.split, minor_units integer DEFAULT 2)
    RETURNS TABLE(party text, amount numeric)
    AS 'MODULE_PATHNAME', 'dsx_allocate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 3;
COMMENT ON FUNCTION dsx.allocate(numeric, dsx.split, integer) IS 'Split amount (a whole number of minor units) by s with the largest-remainder method: one row per party, first-appearance order, parts adding up to amount exactly; a negative amount mirrors the positive one';

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

CREATE FUNCTION dsx.charge(tokens bigint, p dsx.price) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_price_charge_tokens' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.charge(u dsx.usage, input_price dsx.price, output_price dsx.price) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_usage_charge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.rate(u dsx.usage, input_price dsx.price, output_price dsx.price, minor_units integer DEFAULT 2)
    RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_usage_rate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.charge(bigint, dsx.price) IS 'Exact, unrounded charge for tokens (>= 0) at price p per million tokens';
COMMENT ON FUNCTION dsx.charge(dsx.usage, dsx.price, dsx.price) IS 'Exact, unrounded charge of a usage summary: input tokens at input_price plus output tokens at output_price';
COMMENT ON FUNCTION dsx.rate(dsx.usage, dsx.price, dsx.price, integer) IS 'The amount of a rated line: dsx.charge(u, input_price, output_price) rounded once, half away from zero, to minor_units';
