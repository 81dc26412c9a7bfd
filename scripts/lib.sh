# scripts/lib.sh — set-up shared by the README's two commands (demo.sh, test.sh).
#
# Installs what is missing from Debian's packages, builds and installs dsx, and runs
# a throwaway PostgreSQL 15 cluster under ./.dsx/<name>/ as an unprivileged OS user
# (the `postgres` user when we are root: PostgreSQL refuses to run as root).
# Sourced, not executed.

set -euo pipefail

DSX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGBIN=${DSX_PGBIN:-/usr/lib/postgresql/15/bin}   # another PostgreSQL 15 install may be named by DSX_PGBIN
PG_CONFIG=$PGBIN/pg_config
DSX_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap
              libtap-parser-sourcehandler-pgtap-perl build-essential acl bc
              odbc-postgresql unixodbc)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# as_root CMD...: run CMD as root (directly, or through sudo for a sudo user).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# as_pg CMD...: run CMD as the OS user that owns the throwaway clusters.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# install_packages: apt-get install whatever of DSX_PACKAGES is missing.
install_packages() {
  local missing=() p
  for p in "${DSX_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

# build_install: compile dsx and install it into PostgreSQL 15's directories.
build_install() {
  say "building and installing dsx"
  make -C "$DSX_ROOT" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG"
  as_root make -C "$DSX_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# grant_tree_access DIR: let the cluster owner traverse to DIR and read the tree below it.
# Ancestors are opened top down, each only as far as needed (search, not read), and the
# tree itself is never given a narrower entry: a named-user ACL entry would override the
# permissions the tree already grants to others.
grant_tree_access() {
  [ "$(id -u)" = 0 ] || return 0
  local root=$1 d="" part parts
  IFS=/ read -ra parts <<<"${root#/}"
  for part in "${parts[@]}"; do
    d="$d/$part"
    [ "$d" = "$root" ] && break
    runuser -u postgres -- test -x "$d" || setfacl -m u:postgres:x "$d" 2>/dev/null || chmod o+x "$d"
  done
  if ! runuser -u postgres -- test -r "$root/Makefile" -a -r "$root/sql" -a -x "$root/sql"; then
    setfacl -R -m u:postgres:rX "$root" 2>/dev/null || chmod -R o+rX "$root"
  fi
}

# cluster_start NAME PORT DB [CRON_DB]: a fresh cluster in .dsx/NAME, database DB created,
# pg_cron preloaded and living in CRON_DB (default DB). Sets PGHOST, PGPORT, PGDATA, PGUSER.
# DSX_PRELOAD (default pg_cron) and DSX_LISTEN (default none: the socket only) change what
# is preloaded and where it listens (citus_start uses them).
cluster_start() {
  local name=$1 port=$2 db=$3 crondb=${4:-$3}
  local preload=${DSX_PRELOAD:-pg_cron} listen=${DSX_LISTEN:-}
  local base=$DSX_ROOT/.dsx
  mkdir -p "$base"
  grant_tree_access "$DSX_ROOT"
  [ "$(id -u)" = 0 ] && chown postgres: "$base"
  export PGDATA=$base/$name PGPORT=$port PGDATABASE=$db
  export PGUSER=$(as_pg whoami)
  # A unix socket path must stay short (107 bytes): fall back to /tmp for deep trees.
  PGHOST=$base/run-$name
  if [ ${#PGHOST} -gt 80 ]; then
    PGHOST=/tmp/dsx-$(printf '%s' "$base/$name" | md5sum | cut -c1-12)
  fi
  export PGHOST
  if [ -f "$PGDATA/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PGDATA" "$PGHOST"
  mkdir -p "$PGHOST"
  [ "$(id -u)" = 0 ] && chown postgres: "$PGHOST"
  say "starting PostgreSQL 15 in $PGDATA (socket $PGHOST, port $PGPORT)"
  as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$PGDATA/postgresql.conf" <<CONF
# throwaway dsx cluster
listen_addresses = '$listen'
unix_socket_directories = '$PGHOST'
port = $PGPORT
shared_preload_libraries = '$preload'
cron.database_name = '$crondb'
cron.use_background_workers = on
max_worker_processes = 32
max_parallel_workers_per_gather = 2
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 4GB
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
timezone = 'UTC'
log_min_messages = warning
CONF
  detached as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w start </dev/null >/dev/null
  as_pg "$PGBIN/createdb" "$db"
  if [ "$crondb" != "$db" ]; then as_pg "$PGBIN/createdb" "$crondb"; fi
}

# detached CMD...: run CMD without the caller's open descriptors beyond 0-2, so that a server
# it starts holds no pipe, lock or file of ours for the rest of its life.
detached() {
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
    done
    "$@"
  )
}

# citus_installed: whether Citus is installed into this PostgreSQL (from Citus's own
# packages, or built from source).
citus_installed() {
  [ -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ] && [ -f "$("$PG_CONFIG" --sharedir)/extension/citus.control" ]
}

# citus_start NAME PORT DB: a throwaway Citus cluster on loopback: a coordinator in
# .dsx/NAME-c on PORT (pg_cron preloaded, living in DB) and two workers in .dsx/NAME-w1 and
# .dsx/NAME-w2 on PORT+1 and PORT+2, each with database DB and the citus extension, the
# workers added to the coordinator. Leaves PGHOST/PGPORT/PGDATA on the coordinator;
# CITUS_DATA lists the three data directories (citus_stop stops them).
citus_start() {
  local name=$1 port=$2 db=$3 i
  CITUS_DATA=()
  for i in 2 1; do
    DSX_PRELOAD=citus DSX_LISTEN=127.0.0.1 cluster_start "$name-w$i" $((port + i)) "$db"
    CITUS_DATA+=("$PGDATA")
    psql_q -c 'CREATE EXTENSION citus'
  done
  DSX_PRELOAD=citus,pg_cron DSX_LISTEN=127.0.0.1 cluster_start "$name-c" "$port" "$db"
  CITUS_DATA+=("$PGDATA")
  psql_q -c 'CREATE EXTENSION citus' \
    -c "SELECT citus_set_coordinator_host('127.0.0.1', $port)" \
    -c "SELECT citus_add_node('127.0.0.1', $((port + 1)))" \
    -c "SELECT citus_add_node('127.0.0.1', $((port + 2)))" >/dev/null
}

# citus_db DB: another database on the cluster citus_start started: created on every node
# with the citus extension, the workers added to it on the coordinator (Citus keeps its
# metadata per database).
citus_db() {
  local db=$1 d port
  for d in "${CITUS_DATA[@]}"; do
    port=$(sed -n 's/^port = //p' "$d/postgresql.conf" | tail -n1)
    as_pg env PGHOST="$(sed -n "s/^unix_socket_directories = '\(.*\)'/\1/p" "$d/postgresql.conf" | tail -n1)" \
      PGPORT="$port" "$PGBIN/createdb" "$db"
    as_pg env PGHOST="$(sed -n "s/^unix_socket_directories = '\(.*\)'/\1/p" "$d/postgresql.conf" | tail -n1)" \
      PGPORT="$port" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION citus'
  done
  psql_q -d "$db" -c "SELECT citus_set_coordinator_host('127.0.0.1', $PGPORT)" \
    -c "SELECT citus_add_node('127.0.0.1', $((PGPORT + 1)))" \
    -c "SELECT citus_add_node('127.0.0.1', $((PGPORT + 2)))" >/dev/null
}

# citus_stop: stop the three nodes citus_start started.
citus_stop() {
  local d
  for d in "${CITUS_DATA[@]}"; do as_pg "$PGBIN/pg_ctl" -D "$d" -m fast -w stop >/dev/null 2>&1 || true; done
}

# cluster_stop: stop the cluster cluster_start started.
cluster_stop() {
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
}

# pg CMD...: run a PostgreSQL client program from PGBIN as the cluster owner.
pg() {
  local prog=$1; shift
  as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGDATABASE="$PGDATABASE" "$PGBIN/$prog" "$@"
}

# psql_q ARGS...: quiet psql that stops at the first error.
psql_q() {
  pg psql -X -q -v ON_ERROR_STOP=1 "$@"
}
