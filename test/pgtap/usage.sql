-- pgTAP: the metering API surface — the dsx.usage type, its functions and aggregates, and
-- the metering tables — with the labels planners and Citus rely on.
BEGIN;
SELECT plan(54);

SELECT has_schema('dsx');
SELECT has_type('dsx', 'usage', 'type dsx.usage exists');
SELECT is((SELECT typlen FROM pg_type WHERE oid = 'dsx.usage'::regtype), 48::smallint, 'dsx.usage is fixed length');
SELECT isnt((SELECT typreceive FROM pg_type WHERE oid = 'dsx.usage'::regtype), 0::regproc, 'dsx.usage has binary receive');
SELECT isnt((SELECT typsend FROM pg_type WHERE oid = 'dsx.usage'::regtype), 0::regproc, 'dsx.usage has binary send');

-- accessors: immutable, strict, parallel safe, returning the documented types
SELECT function_returns('dsx', f, ARRAY['dsx.usage'], r)
  FROM (VALUES ('events', 'bigint'), ('input_tokens', 'bigint'), ('output_tokens', 'bigint'),
               ('total_tokens', 'bigint'), ('first_at', 'timestamp with time zone'),
               ('last_at', 'timestamp with time zone')) v(f, r);
SELECT volatility_is('dsx', f, ARRAY['dsx.usage'], 'immutable')
  FROM unnest(ARRAY['events', 'input_tokens', 'output_tokens', 'total_tokens', 'first_at', 'last_at']) f;
SELECT is_strict('dsx', f, ARRAY['dsx.usage'])
  FROM unnest(ARRAY['events', 'input_tokens', 'output_tokens', 'total_tokens', 'first_at', 'last_at']) f;
-- Of the usage functions and aggregates, those not PARALLEL SAFE; and the names no dsx
-- function has (a count over names says nothing of a name that is not there).
CREATE FUNCTION pg_temp.usage_functions() RETURNS name[] LANGUAGE sql AS $$
    SELECT ARRAY['events', 'input_tokens', 'output_tokens', 'total_tokens', 'first_at', 'last_at',
                 'usage_in', 'usage_out', 'usage_recv', 'usage_send', 'usage_eq', 'usage_ne',
                 'usage_add', 'usage_accum', 'usage_combine', 'usage_agg', 'rollup']::name[]
$$;
CREATE FUNCTION pg_temp.not_parallel_safe(fns name[]) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_proc WHERE pronamespace = 'dsx'::regnamespace AND proname = ANY (fns) AND proparallel <> 's'
$$;
SELECT is((SELECT array_agg(f ORDER BY f) FROM unnest(pg_temp.usage_functions()) f
            WHERE NOT EXISTS (SELECT 1 FROM pg_proc WHERE pronamespace = 'dsx'::regnamespace AND proname = f)),
          NULL, 'every usage function and aggregate named exists');
SELECT is(pg_temp.not_parallel_safe(pg_temp.usage_functions()), 0::bigint, 'every usage function and aggregate is PARALLEL SAFE');
ALTER FUNCTION dsx.usage_combine(dsx.usage, dsx.usage) PARALLEL RESTRICTED;
SELECT is(pg_temp.not_parallel_safe(pg_temp.usage_functions()), 1::bigint, 'control: dsx.usage_combine made PARALLEL RESTRICTED is counted');
ALTER FUNCTION dsx.usage_combine(dsx.usage, dsx.usage) PARALLEL SAFE;

-- the aggregates: state is dsx.usage itself, with a combine function
SELECT has_function('dsx', 'usage_agg', ARRAY['bigint', 'bigint', 'timestamp with time zone']);
SELECT is_aggregate('dsx', 'usage_agg', ARRAY['bigint', 'bigint', 'timestamp with time zone']);
SELECT is_aggregate('dsx', 'rollup', ARRAY['dsx.usage']);
SELECT is((SELECT aggtranstype::regtype::text FROM pg_aggregate WHERE aggfnoid = 'dsx.usage_agg(bigint,bigint,timestamptz)'::regprocedure),
          'dsx.usage', 'usage_agg state type is dsx.usage');
SELECT is((SELECT aggtranstype::regtype::text FROM pg_aggregate WHERE aggfnoid = 'dsx.rollup(dsx.usage)'::regprocedure),
          'dsx.usage', 'rollup state type is dsx.usage');
SELECT is((SELECT aggcombinefn::text FROM pg_aggregate WHERE aggfnoid = 'dsx.usage_agg(bigint,bigint,timestamptz)'::regprocedure),
          'dsx.usage_combine', 'usage_agg has a combine function');
SELECT is((SELECT aggcombinefn::text FROM pg_aggregate WHERE aggfnoid = 'dsx.rollup(dsx.usage)'::regprocedure),
          'dsx.usage_combine', 'rollup has a combine function');
SELECT isnt_strict('dsx', 'usage_combine', ARRAY['dsx.usage', 'dsx.usage'], 'combine takes NULL states');

-- operators
SELECT ok(EXISTS (SELECT 1 FROM pg_operator WHERE oprnamespace = 'dsx'::regnamespace AND oprname = '+'
                   AND oprleft = 'dsx.usage'::regtype AND oprright = 'dsx.usage'::regtype
                   AND oprresult = 'dsx.usage'::regtype), 'operator + merges usage');
SELECT ok(EXISTS (SELECT 1 FROM pg_operator WHERE oprnamespace = 'dsx'::regnamespace AND oprname = '='
                   AND oprleft = 'dsx.usage'::regtype AND oprright = 'dsx.usage'::regtype
                   AND oprresult = 'boolean'::regtype), 'operator = compares usage');
SELECT is_strict('dsx', 'usage_add', ARRAY['dsx.usage', 'dsx.usage'], '+ is strict');

-- ingest
SELECT has_function('dsx', 'ingest', ARRAY[]::text[]);
SELECT volatility_is('dsx', 'ingest', ARRAY[]::text[], 'volatile');
SELECT is(pg_get_function_result('dsx.ingest()'::regprocedure),
          'TABLE(inserted bigint, duplicates bigint, conflicts bigint)', 'ingest returns its three counts');
SELECT has_function('dsx', 'ingest_rows', ARRAY['regclass', 'bigint', 'boolean']);
SELECT volatility_is('dsx', 'ingest_rows', ARRAY['regclass', 'bigint', 'boolean'], 'volatile');
SELECT is(pg_get_function_result('dsx.ingest_rows(regclass, bigint, boolean)'::regprocedure),
          'record', 'ingest_rows returns the same three counts (OUT parameters)');

-- tables and keys
SELECT has_table('dsx', t, 'table dsx.' || t) FROM unnest(ARRAY['currencies', 'parties', 'factories',
    'usage_inbox', 'usage_events', 'usage_conflicts', 'usage_daily', 'ingest_log']) t;
SELECT col_is_pk('dsx', 'usage_events', ARRAY['factory', 'event_id'], 'events are unique per factory and event_id');
SELECT has_index('dsx', 'usage_events', 'usage_events_factory_time', ARRAY['factory', 'occurred_at'], 'events indexed by factory and time');
SELECT results_eq($$SELECT currency, minor_units FROM dsx.currencies ORDER BY currency$$,
                  $$VALUES ('AUD', 2), ('EUR', 2), ('IDR', 0), ('JPY', 0), ('SGD', 2), ('USD', 2)$$,
                  'currencies preloaded with their minor units');

SELECT * FROM finish();
ROLLBACK;
