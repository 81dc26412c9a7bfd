#!/usr/bin/env bash
# test/dump_restore.sh — pg_dump -Fc of a database using dsx, restored into an empty database
# with pg_restore, keeps every row of every dsx table and sequence, the settlements still
# verify, the ledger still balances and stays append-only, row-level security still
# filters, and settlement and ingest carry on where they stopped.
#
# Needs a running cluster with dsx installed: PGHOST, PGPORT (and PGUSER) point at it;
# scripts/test.sh runs it with DSX_ROOT and PGBIN set. Prints TAP lines; exits non-zero on
# any failure. Creates and drops its own databases and role.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tap.bash"

src=dsx_dump_src_$$
dst=dsx_dump_dst_$$
role=dsx_dump_partner_$$
vrole=dsx_dump_vendor_$$
work=$(mktemp -d)
cleanup() {
  as_pg "$PGBIN/dropdb" --if-exists "$src" 2>/dev/null
  as_pg "$PGBIN/dropdb" --if-exists "$dst" 2>/dev/null
  as_pg "$PGBIN/psql" -X -q -d postgres -c "DROP ROLE IF EXISTS $role" -c "DROP ROLE IF EXISTS $vrole" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres: "$work"

# The scenario: two partners, a credit facility, a conflict, late usage, three settled
# months, a partner role, and one row loaded but not yet ingested.
as_pg "$PGBIN/createdb" "$src" || { echo "not ok 1 - createdb $src"; exit 1; }
as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$src" >"$work/scenario.log" 2>&1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION dsx;
INSERT INTO dsx.currencies VALUES ('XTS', 3, 'test currency');
INSERT INTO dsx.parties VALUES ('dr-vendor', 'vendor', 'Vendor'), ('dr-p1', 'partner', 'One'),
    ('dr-p2', 'partner', 'Two'), ('dr-bank', 'lender', 'Bank');
INSERT INTO dsx.factories VALUES ('dr-f1', 'dr-p1', 'USD', 'north', 100, 2), ('dr-f2', 'dr-p2', 'XTS', 'south', 10, 1);
INSERT INTO dsx.price_plans VALUES ('dr-plan', 'm', 'graduated: 0: 3.00, 1000000000: 2.50', '4.123456789');
INSERT INTO dsx.customer_plans VALUES ('c1', 'dr-f1', 'dr-plan'), ('c2', 'dr-f1', 'dr-plan'), ('c3', 'dr-f2', 'dr-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts) VALUES
    ('dr-a1', 'dr-p1', 'dr-vendor', 'dr-f1', 'vendor=30%, partner=70%; from 1000: vendor=20%, partner=80%', '2026-01-01'),
    ('dr-a2', 'dr-p2', 'dr-vendor', 'dr-f2', 'vendor=33.3%, partner=66.7%', '2026-01-01');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('dr-loan', 'dr-a1', 'dr-bank', 24000, 0.09, 24, '2026-01-31');
INSERT INTO dsx.usage_inbox
SELECT 'ev' || i, timestamptz '2026-01-01 00:00Z' + (i * interval '97 minutes'),
       CASE WHEN i % 3 = 0 THEN 'dr-f2' ELSE 'dr-f1' END,
       CASE WHEN i % 3 = 0 THEN 'c3' WHEN i % 2 = 0 THEN 'c2' ELSE 'c1' END,
       'm', 1000000 + i * 7919, 300000 + i * 104729
  FROM generate_series(1, 2000) i;
SELECT * FROM dsx.ingest();
INSERT INTO dsx.usage_inbox VALUES ('ev3', '2026-01-01 04:51Z', 'dr-f2', 'c3', 'm', 1, 1);
SELECT * FROM dsx.ingest();
SELECT dsx.settle(a, p) FROM (VALUES ('dr-a1'), ('dr-a2')) g(a),
       (VALUES (date '2026-01-01'), ('2026-02-01')) q(p) ORDER BY a, p;
INSERT INTO dsx.usage_inbox VALUES ('late1', '2026-01-15 12:00Z', 'dr-f1', 'c2', 'm', 5000000, 1000000);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('dr-a1', '2026-03-01'), dsx.settle('dr-a2', '2026-03-01');
CREATE ROLE $role LOGIN;
SELECT dsx.grant_partner('$role', 'dr-p1');
CREATE ROLE $vrole LOGIN;
SELECT dsx.grant_vendor('$vrole', 'dr-vendor');
INSERT INTO dsx.usage_inbox VALUES ('pending1', '2026-04-02 00:00Z', 'dr-f1', 'c1', 'm', 10, 10);
SQL
is "$?" 0 "scenario built in $src (log: $work/scenario.log)"

tables=$(q "$src" -c "SELECT string_agg(c.oid::regclass::text, ' ' ORDER BY c.relname) FROM pg_class c
                   WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'r'")
seqs=$(q "$src" -c "SELECT string_agg(c.oid::regclass::text, ' ' ORDER BY c.relname) FROM pg_class c
                 WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'S'")
is "$(q "$src" -c "SELECT count(*) > 0 FROM dsx.statements")" t "the scenario settled statements"

as_pg "$PGBIN/pg_dump" -Fc -d "$src" -f "$work/dsx.dump" 2>"$work/pg_dump.err"
is "$?" 0 "pg_dump -Fc $src"
as_pg "$PGBIN/createdb" -T template0 "$dst"
as_pg "$PGBIN/pg_restore" -d "$dst" "$work/dsx.dump" 2>"$work/pg_restore.err"
rc=$?
is "$rc:$(grep -c . "$work/pg_restore.err")" "0:0" "pg_restore into an empty database, without an error"
[ "$rc" = 0 ] || sed 's/^/# /' "$work/pg_restore.err" | head -20

is "$(q "$dst" -c "SELECT extversion FROM pg_extension WHERE extname = 'dsx'")" \
      "$(q "$src" -c "SELECT extversion FROM pg_extension WHERE extname = 'dsx'")" "the extension is restored at the same version"

# every row of every table: the same count and the same contents
for tbl in $tables; do
  sql="SELECT count(*) || ' rows, md5 ' || md5(COALESCE(string_agg(x::text, E'\n' ORDER BY x::text), '')) FROM $tbl x"
  a=$(q "$src" -c "$sql"); b=$(q "$dst" -c "$sql")
  is "$b" "$a" "$tbl restored: $a"
done
for s in $seqs; do
  sql="SELECT last_value || '/' || is_called FROM $s"
  is "$(q "$dst" -c "$sql")" "$(q "$src" -c "$sql")" "sequence $s restored where it was"
done
is "$(q "$dst" -c "SELECT count(*) FROM pg_policies WHERE schemaname = 'dsx'")" \
      "$(q "$src" -c "SELECT count(*) FROM pg_policies WHERE schemaname = 'dsx'")" "the row-level security policies are there, once"

is "$(q "$dst" -c "SELECT count(*) FILTER (WHERE dsx.verify_settlement(agreement, period_start)) || '/' || count(*) FROM dsx.statements")" \
      "$(q "$src" -c "SELECT count(*) || '/' || count(*) FROM dsx.statements")" "every restored statement verifies"
is "$(q "$dst" -c "SELECT count(*) FROM (SELECT txn_id FROM dsx.ledger_entries GROUP BY txn_id HAVING sum(amount) <> 0) u")" 0 \
      "every restored ledger transaction balances"
is "$(q "$dst" -c "DO \$\$ BEGIN UPDATE dsx.ledger_entries SET amount = amount; RAISE NOTICE 'updated';
                   EXCEPTION WHEN OTHERS THEN RAISE EXCEPTION 'sqlstate %', SQLSTATE; END \$\$" 2>&1 | grep -o 'sqlstate [0-9A-Z]*')" \
      "sqlstate 55000" "the restored ledger refuses UPDATE"
is "$(q "$dst" -c "DO \$\$ BEGIN DELETE FROM dsx.statements; RAISE NOTICE 'deleted';
                   EXCEPTION WHEN OTHERS THEN RAISE EXCEPTION 'sqlstate %', SQLSTATE; END \$\$" 2>&1 | grep -o 'sqlstate [0-9A-Z]*')" \
      "sqlstate 55000" "the restored statements refuse DELETE"

# the partner role's mapping came back with the data: it still sees its own rows only
sql="SET ROLE $role; SELECT string_agg(DISTINCT partner, ',') || ':' || count(*) FROM dsx.partner_statements"
is "$(q "$dst" -c "$sql")" "$(q "$src" -c "$sql")" "the mapped partner role sees the same, own rows"
is "$(q "$dst" -c "SET ROLE $role; SELECT count(*) FROM dsx.usage_events WHERE factory <> 'dr-f1'")" 0 \
      "and no other partner's usage"
sql="SET ROLE $vrole; SELECT string_agg(partner || '=' || vendor_share_earned, ',' ORDER BY partner) FROM dsx.vendor_portfolio"
is "$(q "$dst" -c "$sql")" "$(q "$src" -c "$sql")" "the mapped vendor role sees the same portfolio across partners"

# settlement and ingest carry on: the pending row, a new conflict, the next period
is "$(q "$dst" -c "SELECT inserted || '/' || conflicts FROM dsx.ingest()")" "1/0" "the restored inbox row is ingested"
q "$dst" -c "INSERT INTO dsx.usage_inbox VALUES ('ev6', '2026-01-01 09:42Z', 'dr-f2', 'c3', 'm', 2, 2)" >/dev/null
is "$(q "$dst" -c "SELECT conflicts FROM dsx.ingest()")" 1 "a new conflict is kept aside (its identity carries on)"
is "$(q "$dst" -c "SELECT dsx.settle('dr-a1', '2026-04-01')")" t "the next period settles"
is "$(q "$dst" -c "SELECT dsx.verify_settlement('dr-a1', '2026-04-01')")" t "and verifies"
is "$(q "$dst" -c "SELECT count(DISTINCT txn_id) = count(DISTINCT (agreement, period_start)) FROM dsx.ledger_entries")" t \
      "the ledger's transaction numbers carry on without reuse"

echo "1..$t"
[ "$failed" = 0 ]
