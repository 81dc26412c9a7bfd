-- schema/51-pricing.sql — pricing: the price in force for a customer and model, and the
-- revenue lines of a factory's period (dsx.rate_lines).

CREATE OR REPLACE FUNCTION dsx.rate_lines(factory text, period_start timestamptz, period_end timestamptz)
RETURNS TABLE(customer text, model text, input_tokens bigint, output_tokens bigint, amount numeric)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_factory    text := rate_lines.factory;
    v_minor      integer;
    v_start      date;
    v_end        date;
    v_period     text;
    v_plan       text;
    v_priced     boolean;
BEGIN
    SELECT c.minor_units INTO v_minor
      FROM dsx.factories f JOIN dsx.currencies c ON c.currency = f.currency
     WHERE f.factory = v_factory;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown factory "%"', v_factory
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'dsx.rate_lines rates the usage of a factory in dsx.factories.';
    END IF;

    -- Usage is kept per UTC day: a period must be whole UTC days to be rated exactly.
    v_start := (period_start AT TIME ZONE 'UTC')::date;
    v_end := (period_end AT TIME ZONE 'UTC')::date;
    IF (v_start::timestamp AT TIME ZONE 'UTC') <> period_start
       OR (v_end::timestamp AT TIME ZONE 'UTC') <> period_end THEN
        RAISE EXCEPTION 'rating period must start and end at midnight UTC'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The period is [%s, %s) in UTC.',
                                  to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
                                  to_char(period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')),
                  HINT = 'Usage is rolled up per UTC day; pass whole UTC days, e.g. ''2026-01-01 00:00+00''.';
    END IF;
    v_period := format('[%s, %s)', to_char(v_start, 'YYYY-MM-DD'), to_char(v_end, 'YYYY-MM-DD'));
    IF v_end < v_start THEN
        RAISE EXCEPTION 'rating period ends before it starts'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The period is %s.', v_period);
    END IF;

    -- One line per customer and model: tiers count that customer's volume of that model
    -- in the period; the exact charge is rounded once, half away from zero.
    FOR customer, model, input_tokens, output_tokens, amount, v_plan, v_priced IN
        SELECT l.customer, l.model, dsx.input_tokens(l.u), dsx.output_tokens(l.u),
               dsx.rate(l.u, pp.input_price, pp.output_price, v_minor),
               cp.plan, pp.plan IS NOT NULL
          FROM (SELECT d.customer, d.model, dsx.rollup(d.usage) AS u
                  FROM dsx.usage_daily d
                 WHERE d.factory = v_factory AND d.day >= v_start AND d.day < v_end
                 GROUP BY d.customer, d.model) l
          LEFT JOIN dsx.customer_plans cp ON cp.customer = l.customer AND cp.factory = v_factory
          LEFT JOIN dsx.price_plans pp ON pp.plan = cp.plan AND pp.model = l.model
         ORDER BY l.customer, l.model
    LOOP
        IF v_plan IS NULL THEN
            RAISE EXCEPTION 'customer "%" has no price plan at factory "%"', customer, v_factory
                USING ERRCODE = 'no_data_found',
                      DETAIL = format('The customer used model "%s" in the period %s.', model, v_period),
                      HINT = 'Add the customer to dsx.customer_plans.';
        END IF;
        IF NOT v_priced THEN
            RAISE EXCEPTION 'plan "%" of customer "%" has no price for model "%"', v_plan, customer, model
                USING ERRCODE = 'no_data_found',
                      DETAIL = format('The customer used the model at factory "%s" in the period %s.', v_factory, v_period),
                      HINT = 'Add the model to the plan in dsx.price_plans.';
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION dsx.rate_lines(text, timestamptz, timestamptz) IS 'Revenue lines of a factory for the half-open period [period_start, period_end) of whole UTC days: one per customer and model, priced by the customer''s plan and rounded once to the currency''s minor units; usage without a plan or price is an error (P0002)';
