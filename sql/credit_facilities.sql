-- dsx.credit_facilities: validation (the same rules as dsx.amortize, plus the lender's
-- kind), dsx.facility_schedule, dsx.facility_position_at and the dsx.facility_position
-- view, and the catalogue: comments, dump registration, built-in view column types.
SET datestyle = ISO;

-- Runs a statement and reports its SQLSTATE and message instead of failing.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

INSERT INTO dsx.parties (party, kind, display_name) VALUES
    ('cf-bank', 'lender', 'A bank'), ('cf-fund', 'lender', 'A credit fund'),
    ('cf-vendor', 'vendor', 'The vendor');
-- the agreements the facilities belong to, each on its own factory (never due for settlement)
INSERT INTO dsx.parties (party, kind, display_name) VALUES ('cf-partner', 'partner', 'A partner');
INSERT INTO dsx.factories (factory, partner, currency)
SELECT 'cf-factory-' || n, 'cf-partner', CASE WHEN n IN ('2', 'x') THEN 'JPY' ELSE 'USD' END
  FROM unnest(ARRAY['1', '2', '3', '4', '5', 'x']) n;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag)
SELECT CASE n WHEN 'x' THEN 'cf-x' ELSE 'cf-agreement-' || n END, 'cf-partner', 'cf-vendor',
       'cf-factory-' || n, 'vendor=30%, partner=70%', '2026-01-01', '100 years'
  FROM unnest(ARRAY['1', '2', '3', '4', '5', 'x']) n;

INSERT INTO dsx.credit_facilities
    (facility, agreement, lender, principal, annual_rate, periods, first_due, method,
     frequency, day_count, grace_periods, minor_units)
VALUES
    ('cf-annuity', 'cf-agreement-1', 'cf-bank', 12000000.00, 0.0725, 36, '2026-01-31',
     'annuity', 'monthly', 'ACT/360', 3, 2),
    ('cf-linear', 'cf-agreement-2', 'cf-fund', 900000000, 0.095, 4, '2026-03-15',
     'linear', 'quarterly', '30/360', 1, 0),
    ('cf-past', 'cf-agreement-3', 'cf-bank', 1000.00, 0.05, 12, '2001-01-15',
     'bullet', 'monthly', 'ACT/365F', 0, 2),
    ('cf-future', 'cf-agreement-4', 'cf-fund', 5000000.00, 0.06, 10, '2090-06-30',
     'annuity', 'semiannual', '30E/360', 0, 2);
-- The defaults: annuity, monthly, 30/360, no grace, 2 minor units.
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('cf-defaults', 'cf-agreement-5', 'cf-bank', 15000, 0.08, 60, '2026-01-15');
SELECT facility, method, frequency, day_count, grace_periods, minor_units
  FROM dsx.credit_facilities WHERE facility = 'cf-defaults';

-- A facility whose schedule cannot be produced is refused with dsx.amortize's error.
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', -1, 0.08, 60, '2026-01-15')$$) AS negative_principal;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', 1000, -0.08, 60, '2026-01-15')$$) AS negative_rate;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', 1000, 0.08, 0, '2026-01-15')$$) AS no_periods;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, grace_periods)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', 1000, 0.08, 12, '2026-01-15', 12)$$) AS all_grace;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, method)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', 1000, 0.08, 12, '2026-01-15', 'balloon')$$) AS unknown_method;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, frequency)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', 1000, 0.08, 12, '2026-01-15', 'weekly')$$) AS unknown_frequency;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, day_count)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', 1000, 0.08, 12, '2026-01-15', 'ACT/365')$$) AS unknown_day_count;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, minor_units)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', 1000.50, 0.08, 12, '2026-01-15', 0)$$) AS fractional_rupiah;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due, minor_units)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', 1000, 0.08, 12, '2026-01-15', 9)$$) AS bad_minor_units;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', 1000, 0.08, 12, 'infinity')$$) AS infinite_first_due;
-- The lender must be a registered party of kind lender.
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('cf-x', 'cf-x', 'cf-vendor', 1000, 0.08, 12, '2026-01-15')$$) AS vendor_as_lender;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('cf-x', 'cf-x', 'cf-nobody', 1000, 0.08, 12, '2026-01-15')$$) AS unknown_lender;
SELECT pg_temp.err($$UPDATE dsx.credit_facilities SET lender = 'cf-vendor' WHERE facility = 'cf-past'$$) AS update_to_vendor;
-- A second facility of an agreement needs a rank of its own; unique names, no empty name, no missing term.
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('cf-x', 'cf-agreement-1', 'cf-bank', 1000, 0.08, 12, '2026-01-15')$$) AS second_facility_same_agreement;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('cf-annuity', 'cf-x', 'cf-bank', 1000, 0.08, 12, '2026-01-15')$$) AS duplicate_facility;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('', 'cf-x', 'cf-bank', 1000, 0.08, 12, '2026-01-15')$$) AS empty_name;
SELECT pg_temp.err($$INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
                     VALUES ('cf-x', 'cf-x', 'cf-bank', NULL, 0.08, 12, '2026-01-15')$$) AS missing_principal;
-- Updates are validated too, and a refused statement changes nothing.
SELECT pg_temp.err($$UPDATE dsx.credit_facilities SET grace_periods = 40 WHERE facility = 'cf-annuity'$$) AS update_grace;
SELECT count(*) AS facilities FROM dsx.credit_facilities WHERE facility LIKE 'cf-%';

-- The schedule of a facility is dsx.amortize of its terms.
SELECT * FROM dsx.facility_schedule('cf-linear');
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM dsx.facility_schedule('cf-annuity')
                              EXCEPT SELECT * FROM dsx.amortize(12000000.00, 0.0725, 36, '2026-01-31',
                                                                'annuity', 'monthly', 'ACT/360', 2, 3)) d) AS differing
  FROM dsx.facility_schedule('cf-annuity');
SELECT period, due, opening, payment, interest, principal, closing
  FROM dsx.facility_schedule('cf-annuity') WHERE period IN (1, 2, 3, 4, 35, 36);
SELECT pg_temp.err($$SELECT * FROM dsx.facility_schedule('cf-nope')$$) AS unknown_facility;
SELECT count(*) AS rows FROM dsx.facility_schedule(NULL);

-- Positions: the next payment is the first due on or after the date; outstanding is the
-- principal not repaid by the payments due before it.
SELECT facility, as_of, next_period, next_due, next_payment, next_interest, next_principal,
       outstanding_principal, remaining_periods, maturity
  FROM dsx.facility_position_at('2026-03-15') WHERE facility LIKE 'cf-%' ORDER BY facility;
SELECT d AS as_of, p.next_period, p.next_due, p.outstanding_principal, p.remaining_periods
  FROM unnest(ARRAY[date '2025-12-01', '2026-01-31', '2026-02-01', '2026-04-30', '2028-12-31', '2029-01-01']) d,
       LATERAL dsx.facility_position_at(d) p
 WHERE p.facility = 'cf-annuity';
-- The view is the position today: the past facility is repaid, the future one untouched.
SELECT facility, next_period, next_due, next_payment, outstanding_principal, remaining_periods, maturity,
       as_of = CURRENT_DATE AS as_of_today
  FROM dsx.facility_position WHERE facility IN ('cf-past', 'cf-future') ORDER BY facility;

-- Catalogue: everything documented, the table dumped with user data, the view over
-- built-in types only and with security_invoker. The queries that list what is missing
-- are run again below with the faults planted, to show that they would list them.
CREATE TEMP VIEW cf_uncommented_columns AS
SELECT c.relname, a.attname
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.oid IN ('dsx.credit_facilities'::regclass, 'dsx.facility_position'::regclass)
   AND a.attnum > 0 AND NOT a.attisdropped
   AND col_description(c.oid, a.attnum) IS NULL;
SELECT * FROM cf_uncommented_columns ORDER BY 1, 2;
-- (a name no function has is listed too)
CREATE TEMP VIEW cf_undocumented_functions AS
SELECT coalesce(p.oid::regprocedure::text, 'dsx.' || n || ' (no such function)') AS undocumented
  FROM unnest(ARRAY['year_fraction', 'day_count', 'interest', 'amortize', 'amortize_check',
                    'facility_schedule', 'facility_position_at', 'credit_facilities_check_lender']) n
  LEFT JOIN pg_proc p ON p.proname = n AND p.pronamespace = 'dsx'::regnamespace
 WHERE p.oid IS NULL OR obj_description(p.oid, 'pg_proc') IS NULL;
SELECT * FROM cf_undocumented_functions ORDER BY 1;
SELECT obj_description('dsx.credit_facilities'::regclass, 'pg_class') IS NOT NULL AS table_documented,
       obj_description('dsx.facility_position'::regclass, 'pg_class') IS NOT NULL AS view_documented,
       'dsx.credit_facilities'::regclass = ANY (e.extconfig) AS dumped,
       (SELECT reloptions FROM pg_class WHERE oid = 'dsx.facility_position'::regclass) AS view_options
  FROM pg_extension e WHERE e.extname = 'dsx';
CREATE FUNCTION pg_temp.custom_typed_columns(rel regclass) RETURNS TABLE(attname name, type text)
LANGUAGE sql AS $$
    SELECT a.attname, format_type(a.atttypid, a.atttypmod)
      FROM pg_attribute a
     WHERE a.attrelid = rel AND a.attnum > 0 AND a.atttypid >= 16384
     ORDER BY a.attnum
$$;
SELECT * FROM pg_temp.custom_typed_columns('dsx.facility_position');
-- Controls: a column and a function without their comments, a function renamed, and a
-- table with columns of a dsx type.
BEGIN;
COMMENT ON COLUMN dsx.credit_facilities.principal IS NULL;
COMMENT ON FUNCTION dsx.facility_schedule(text) IS NULL;
ALTER FUNCTION dsx.amortize_check(numeric, numeric, integer, date, text, text, text, integer, integer)
    RENAME TO amortize_check_renamed;
SELECT * FROM cf_uncommented_columns ORDER BY 1, 2;
SELECT * FROM cf_undocumented_functions ORDER BY 1;
ROLLBACK;
SELECT * FROM pg_temp.custom_typed_columns('dsx.price_plans');

DELETE FROM dsx.credit_facilities WHERE facility LIKE 'cf-%';
DELETE FROM dsx.agreements WHERE agreement LIKE 'cf-%';
DELETE FROM dsx.factories WHERE factory LIKE 'cf-%';
DELETE FROM dsx.parties WHERE party LIKE 'cf-%';
