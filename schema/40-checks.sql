-- schema/40-checks.sql — the rules rows of the configuration and the books must keep: trigger
-- functions and their triggers (facility lender and currency, agreement parties, append-only
-- books, the books' foreign keys checked once per statement).

/*
 * Rows a superuser brings back rather than changes: pg_restore reloading a dump (restore),
 * or dsx.distribute() copying a table into Citus's shards and emptying the coordinator's
 * own heap (distribute). The checks and the history stand aside for them; a superuser
 * could disable the triggers anyway.
 */
CREATE OR REPLACE FUNCTION dsx.superuser_reload(restore boolean, distribute boolean) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ((restore AND current_setting('application_name') = 'pg_restore')
            OR (distribute AND current_setting('dsx.distributing', true) = 'on'))
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = SESSION_USER AND r.rolsuper)
$$;
COMMENT ON FUNCTION dsx.superuser_reload(boolean, boolean) IS 'Whether the session is a superuser''s pg_restore (restore) or dsx.distribute() (distribute): rows reloaded, not changed, which the checks and the history let through';

CREATE OR REPLACE FUNCTION dsx.credit_facilities_check_lender() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
BEGIN
    SELECT p.kind INTO k FROM dsx.parties p WHERE p.party = NEW.lender;
    IF FOUND AND k IS DISTINCT FROM 'lender' THEN
        RAISE EXCEPTION 'party "%" is not a lender', NEW.lender
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Party "%s" is of kind %s.', NEW.lender, k),
                  HINT = 'Register the lender in dsx.parties with kind lender.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.credit_facilities_check_lender() IS 'Trigger function: refuses a credit facility whose lender is not a party of kind lender';
CREATE OR REPLACE TRIGGER credit_facilities_lender BEFORE INSERT OR UPDATE OF lender ON dsx.credit_facilities
    FOR EACH ROW EXECUTE FUNCTION dsx.credit_facilities_check_lender();
COMMENT ON TRIGGER credit_facilities_lender ON dsx.credit_facilities IS 'The lender must be a party of kind lender';


-- The split's parties, resolved: vendor and partner stand for the agreement's own. Not
-- strict, so that PostgreSQL inlines it (settlement resolves every share through it); a
-- null name, or a null party it stands for, gives null.
CREATE OR REPLACE FUNCTION dsx.agreement_party(name text, vendor text, partner text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE name WHEN 'vendor' THEN vendor WHEN 'partner' THEN partner ELSE name END $$;
COMMENT ON FUNCTION dsx.agreement_party(text, text, text) IS 'The party a name in a revenue split stands for: vendor and partner resolve to the agreement''s own';

-- A split names known parties, once each (vendor and partner resolved to the agreement's
-- own): what an agreement's split and every amendment of it must keep. what names the split
-- in the error.
CREATE OR REPLACE FUNCTION dsx.check_split_parties(revenue_split dsx.split, vendor text, partner text, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
    twice   text;
BEGIN
    SELECT min(p) INTO missing
      FROM unnest(dsx.parties(revenue_split)) n, LATERAL dsx.agreement_party(n, vendor, partner) p
     WHERE NOT EXISTS (SELECT 1 FROM dsx.parties x WHERE x.party = p);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'revenue split of % names unknown party "%"', what, missing
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Use vendor and partner for the agreement''s own, or add the party to dsx.parties.';
    END IF;
    SELECT p INTO twice
      FROM unnest(dsx.parties(revenue_split)) n, LATERAL dsx.agreement_party(n, vendor, partner) p
     GROUP BY p HAVING count(*) > 1 LIMIT 1;
    IF twice IS NOT NULL THEN
        RAISE EXCEPTION 'revenue split of % names party "%" twice', what, twice
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The names vendor and partner stand for the agreement''s own vendor and partner.';
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.check_split_parties(dsx.split, text, text, text) IS 'Raises 23503 when a revenue split names an unknown party, 22023 when it names one twice (vendor and partner resolved to the agreement''s own)';

-- An agreement is valid only when every party its split names exists, once.
CREATE OR REPLACE FUNCTION dsx.agreements_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM dsx.check_split_parties(NEW.revenue_split, NEW.vendor, NEW.partner, format('agreement "%s"', NEW.agreement));
    IF NOT EXISTS (SELECT 1 FROM dsx.parties WHERE party = NEW.vendor AND kind = 'vendor') THEN
        RAISE EXCEPTION 'party "%" is not a vendor', NEW.vendor USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM dsx.parties WHERE party = NEW.partner AND kind = 'partner') THEN
        RAISE EXCEPTION 'party "%" is not a partner', NEW.partner USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- settled in the factory's billing currency unless another is named
    IF NEW.settlement_currency IS NULL THEN
        SELECT f.currency INTO NEW.settlement_currency FROM dsx.factories f WHERE f.factory = NEW.factory;
    END IF;
    IF TG_OP = 'UPDATE' AND dsx.citus_node() <> 'worker'
       AND EXISTS (SELECT 1 FROM dsx.statements s WHERE s.agreement = OLD.agreement) THEN
        IF (NEW.agreement, NEW.partner, NEW.vendor, NEW.factory, NEW.starts, NEW.settlement_currency, NEW.fx_rule,
            NEW.support_rate, NEW.support_day_count, NEW.dsra_months, NEW.lockup_dscr)
           IS DISTINCT FROM (OLD.agreement, OLD.partner, OLD.vendor, OLD.factory, OLD.starts, OLD.settlement_currency, OLD.fx_rule,
                             OLD.support_rate, OLD.support_day_count, OLD.dsra_months, OLD.lockup_dscr) THEN
            RAISE EXCEPTION 'agreement "%" has settled periods: its parties, factory, start, settlement currency, FX rule, support terms, reserve and lock-up are fixed', OLD.agreement
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'A new revenue split applies from a period through dsx.agreement_splits; a new settle lag from the next period settled.';
        END IF;
        -- the agreement's own split applies until its first amendment: closed books keep it
        IF NEW.revenue_split::text IS DISTINCT FROM OLD.revenue_split::text
           AND EXISTS (SELECT 1 FROM dsx.statements s WHERE s.agreement = OLD.agreement AND s.split_valid_from IS NULL) THEN
            RAISE EXCEPTION 'agreement "%" has periods settled with its revenue split: the split is fixed', OLD.agreement
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Amend the split from the next period on with a dsx.agreement_splits row.';
        END IF;
    END IF;
    -- its split amendments follow its start
    IF TG_OP = 'UPDATE' AND NEW.starts > OLD.starts
       AND EXISTS (SELECT 1 FROM dsx.agreement_splits x WHERE x.agreement = OLD.agreement AND x.valid_from <= NEW.starts) THEN
        RAISE EXCEPTION 'agreement "%" has a split amendment from % or earlier: it cannot start on %', OLD.agreement, NEW.starts, NEW.starts
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An amendment applies from a month after the agreement starts; remove or move it first.';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.settlement_currency IS DISTINCT FROM OLD.settlement_currency
       AND EXISTS (SELECT 1 FROM dsx.credit_facilities cf WHERE cf.agreement = OLD.agreement) THEN
        RAISE EXCEPTION 'agreement "%" has credit facilities in %: its settlement currency is fixed', OLD.agreement, OLD.settlement_currency
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A facility is denominated in its agreement''s settlement currency.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.agreements_check() IS 'Trigger: an agreement''s split names known parties once each, its vendor is a vendor, its settlement currency defaults to the factory''s; settled agreements keep their identity, currencies, FX rule and the split their statements used';


-- A facility is denominated in its agreement's settlement currency and rounds in it: left
-- out, currency and minor_units are filled in; other values are refused, so the schedule
-- shown is the debt service settled.
CREATE OR REPLACE FUNCTION dsx.credit_facilities_currency() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur text;
    mu  integer;
BEGIN
    SELECT c.currency, c.minor_units INTO cur, mu
      FROM dsx.agreements a
      JOIN dsx.currencies c ON c.currency = a.settlement_currency
     WHERE a.agreement = NEW.agreement;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'facility "%" names unknown agreement "%"', NEW.facility, NEW.agreement
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Create the agreement in dsx.agreements first.';
    END IF;
    IF NEW.currency IS NULL THEN
        NEW.currency := cur;
    ELSIF NEW.currency <> cur THEN
        RAISE EXCEPTION 'facility "%" is in %, but its agreement settles in %', NEW.facility, NEW.currency, cur
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A facility is denominated in its agreement''s settlement currency; leave currency out.';
    END IF;
    IF NEW.minor_units IS NULL THEN
        NEW.minor_units := mu;
    ELSIF NEW.minor_units <> mu THEN
        RAISE EXCEPTION 'facility "%" rounds to % decimal places, but its agreement settles in % (% decimal places)',
              NEW.facility, NEW.minor_units, cur, mu
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave minor_units out: it is taken from the currency.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.credit_facilities_currency() IS 'Trigger: a credit facility is in its agreement''s settlement currency and rounds to its minor units';
CREATE OR REPLACE TRIGGER credit_facilities_currency BEFORE INSERT OR UPDATE ON dsx.credit_facilities
    FOR EACH ROW EXECUTE FUNCTION dsx.credit_facilities_currency();


/*
 * A facility settled is part of the books: once a statement booked its debt service, its
 * terms (schedule, rank, support, lender) cannot change, nor can it go (55000). A settled
 * period also read every facility's payments due in the agreement's dsra_months periods
 * after it (its reserve's target): no facility, booked or not, may gain, lose or move a
 * payment due from the first settled period to dsra_months periods after the last (the
 * reserve window; the period itself with no reserve). The check waits for a running
 * settlement and holds new ones off until the change commits, as the other terms checks
 * do. On Citus it runs on the coordinator, where the books are.
 */
CREATE OR REPLACE FUNCTION dsx.credit_facilities_booked() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hit    record;
    f      dsx.credit_facilities;
    a      text;
BEGIN
    IF dsx.citus_node() = 'worker' THEN
        RETURN NULL;
    END IF;
    -- pg_restore, run by a superuser, brings facilities and books back in whatever order
    IF dsx.superuser_reload(true, false) THEN
        RETURN NULL;
    END IF;
    PERFORM dsx.serialize_with_books('terms');
    IF TG_OP = 'TRUNCATE' THEN
        IF EXISTS (SELECT 1 FROM dsx.statement_debt) THEN
            RAISE EXCEPTION 'TRUNCATE on dsx.credit_facilities is refused: settled statements booked their debt service'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND pg_catalog.to_jsonb(NEW) = pg_catalog.to_jsonb(OLD) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE')
       AND EXISTS (SELECT 1 FROM dsx.statement_debt d WHERE d.facility = OLD.facility) THEN
        RAISE EXCEPTION '% of facility "%" is refused: settled statements booked its debt service', TG_OP, OLD.facility
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A facility''s terms are those its settled periods were settled with; a refinancing is a new facility whose schedule starts after them.';
    END IF;
    -- the schedule that goes (DELETE, UPDATE) and the one that comes (INSERT, UPDATE)
    FOR f IN SELECT (x).* FROM (SELECT OLD AS x WHERE TG_OP IN ('UPDATE', 'DELETE')
                                UNION ALL SELECT NEW WHERE TG_OP IN ('INSERT', 'UPDATE')) y LOOP
        SELECT s.period_start, s.period_end, x.due, g.dsra_months INTO hit
          FROM dsx.statements s
          JOIN dsx.agreements g ON g.agreement = s.agreement,
               LATERAL dsx.amortize(f.principal, f.annual_rate, f.periods, f.first_due, f.method, f.frequency,
                                    f.day_count, f.minor_units, f.grace_periods) x
         WHERE s.agreement = f.agreement AND x.due >= s.period_start
           AND x.due < (s.period_end + g.dsra_months * interval '1 month')::date
         ORDER BY s.period_start LIMIT 1;
        IF FOUND THEN
            IF hit.due < hit.period_end THEN
                RAISE EXCEPTION 'facility "%" has a payment due on %, in settled period % of agreement "%"',
                      f.facility, hit.due, hit.period_start, f.agreement
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          HINT = 'Closed books stay closed: a new facility''s first payment falls after the last settled period.';
            END IF;
            RAISE EXCEPTION 'facility "%" has a payment due on %, within the % months after settled period % of agreement "%" that sized its debt service reserve',
                  f.facility, hit.due, hit.dsra_months, hit.period_start, f.agreement
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Closed books stay closed: the reserve of a settled period was sized on the payments then scheduled for its dsra_months next periods; a facility may change or be added only with payments after them.';
        END IF;
    END LOOP;
    -- An agreement without support terms of its own pays interest on the credit support at
    -- its most senior supported facility's rate and day count: a change that moves them
    -- must leave the interest of every settled statement as booked. (Checked against the
    -- books, not against the rows before: every row of a statement sees the table after it.)
    FOR a IN SELECT DISTINCT x FROM unnest(ARRAY[OLD.agreement, NEW.agreement]) x WHERE x IS NOT NULL LOOP
        SELECT s.period_start, s.support_interest, t.annual_rate, t.day_count,
               dsx.support_interest_at(s.support_opening, t.annual_rate, t.day_count, s.period_start, c.minor_units) AS now
          INTO hit
          FROM dsx.statements s
          JOIN dsx.currencies c ON c.currency = s.currency
          LEFT JOIN dsx.support_terms(a) t ON true
         WHERE s.agreement = a
           AND dsx.support_interest_at(s.support_opening, t.annual_rate, t.day_count, s.period_start, c.minor_units)
               <> s.support_interest
         ORDER BY s.period_start LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION '% of facility "%" is refused: it changes the credit support terms of agreement "%" to %, at which settled period % would bear interest % rather than the % booked',
                  TG_OP, COALESCE(NEW.facility, OLD.facility), a,
                  COALESCE(hit.annual_rate::text || ' ' || hit.day_count, 'none'), hit.period_start, hit.now, hit.support_interest
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Without support_rate of its own, an agreement''s credit support bears interest at its most senior supported facility''s rate and day count; closed books stay closed: a supported facility added or moved above that one must bear the same rate and day count.';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dsx.credit_facilities_booked() IS 'Trigger: a facility whose debt service a statement booked cannot change or go, nor the table be truncated; a facility added, changed or removed with a payment due in a settled period of its agreement, or in the dsra_months periods after one (the reserve''s target), is refused (55000), as is one that moves the credit support terms an agreement without its own inherits from its most senior supported facility so that a settled statement''s support interest would differ from the booked. Waits for running settlements first';
CREATE OR REPLACE TRIGGER credit_facilities_booked AFTER INSERT OR UPDATE OR DELETE ON dsx.credit_facilities
    FOR EACH ROW EXECUTE FUNCTION dsx.credit_facilities_booked();
CREATE OR REPLACE TRIGGER credit_facilities_booked_truncate BEFORE TRUNCATE ON dsx.credit_facilities
    FOR EACH STATEMENT EXECUTE FUNCTION dsx.credit_facilities_booked();

/*
 * A change of terms and a settlement, or a change of a factory's calendar and an ingest,
 * must not overlap: the change checks what is settled or rolled up, and the settlement or
 * ingest reads the terms, each seeing only what the other has committed. They meet on the
 * rollup's table lock (settlement holds it in SHARE mode, ingest in ROW EXCLUSIVE, both
 * from their start): a change of terms takes ROW EXCLUSIVE (it waits for a running
 * settlement, and one starting waits for it), a change of a factory's zone or currency
 * SHARE ROW EXCLUSIVE (it waits for running settlements and ingests alike). The triggers
 * run with the rights of whoever changes the terms, who may not write the rollup: the
 * lock is taken here, with the owner's.
 */
CREATE OR REPLACE FUNCTION dsx.serialize_with_books(change text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    propagate text;
BEGIN
    IF change NOT IN ('terms', 'calendar') THEN
        RAISE EXCEPTION 'unknown change "%": terms or calendar', change USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- On Citus the lock is the coordinator's alone: what it serialises (ingests,
    -- settlements, these checks) runs there. Citus would also take it on every node with
    -- metadata, over the connections a statement on a reference table may still be using
    -- when its row triggers run (a multi-row INSERT ... SELECT copies through them): "another
    -- command is already in progress".
    IF dsx.citus_node() = 'coordinator' THEN
        propagate := pg_catalog.current_setting('citus.enable_ddl_propagation');
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    END IF;
    IF change = 'terms' THEN
        LOCK TABLE dsx.usage_daily IN ROW EXCLUSIVE MODE;
    ELSE
        LOCK TABLE dsx.usage_daily IN SHARE ROW EXCLUSIVE MODE;
    END IF;
    IF propagate IS NOT NULL THEN
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', propagate, true);
    END IF;
END
$$;
COMMENT ON FUNCTION dsx.serialize_with_books(text) IS 'For the terms triggers: waits for running settlements (terms), or settlements and ingests (calendar: a factory''s zone or currency), and holds them off until the transaction ends, so that the trigger''s check and their reading of the terms see each other''s committed work';

/*
 * A factory's time zone is an IANA name PostgreSQL knows (22023), and its zone and billing
 * currency are fixed once it has usage or statements (55000): its rollup's days, and its
 * settled periods and lines, are that zone's and that currency's.
 */
CREATE OR REPLACE FUNCTION dsx.factories_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    used boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.time_zone IS NOT DISTINCT FROM OLD.time_zone
       AND NEW.currency IS NOT DISTINCT FROM OLD.currency THEN
        RETURN NEW;
    END IF;
    -- pg_timezone_names reads every zone file (tens of milliseconds): a zone another
    -- factory already has was checked when that factory got it. Names that follow the
    -- host rather than a place (localtime, posixrules, Factory) or another copy of the
    -- database (posix/, right/) are not a campus's zone.
    IF (TG_OP = 'INSERT' OR NEW.time_zone IS DISTINCT FROM OLD.time_zone)
       AND (NEW.time_zone IN ('localtime', 'posixrules', 'Factory') OR NEW.time_zone ~ '^(posix|right)/'
            OR (NOT (dsx.citus_node() <> 'worker'
                     AND EXISTS (SELECT 1 FROM dsx.factories f WHERE f.time_zone = NEW.time_zone AND f.factory <> NEW.factory))
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = NEW.time_zone))) THEN
        RAISE EXCEPTION 'time zone "%" of factory "%" is not an IANA time zone name', NEW.time_zone, NEW.factory
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the campus''s zone as pg_timezone_names does, e.g. Asia/Jakarta or Australia/Sydney.';
    END IF;
    IF TG_OP = 'UPDATE' AND dsx.citus_node() <> 'worker' THEN
        PERFORM dsx.serialize_with_books('calendar');
        used := EXISTS (SELECT 1 FROM dsx.usage_daily d WHERE d.factory = OLD.factory)
                OR EXISTS (SELECT 1 FROM dsx.statements s JOIN dsx.agreements g ON g.agreement = s.agreement
                            WHERE g.factory = OLD.factory);
        IF used AND NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
            RAISE EXCEPTION 'factory "%" has usage: its time zone is fixed', OLD.factory
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('Its usage is rolled up, and settled, in the local days of %s.', OLD.time_zone);
        END IF;
        IF used THEN
            RAISE EXCEPTION 'factory "%" has usage: its billing currency is fixed', OLD.factory
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('Its usage is priced, and its lines settled, in %s.', OLD.currency);
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.factories_check() IS 'Trigger: a factory''s time zone is an IANA name PostgreSQL knows (22023); its zone and billing currency cannot change once it has usage or statements (55000)';
CREATE OR REPLACE TRIGGER factories_check BEFORE INSERT OR UPDATE OF time_zone, currency ON dsx.factories
    FOR EACH ROW EXECUTE FUNCTION dsx.factories_check();

/*
 * A currency's minor units are fixed once amounts were settled or a facility scheduled in
 * it: every settled amount, and every schedule, is rounded to them (55000).
 */
CREATE OR REPLACE FUNCTION dsx.currencies_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.minor_units IS DISTINCT FROM OLD.minor_units AND dsx.citus_node() <> 'worker'
       AND (EXISTS (SELECT 1 FROM dsx.statements s WHERE s.currency = OLD.currency OR s.billing_currency = OLD.currency)
            OR EXISTS (SELECT 1 FROM dsx.credit_facilities f WHERE f.currency = OLD.currency)) THEN
        RAISE EXCEPTION 'currency % is in use: its minor units are fixed', OLD.currency
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Settled amounts or facility schedules are rounded to %s decimal places.', OLD.minor_units);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.currencies_check() IS 'Trigger: a currency''s minor units cannot change once statements or facilities are in it (55000)';
CREATE OR REPLACE TRIGGER currencies_check BEFORE UPDATE OF minor_units ON dsx.currencies
    FOR EACH ROW EXECUTE FUNCTION dsx.currencies_check();


/*
 * Closed books stay closed: a dated row (a plan's prices, a customer's plan, a split
 * amendment, an operating cost, an FX rate) applies from its date until the next row of its key; inserting,
 * changing or deleting one whose validity covers a period already settled for an agreement
 * it applies to would change what those books were settled with, and is refused (55000).
 * For a change, both the old and the new row's validity are checked.
 */
CREATE OR REPLACE FUNCTION dsx.dated_terms_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tab  name := dsx.table_of_shard(TG_TABLE_NAME);
    r    record;
    k    jsonb;
    v_from date;
    v_until date;
    hit  record;
BEGIN
    IF dsx.citus_node() = 'worker' THEN
        RETURN NULL;     -- the books are on the coordinator
    END IF;
    -- pg_restore, run by a superuser, brings back terms and books together, in whatever
    -- order it loads the tables: the rows it restores change nothing
    IF dsx.superuser_reload(true, false) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND pg_catalog.to_jsonb(NEW) = pg_catalog.to_jsonb(OLD) THEN
        RETURN NULL;
    END IF;
    PERFORM dsx.serialize_with_books('terms');
    FOR r IN SELECT x.rec FROM (VALUES (CASE WHEN TG_OP <> 'INSERT' THEN pg_catalog.to_jsonb(OLD) END),
                                       (CASE WHEN TG_OP <> 'DELETE' THEN pg_catalog.to_jsonb(NEW) END)) x(rec)
              WHERE x.rec IS NOT NULL LOOP
        k := r.rec;
        hit := NULL;
        IF tab = 'price_plans' THEN
            v_from := (k ->> 'valid_from')::date;
            SELECT COALESCE(min(p.valid_from), 'infinity') INTO v_until FROM dsx.price_plans p
             WHERE p.plan = k ->> 'plan' AND p.model = k ->> 'model' AND p.valid_from > v_from;
            SELECT s.agreement, s.period_start INTO hit
              FROM dsx.statements s JOIN dsx.agreements g ON g.agreement = s.agreement
             WHERE s.period_start >= v_from AND s.period_start < v_until
               AND EXISTS (SELECT 1 FROM dsx.customer_plans c WHERE c.factory = g.factory AND c.plan = k ->> 'plan')
             ORDER BY s.period_start DESC, s.agreement LIMIT 1;
        ELSIF tab = 'customer_plans' THEN
            v_from := (k ->> 'valid_from')::date;
            SELECT COALESCE(min(c.valid_from), 'infinity') INTO v_until FROM dsx.customer_plans c
             WHERE c.customer = k ->> 'customer' AND c.factory = k ->> 'factory' AND c.valid_from > v_from;
            SELECT s.agreement, s.period_start INTO hit
              FROM dsx.statements s JOIN dsx.agreements g ON g.agreement = s.agreement
             WHERE g.factory = k ->> 'factory' AND s.period_start >= v_from AND s.period_start < v_until
             ORDER BY s.period_start DESC LIMIT 1;
        ELSIF tab = 'agreement_splits' THEN
            v_from := (k ->> 'valid_from')::date;
            SELECT COALESCE(min(x.valid_from), 'infinity') INTO v_until FROM dsx.agreement_splits x
             WHERE x.agreement = k ->> 'agreement' AND x.valid_from > v_from;
            SELECT s.agreement, s.period_start INTO hit
              FROM dsx.statements s
             WHERE s.agreement = k ->> 'agreement' AND s.period_start >= v_from AND s.period_start < v_until
             ORDER BY s.period_start DESC LIMIT 1;
        ELSIF tab = 'operating_costs' THEN
            v_from := (k ->> 'valid_from')::date;
            SELECT COALESCE(min(x.valid_from), 'infinity') INTO v_until FROM dsx.operating_costs x
             WHERE x.agreement = k ->> 'agreement' AND x.cost = k ->> 'cost' AND x.valid_from > v_from;
            SELECT s.agreement, s.period_start INTO hit
              FROM dsx.statements s
             WHERE s.agreement = k ->> 'agreement' AND s.period_start >= v_from AND s.period_start < v_until
             ORDER BY s.period_start DESC LIMIT 1;
        ELSIF tab = 'fx_rates' THEN
            -- a rate stands for the days from its date to the pair's next rate
            v_from := (k ->> 'rate_date')::date;
            SELECT COALESCE(min(x.rate_date), 'infinity') INTO v_until FROM dsx.fx_rates x
             WHERE x.base = k ->> 'base' AND x.quote = k ->> 'quote' AND x.rate_date > v_from;
            SELECT s.agreement, s.period_start INTO hit
              FROM dsx.statements s
             WHERE s.billing_currency = k ->> 'base' AND s.currency = k ->> 'quote'
               AND s.period_start < v_until AND s.period_end > v_from
             ORDER BY s.period_start DESC, s.agreement LIMIT 1;
        END IF;
        IF hit.agreement IS NOT NULL THEN
            RAISE EXCEPTION '% on %.% is refused: it would change the terms of settled period % of agreement "%"',
                  TG_OP, TG_TABLE_SCHEMA, tab, hit.period_start, hit.agreement
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('The row applies from %s until %s, which covers that settled period.',
                                      v_from, v_until),
                      HINT = 'Closed books stay closed: add a row valid from the first period not yet settled.';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dsx.dated_terms_check() IS 'Trigger on price_plans, customer_plans, agreement_splits, operating_costs and fx_rates: refuses (55000) a row inserted, changed or deleted whose validity (from its date until the next row of its key) covers a period already settled for an agreement it applies to';

-- TRUNCATE removes every version at once: refused once any period is settled (dsx.distribute
-- empties the coordinator's own copy of a table it has just made a Citus table).
CREATE OR REPLACE FUNCTION dsx.dated_terms_truncate() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF dsx.citus_node() = 'worker' OR dsx.superuser_reload(false, true) THEN
        RETURN NULL;
    END IF;
    PERFORM dsx.serialize_with_books('terms');
    IF EXISTS (SELECT 1 FROM dsx.statements) THEN
        RAISE EXCEPTION 'TRUNCATE on %.% is refused: settled periods were settled with its rows', TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Closed books stay closed: add rows valid from the first period not yet settled.';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dsx.dated_terms_truncate() IS 'Trigger: refuses TRUNCATE of price_plans, customer_plans, agreement_splits, operating_costs and fx_rates once any period is settled (55000)';
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['price_plans', 'customer_plans', 'agreement_splits', 'operating_costs', 'fx_rates'] LOOP
        EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER dated_terms AFTER INSERT OR UPDATE OR DELETE ON dsx.%I '
                                  'FOR EACH ROW EXECUTE FUNCTION dsx.dated_terms_check()', t);
        EXECUTE pg_catalog.format('COMMENT ON TRIGGER dated_terms ON dsx.%I IS %L', t,
                                  'Closed books stay closed: a dated row covering a settled period is refused');
        EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER dated_terms_truncate BEFORE TRUNCATE ON dsx.%I '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION dsx.dated_terms_truncate()', t);
        EXECUTE pg_catalog.format('COMMENT ON TRIGGER dated_terms_truncate ON dsx.%I IS %L', t,
                                  'Closed books stay closed: no TRUNCATE once a period is settled');
    END LOOP;
END
$$;

-- A split amendment names known parties once each, like the agreement's own split, and
-- applies from a period after the agreement's start.
CREATE OR REPLACE FUNCTION dsx.agreement_splits_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g dsx.agreements;
BEGIN
    SELECT * INTO g FROM dsx.agreements a WHERE a.agreement = NEW.agreement;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'split amendment names unknown agreement "%"', NEW.agreement
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF NEW.valid_from <= g.starts THEN
        RAISE EXCEPTION 'split amendment of agreement "%" from % does not follow its start %', NEW.agreement, NEW.valid_from, g.starts
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The agreement''s own revenue_split applies from its start; an amendment applies from a later month.';
    END IF;
    PERFORM dsx.check_split_parties(NEW.revenue_split, g.vendor, g.partner,
                                    format('agreement "%s" from %s', NEW.agreement, NEW.valid_from));
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION dsx.agreement_splits_check() IS 'Trigger: a split amendment names its agreement''s known parties once each and applies from a month after the agreement starts';
CREATE OR REPLACE TRIGGER agreement_splits_check BEFORE INSERT OR UPDATE ON dsx.agreement_splits
    FOR EACH ROW EXECUTE FUNCTION dsx.agreement_splits_check();


-- Closed books: what settlement wrote is never updated, deleted or truncated.
CREATE OR REPLACE FUNCTION dsx.refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- dsx.distribute() empties the coordinator's own heap of a table whose rows it has just
    -- copied into Citus's shards: nothing of the table's contents goes
    IF TG_OP = 'TRUNCATE' AND dsx.superuser_reload(false, true) THEN
        RETURN NULL;
    END IF;
    -- the books by default; another append-only table names itself and its remedy
    RAISE EXCEPTION '% on %.% is refused: %', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME,
          CASE WHEN TG_NARGS > 0 THEN TG_ARGV[0] ELSE 'settled books are append-only' END
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = CASE WHEN TG_NARGS > 1 THEN TG_ARGV[1]
                          ELSE 'Corrections are booked by settling the next period (late usage becomes adjustment lines).' END;
END
$$;
COMMENT ON FUNCTION dsx.refuse_change() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on settled books (or, with arguments, on another append-only table: the reason and the hint)';
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.ledger_entries FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.ledger_entries FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statements FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statements FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statement_lines FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statement_lines FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statement_shares FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statement_shares FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statement_debt FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statement_debt FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON dsx.statement_costs FOR EACH ROW EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON dsx.statement_costs FOR EACH STATEMENT EXECUTE FUNCTION dsx.refuse_change();
CREATE OR REPLACE TRIGGER agreements_check BEFORE INSERT OR UPDATE ON dsx.agreements FOR EACH ROW EXECUTE FUNCTION dsx.agreements_check();

/*
 * What a line, share or ledger entry names must exist: its statement, its party, its
 * currency. The foreign keys above say so, and keep a dump's rows in restorable order
 * (pg_dump loads the data of an extension's tables in foreign-key order); but their
 * per-row checks cost about 4 us a row, queued to commit, which is most of the cost of
 * posting a month's books in bulk. The books are checked instead once per INSERT or COPY
 * statement, over all its rows at once, by the trigger below, for every writer (settlement
 * and anyone inserting directly); the foreign keys' per-row check triggers on these three
 * tables are disabled. The check is immediate: a statement must be written before its
 * lines, shares and entries. A statement cannot be deleted or changed once written
 * (refuse_change, and the foreign keys' own triggers on dsx.statements, which stay
 * enabled), so what the check saw stays true.
 */
CREATE OR REPLACE FUNCTION dsx.books_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    con    text;   -- the foreign key a row breaks, and how
    detail text;
    names  text[];
BEGIN
    SELECT TG_TABLE_NAME || '_agreement_period_start_fkey',
           format('Key (agreement, period_start)=(%s, %s) is not present in table "statements".',
                  n.agreement, n.period_start)
      INTO con, detail
      FROM (SELECT DISTINCT r.agreement, r.period_start FROM new_rows r) n
     WHERE NOT EXISTS (SELECT 1 FROM dsx.statements s
                        WHERE s.agreement = n.agreement AND s.period_start = n.period_start)
     LIMIT 1;
    -- the names are taken from the new rows first, in a query of their own: on Citus the
    -- parties and currencies are reference tables, which a query cannot join with the
    -- statement's new rows
    IF con IS NULL AND TG_TABLE_NAME = 'statement_shares' THEN
        names := ARRAY(SELECT DISTINCT r.party FROM new_rows r);
        SELECT 'statement_shares_party_fkey',
               format('Key (party)=(%s) is not present in table "parties".', n.party)
          INTO con, detail
          FROM pg_catalog.unnest(names) n(party)
         WHERE NOT EXISTS (SELECT 1 FROM dsx.parties p WHERE p.party = n.party)
         LIMIT 1;
    ELSIF con IS NULL AND TG_TABLE_NAME = 'ledger_entries' THEN
        names := ARRAY(SELECT DISTINCT r.currency FROM new_rows r);
        SELECT 'ledger_entries_currency_fkey',
               format('Key (currency)=(%s) is not present in table "currencies".', n.currency)
          INTO con, detail
          FROM pg_catalog.unnest(names) n(currency)
         WHERE NOT EXISTS (SELECT 1 FROM dsx.currencies c WHERE c.currency = n.currency)
         LIMIT 1;
    END IF;
    IF con IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', TG_TABLE_NAME, con
            USING ERRCODE = 'foreign_key_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                  CONSTRAINT = con, DETAIL = detail;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dsx.books_check() IS 'Trigger, once per INSERT or COPY on statement_lines, statement_shares and ledger_entries: every row names an existing statement (and party, currency), as their foreign keys say; 23503 otherwise';
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['statement_lines', 'statement_shares', 'ledger_entries'] LOOP
        EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER books_check AFTER INSERT ON dsx.%I REFERENCING NEW TABLE AS new_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION dsx.books_check()', t);
        EXECUTE pg_catalog.format('COMMENT ON TRIGGER books_check ON dsx.%I IS %L', t,
                                  'Every row inserted names an existing statement (and party, currency): the foreign keys, checked once per statement');
        -- the foreign keys' per-row check triggers (the only internal triggers of the table)
        EXECUTE pg_catalog.format('ALTER TABLE dsx.%I DISABLE TRIGGER ALL', t);
        EXECUTE pg_catalog.format('ALTER TABLE dsx.%I ENABLE TRIGGER USER', t);
    END LOOP;
END
$$;

/*
 * On Citus the books stay on the coordinator as plain tables while the configuration
 * becomes reference tables, and Citus keeps no foreign key from a plain table to a
 * reference table: dsx.distribute() drops the books' keys to the configuration
 * (statements to agreements and currencies, shares to parties, entries to currencies) and
 * puts this trigger on the referenced tables in their place. Like the keys' own checks, it
 * refuses to delete, or change the key of, a row the books name (23503). Its argument is
 * the key column. A TRUNCATE is refused while the books name any row. On a worker's copy it
 * does nothing: the books are on the coordinator.
 */
CREATE OR REPLACE FUNCTION dsx.keep_books() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col  text := TG_ARGV[0];
    k    text := pg_catalog.to_jsonb(OLD) ->> TG_ARGV[0];
    tab  name := dsx.table_of_shard(TG_TABLE_NAME);
    book text;
BEGIN
    IF dsx.citus_node() = 'worker' THEN
        RETURN NULL;
    END IF;
    -- a TRUNCATE (also one cascading from another table) while the books name any row, as
    -- the keys refused it
    IF TG_OP = 'TRUNCATE' THEN
        book := CASE
            WHEN tab = 'agreements' AND EXISTS (SELECT 1 FROM dsx.statements) THEN 'statements'
            WHEN tab = 'parties' AND EXISTS (SELECT 1 FROM dsx.statement_shares) THEN 'statement_shares'
            WHEN tab = 'currencies' AND EXISTS (SELECT 1 FROM dsx.statements) THEN 'statements'
            WHEN tab = 'factories' AND EXISTS (SELECT 1 FROM dsx.energy_readings) THEN 'energy_readings'
            END;
        IF book IS NOT NULL THEN
            RAISE EXCEPTION 'cannot truncate a table referenced in a foreign key constraint'
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = format('Table "%s" references "%s".', book, tab),
                      HINT = 'The books are append-only: what they name stays.';
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND (pg_catalog.to_jsonb(NEW) ->> col) IS NOT DISTINCT FROM k THEN
        RETURN NULL;
    END IF;
    book := CASE
        WHEN tab = 'agreements' AND EXISTS (SELECT 1 FROM dsx.statements s WHERE s.agreement = k) THEN 'statements'
        WHEN tab = 'parties' AND EXISTS (SELECT 1 FROM dsx.statement_shares s WHERE s.party = k) THEN 'statement_shares'
        WHEN tab = 'currencies' AND EXISTS (SELECT 1 FROM dsx.statements s WHERE s.currency = k OR s.billing_currency = k) THEN 'statements'
        WHEN tab = 'currencies' AND EXISTS (SELECT 1 FROM dsx.ledger_entries e WHERE e.currency = k) THEN 'ledger_entries'
        WHEN tab = 'factories' AND EXISTS (SELECT 1 FROM dsx.energy_readings r WHERE r.factory = k) THEN 'energy_readings'
        END;
    IF book IS NOT NULL THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "%_%_fkey" on table "%"', tab, book, col, book
            USING ERRCODE = 'foreign_key_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = tab,
                  DETAIL = format('Key (%s)=(%s) is still referenced from table "%s".', col, k, book);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dsx.keep_books() IS 'Trigger dsx.distribute() puts on agreements, parties, currencies and factories on Citus, in place of the books'' foreign keys: a row the books name cannot be deleted or rekeyed (23503), nor the table truncated while they name any (0A000)';
