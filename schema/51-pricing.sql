-- schema/51-pricing.sql — pricing: the price in force for a customer and model, the price a
-- period was booked with, the price a line is rated with, the one error for usage nobody
-- priced, and the revenue lines of a factory's period (dsx.rate_lines).

/*
 * The lookups below pin their search_path, which also keeps the planner from inlining them
 * into their callers' queries: on Citus the plans are reference tables, and Citus cannot
 * plan a query into which a function reading its tables was inlined (the views, expanded
 * before any planner sees them, are joined directly). Their bodies still qualify every
 * name. dsx.booked_price reads the books, which are on the coordinator: on a Citus worker
 * (where Citus would send it with a query on one shard) it refuses rather than read the
 * worker's empty copy.
 */

-- Every version of the prices: for every customer at every factory, the plan it is on and
-- that plan's prices for each model, over the periods [valid_from, valid_until) where both
-- the customer's plan and the plan's prices are those versions (terms are dated: a row
-- applies from its valid_from until the next row of the same key). Rating a period joins
-- the row whose range holds the period's first day; usage with no such row is usage no plan
-- prices.
CREATE OR REPLACE VIEW dsx.price_versions WITH (security_invoker = true) AS
SELECT cp.factory, cp.customer, pp.model, cp.plan, pp.input_price::text AS input_price, pp.output_price::text AS output_price,
       GREATEST(cp.valid_from, pp.valid_from) AS valid_from, LEAST(cp.valid_until, pp.valid_until) AS valid_until
  FROM (SELECT c.factory, c.customer, c.plan, c.valid_from,
               COALESCE(lead(c.valid_from) OVER (PARTITION BY c.factory, c.customer ORDER BY c.valid_from),
                        'infinity') AS valid_until
          FROM dsx.customer_plans c) cp
  JOIN (SELECT p.plan, p.model, p.input_price, p.output_price, p.valid_from,
               COALESCE(lead(p.valid_from) OVER (PARTITION BY p.plan, p.model ORDER BY p.valid_from),
                        'infinity') AS valid_until
          FROM dsx.price_plans p) pp
    ON pp.plan = cp.plan AND pp.valid_from < cp.valid_until AND cp.valid_from < pp.valid_until;
COMMENT ON VIEW dsx.price_versions IS 'Every version of the prices: per factory, customer and model, the plan and prices that apply to the periods from valid_from up to, not including, valid_until (the customer''s plan and the plan''s prices as dated)';
COMMENT ON COLUMN dsx.price_versions.factory IS 'Factory';
COMMENT ON COLUMN dsx.price_versions.customer IS 'Customer';
COMMENT ON COLUMN dsx.price_versions.model IS 'Model the plan prices';
COMMENT ON COLUMN dsx.price_versions.plan IS 'The customer''s plan at the factory in these periods';
COMMENT ON COLUMN dsx.price_versions.input_price IS 'Price per million input tokens, as text (a flat price or its tiers; dsx.price reads it back exactly)';
COMMENT ON COLUMN dsx.price_versions.output_price IS 'Price per million output tokens, as text (a flat price or its tiers; dsx.price reads it back exactly)';
COMMENT ON COLUMN dsx.price_versions.valid_from IS 'First period these prices apply to (-infinity: from the beginning)';
COMMENT ON COLUMN dsx.price_versions.valid_until IS 'First period they no longer apply to (infinity: still in force)';

-- The prices in force today: the version of dsx.price_versions whose periods hold today.
CREATE OR REPLACE VIEW dsx.prices_in_force WITH (security_invoker = true) AS
SELECT v.factory, v.customer, v.model, v.plan, v.input_price, v.output_price, v.valid_from
  FROM dsx.price_versions v
 WHERE v.valid_from <= CURRENT_DATE AND CURRENT_DATE < v.valid_until;
COMMENT ON VIEW dsx.prices_in_force IS 'The prices in force today: one row per factory, customer and model its plan prices, with the plan and the input and output prices (a period is rated at the version of dsx.price_versions in force for it)';
COMMENT ON COLUMN dsx.prices_in_force.factory IS 'Factory';
COMMENT ON COLUMN dsx.prices_in_force.customer IS 'Customer';
COMMENT ON COLUMN dsx.prices_in_force.model IS 'Model the plan prices';
COMMENT ON COLUMN dsx.prices_in_force.plan IS 'The customer''s plan at the factory';
COMMENT ON COLUMN dsx.prices_in_force.input_price IS 'Price per million input tokens, as text (a flat price or its tiers)';
COMMENT ON COLUMN dsx.prices_in_force.output_price IS 'Price per million output tokens, as text (a flat price or its tiers)';
COMMENT ON COLUMN dsx.prices_in_force.valid_from IS 'First period of this version';

-- The price in force for a period for one customer and model at a factory (a row of
-- dsx.price_versions); no row when no plan prices the usage.
CREATE OR REPLACE FUNCTION dsx.price_in_force(factory text, customer text, model text, period_start date)
RETURNS TABLE(plan text, input_price dsx.price, output_price dsx.price)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.plan, p.input_price::dsx.price, p.output_price::dsx.price
      FROM dsx.price_versions p
     WHERE p.factory OPERATOR(pg_catalog.=) $1 AND p.customer OPERATOR(pg_catalog.=) $2
       AND p.model OPERATOR(pg_catalog.=) $3
       AND p.valid_from OPERATOR(pg_catalog.<=) $4 AND $4 OPERATOR(pg_catalog.<) p.valid_until
$$;
COMMENT ON FUNCTION dsx.price_in_force(text, text, text, date) IS 'The plan and prices in force for the period starting at period_start for a customer and model at a factory (its row of dsx.price_versions); no row when no plan prices the usage';

-- The same for today (dsx.prices_in_force).
CREATE OR REPLACE FUNCTION dsx.price_in_force(factory text, customer text, model text)
RETURNS TABLE(plan text, input_price dsx.price, output_price dsx.price)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM dsx.price_in_force($1, $2, $3, CURRENT_DATE) $$;
COMMENT ON FUNCTION dsx.price_in_force(text, text, text) IS 'The plan and prices in force today for a customer and model at a factory (its row of dsx.prices_in_force); no row when no plan prices the usage';

-- The price a period was booked with for a customer and model: that of the first statement
-- (up to the one settling period `through`) with a line of the period for them. No row
-- when nothing was booked.
CREATE OR REPLACE FUNCTION dsx.booked_price(agreement text, for_period date, customer text, model text, through date)
RETURNS TABLE(plan text, input_price dsx.price, output_price dsx.price)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- the books are on the coordinator: a worker's copy of them is empty
    PERFORM dsx.refuse_on_worker('dsx.booked_price()');
    RETURN QUERY
    SELECT l.plan, l.input_price, l.output_price
      FROM dsx.statement_lines l
     WHERE l.agreement = booked_price.agreement AND l.for_period = booked_price.for_period
       AND l.customer = booked_price.customer AND l.model = booked_price.model
       AND l.period_start <= booked_price.through
     ORDER BY l.period_start
     LIMIT 1;
END
$$;
COMMENT ON FUNCTION dsx.booked_price(text, date, text, text, date) IS 'The plan and prices a period''s usage of a customer and model was first booked with (on statements up to the one of period through); no row when it never was';

-- The price a line of an agreement's period is rated with: the price the period was booked
-- with for the customer and model, whatever the plans say now; the price in force only
-- where nothing was booked. priced is false when neither gives a price.
CREATE OR REPLACE FUNCTION dsx.line_price(agreement text, factory text, for_period date, customer text, model text,
                                          through date)
RETURNS TABLE(plan text, input_price dsx.price, output_price dsx.price, priced boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(b.plan, f.plan), COALESCE(b.input_price, f.input_price),
           COALESCE(b.output_price, f.output_price), b.plan IS NOT NULL OR f.plan IS NOT NULL
      FROM (SELECT) one
      LEFT JOIN LATERAL dsx.booked_price($1, $3, $4, $5, $6) b ON true
      LEFT JOIN LATERAL dsx.price_in_force($2, $4, $5, $3) f ON b.plan IS NULL
$$;
COMMENT ON FUNCTION dsx.line_price(text, text, date, text, text, date) IS 'The plan and prices a line is rated with: those its period was booked with (dsx.booked_price), else those in force for the period (dsx.price_in_force); priced false when neither prices the usage';

-- The error for usage nobody priced (P0002): the customer has no plan at the factory, or
-- its plan has no price for the model.
CREATE OR REPLACE FUNCTION dsx.raise_unpriced(factory text, customer text, model text,
                                              period_start date, period_end date) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_period text := format('[%s, %s)', to_char(period_start, 'YYYY-MM-DD'), to_char(period_end, 'YYYY-MM-DD'));
    v_plan   text;
BEGIN
    SELECT cp.plan INTO v_plan FROM dsx.customer_plans cp
     WHERE cp.factory = raise_unpriced.factory AND cp.customer = raise_unpriced.customer
       AND cp.valid_from <= raise_unpriced.period_start
     ORDER BY cp.valid_from DESC LIMIT 1;
    IF v_plan IS NULL THEN
        RAISE EXCEPTION 'customer "%" has no price plan at factory "%"', customer, factory
            USING ERRCODE = 'no_data_found',
                  DETAIL = format('The customer used model "%s" in the period %s.', model, v_period),
                  HINT = 'Add the customer to dsx.customer_plans, valid from the period or earlier.';
    END IF;
    RAISE EXCEPTION 'plan "%" of customer "%" has no price for model "%"', v_plan, customer, model
        USING ERRCODE = 'no_data_found',
              DETAIL = format('The customer used the model at factory "%s" in the period %s.', factory, v_period),
              HINT = 'Add the model to the plan in dsx.price_plans, valid from the period or earlier.';
END
$$;
COMMENT ON FUNCTION dsx.raise_unpriced(text, text, text, date, date) IS 'Raises the error (P0002) for usage of a customer and model at a factory in a period that no plan prices: the customer has no plan there, or its plan has no price for the model';

CREATE OR REPLACE FUNCTION dsx.rate_lines(factory text, period_start timestamptz, period_end timestamptz)
RETURNS TABLE(customer text, model text, input_tokens bigint, output_tokens bigint, amount numeric)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_factory    text := rate_lines.factory;
    v_minor      integer;
    v_tz         text;
    v_start      date;
    v_end        date;
    v_period     text;
    v_priced     boolean;
BEGIN
    SELECT c.minor_units, f.time_zone INTO v_minor, v_tz
      FROM dsx.factories f JOIN dsx.currencies c ON c.currency = f.currency
     WHERE f.factory = v_factory;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown factory "%"', v_factory
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'dsx.rate_lines rates the usage of a factory in dsx.factories.';
    END IF;

    -- Usage is kept per local day of the factory: a period must be whole local days.
    v_start := pg_catalog.timezone(v_tz, period_start)::date;
    v_end := pg_catalog.timezone(v_tz, period_end)::date;
    IF dsx.local_midnight(v_start, v_tz) <> period_start OR dsx.local_midnight(v_end, v_tz) <> period_end THEN
        RAISE EXCEPTION 'rating period must start and end at local midnight of factory "%" (%)', v_factory, v_tz
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The period is [%s, %s) in %s.',
                                  to_char(pg_catalog.timezone(v_tz, period_start), 'YYYY-MM-DD HH24:MI:SS.US'),
                                  to_char(pg_catalog.timezone(v_tz, period_end), 'YYYY-MM-DD HH24:MI:SS.US'), v_tz),
                  HINT = 'Usage is rolled up per local day of the factory; pass whole local days, e.g. dsx.local_midnight(''2026-01-01'', time_zone).';
    END IF;
    v_period := format('[%s, %s)', to_char(v_start, 'YYYY-MM-DD'), to_char(v_end, 'YYYY-MM-DD'));
    IF v_end < v_start THEN
        RAISE EXCEPTION 'rating period ends before it starts'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The period is %s.', v_period);
    END IF;

    -- One line per customer and model: tiers count that customer's volume of that model
    -- in the period; the exact charge is rounded once, half away from zero. The prices are
    -- those in force for the period's first day.
    FOR customer, model, input_tokens, output_tokens, amount, v_priced IN
        SELECT l.customer, l.model, dsx.input_tokens(l.u), dsx.output_tokens(l.u),
               dsx.rate(l.u, p.input_price::dsx.price, p.output_price::dsx.price, v_minor), p.plan IS NOT NULL
          FROM (SELECT d.customer, d.model, dsx.rollup(d.usage) AS u
                  FROM dsx.usage_daily d
                 WHERE d.factory = v_factory AND d.day >= v_start AND d.day < v_end
                 GROUP BY d.customer, d.model) l
          LEFT JOIN dsx.price_versions p ON p.factory = v_factory AND p.customer = l.customer AND p.model = l.model
                                        AND p.valid_from <= v_start AND v_start < p.valid_until
         ORDER BY l.customer, l.model
    LOOP
        IF NOT v_priced THEN
            PERFORM dsx.raise_unpriced(v_factory, customer, model, v_start, v_end);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION dsx.rate_lines(text, timestamptz, timestamptz) IS 'Revenue lines of a factory for the half-open period [period_start, period_end) of whole local days of the factory: one per customer and model, priced by the customer''s plan in force for the first day and rounded once to the billing currency''s minor units; usage without a plan or price is an error (P0002)';
