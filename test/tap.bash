# test/tap.bash — what the live-cluster scripts under test/ share: client programs run as the
# cluster owner on the cluster in PGHOST/PGPORT, psql in a database, background sessions, and
# TAP lines. Sourced by those scripts (the runner runs test/*.sh, not this file).
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
RUN=(env)
[ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)

# as_pg CMD...: a client program as the cluster owner (postgres when we are root).
as_pg() { "${RUN[@]}" env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="${PGUSER:-postgres}" "$@"; }

# q DB ARGS...: psql in DB, tuples only and unaligned, stopping at the first error.
q() { local db=$1; shift; as_pg "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# bg NAME APP SQL: SQL in $DB in the background as application APP; its output goes to
# $tmp/NAME.out and its exit status to $tmp/NAME.rc.
bg() { ( as_pg env PGAPPNAME="$2" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$3" >"$tmp/$1.out" 2>&1
         echo $? >"$tmp/$1.rc" ) & }

# is GOT WANT DESCRIPTION: one TAP line; failures are counted in $failed.
t=0 failed=0
is() {
  t=$((t + 1))
  if [ "$1" = "$2" ]; then echo "ok $t - $3"; else
    echo "not ok $t - $3"; echo "#   got:      '$1'"; echo "#   expected: '$2'"; failed=$((failed + 1)); fi
}

# wait_for DB SQL WANT SECONDS: poll until SQL returns WANT; prints the last value.
wait_for() {
  local v="" i
  for ((i = 0; i < $4 * 10; i++)); do v=$(q "$1" -c "$2" 2>&1); [ "$v" = "$3" ] && break; sleep 0.1; done
  echo "$v"
}
