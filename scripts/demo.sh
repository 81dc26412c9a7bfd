#!/usr/bin/env bash
# scripts/demo.sh — the README's first command: the seed scenario on a throwaway cluster.
# `bash scripts/demo.sh citus` runs the same demo on a throwaway three-node Citus cluster
# (.dsx/demo-citus-*) where Citus is installed.
#
# Installs what is missing, builds and installs dsx, starts PostgreSQL 15 in .dsx/demo as an
# unprivileged user, creates the extension, loads the seed scenario through the real ingest
# path and prints what it shows. Leaves the cluster running; running it again starts afresh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_packages
build_install
seed=$DSX_ROOT/scripts/seed
run() { psql_q -d dsx "$@"; }
mode=${1:-}
if [ "$mode" = citus ]; then
  # The same demo on a three-node Citus cluster: a coordinator and two workers on loopback.
  if ! citus_installed; then
    say "Citus is not installed: install it from Citus's packages (postgresql-15-citus-13.2) and run this again"
    exit 1
  fi
  citus_start demo-citus "${DSX_DEMO_CITUS_PORT:-54345}" dsx
  say "dsx on Citus: dsx.distribute() lays its tables out over the workers"
  run -c 'CREATE EXTENSION dsx' -c 'SET client_min_messages = warning' -c 'SELECT * FROM dsx.distribute()'
  # pg_cron lives on the coordinator alone
  run -c 'SET citus.enable_ddl_propagation = off' -c 'CREATE EXTENSION pg_cron'
else
  cluster_start demo "${DSX_DEMO_PORT:-54328}" dsx
  run -c 'CREATE EXTENSION dsx; CREATE EXTENSION pg_cron;'
fi
say "seed: the vendor, two partners, their factories, customers, price plans, agreements and"
say "credit facilities; four months of per-minute meter readings per customer and model and the"
say "Batam campus's daily energy, loaded through dsx.usage_inbox, dsx.ingest() and dsx.load_energy()"
say "(August is a ramp-up at 20 % load)"
start=$(date +%s)
# one session: the demand table the usage generator reads is a temporary table
# psql runs -c and -f in order, so each month's \set applies to the load that follows it
load=(-f "$seed/10-parties.sql" -f "$seed/30-pricing.sql" -f "$seed/40-agreements.sql")
for m in "2026-08-01 2026-09-01 aug 20" "2026-09-01 2026-10-01 sep 85" "2026-10-01 2026-11-01 oct 95" "2026-11-01 2026-12-01 nov 100"; do
  set -- $m
  load+=(-c "\\set from $1" -c "\\set to $2" -c "\\set tag $3" -c "\\set load $4" -f "$seed/20-usage.sql")
done
load+=(-f "$seed/25-energy.sql")
run "${load[@]}"
say "loaded in $(( $(date +%s) - start )) s"
say "settling every due period (dsx.run_due_settlements), then verifying each statement"
run -f "$seed/50-settle.sql"
run -f "$seed/90-usage-report.sql" -f "$seed/92-statements.sql"
say "what each party sees: logged in as each partner's and the vendor's finance role"
run -f "$seed/80-roles.sql" -f "$seed/95-party-views.sql"
say "one statement as a person reads it (dsx.statement_report), as Firmus's finance team"
run -f "$seed/96-report.sql"
say "the vendor's exposure under stress: every agreement projected at 100 to 0 % of its last gross"
run -f "$seed/97-stress.sql"

if [ "$mode" = citus ]; then
  listening="The coordinator listens on 127.0.0.1 (trusting local connections: give the roles
passwords and require them in pg_hba.conf before anything else can reach it); connect"
else
  listening="The demo server listens on a unix socket only;
for a BI tool on this machine, add listen_addresses = 'localhost' to $PGDATA/postgresql.conf
and restart, then connect"
fi
cat <<TXT

Point a BI tool (Metabase, Superset, Tableau, Excel over ODBC) at the views, logged in as a
party's role: each sees only its own rows. $listening to host localhost, port $PGPORT, database dsx, as sharon_ai_finance,
firmus_finance or nvidia_finance (give them passwords first), and read:
  partner_statements  partner_revenue_lines  partner_usage_daily  credit_support_position
  vendor_portfolio  vendor_stress
(the mapped roles find them without the schema dsx; docs/bi.md shows how to connect Excel,
Power BI, Metabase, Tableau, pandas and Superset, and what reconciles to what.)

The demo cluster is still running.
  connect:  $( [ "$(id -u)" = 0 ] && printf 'runuser -u postgres -- ' )$PGBIN/psql -h $PGHOST -p $PGPORT -d dsx
  stop:     $( [ "$(id -u)" = 0 ] && printf 'runuser -u postgres -- ' )$PGBIN/pg_ctl -D $PGDATA stop
TXT
if [ "$mode" = citus ]; then
  echo "  (the workers: $( [ "$(id -u)" = 0 ] && printf 'runuser -u postgres -- ' )$PGBIN/pg_ctl -D $DSX_ROOT/.dsx/demo-citus-w1 stop, and -w2)"
fi
