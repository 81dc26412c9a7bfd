#!/usr/bin/env bash
# test/odbc.sh — what BI tools see, through a real client: the psqlODBC driver (Debian's
# odbc-postgresql, the driver Excel, Power BI and Tableau use) driven by unixODBC's isql,
# over TCP with scram-sha-256 passwords, as a partner, another partner, the vendor and an
# auditor. For every view in schema dsx it checks the column types the driver reports
# (SQLColumns): every numeric column with the precision and scale the view declares, never
# the driver's default for an unbounded numeric (28,6); that each role finds the views by
# their names alone (the search_path dsx gives a mapped role); the rows each role may see;
# and one month's reconciliation from the values the driver delivers (summed here with
# exact decimals): the days of partner_usage_daily to the lines of partner_revenue_lines,
# the lines to the statement.
#
# The test cluster listens only on its socket: for the run, this script adds a loopback
# listener and a scram-sha-256 rule for 127.0.0.1 ahead of the cluster's own rules, and
# takes both away (restarting the cluster) when it ends. Needs PGHOST, PGPORT, a superuser
# as PGUSER, dsx installed; skips when isql or psqlODBC is missing. Prints TAP lines.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tap.bash"

driver=""
for d in /usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so /usr/lib/aarch64-linux-gnu/odbc/psqlodbcw.so; do
  [ -e "$d" ] && driver=$d && break
done
if ! command -v isql >/dev/null || [ -z "$driver" ]; then
  echo "ok 1 # skip psqlODBC or unixODBC's isql not installed (Debian: odbc-postgresql unixodbc)"
  exit 0
fi

tag=$$
DB=dsx_odbc_$tag
tmp=$(mktemp -d)
chmod 755 "$tmp"
[ "$(id -u)" = 0 ] && chown postgres "$tmp"
pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
partner=odbc_partner_$tag other=odbc_other_$tag vendor=odbc_vendor_$tag auditor=odbc_auditor_$tag
pgdata=$(q postgres -c 'SHOW data_directory')
hba=$(q postgres -c 'SHOW hba_file')

restore() {
  if [ -f "$tmp/pg_hba.conf.orig" ]; then
    as_pg cp "$tmp/pg_hba.conf.orig" "$hba"
    q postgres -c "ALTER SYSTEM RESET listen_addresses" >/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$pgdata" -m fast -w restart >/dev/null
  fi
  as_pg "$PGBIN/dropdb" --if-exists "$DB" 2>/dev/null
  local r
  for r in "$partner" "$other" "$vendor" "$auditor"; do q postgres -c "DROP ROLE IF EXISTS $r" 2>/dev/null; done
  rm -rf "$tmp"
}
trap restore EXIT
[ -n "${DSX_ODBC_KEEP:-}" ] && trap - EXIT

# A loopback listener on the cluster's port, and passwords required over it.
as_pg cp "$hba" "$tmp/pg_hba.conf.orig"
{ echo "host all all 127.0.0.1/32 scram-sha-256"; cat "$tmp/pg_hba.conf.orig"; } > "$tmp/pg_hba.conf"
as_pg cp "$tmp/pg_hba.conf" "$hba"
q postgres -c "ALTER SYSTEM SET listen_addresses = '127.0.0.1'" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$pgdata" -m fast -w restart >/dev/null
is "$(wait_for postgres "SELECT 1" 1 20)" 1 "the cluster restarted with a loopback listener"

# The books: two partners, a vendor, three factories (dollars and rupiah), two months settled,
# the second with late usage of the first.
as_pg "$PGBIN/createdb" "$DB"
q "$DB" -c "SET client_min_messages = warning" -c "CREATE EXTENSION dsx" -c "
SET password_encryption = 'scram-sha-256';
CREATE ROLE $partner LOGIN PASSWORD '$pw';
CREATE ROLE $other LOGIN PASSWORD '$pw';
CREATE ROLE $vendor LOGIN PASSWORD '$pw';
CREATE ROLE $auditor LOGIN PASSWORD '$pw';
INSERT INTO dsx.parties VALUES ('od-v', 'vendor', 'Vendor'), ('od-p1', 'partner', 'Partner one'),
    ('od-p2', 'partner', 'Partner two'), ('od-bank', 'lender', 'Bank');
INSERT INTO dsx.factories (factory, partner, currency, region, gpus, power_mw, time_zone) VALUES
    ('od-f1', 'od-p1', 'USD', 'us', 1000, 12.5, 'America/New_York'),
    ('od-f2', 'od-p1', 'IDR', 'id', 2000, 30, 'Asia/Jakarta'),
    ('od-f3', 'od-p2', 'USD', 'au', 500, 8, 'Australia/Sydney');
INSERT INTO dsx.price_plans (plan, model, input_price, output_price) VALUES
    ('od-usd', 'llm-a', 'graduated: 0: 3.123456789, 50000000: 2.5', '12.75'),
    ('od-usd', 'llm-b', '0.5', 'volume: 0: 4, 20000000: 3.3'),
    ('od-idr', 'llm-a', '48000', '190000.5'),
    ('od-idr', 'llm-b', '8000', 'graduated: 0: 60000, 10000000: 52000');
INSERT INTO dsx.customer_plans (customer, factory, plan)
SELECT 'cust-' || c, f, CASE WHEN f = 'od-f2' THEN 'od-idr' ELSE 'od-usd' END
  FROM unnest(ARRAY['od-f1', 'od-f2', 'od-f3']) f, generate_series(1, 3) c;
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag, settlement_currency)
VALUES ('od-a1', 'od-p1', 'od-v', 'od-f1', 'vendor=30%, partner=70%', '2026-10-01', '100 years', 'USD'),
       ('od-a2', 'od-p1', 'od-v', 'od-f2', 'vendor=25%, partner=75%', '2026-10-01', '100 years', 'IDR'),
       ('od-a3', 'od-p2', 'od-v', 'od-f3', 'vendor=30%, partner=70%', '2026-10-01', '100 years', 'USD');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('od-loan', 'od-a1', 'od-bank', 250000, 0.08, 24, '2026-10-20');
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens)
SELECT f || '-' || c || '-' || m || '-' || d::date || '-' || k, d::date + time '09:00' + k * interval '5 hours', f,
       'cust-' || c, m, 100000 + (hashtext(f || c || m || d::date || k) & 4194303), 20000 + (hashtext(k || '/' || d::date || m || c || f) & 1048575)
  FROM unnest(ARRAY['od-f1', 'od-f2', 'od-f3']) f, generate_series(1, 3) c, unnest(ARRAY['llm-a', 'llm-b']) m,
       generate_series(date '2026-10-01', date '2026-10-31', interval '1 day') d, generate_series(0, 2) k
 WHERE d::date <> date '2026-10-17';
SELECT * FROM dsx.ingest();
SELECT dsx.settle(a, '2026-10-01') FROM unnest(ARRAY['od-a1', 'od-a2', 'od-a3']) a;
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens)
SELECT f || '-late-' || c || '-' || d::date, d::date + time '12:00', f, 'cust-' || c, 'llm-a', 777777, 55555
  FROM unnest(ARRAY['od-f1', 'od-f2']) f, generate_series(1, 2) c,
       generate_series(date '2026-10-15', date '2026-10-19', interval '1 day') d
UNION ALL
SELECT f || '-nov-' || c || '-' || d::date, d::date + time '12:00', f, 'cust-' || c, 'llm-b', 1234567, 89012
  FROM unnest(ARRAY['od-f1', 'od-f2', 'od-f3']) f, generate_series(1, 3) c,
       generate_series(date '2026-11-01', date '2026-11-30', interval '1 day') d;
SELECT * FROM dsx.ingest();
SELECT dsx.settle(a, '2026-11-01') FROM unnest(ARRAY['od-a1', 'od-a2', 'od-a3']) a;
SELECT dsx.grant_partner('$partner', 'od-p1'), dsx.grant_partner('$other', 'od-p2'), dsx.grant_vendor('$vendor', 'od-v'),
       dsx.grant_auditor('$auditor');" >/dev/null
is "$(q "$DB" -c "SELECT count(*) FROM dsx.statements")" 6 "six statements settled" || true
[ "$failed" = 0 ] || exit 1

# The DSN: psqlODBC, with text columns as plain strings (not long varchar).
cat >"$tmp/odbcinst.ini" <<INI
[dsx-psqlodbc]
Driver = $driver
INI
# dsn NAME [LINE]: a DSN on the loopback listener, text as plain strings, and LINE.
dsn() {
  printf '[%s]\nDriver = dsx-psqlodbc\nServername = 127.0.0.1\nPort = %s\nDatabase = %s\nSSLmode = disable\n' "$1" "$PGPORT" "$DB"
  printf 'TextAsLongVarchar = 0\nUnknownsAsLongVarchar = 0\nMaxVarcharSize = 8190\n%s\n\n' "${2:-}"
}
# dsx-meta is the same in schema dsx: psqlODBC lists the columns of a table named without its
# schema (isql's help) in the current schema only, the first of the search_path
{ dsn dsx-test; dsn dsx-meta "ConnSettings = SET search_path = dsx"; } >"$tmp/odbc.ini"
export ODBCSYSINI=$tmp ODBCINI=$tmp/odbc.ini
# odbc ROLE: the SQL on stdin through isql as ROLE, '|'-separated rows (first the column
# names with -c); `help VIEW` (through dsx-meta) lists a view's columns as the driver
# reports them (SQLColumns).
odbc() { isql -b -d'|' "${@:2}" dsx-test "$1" "$pw"; }
meta() { isql -b -d'|' dsx-meta "$1" "$pw"; }

is "$(echo "SELECT 1" | isql -b dsx-test "$partner" wrong-password >/dev/null 2>&1; echo $?)" 1 \
   "a wrong password is refused over TCP (scram-sha-256)"
is "$(echo "SELECT current_user" | odbc "$partner" | tr -d ' ')" "$partner" "the partner logs in through psqlODBC"

views=$(q "$DB" -c "SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class
                     WHERE relnamespace = 'dsx'::regnamespace AND relkind = 'v'")
# the declared sizes: view|column|precision|scale for every numeric column
q "$DB" -c "SELECT c.relname || '|' || a.attname || '|' || ((a.atttypmod - 4) >> 16) || '|' || ((a.atttypmod - 4) & 65535)
              FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'v' AND a.atttypid = 'numeric'::regtype
               AND a.atttypmod <> -1 ORDER BY 1" >"$tmp/declared"
is "$(q "$DB" -c "SELECT count(*) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                   WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'v'
                     AND ((a.atttypid = 'numeric'::regtype AND a.atttypmod = -1)
                          OR a.atttypid IN (SELECT t.oid FROM pg_type t WHERE t.typnamespace = 'dsx'::regnamespace))")" 0 \
   "no view column is an unbounded numeric or of a dsx type"

for who in "$partner" "$vendor" "$auditor"; do
  : >"$tmp/reported.$who"
  for v in $views; do
    # SQLColumns rows: catalog|schema|table|column|data type|type name|column size|buffer|decimal digits|...
    echo "help $v" | meta "$who" | awk -F'|' -v v="$v" '$2 == "dsx" && $3 == v { print $3 "|" $4 "|" $6 "|" $7 "|" $9 }' \
      >>"$tmp/reported.$who"
  done
  awk -F'|' '$3 == "numeric" { print $1 "|" $2 "|" $4 "|" $5 }' "$tmp/reported.$who" | sort >"$tmp/reported_numeric.$who"
  is "$(diff <(sort "$tmp/declared") "$tmp/reported_numeric.$who" >/dev/null && echo same)" same \
     "as $who, psqlODBC reports every numeric column of every view with its declared precision and scale ($(wc -l <"$tmp/declared") columns)"
  is "$(grep -c '|numeric|28|6$' "$tmp/reported.$who")" 0 "as $who, no column is reported as an unbounded numeric (28,6)"
  is "$(cut -d'|' -f1 "$tmp/reported.$who" | sort -u | wc -l)" "$(echo "$views" | wc -w)" "as $who, the driver lists every view"
done
# What the closing note shows: the metadata of the four main views, as the driver reports it.
for v in partner_statements partner_usage_daily credit_support_position vendor_portfolio; do
  echo "# $v, as psqlODBC reports it (column type(size[,decimal digits])):"
  grep "^$v|" "$tmp/reported.$auditor" \
    | awk -F'|' '{ printf "%s %s(%s%s)\n", $2, $3, $4, ($5 != "" && $3 == "numeric") ? "," $5 : "" }' \
    | paste -sd';' | sed 's/;/; /g' | fmt -w 108 | sed 's/^/#   /'
done

# Names alone: the role's search_path finds the views.
for x in "$partner 4" "$vendor 6" "$auditor 6"; do
  set -- $x
  is "$(echo "SELECT count(*) FROM partner_statements" | odbc "$1" | tr -d ' ')" "$2" \
     "as $1, partner_statements resolves without its schema ($2 rows)"
done

# The rows each role may see.
count() { echo "SELECT count(*) FROM $2" | odbc "$1" | tr -d ' '; }
is "$(count "$partner" "partner_statements WHERE partner <> 'od-p1'")|$(count "$partner" partner_statements)" "0|4" \
   "the partner sees its four statements and no other partner's"
is "$(count "$other" partner_statements)|$(count "$other" "partner_revenue_lines WHERE agreement <> 'od-a3'")" "2|0" \
   "the other partner sees its own two"
is "$(count "$vendor" partner_statements)|$(count "$vendor" partner_revenue_lines)|$(count "$vendor" partner_usage_daily)" "6|0|0" \
   "the vendor sees every statement of its agreements, and no customer lines or usage"
is "$(count "$auditor" partner_revenue_lines)" "$(q "$DB" -c "SELECT count(*) FROM dsx.statement_lines")" \
   "the auditor sees every line"
is "$(count "$partner" vendor_stress)|$(count "$partner" "vendor_portfolio WHERE partner <> 'od-p1'")" "10|0" \
   "the partner's stress rows and portfolio are its own agreements'"

# One month reconciled from what the driver delivers, summed exactly (Python's decimal):
# October of od-a1, settled, then adjusted by November's statement for late usage.
dec_sum() { python3 -c 'import sys, decimal; print(sum((decimal.Decimal(l.strip()) for l in sys.stdin if l.strip()), decimal.Decimal(0)))'; }
days=$(echo "SELECT revenue FROM partner_usage_daily WHERE factory = 'od-f1' AND day >= '2026-10-01' AND day < '2026-11-01'" \
       | odbc "$partner" | dec_sum)
lines=$(echo "SELECT amount FROM partner_revenue_lines WHERE agreement = 'od-a1' AND for_period = '2026-10-01'" | odbc "$partner" | dec_sum)
own=$(echo "SELECT amount FROM partner_revenue_lines WHERE agreement = 'od-a1' AND period_start = '2026-10-01'" | odbc "$partner" | dec_sum)
stmt=$(echo "SELECT revenue_billing FROM partner_statements WHERE agreement = 'od-a1' AND period_start = '2026-10-01'" \
       | odbc "$partner" | dec_sum)
adj=$(echo "SELECT adjustments_billing FROM partner_statements WHERE agreement = 'od-a1' AND period_start = '2026-11-01'" \
      | odbc "$partner" | dec_sum)
is "$(python3 -c "import decimal as d; print(d.Decimal('$days') == d.Decimal('$lines') and d.Decimal('$own') == d.Decimal('$stmt') and d.Decimal('$lines') == d.Decimal('$stmt') + d.Decimal('$adj') and d.Decimal('$adj') != 0)")" True \
   "October through ODBC: the days add up to the lines booked for it ($days), the lines to the statement ($stmt) and November's adjustment ($adj)"
is "$(echo "SELECT count(*) FROM partner_usage_daily WHERE revenue <> round(revenue, 2) OR NOT settled" | odbc "$partner" | tr -d ' ')" 0 \
   "every day of the partner's dollar factory is settled and in cents"
echo "SELECT agreement, period_start, currency, revenue, gross, distributable, dscr, fx_rate FROM partner_statements ORDER BY 1, 2" \
  | odbc "$partner" -c | sed 's/^/#   /'
exit $((failed > 0))
