-- schema/13-usage-span.type.sql — dsx.usage_span: the usage of a factory's customer and
-- model over a period, as settlement and verification carry it between their steps.
-- Created once (an update from 1.0 creates it from this file too).

/*
 * Settlement and verification read the usage (the events and the rollup, which on Citus
 * are distributed over the workers) in statements of their own, into arrays of these, and
 * price them against the books (on the coordinator) in the next: no statement mixes the
 * two, so no part of pricing ever runs on a worker.
 */
CREATE TYPE dsx.usage_span AS (
    factory      text,
    period_start date,
    customer     text,
    model        text,
    usage        dsx.usage
);
COMMENT ON TYPE dsx.usage_span IS 'The usage of a customer and model at a factory over the period starting period_start (its dsx.usage summary)';
