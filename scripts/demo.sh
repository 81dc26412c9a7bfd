#!/usr/bin/env bash
# scripts/demo.sh — the README's first command: the seed scenario on a throwaway cluster.
#
# Installs what is missing, builds and installs dsx, starts PostgreSQL 15 in .dsx/demo as an
# unprivileged user, creates the extension, loads the seed scenario through the real ingest
# path and prints what it shows. Leaves the cluster running; running it again starts afresh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_packages
build_install
cluster_start demo "${DSX_DEMO_PORT:-54328}" dsx
seed=$DSX_ROOT/scripts/seed
run() { psql_q -d dsx "$@"; }

run -c 'CREATE EXTENSION dsx; CREATE EXTENSION pg_cron;'
say "seed: the vendor, two partners, their factories and customers; a month of per-minute"
say "meter readings per customer and model, loaded through dsx.usage_inbox and dsx.ingest()"
start=$(date +%s)
# one session: the demand table the usage generator reads is a temporary table
run -v from=2026-10-01 -v to=2026-11-01 -v tag=oct -f "$seed/10-parties.sql" -f "$seed/20-usage.sql"
say "loaded in $(( $(date +%s) - start )) s"
run -f "$seed/90-usage-report.sql"

cat <<TXT

The demo cluster is still running.
  connect:  $( [ "$(id -u)" = 0 ] && printf 'runuser -u postgres -- ' )$PGBIN/psql -h $PGHOST -p $PGPORT -d dsx
  stop:     $( [ "$(id -u)" = 0 ] && printf 'runuser -u postgres -- ' )$PGBIN/pg_ctl -D $PGDATA stop
TXT
