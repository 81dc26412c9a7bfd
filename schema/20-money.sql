-- schema/20-money.sql — money functions: rounding to minor units, a split's shares, parties
-- and tiers, dsx.allocate (largest remainder), exact charges and rated amounts.

CREATE OR REPLACE FUNCTION dsx.round_money(amount numeric, minor_units integer) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_round_money' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.round_money(numeric, integer) IS 'amount rounded half away from zero to minor_units (0 to 6) decimal places';


CREATE OR REPLACE FUNCTION dsx.share(s dsx.split, party text) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_split_share' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION dsx.parties(s dsx.split) RETURNS text[]
    AS 'MODULE_PATHNAME', 'dsx_split_parties' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION dsx.tiers(s dsx.split)
    RETURNS TABLE(tier integer, starts numeric, party text, share numeric)
    AS 'MODULE_PATHNAME', 'dsx_split_tiers' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION dsx.share(dsx.split, text) IS 'The party''s share in the first tier as a fraction (0.3 for 30%); NULL when the first tier does not name it';
COMMENT ON FUNCTION dsx.parties(dsx.split) IS 'Every party of the split, in first-appearance order';
COMMENT ON FUNCTION dsx.tiers(dsx.split) IS 'One row per tier and party: tier number (from 1), the amount the tier starts from, party, share as a fraction';

CREATE OR REPLACE FUNCTION dsx.allocate(amount numeric, s dsx.split, minor_units integer DEFAULT 2)
    RETURNS TABLE(party text, amount numeric)
    AS 'MODULE_PATHNAME', 'dsx_allocate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 3;
COMMENT ON FUNCTION dsx.allocate(numeric, dsx.split, integer) IS 'Split amount (a whole number of minor units) by s with the largest-remainder method: one row per party, first-appearance order, parts adding up to amount exactly; a negative amount mirrors the positive one';


CREATE OR REPLACE FUNCTION dsx.charge(tokens bigint, p dsx.price) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_price_charge_tokens' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION dsx.charge(u dsx.usage, input_price dsx.price, output_price dsx.price) RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_usage_charge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION dsx.rate(u dsx.usage, input_price dsx.price, output_price dsx.price, minor_units integer DEFAULT 2)
    RETURNS numeric
    AS 'MODULE_PATHNAME', 'dsx_usage_rate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.charge(bigint, dsx.price) IS 'Exact, unrounded charge for tokens (>= 0) at price p per million tokens';
COMMENT ON FUNCTION dsx.charge(dsx.usage, dsx.price, dsx.price) IS 'Exact, unrounded charge of a usage summary: input tokens at input_price plus output tokens at output_price';
COMMENT ON FUNCTION dsx.rate(dsx.usage, dsx.price, dsx.price, integer) IS 'The amount of a rated line: dsx.charge(u, input_price, output_price) rounded once, half away from zero, to minor_units';
