#!/usr/bin/env bash
# bench/amortize.sh — dsx.amortize (C) against a PL/pgSQL implementation of the same rules.
#
# Runs against the cluster the PG* environment variables name (dsx must be installed
# there), in a scratch database it creates and drops (BENCH_DB, default
# dsx_bench_amortize). Generates BENCH_LOANS schedules (default 10,000) of BENCH_PERIODS
# periods (default 360, monthly) mixing the three methods and six day counts, then:
#   1. times dsx.amortize generating all of them (SELECT count(*) over the rows);
#   2. times the PL/pgSQL reference generating the first BENCH_REF_LOANS of them (default
#      2,000; the full 10,000 take about a minute) and scales its time per schedule;
#   3. times both again summing the five numeric columns (the sums cost both sides the
#      same, which narrows the ratio);
#   4. checks that both produce identical rows (EXCEPT ALL both ways) on the subset;
# and prints the ratios. Exits non-zero when the rows differ.
set -euo pipefail

LOANS=${BENCH_LOANS:-10000}
PERIODS=${BENCH_PERIODS:-360}
REF_LOANS=${BENCH_REF_LOANS:-2000}
DB=${BENCH_DB:-dsx_bench_amortize}
[ "$REF_LOANS" -le "$LOANS" ] || REF_LOANS=$LOANS

q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true' EXIT

q <<SQL
CREATE EXTENSION dsx;
CREATE SCHEMA bench;

-- The day count numerator over the convention's denominator (360, 365, or 365 × 366 for
-- ACT/ACT), the rules of ISDA 2006 §4.16 as src/daycount.c applies them.
CREATE FUNCTION bench.yf_num(s date, e date, dc text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS \$\$
DECLARE
    y1 int; m1 int; d1 int; y2 int; m2 int; d2 int; b1 int; b2 int;
BEGIN
    IF s > e THEN
        RETURN -bench.yf_num(e, s, dc);
    END IF;
    IF dc IN ('ACT/360', 'ACT/365F') THEN
        RETURN e - s;
    END IF;
    y1 := extract(year FROM s); m1 := extract(month FROM s); d1 := extract(day FROM s);
    y2 := extract(year FROM e); m2 := extract(month FROM e); d2 := extract(day FROM e);
    IF dc = 'ACT/ACT' THEN
        b1 := make_date(y1 + 1, 1, 1) - make_date(y1, 1, 1);
        b2 := make_date(y2 + 1, 1, 1) - make_date(y2, 1, 1);
        IF y1 = y2 THEN
            RETURN (e - s) * (133590 / b1);
        END IF;
        RETURN (make_date(y1 + 1, 1, 1) - s) * (133590 / b1) + (y2 - y1 - 1) * 133590::bigint
               + (e - make_date(y2, 1, 1)) * (133590 / b2);
    ELSIF dc = '30/360' THEN
        IF d1 = 31 THEN d1 := 30; END IF;
        IF d2 = 31 AND d1 = 30 THEN d2 := 30; END IF;
    ELSIF dc = '30E/360' THEN
        IF d1 = 31 THEN d1 := 30; END IF;
        IF d2 = 31 THEN d2 := 30; END IF;
    ELSIF dc = '30U/360' THEN
        IF m1 = 2 AND d1 = extract(day FROM make_date(y1, 3, 1) - 1) THEN
            IF m2 = 2 AND d2 = extract(day FROM make_date(y2, 3, 1) - 1) THEN d2 := 30; END IF;
            d1 := 30;
        END IF;
        IF d2 = 31 AND d1 >= 30 THEN d2 := 30; END IF;
        IF d1 = 31 THEN d1 := 30; END IF;
    ELSE
        RAISE EXCEPTION 'unknown day-count convention "%"', dc USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN 360 * (y2 - y1) + 30 * (m2 - m1) + (d2 - d1);
END \$\$;

-- SPEC section 5 in PL/pgSQL, the same rules and the same numeric operations as
-- src/amortize.c: the level payment from i = round(rate / m, 40), f = round((1+i)^n, 40);
-- interest = round(opening × rate × num / den) with the product padded to 60 decimals
-- before the division, so that the one rounding to minor units is exact.
CREATE FUNCTION bench.amortize(p_principal numeric, p_rate numeric, p_periods int, p_first date,
                               p_method text DEFAULT 'annuity', p_frequency text DEFAULT 'monthly',
                               p_day_count text DEFAULT '30/360', p_mu int DEFAULT 2, p_grace int DEFAULT 0)
RETURNS TABLE(period int, due date, opening numeric, payment numeric, interest numeric,
              principal numeric, closing numeric)
LANGUAGE plpgsql IMMUTABLE STRICT AS \$\$
DECLARE
    months int; n int; den int; eom boolean; lvl numeric; i numeric; f numeric;
    bal numeric; prev date; d date; it numeric; pr numeric; zero numeric;
BEGIN
    IF p_principal < 0 OR p_rate < 0 OR p_periods < 1 OR p_grace < 0 OR p_grace >= p_periods
       OR p_mu NOT BETWEEN 0 AND 6 THEN
        RAISE EXCEPTION 'invalid loan terms' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    months := CASE p_frequency WHEN 'monthly' THEN 1 WHEN 'quarterly' THEN 3
                               WHEN 'semiannual' THEN 6 WHEN 'annual' THEN 12 END;
    den := CASE p_day_count WHEN 'ACT/365F' THEN 365 WHEN 'ACT/ACT' THEN 133590 ELSE 360 END;
    n := p_periods - p_grace;
    eom := p_first = (date_trunc('month', p_first) + interval '1 month - 1 day')::date;
    zero := round(0::numeric, p_mu);
    IF p_method = 'annuity' AND p_rate > 0 THEN
        i := round(round(p_rate, 45) / (12 / months), 40);
        f := round((1 + i) ^ n, 40);
        lvl := round(p_principal * i * f / (f - 1), p_mu);
    ELSIF p_method IN ('annuity', 'linear') THEN
        lvl := round(round(p_principal, 60) / n, p_mu);
    END IF;
    bal := round(p_principal, p_mu);
    prev := CASE WHEN eom THEN (date_trunc('month', p_first) - make_interval(months => months - 1) - interval '1 day')::date
                 ELSE (p_first - make_interval(months => months))::date END;
    FOR k IN 1 .. p_periods LOOP
        d := CASE WHEN eom THEN (date_trunc('month', p_first) + make_interval(months => (k - 1) * months + 1) - interval '1 day')::date
                  ELSE (p_first + make_interval(months => (k - 1) * months))::date END;
        it := round(round(bal * p_rate * bench.yf_num(prev, d, p_day_count), 60) / den, p_mu);
        IF k = p_periods THEN
            pr := bal;
        ELSIF k <= p_grace OR p_method = 'bullet' THEN
            pr := zero;
        ELSIF p_method = 'annuity' THEN
            pr := lvl - it;
        ELSE
            pr := lvl;
        END IF;
        pr := LEAST(pr, bal);        -- never repay past zero
        period := k; due := d; opening := bal; interest := it; principal := pr;
        payment := it + pr; closing := bal - pr;
        RETURN NEXT;
        bal := bal - pr;
        prev := d;
    END LOOP;
END \$\$;

-- Elapsed milliseconds of a statement.
CREATE FUNCTION bench.ms(q text) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE t timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN round(extract(epoch FROM clock_timestamp() - t) * 1000, 1);
END \$\$;

CREATE TABLE bench.loans AS
SELECT id,
       (100000 + (id * 7919) % 999900000)::numeric(14, 2) AS principal,
       (0.03 + ((id * 104729) % 900) / 10000.0)::numeric(6, 4) AS rate,
       $PERIODS AS periods,
       date '2026-01-01' + (id % 730) AS first_due,
       (ARRAY['annuity', 'annuity', 'linear', 'bullet'])[1 + id % 4] AS method,
       (ARRAY['30/360', 'ACT/360', 'ACT/365F', 'ACT/ACT', '30E/360', '30U/360'])[1 + id % 6] AS day_count,
       CASE WHEN id % 5 = 0 THEN 12 ELSE 0 END AS grace
  FROM generate_series(1, $LOANS) id;
ANALYZE bench.loans;
SQL

ARGS="l.principal, l.rate, l.periods, l.first_due, l.method, 'monthly', l.day_count, 2, l.grace"
C_COUNT="SELECT count(*) FROM bench.loans l, dsx.amortize($ARGS) s"
REF_COUNT="SELECT count(*) FROM bench.loans l, bench.amortize($ARGS) s"
SUMS="count(*), sum(s.opening), sum(s.payment), sum(s.interest), sum(s.principal), sum(s.closing)"
C_SUM="SELECT $SUMS FROM bench.loans l, dsx.amortize($ARGS) s"
REF_SUM="SELECT $SUMS FROM bench.loans l, bench.amortize($ARGS) s"

# best of n runs of a statement, in milliseconds
best() { q -At -c "SELECT min(bench.ms(\$q\$$1\$q\$)) FROM generate_series(1, $2)"; }

echo "dsx.amortize vs PL/pgSQL: $LOANS schedules of $PERIODS monthly periods ($((LOANS * PERIODS)) rows);"
echo "the PL/pgSQL reference runs on the first $REF_LOANS schedules and is scaled per schedule."
echo "Runs alternate between the two and the best of each counts, so that load from other"
echo "processes on the machine does not favour either side."
c_full="" c_sub="" ref_sub=""
for run in 1 2 3; do
  t=$(best "$C_COUNT" 1); echo "  run $run: dsx.amortize, $LOANS schedules: $t ms"
  c_full=$(q -At -c "SELECT least($t, ${c_full:-$t})")
  t=$(best "$C_COUNT WHERE l.id <= $REF_LOANS" 1); echo "  run $run: dsx.amortize, $REF_LOANS schedules: $t ms"
  c_sub=$(q -At -c "SELECT least($t, ${c_sub:-$t})")
  if [ "$run" -le 2 ]; then
    t=$(best "$REF_COUNT WHERE l.id <= $REF_LOANS" 1); echo "  run $run: PL/pgSQL, $REF_LOANS schedules: $t ms"
    ref_sub=$(q -At -c "SELECT least($t, ${ref_sub:-$t})")
  fi
done
c_sum=$(best "$C_SUM" 2)
ref_sum=$(best "$REF_SUM WHERE l.id <= $REF_LOANS" 1)
echo "  generating and summing five numeric columns: dsx.amortize $c_sum ms for $LOANS schedules, PL/pgSQL $ref_sum ms for $REF_LOANS"

# Identical rows on the subset, both ways, and the same column sums.
diff=$(q -At <<SQL
WITH c AS (SELECT l.id, s.* FROM bench.loans l, dsx.amortize($ARGS) s WHERE l.id <= $REF_LOANS),
     r AS (SELECT l.id, s.* FROM bench.loans l, bench.amortize($ARGS) s WHERE l.id <= $REF_LOANS)
SELECT (SELECT count(*) FROM (SELECT * FROM c EXCEPT ALL SELECT * FROM r) a)
     + (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM c) b)
     || ' of ' || (SELECT count(*) FROM c)
SQL
)
echo "  rows differing between the two on the first $REF_LOANS schedules: $diff"

q -At <<SQL
SELECT 'ratio, generating schedules (PL/pgSQL ms per schedule / dsx.amortize ms per schedule): '
       || round(($ref_sub / $REF_LOANS) / ($c_full / $LOANS), 1) || 'x'
       || E'\n' || 'ratio, generating the same $REF_LOANS schedules: ' || round($ref_sub / $c_sub, 1) || 'x'
       || E'\n' || 'ratio, generating and summing five numeric columns (the sums cost both sides the same): '
       || round(($ref_sum / $REF_LOANS) / ($c_sum / $LOANS), 1) || 'x';
SQL
case "$diff" in 0\ of\ *) ;; *) echo "ERROR: the implementations disagree" >&2; exit 1 ;; esac
