-- test/pgtap/credit.sql — the API surface of the credit module: the functions with their
-- exact signatures, defaults, volatility, strictness and parallel safety; the
-- credit_facilities table's keys and columns; the facility_position view.
BEGIN;
SELECT plan(54);

-- Checks one function: exists, return type, volatility, STRICT, PARALLEL SAFE.
CREATE FUNCTION pg_temp.fn(name text, args text[], returns text, volatility text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    sig text := format('dsx.%s(%s)', name, array_to_string(args, ','));
BEGIN
    RETURN NEXT has_function('dsx', name, args, sig || ' exists');
    RETURN NEXT function_returns('dsx', name, args, returns, sig || ' returns ' || returns);
    RETURN NEXT volatility_is('dsx', name, args, volatility, sig || ' is ' || volatility);
    RETURN NEXT is_strict('dsx', name, args, sig || ' is STRICT');
    RETURN NEXT is((SELECT proparallel FROM pg_proc WHERE oid = sig::regprocedure), 's',
                   sig || ' is PARALLEL SAFE');
END $$;

SELECT pg_temp.fn('year_fraction', ARRAY['date', 'date', 'text'], 'numeric', 'immutable');
SELECT pg_temp.fn('day_count', ARRAY['date', 'date', 'text'], 'bigint', 'immutable');
SELECT pg_temp.fn('interest', ARRAY['numeric', 'numeric', 'date', 'date', 'text', 'integer'], 'numeric', 'immutable');
SELECT pg_temp.fn('amortize', ARRAY['numeric', 'numeric', 'integer', 'date', 'text', 'text', 'text', 'integer', 'integer'],
                  'setof record', 'immutable');
SELECT pg_temp.fn('amortize_check', ARRAY['numeric', 'numeric', 'integer', 'date', 'text', 'text', 'text', 'integer', 'integer'],
                  'boolean', 'immutable');
SELECT pg_temp.fn('facility_schedule', ARRAY['text'], 'setof record', 'stable');
SELECT pg_temp.fn('facility_position_at', ARRAY['date'], 'setof record', 'stable');

-- The SPEC's signatures, parameter names and defaults, verbatim.
SELECT is(pg_get_function_arguments('dsx.year_fraction(date,date,text)'::regprocedure),
          'start date, "end" date, convention text', 'dsx.year_fraction arguments');
SELECT is(pg_get_function_arguments('dsx.amortize(numeric,numeric,integer,date,text,text,text,integer,integer)'::regprocedure),
          'principal numeric, annual_rate numeric, periods integer, first_due date, method text DEFAULT ''annuity''::text, frequency text DEFAULT ''monthly''::text, day_count text DEFAULT ''30/360''::text, minor_units integer DEFAULT 2, grace_periods integer DEFAULT 0',
          'dsx.amortize arguments and defaults');
SELECT is(pg_get_function_result('dsx.amortize(numeric,numeric,integer,date,text,text,text,integer,integer)'::regprocedure),
          'TABLE(period integer, due date, opening numeric, payment numeric, interest numeric, principal numeric, closing numeric)',
          'dsx.amortize result columns');
SELECT is(pg_get_function_result('dsx.facility_schedule(text)'::regprocedure),
          pg_get_function_result('dsx.amortize(numeric,numeric,integer,date,text,text,text,integer,integer)'::regprocedure),
          'dsx.facility_schedule returns the same columns as dsx.amortize');
SELECT is(pg_get_function_arguments('dsx.interest(numeric,numeric,date,date,text,integer)'::regprocedure),
          'amount numeric, annual_rate numeric, start date, "end" date, day_count text DEFAULT ''30/360''::text, minor_units integer DEFAULT 2',
          'dsx.interest arguments and defaults');
SELECT function_lang_is('dsx', 'amortize', ARRAY['numeric', 'numeric', 'integer', 'date', 'text', 'text', 'text', 'integer', 'integer'],
                        'c', 'dsx.amortize is written in C');
SELECT function_lang_is('dsx', 'year_fraction', ARRAY['date', 'date', 'text'], 'c', 'dsx.year_fraction is written in C');

-- The table.
SELECT has_table('dsx', 'credit_facilities', 'dsx.credit_facilities exists');
SELECT columns_are('dsx', 'credit_facilities',
                   ARRAY['facility', 'agreement', 'lender', 'principal', 'annual_rate', 'periods',
                         'first_due', 'method', 'frequency', 'day_count', 'grace_periods', 'minor_units', 'currency',
                         'rank', 'supported'],
                   'dsx.credit_facilities has the SPEC''s columns and minor_units');
SELECT col_is_pk('dsx', 'credit_facilities', 'facility', 'facility is the primary key');
SELECT col_is_unique('dsx', 'credit_facilities', ARRAY['agreement', 'rank'], 'facilities of an agreement ranked, no two alike');
SELECT fk_ok('dsx', 'credit_facilities', 'lender', 'dsx', 'parties', 'party', 'the lender is a party');
SELECT has_trigger('dsx', 'credit_facilities', 'credit_facilities_lender', 'the lender''s kind is checked');
SELECT col_type_is('dsx', 'credit_facilities', 'principal', 'numeric', 'principal is numeric');
SELECT col_type_is('dsx', 'credit_facilities', 'annual_rate', 'numeric', 'annual_rate is numeric');

-- The view.
SELECT has_view('dsx', 'facility_position', 'dsx.facility_position exists');
SELECT columns_are('dsx', 'facility_position',
                   ARRAY['facility', 'agreement', 'lender', 'as_of', 'next_period', 'next_due',
                         'next_payment', 'next_interest', 'next_principal', 'outstanding_principal',
                         'remaining_periods', 'maturity'],
                   'dsx.facility_position columns');
-- Columns of a relation whose type is not built in (its oid is past the built-in range).
CREATE FUNCTION pg_temp.non_builtin_columns(rel regclass) RETURNS int LANGUAGE sql AS $$
    SELECT count(*)::int FROM pg_attribute WHERE attrelid = rel AND attnum > 0 AND atttypid >= 16384
$$;
SELECT is(pg_temp.non_builtin_columns('dsx.facility_position'), 0, 'dsx.facility_position has only built-in column types');
SELECT is(pg_temp.non_builtin_columns('dsx.price_plans'), 2, 'control: the two dsx.price columns of dsx.price_plans are counted');

SELECT * FROM finish();
ROLLBACK;
