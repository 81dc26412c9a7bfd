-- test/pgtap/money.sql — the API surface of dsx's money module: the dsx.split and dsx.price
-- types, every function's signature, return type, volatility, strictness, parallel safety
-- and comment, and the pricing tables with their keys, references and pg_dump registration.
BEGIN;

CREATE TEMP TABLE money_functions (name text, args text[], returns text, volatility text, strict boolean) ON COMMIT DROP;
INSERT INTO money_functions VALUES
    ('round_money', '{numeric,integer}', 'numeric', 'immutable', true),
    ('split_in', '{cstring}', 'dsx.split', 'immutable', true),
    ('split_out', '{dsx.split}', 'cstring', 'immutable', true),
    ('split_recv', '{internal}', 'dsx.split', 'immutable', true),
    ('split_send', '{dsx.split}', 'bytea', 'immutable', true),
    ('split_eq', '{dsx.split,dsx.split}', 'boolean', 'immutable', true),
    ('split_ne', '{dsx.split,dsx.split}', 'boolean', 'immutable', true),
    ('split_hash', '{dsx.split}', 'integer', 'immutable', true),
    ('share', '{dsx.split,text}', 'numeric', 'immutable', true),
    ('parties', '{dsx.split}', 'text[]', 'immutable', true),
    ('tiers', '{dsx.split}', 'setof record', 'immutable', true),
    ('allocate', '{numeric,dsx.split,integer}', 'setof record', 'immutable', true),
    ('price_in', '{cstring}', 'dsx.price', 'immutable', true),
    ('price_out', '{dsx.price}', 'cstring', 'immutable', true),
    ('price_recv', '{internal}', 'dsx.price', 'immutable', true),
    ('price_send', '{dsx.price}', 'bytea', 'immutable', true),
    ('price_eq', '{dsx.price,dsx.price}', 'boolean', 'immutable', true),
    ('price_ne', '{dsx.price,dsx.price}', 'boolean', 'immutable', true),
    ('price_hash', '{dsx.price}', 'integer', 'immutable', true),
    ('charge', '{bigint,dsx.price}', 'numeric', 'immutable', true),
    ('charge', '{dsx.usage,dsx.price,dsx.price}', 'numeric', 'immutable', true),
    ('rate', '{dsx.usage,dsx.price,dsx.price,integer}', 'numeric', 'immutable', true),
    ('rate_lines', '{text,"timestamp with time zone","timestamp with time zone"}', 'setof record', 'stable', true);

SELECT plan((SELECT count(*)::int * 6 FROM money_functions) + 37);

-- Types.
SELECT has_type('dsx', 'split', 'type dsx.split exists');
SELECT has_type('dsx', 'price', 'type dsx.price exists');
SELECT ok(obj_description('dsx.split'::regtype, 'pg_type') IS NOT NULL, 'dsx.split has a comment');
SELECT ok(obj_description('dsx.price'::regtype, 'pg_type') IS NOT NULL, 'dsx.price has a comment');
SELECT ok((SELECT typsend <> 0 AND typreceive <> 0 FROM pg_type WHERE oid = 'dsx.split'::regtype), 'dsx.split has binary I/O');
SELECT ok((SELECT typsend <> 0 AND typreceive <> 0 FROM pg_type WHERE oid = 'dsx.price'::regtype), 'dsx.price has binary I/O');
SELECT ok(EXISTS (SELECT 1 FROM pg_opclass WHERE opcintype = 'dsx.split'::regtype AND opcdefault
                    AND opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hash')), 'dsx.split has a default hash opclass');
SELECT ok(EXISTS (SELECT 1 FROM pg_opclass WHERE opcintype = 'dsx.price'::regtype AND opcdefault
                    AND opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hash')), 'dsx.price has a default hash opclass');

-- Functions: signature, return type, volatility, strictness, parallel safety, comment.
SELECT has_function('dsx', name, args, format('dsx.%s(%s) exists', name, array_to_string(args, ', ')))
  FROM money_functions;
SELECT function_returns('dsx', name, args, returns, format('dsx.%s(%s) returns %s', name, array_to_string(args, ', '), returns))
  FROM money_functions;
SELECT volatility_is('dsx', name, args, volatility, format('dsx.%s(%s) is %s', name, array_to_string(args, ', '), volatility))
  FROM money_functions;
SELECT is_strict('dsx', name, args, format('dsx.%s(%s) is strict', name, array_to_string(args, ', ')))
  FROM money_functions;
SELECT ok(p.proparallel = 's', format('dsx.%s(%s) is parallel safe', f.name, array_to_string(f.args, ', ')))
  FROM money_functions f
  JOIN pg_proc p ON p.oid = format('dsx.%s(%s)', f.name, array_to_string(f.args, ','))::regprocedure;
SELECT ok(obj_description(format('dsx.%s(%s)', name, array_to_string(args, ','))::regprocedure, 'pg_proc') IS NOT NULL,
          format('dsx.%s(%s) has a comment', name, array_to_string(args, ', ')))
  FROM money_functions;

-- The public signatures the contract names, with their argument names and defaults.
SELECT is(pg_get_function_arguments('dsx.allocate(numeric, dsx.split, integer)'::regprocedure),
          'amount numeric, s dsx.split, minor_units integer DEFAULT 2',
          'dsx.allocate(amount, s, minor_units DEFAULT 2)');
SELECT is(pg_get_function_result('dsx.allocate(numeric, dsx.split, integer)'::regprocedure),
          'TABLE(party text, amount numeric)', 'dsx.allocate returns TABLE(party text, amount numeric)');
SELECT is(pg_get_function_arguments('dsx.rate_lines(text, timestamptz, timestamptz)'::regprocedure),
          'factory text, period_start timestamp with time zone, period_end timestamp with time zone',
          'dsx.rate_lines(factory, period_start, period_end)');
SELECT is(pg_get_function_result('dsx.rate_lines(text, timestamptz, timestamptz)'::regprocedure),
          'TABLE(customer text, model text, input_tokens bigint, output_tokens bigint, amount numeric)',
          'dsx.rate_lines returns (customer, model, input_tokens, output_tokens, amount)');
SELECT is(pg_get_function_arguments('dsx.share(dsx.split, text)'::regprocedure), 's dsx.split, party text',
          'dsx.share(s, party)');
SELECT is(pg_get_function_arguments('dsx.charge(dsx.usage, dsx.price, dsx.price)'::regprocedure),
          'u dsx.usage, input_price dsx.price, output_price dsx.price', 'dsx.charge(u, input_price, output_price)');

-- Tables.
SELECT has_table('dsx', 'price_plans', 'table dsx.price_plans exists');
SELECT has_table('dsx', 'customer_plans', 'table dsx.customer_plans exists');
SELECT col_is_pk('dsx', 'price_plans', ARRAY['plan', 'model', 'valid_from'], 'price_plans is keyed by (plan, model, valid_from)');
SELECT col_is_pk('dsx', 'customer_plans', ARRAY['customer', 'factory', 'valid_from'], 'customer_plans is keyed by (customer, factory, valid_from)');
SELECT col_type_is('dsx', 'price_plans', 'input_price', 'dsx', 'price', 'price_plans.input_price is a dsx.price');
SELECT col_type_is('dsx', 'price_plans', 'output_price', 'dsx', 'price', 'price_plans.output_price is a dsx.price');
SELECT fk_ok('dsx', 'customer_plans', 'factory', 'dsx', 'factories', 'factory', 'customer_plans.factory references factories');
SELECT ok(obj_description('dsx.price_plans'::regclass, 'pg_class') IS NOT NULL, 'price_plans has a comment');
SELECT ok(obj_description('dsx.customer_plans'::regclass, 'pg_class') IS NOT NULL, 'customer_plans has a comment');
CREATE FUNCTION pg_temp.uncommented_pricing_columns() RETURNS int LANGUAGE sql AS $$
    SELECT count(*)::int FROM pg_attribute
     WHERE attrelid IN ('dsx.price_plans'::regclass, 'dsx.customer_plans'::regclass) AND attnum > 0
       AND NOT attisdropped AND col_description(attrelid, attnum) IS NULL
$$;
SELECT is(pg_temp.uncommented_pricing_columns(), 0, 'every column of the pricing tables has a comment');
ALTER TABLE dsx.customer_plans ADD COLUMN tap_note text;
SELECT is(pg_temp.uncommented_pricing_columns(), 1, 'control: a column added without a comment is counted');
ALTER TABLE dsx.customer_plans DROP COLUMN tap_note;
SELECT ok((SELECT 'dsx.price_plans'::regclass = ANY (extconfig) AND 'dsx.customer_plans'::regclass = ANY (extconfig)
             FROM pg_extension WHERE extname = 'dsx'),
          'the pricing tables are registered with pg_extension_config_dump');

-- A few values through the API, as a client sees them.
SELECT is('vendor=0.3, partner=70%'::dsx.split::text, 'vendor=30%, partner=70%', 'splits print canonically');
SELECT is('graduated: 0: 3.00, 1000000000: 2.50'::dsx.price::text, 'graduated: 0: 3, 1000000000: 2.5', 'prices print canonically');
SELECT throws_ok($$SELECT 'a=30%, b=60%'::dsx.split$$, '22023', NULL, 'shares not adding up to 100% are 22023');
SELECT throws_ok($$SELECT 'a=30% b=70%'::dsx.split$$, '22P02', NULL, 'bad split syntax is 22P02');
SELECT throws_ok($$SELECT '1.0000000001'::dsx.price$$, '22023', NULL, 'a price with 10 decimals is 22023');
SELECT throws_ok($$SELECT * FROM dsx.allocate(1e30, 'a=100%')$$, '22003', NULL, 'allocation overflow is 22003');
SELECT results_eq($$SELECT party, amount FROM dsx.allocate(100, 'a=20%, b=30%, c=50%', 0)$$,
                  $$VALUES ('a', 20::numeric), ('b', 30), ('c', 50)$$, 'dsx.allocate splits 100 as 20/30/50');
SELECT is(dsx.charge(1500000000, 'graduated: 0: 3.00, 1000000000: 2.50'), 4250::numeric, 'graduated charge');
SELECT is(dsx.round_money(-2.5, 0), -3::numeric, 'round_money rounds half away from zero');
SELECT is(dsx.share('vendor=30%, partner=70%', 'vendor'), 0.3, 'dsx.share is the first tier''s fraction');
SELECT is(dsx.parties('a=50%, b=50%; from 100: c=100%'), ARRAY['a', 'b', 'c'], 'dsx.parties in first-appearance order');

SELECT * FROM finish();
ROLLBACK;
