#!/usr/bin/env bash
# test/upgrade.sh — the upgrade path. For every released version of dsx that has an install
# script (dsx--V.sql), in a scratch database: install V, load and settle a scenario under V,
# ALTER EXTENSION dsx UPDATE, and check that
#   (a) it ends at default_version with a catalogue identical to a fresh install of
#       default_version: every member object, function definition, column, constraint,
#       index, trigger (the foreign keys' internal triggers and whether each is enabled
#       included), policy, view, privilege, comment, config-dump registration and the
#       group roles with their memberships;
#   (b) every row is kept, every statement settled under V still verifies, and the next
#       period settles;
#   (c) the whole pg_regress suite passes against a database created at V and updated
#       (a second installcheck run, one TAP line per test).
#
# Needs a running cluster with dsx installed (PGHOST, PGPORT); scripts/test.sh runs it with
# DSX_ROOT and PGBIN set. Prints TAP lines; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tap.bash"

DSX_ROOT=${DSX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
extdir=$("$PGBIN/pg_config" --sharedir)/extension
work=$(mktemp -d)
dbs=()
newdb() {
  local db=dsx_upgrade_$$_$1
  as_pg "$PGBIN/createdb" -T template0 "$db" && dbs+=("$db") && echo "$db"
}
cleanup() {
  local db
  for db in "${dbs[@]}"; do as_pg "$PGBIN/dropdb" --if-exists "$db" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

# The catalogue of the installed dsx, one sorted line per fact, with nothing that depends
# on OIDs or on the order objects were created in (column order excepted: it shows).
read -r -d '' SNAPSHOT <<'SQL'
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'dsx'),
members AS (
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
facts AS (
    SELECT 'member ' || pg_describe_object(m.classid, m.objid, m.objsubid)
           || COALESCE(' -- ' || obj_description(m.objid, m.classid::regclass::text::name), '') AS f
      FROM members m
    UNION ALL
    SELECT format('function %s volatile=%s parallel=%s strict=%s secdef=%s config=%s acl=%s md5=%s',
                  p.oid::regprocedure, p.provolatile, p.proparallel, p.proisstrict, p.prosecdef,
                  p.proconfig, p.proacl,
                  CASE WHEN p.prokind = 'a' THEN md5(a::text) ELSE md5(pg_get_functiondef(p.oid)) END)
      FROM pg_proc p LEFT JOIN LATERAL (
               SELECT g.aggtransfn::text, g.aggcombinefn::text, g.aggfinalfn::text, g.aggtranstype::regtype::text,
                      g.agginitval FROM pg_aggregate g WHERE g.aggfnoid = p.oid) a ON true
     WHERE p.pronamespace = 'dsx'::regnamespace
    UNION ALL
    SELECT format('operator %s(%s,%s) -> %s via %s', o.oprname, o.oprleft::regtype, o.oprright::regtype,
                  o.oprresult::regtype, o.oprcode::regprocedure)
      FROM pg_operator o WHERE o.oprnamespace = 'dsx'::regnamespace
    UNION ALL
    SELECT format('type %s input=%s output=%s receive=%s send=%s len=%s align=%s',
                  t.oid::regtype, t.typinput, t.typoutput, t.typreceive, t.typsend, t.typlen, t.typalign)
      FROM pg_type t WHERE t.typnamespace = 'dsx'::regnamespace AND t.typtype = 'b'
    UNION ALL
    SELECT format('relation %s kind=%s rls=%s force=%s options=%s acl=%s',
                  c.oid::regclass, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.reloptions, c.relacl)
      FROM pg_class c WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT format('column %s #%s %s %s notnull=%s default=%s identity=%s -- %s',
                  c.oid::regclass, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                  a.attidentity, col_description(c.oid, a.attnum))
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
     WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    SELECT format('constraint %s %s %s -- %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid),
                  obj_description(k.oid, 'pg_constraint'))
      FROM pg_constraint k WHERE k.connamespace = 'dsx'::regnamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'dsx'::regnamespace
    UNION ALL
    SELECT format('trigger %s enabled=%s -- %s', pg_get_triggerdef(t.oid), t.tgenabled, obj_description(t.oid, 'pg_trigger'))
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'dsx'::regnamespace AND NOT t.tgisinternal
    UNION ALL
    -- internal triggers are named by OID: described by their constraint, function and kind
    SELECT format('internal trigger on %s for %s via %s type=%s enabled=%s', c.oid::regclass, k.conname,
                  t.tgfoid::regproc, t.tgtype, t.tgenabled)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_constraint k ON k.oid = t.tgconstraint
     WHERE c.relnamespace = 'dsx'::regnamespace AND t.tgisinternal
    UNION ALL
    SELECT format('policy %s.%s %s %s roles=%s using=%s check=%s -- %s', p.tablename, p.policyname, p.permissive, p.cmd,
                  p.roles, p.qual, p.with_check, obj_description(pol.oid, 'pg_policy'))
      FROM pg_policies p
      JOIN pg_policy pol ON pol.polname = p.policyname AND pol.polrelid = format('%I.%I', p.schemaname, p.tablename)::regclass
     WHERE p.schemaname = 'dsx'
    UNION ALL
    SELECT format('role %s login=%s inherit=%s super=%s createrole=%s bypassrls=%s config=%s', r.rolname, r.rolcanlogin,
                  r.rolinherit, r.rolsuper, r.rolcreaterole, r.rolbypassrls, r.rolconfig)
      FROM pg_roles r WHERE r.rolname LIKE 'dsx\_%'
    UNION ALL
    SELECT format('membership %s in %s admin=%s', m.member::regrole, m.roleid::regrole, m.admin_option)
      FROM pg_auth_members m
     WHERE m.roleid::regrole::text LIKE 'dsx\_%' AND m.member::regrole::text LIKE 'dsx\_%'
    UNION ALL
    SELECT format('view %s %s', c.oid::regclass, md5(pg_get_viewdef(c.oid)))
      FROM pg_class c WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('config_dump %s %s', cfg::regclass, cond)
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond)
    UNION ALL
    SELECT format('schema dsx acl=%s -- %s', n.nspacl, obj_description(n.oid, 'pg_namespace'))
      FROM pg_namespace n WHERE n.nspname = 'dsx'
)
SELECT f FROM facts ORDER BY f COLLATE "C";
SQL

snapshot() { q "$1" -c "$SNAPSHOT" >"$2"; }

# A small scenario any released version can hold: settled January and February.
read -r -d '' SCENARIO <<'SQL'
INSERT INTO dsx.parties VALUES ('up-vendor', 'vendor', 'V'), ('up-partner', 'partner', 'P'), ('up-bank', 'lender', 'B');
INSERT INTO dsx.factories VALUES ('up-f', 'up-partner', 'USD', 'x', 8, 1);
INSERT INTO dsx.price_plans VALUES ('up-plan', 'm', '2', '8');
INSERT INTO dsx.customer_plans VALUES ('up-c', 'up-f', 'up-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts)
VALUES ('up-a', 'up-partner', 'up-vendor', 'up-f', 'vendor=30%, partner=70%', '2026-01-01');
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods, first_due)
VALUES ('up-loan', 'up-a', 'up-bank', 5000, 0.1, 10, '2026-01-31');
INSERT INTO dsx.usage_inbox VALUES ('u1', '2026-01-03Z', 'up-f', 'up-c', 'm', 300000000, 20000000),
                                   ('u2', '2026-02-03Z', 'up-f', 'up-c', 'm', 10000000, 1000000);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('up-a', '2026-01-01');
-- late usage for the closed January: February books it as an adjustment line
INSERT INTO dsx.usage_inbox VALUES ('u3', '2026-01-30Z', 'up-f', 'up-c', 'm', 7000000, 500000);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('up-a', '2026-02-01');
SQL
COUNTS="SELECT string_agg(format('%s=%s', c.relname, (xpath('/row/n/text()',
          query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1]), ' ' ORDER BY c.relname)
          FROM pg_class c WHERE c.relnamespace = 'dsx'::regnamespace AND c.relkind = 'r'"

default=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$extdir/dsx.control")
is "$([ -n "$default" ] && echo set)" set "dsx.control names a default_version ($default)"
versions=$(cd "$extdir" && ls dsx--*.sql 2>/dev/null | sed -n 's/^dsx--\([^-]*\)\.sql$/\1/p' | sort -V)
updates=$(cd "$extdir" && ls dsx--*--*.sql 2>/dev/null | sort -V)
oldest=$(echo "$versions" | head -n1)
is "$(echo "$versions" | grep -cx "$default")" 1 "an install script for default_version $default is installed"
echo "# install scripts: $(echo $versions); update scripts: ${updates:-none}"

# every update script of the source tree is installed, as it is in the tree
for f in "$DSX_ROOT"/dsx--*--*.sql; do
  [ -e "$f" ] || continue
  is "$(cmp -s "$f" "$extdir/$(basename "$f")" && echo same)" same "$(basename "$f") is installed"
done

# the reference: a fresh install of default_version
fresh=$(newdb fresh) || exit 1
q "$fresh" -c "CREATE EXTENSION dsx" >/dev/null
snapshot "$fresh" "$work/fresh.txt"
is "$(q "$fresh" -c "SELECT extversion FROM pg_extension WHERE extname = 'dsx'")" "$default" "a fresh install is at $default"
is "$(test "$(wc -l <"$work/fresh.txt")" -gt 300 && echo yes)" yes "the catalogue snapshot lists $(wc -l <"$work/fresh.txt") facts"

# control: the snapshot notices a changed comment, privilege or function body
ctl=$(newdb control) || exit 1
q "$ctl" -c "CREATE EXTENSION dsx; COMMENT ON FUNCTION dsx.settle(text, date) IS 'changed'" >/dev/null
snapshot "$ctl" "$work/control1.txt"
q "$ctl" -c "COMMENT ON FUNCTION dsx.settle(text, date) IS NULL; GRANT EXECUTE ON FUNCTION dsx.settle(text, date) TO PUBLIC" >/dev/null
snapshot "$ctl" "$work/control2.txt"
is "$(cmp -s "$work/fresh.txt" "$work/control1.txt" || echo differs)" differs "control: the snapshot sees a changed comment"
is "$(cmp -s "$work/fresh.txt" "$work/control2.txt" || echo differs)" differs "control: the snapshot sees a changed privilege"

# from every released version (at least the oldest, even when it is the default) to default
for v in $versions; do
  if [ "$v" != "$default" ]; then
    is "$(q "$fresh" -c "SELECT path IS NOT NULL FROM pg_extension_update_paths('dsx') WHERE source = '$v' AND target = '$default'")" \
          t "an update path leads from $v to $default"
  elif [ "$v" != "$oldest" ]; then
    continue
  fi
  db=$(newdb "from_${v//./_}") || exit 1
  q "$db" -c "CREATE EXTENSION dsx VERSION '$v'" >/dev/null
  is "$(q "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'dsx'")" "$v" "CREATE EXTENSION dsx VERSION '$v'"
  as_pg "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$SCENARIO" >"$work/scenario-$v.log" 2>&1
  is "$?" 0 "a settled scenario loads into $v"
  before=$(q "$db" -c "$COUNTS")
  as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c "ALTER EXTENSION dsx UPDATE" >"$work/update-$v.log" 2>&1
  is "$?" 0 "ALTER EXTENSION dsx UPDATE from $v"
  is "$(grep -c 'terms are dated; 1 agreement(s) have settled periods' "$work/update-$v.log")" 1 \
        "the update from $v warns that the settled agreement's terms are now amended, not edited"
  is "$(q "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'dsx'")" "$default" "$v updated ends at $default"
  snapshot "$db" "$work/updated-$v.txt"
  if cmp -s "$work/fresh.txt" "$work/updated-$v.txt"; then
    is same same "$v updated to $default has the catalogue of a fresh $default install"
  else
    is differs same "$v updated to $default has the catalogue of a fresh $default install"
    diff "$work/fresh.txt" "$work/updated-$v.txt" | head -40 | sed 's/^/#   /'
  fi
  after=$(q "$db" -c "$COUNTS")
  kept=$(echo "$before" | tr ' ' '\n' | cut -d= -f1 | paste -sd'|')
  is "$(echo "$after" | tr ' ' '\n' | grep -E "^($kept)=" | paste -sd' ')" "$before" "every row kept through the update from $v"
  is "$(echo "$after" | tr ' ' '\n' | grep -vE "^($kept)=" | grep -v '=0$' | paste -sd' ')" "statement_debt=2" \
        "the tables the update adds are empty, but the debt service by facility of the two settled statements"
  is "$(q "$db" -c "SELECT string_agg(format('%s %s %s %s', d.facility, d.due = s.debt_service_due, d.paid_from_revenue = s.debt_service_paid,
                                          d.paid_by_support = s.support_drawn), ', ' ORDER BY d.period_start)
                     FROM dsx.statement_debt d JOIN dsx.statements s USING (agreement, period_start)")" \
        "up-loan t t t, up-loan t t t" "each settled statement's one facility is filled in with its debt service as the statement has it"
  is "$(q "$db" -c "SELECT bool_and(dsx.verify_settlement(agreement, period_start)) AND count(*) = 2 FROM dsx.statements")" t \
        "the statements settled under $v still verify"
  is "$(q "$db" -c "SELECT count(*) FROM dsx.statement_lines WHERE for_period < period_start")" 1 \
        "the scenario settled under $v has an adjustment line for late usage"
  is "$(q "$db" -c "SELECT dsx.settle('up-a', '2026-03-01')")" t "and the next period settles under $default"
done

# (c) the whole pg_regress suite against a database created at the oldest version and
# updated: what pg_regress would do to create its database, then --use-existing.
regress_db=contrib_regression
as_pg "$PGBIN/dropdb" --if-exists "$regress_db" >/dev/null 2>&1
as_pg "$PGBIN/createdb" -T template0 "$regress_db"
q "$regress_db" -c "ALTER DATABASE $regress_db SET lc_messages TO 'C'; ALTER DATABASE $regress_db SET lc_monetary TO 'C';
                    ALTER DATABASE $regress_db SET lc_numeric TO 'C'; ALTER DATABASE $regress_db SET lc_time TO 'C';
                    ALTER DATABASE $regress_db SET bytea_output TO 'hex';
                    ALTER DATABASE $regress_db SET timezone_abbreviations TO 'Default'" >/dev/null
q "$regress_db" -c "CREATE EXTENSION dsx VERSION '$oldest'; ALTER EXTENSION dsx UPDATE" >/dev/null
is "$(q "$regress_db" -c "SELECT extversion FROM pg_extension WHERE extname = 'dsx'")" "$default" \
      "pg_regress database created at $oldest and updated to $default"
mkdir -p "$work/regress" && chmod 777 "$work/regress"
as_pg make -C "$DSX_ROOT" -s installcheck PG_CONFIG="$PGBIN/pg_config" \
      REGRESS_OPTS="--use-existing --dbname=$regress_db" EXTRA_REGRESS_OPTS="--outputdir=$work/regress" \
      >"$work/regress.log" 2>&1
n=0
while read -r name result; do
  n=$((n + 1))
  is "$result" ok "pg_regress $name on a database updated from $oldest"
done < <(awk '/^test [a-z_0-9]+ +\.\.\. / { print $2, ($4 == "ok" ? "ok" : "failed") }
                 /^(not )?ok [0-9]+ +[-+] +[a-z_0-9]+/ { for (i = 1; $i != "-" && $i != "+"; i++) ;
                                                          print $(i + 1), ($1 == "ok" ? "ok" : "failed") }' "$work/regress.log")
is "$(test "$n" -gt 0 && echo ran)" ran "pg_regress ran on the updated database ($n tests)"
if [ -s "$work/regress/regression.diffs" ]; then head -60 "$work/regress/regression.diffs" | sed 's/^/#   /'; fi

echo "1..$t"
[ "$failed" = 0 ]
