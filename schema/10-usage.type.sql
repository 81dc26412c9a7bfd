-- schema/10-usage.type.sql — the dsx.usage type (a summary of usage events): I/O, accessors, =
-- <> +, and the aggregates dsx.usage_agg and dsx.rollup. Created once.

CREATE TYPE dsx.usage;
CREATE FUNCTION dsx.usage_in(cstring) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_out(dsx.usage) RETURNS cstring
    AS 'MODULE_PATHNAME', 'dsx_usage_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_recv(internal) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_send(dsx.usage) RETURNS bytea
    AS 'MODULE_PATHNAME', 'dsx_usage_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE dsx.usage (
    INPUT = dsx.usage_in, OUTPUT = dsx.usage_out,
    RECEIVE = dsx.usage_recv, SEND = dsx.usage_send,
    INTERNALLENGTH = 48, ALIGNMENT = double, STORAGE = plain
);
COMMENT ON TYPE dsx.usage IS 'Summary of a set of token usage events: events, input and output tokens, first and last occurred_at';
COMMENT ON FUNCTION dsx.usage_in(cstring) IS 'Text input of dsx.usage';
COMMENT ON FUNCTION dsx.usage_out(dsx.usage) IS 'Text output of dsx.usage (ISO 8601 timestamps in UTC)';
COMMENT ON FUNCTION dsx.usage_recv(internal) IS 'Binary input of dsx.usage';
COMMENT ON FUNCTION dsx.usage_send(dsx.usage) IS 'Binary output of dsx.usage';

CREATE FUNCTION dsx.events(u dsx.usage) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_usage_events' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.input_tokens(u dsx.usage) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_usage_input_tokens' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.output_tokens(u dsx.usage) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_usage_output_tokens' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.total_tokens(u dsx.usage) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dsx_usage_total_tokens' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.first_at(u dsx.usage) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'dsx_usage_first_at' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.last_at(u dsx.usage) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'dsx_usage_last_at' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.events(dsx.usage) IS 'Number of events summarised';
COMMENT ON FUNCTION dsx.input_tokens(dsx.usage) IS 'Input tokens of all events';
COMMENT ON FUNCTION dsx.output_tokens(dsx.usage) IS 'Output tokens of all events';
COMMENT ON FUNCTION dsx.total_tokens(dsx.usage) IS 'Input plus output tokens (22003 when the sum overflows bigint)';
COMMENT ON FUNCTION dsx.first_at(dsx.usage) IS 'Earliest occurred_at of the events';
COMMENT ON FUNCTION dsx.last_at(dsx.usage) IS 'Latest occurred_at of the events';

CREATE FUNCTION dsx.usage_eq(dsx.usage, dsx.usage) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_usage_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_ne(dsx.usage, dsx.usage) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dsx_usage_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsx.usage_add(dsx.usage, dsx.usage) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dsx.usage_eq(dsx.usage, dsx.usage) IS 'True when both summaries are identical';
COMMENT ON FUNCTION dsx.usage_ne(dsx.usage, dsx.usage) IS 'True when the summaries differ';
COMMENT ON FUNCTION dsx.usage_add(dsx.usage, dsx.usage) IS 'Summary of both sets of events (the + operator)';
CREATE OPERATOR dsx.= (LEFTARG = dsx.usage, RIGHTARG = dsx.usage, FUNCTION = dsx.usage_eq,
                       COMMUTATOR = OPERATOR(dsx.=), NEGATOR = OPERATOR(dsx.<>),
                       RESTRICT = eqsel, JOIN = eqjoinsel);
CREATE OPERATOR dsx.<> (LEFTARG = dsx.usage, RIGHTARG = dsx.usage, FUNCTION = dsx.usage_ne,
                        COMMUTATOR = OPERATOR(dsx.<>), NEGATOR = OPERATOR(dsx.=),
                        RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR dsx.+ (LEFTARG = dsx.usage, RIGHTARG = dsx.usage, FUNCTION = dsx.usage_add,
                       COMMUTATOR = OPERATOR(dsx.+));
COMMENT ON OPERATOR dsx.=(dsx.usage, dsx.usage) IS 'Identical usage summaries';
COMMENT ON OPERATOR dsx.<>(dsx.usage, dsx.usage) IS 'Different usage summaries';
COMMENT ON OPERATOR dsx.+(dsx.usage, dsx.usage) IS 'Merge two usage summaries';

CREATE FUNCTION dsx.usage_accum(dsx.usage, bigint, bigint, timestamptz) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION dsx.usage_combine(dsx.usage, dsx.usage) RETURNS dsx.usage
    AS 'MODULE_PATHNAME', 'dsx_usage_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION dsx.usage_accum(dsx.usage, bigint, bigint, timestamptz) IS 'Transition function of dsx.usage_agg';
COMMENT ON FUNCTION dsx.usage_combine(dsx.usage, dsx.usage) IS 'Combine function of dsx.usage_agg and dsx.rollup; NULL-tolerant';

CREATE AGGREGATE dsx.usage_agg(input_tokens bigint, output_tokens bigint, occurred_at timestamptz) (
    SFUNC = dsx.usage_accum, STYPE = dsx.usage,
    COMBINEFUNC = dsx.usage_combine, PARALLEL = SAFE
);
CREATE AGGREGATE dsx.rollup(dsx.usage) (
    SFUNC = dsx.usage_combine, STYPE = dsx.usage,
    COMBINEFUNC = dsx.usage_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE dsx.usage_agg(bigint, bigint, timestamptz) IS 'Summarise usage events into one dsx.usage (NULL on no rows; rows with a NULL argument are skipped)';
COMMENT ON AGGREGATE dsx.rollup(dsx.usage) IS 'Merge usage summaries into one (NULL on no rows)';
