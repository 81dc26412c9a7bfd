#!/usr/bin/env bash
# scripts/test.sh — the README's second command: the whole test suite on a throwaway cluster.
#
# Installs what is missing, builds and installs dsx, starts PostgreSQL 15 in .dsx/test
# with pg_cron preloaded, then runs pg_regress (make installcheck), the pgTAP suite
# (pg_prove test/pgtap/*.sql) and the live-cluster scripts test/*.sh. Prints one closing
# line `N passed, N failed` and exits non-zero on any failure.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_packages
build_install
cluster_start test "${DSX_TEST_PORT:-54329}" dsx_tap dsx_cron
trap cluster_stop EXIT

out=$DSX_ROOT/.dsx/test-output
rm -rf "$out"; mkdir -p "$out"
[ "$(id -u)" = 0 ] && chown postgres: "$out"
passed=0 failed=0

# pg_regress: one line per test, "... ok" or "... FAILED".
say "pg_regress (make installcheck)"
set +e
as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" \
  make -C "$DSX_ROOT" -s installcheck PG_CONFIG="$PG_CONFIG" \
  EXTRA_REGRESS_OPTS="--outputdir=$out/regress" 2>&1 | tee "$out/regress.log"
set -e
p=$(grep -cE '\.\.\. ok' "$out/regress.log" || true)
f=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$out/regress.log" || true)
passed=$((passed + p)); failed=$((failed + f))
if [ "$p" = 0 ]; then failed=$((failed + 1)); echo "not ok - pg_regress ran no test"; fi
[ -s "$out/regress/regression.diffs" ] && echo "differences: $out/regress/regression.diffs"

# pgTAP: every assertion is one TAP line.
say "pgTAP (pg_prove test/pgtap/*.sql)"
psql_q -d dsx_tap -c 'CREATE EXTENSION pgtap; CREATE EXTENSION dsx;'
set +e
as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" \
  pg_prove --verbose -d dsx_tap "$DSX_ROOT"/test/pgtap/*.sql 2>&1 | tee "$out/pgtap.log"
rc=${PIPESTATUS[0]}
set -e
p=$(grep -cE '^ok [0-9]' "$out/pgtap.log" || true)
f=$(grep -cE '^not ok [0-9]' "$out/pgtap.log" || true)
passed=$((passed + p)); failed=$((failed + f))
if { [ "$rc" != 0 ] || ! grep -qE '^Result: PASS' "$out/pgtap.log" || [ "$p" = 0 ]; } && [ "$f" = 0 ]; then
  failed=$((failed + 1)); echo "not ok - pg_prove exited $rc without passing (see $out/pgtap.log)"
fi

# Scripts that need a live cluster: each prints TAP lines and exits non-zero on failure.
for t in "$DSX_ROOT"/test/*.sh; do
  [ -e "$t" ] || continue
  say "$(basename "$t")"
  set +e
  DSX_ROOT="$DSX_ROOT" PGBIN="$PGBIN" bash "$t" 2>&1 | tee "$out/$(basename "$t").log"
  rc=${PIPESTATUS[0]}
  set -e
  p=$(grep -cE '^ok [0-9]' "$out/$(basename "$t").log" || true)
  f=$(grep -cE '^not ok [0-9]' "$out/$(basename "$t").log" || true)
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then failed=$((failed + 1)); echo "not ok - $(basename "$t") exited $rc"; fi
done

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
