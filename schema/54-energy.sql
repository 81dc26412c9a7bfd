-- schema/54-energy.sql — metered energy: dsx.load_energy(), the only way readings enter
-- dsx.energy_readings.

/*
 * dsx.load_energy_as(who, ...) runs with the owner's rights: it is the only writer of the
 * readings, which no role may write directly. dsx.load_energy(), with the caller's rights,
 * calls it for the role the caller acts as. Staff load any factory's energy; a loader only
 * that of the factories it is mapped to (dsx.loader_roles), as for usage.
 *
 * Loading is idempotent: a reading equal to the day's latest one changes nothing (false).
 * A different one is a correction, stored as a new reading (true); the day's reading is its
 * latest. A reading for a day of a period already settled is late: the next period settled
 * books the change of that period's power costs as an adjustment. A settlement in progress
 * is waited for, as ingest waits, so that what it saw stays what it saw.
 */
CREATE OR REPLACE FUNCTION dsx.load_energy_as(who name, factory text, day date, mwh numeric) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    latest numeric;
    v_zone text;
BEGIN
    PERFORM dsx.refuse_on_worker('dsx.load_energy()');
    IF NOT dsx.session_may_act_as(who) THEN
        RAISE EXCEPTION 'permission denied to load energy as role "%"', who
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The session''s login "%s" is not a member of that role.', SESSION_USER);
    END IF;
    IF load_energy_as.factory IS NULL OR load_energy_as.day IS NULL OR load_energy_as.mwh IS NULL THEN
        RAISE EXCEPTION 'dsx.load_energy needs a factory, a day and the MWh' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- a loader learns nothing of factories it is not mapped to: whether they exist or not,
    -- it is refused alike
    IF NOT dsx.is_staff(who)
       AND load_energy_as.factory <> ALL (COALESCE(dsx.visible_keys((SELECT g.oid FROM pg_catalog.pg_roles g WHERE g.rolname = who),
                                                                    'loader_factory'), '{}')) THEN
        RAISE EXCEPTION 'permission denied to load energy of factory "%"', load_energy_as.factory
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'An operator maps a loader to its factories with dsx.grant_loader().';
    END IF;
    SELECT f.time_zone INTO v_zone FROM dsx.factories f WHERE f.factory = load_energy_as.factory;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown factory "%"', load_energy_as.factory USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF load_energy_as.mwh < 0 OR load_energy_as.mwh >= 1e9 THEN
        RAISE EXCEPTION 'energy of factory "%" on % must be at least 0 and below 1e9 MWh, not %',
              load_energy_as.factory, load_energy_as.day, load_energy_as.mwh
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT pg_catalog.isfinite(load_energy_as.day) THEN
        RAISE EXCEPTION 'energy is read for a day, not %', load_energy_as.day USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.scale(load_energy_as.mwh) > 6 THEN
        RAISE EXCEPTION 'energy of factory "%" on % is metered to the watt-hour: % has more than 6 decimals of a MWh',
              load_energy_as.factory, load_energy_as.day, load_energy_as.mwh
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- a meter reads days that have begun, in the factory's zone
    IF load_energy_as.day > (pg_catalog.now() AT TIME ZONE v_zone)::date THEN
        RAISE EXCEPTION 'energy of factory "%" for %: that day has not begun there', load_energy_as.factory, load_energy_as.day
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- a settlement in progress holds the rollup in SHARE mode: wait for it
    LOCK TABLE dsx.usage_daily IN ROW EXCLUSIVE MODE;
    -- one loader at a time per factory and day decides what is new (the day as a number:
    -- its text would follow the session's DateStyle)
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('dsx.energy_readings'),
                                             pg_catalog.hashtext(load_energy_as.factory || '/'
                                                                 || (load_energy_as.day - date '2000-01-01')));
    SELECT r.mwh INTO latest FROM dsx.energy_readings r
     WHERE r.factory = load_energy_as.factory AND r.day = load_energy_as.day
     ORDER BY r.reading_id DESC LIMIT 1;
    IF FOUND AND latest = load_energy_as.mwh THEN
        RETURN false;
    END IF;
    INSERT INTO dsx.energy_readings (factory, day, mwh)
    VALUES (load_energy_as.factory, load_energy_as.day, load_energy_as.mwh);
    RETURN true;
END
$$;
COMMENT ON FUNCTION dsx.load_energy_as(name, text, date, numeric) IS 'What dsx.load_energy runs, with the owner''s rights, for the role its caller acts as: staff load any factory, a loader the factories it is mapped to (42501 otherwise)';

CREATE OR REPLACE FUNCTION dsx.load_energy(factory text, day date, mwh numeric) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT dsx.load_energy_as(CURRENT_USER, $1, $2, $3) $$;
COMMENT ON FUNCTION dsx.load_energy(text, date, numeric) IS 'Load a factory''s metered energy (MWh, exact, >= 0) for a local day: false when it equals the day''s latest reading (loading again changes nothing), true when stored (a correction is a new reading); late readings for a settled period are booked as a cost adjustment in the next period settled';

CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.energy_readings
    FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change('energy readings are append-only', 'Load a correction with dsx.load_energy(): the latest reading of a day is its reading.');
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.energy_readings
    FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change('energy readings are append-only', 'Load a correction with dsx.load_energy(): the latest reading of a day is its reading.');
COMMENT ON TRIGGER append_only ON dsx.energy_readings IS 'Energy readings are append-only';
COMMENT ON TRIGGER append_only_truncate ON dsx.energy_readings IS 'Energy readings are append-only';
