-- schema/63-schedule.sql — scheduling settlements through pg_cron, a soft dependency.

/*
 * Scheduling through pg_cron, a soft dependency: the functions look pg_cron up at run time
 * and explain how to enable it when it is missing.
 */
CREATE OR REPLACE FUNCTION dsx.schedule_settlements(cron text DEFAULT '15 0 * * *') RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'dsx schedules settlements through pg_cron, which lives in the one database named by cron.database_name.',
                  HINT = format('Either CREATE EXTENSION pg_cron here (with shared_preload_libraries = ''pg_cron'' and cron.database_name = %L), '
                                'or, in the pg_cron database, run: SELECT cron.schedule_in_database(%L, %L, ''SELECT dsx.run_due_settlements()'', %L);',
                                current_database(), 'dsx-settlements-' || current_database(), cron, current_database());
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
      USING 'dsx-settlements', cron, 'SELECT dsx.run_due_settlements()';
    RETURN job;
END
$$;
COMMENT ON FUNCTION dsx.schedule_settlements(text) IS 'Register dsx.run_due_settlements() with pg_cron under the job name dsx-settlements (replacing its schedule) and return the job id; where pg_cron is not installed, the error''s hint gives the cron.schedule_in_database call (job dsx-settlements-<database>) to run in the pg_cron database';

CREATE OR REPLACE FUNCTION dsx.unschedule_settlements() RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'undefined_object',
                  HINT = format('In the pg_cron database, run: SELECT cron.unschedule(%L);',
                                'dsx-settlements-' || current_database());
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'dsx-settlements') THEN
        RAISE NOTICE 'no dsx-settlements job is scheduled';
        RETURN false;
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' INTO done USING 'dsx-settlements';
    RETURN done;
END
$$;
COMMENT ON FUNCTION dsx.unschedule_settlements() IS 'Remove the pg_cron job dsx-settlements; false (and says so) when none is scheduled';
