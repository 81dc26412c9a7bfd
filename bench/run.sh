#!/usr/bin/env bash
# bench/run.sh — runs every benchmark under bench/ on its own throwaway cluster (.dsx/bench)
# and prints the machine and each benchmark's ratios. `bash bench/run.sh [name ...]`
# runs only the named ones (e.g. `ingest`).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

install_packages
build_install
cluster_start bench "${DSX_BENCH_PORT:-54327}" dsx_bench
trap cluster_stop EXIT
psql_q -c 'CREATE EXTENSION dsx'
export PGBIN PGUSER PGHOST PGPORT PGDATABASE BENCH_DIR=$DSX_ROOT/.dsx/bench-files
mkdir -p "$BENCH_DIR"; [ "$(id -u)" = 0 ] && chown postgres: "$BENCH_DIR"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), PostgreSQL $($PGBIN/postgres --version | awk '{print $3}')"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(cd "$DSX_ROOT/bench" && ls *.sh | grep -v '^run.sh$' | sed 's/\.sh$//'))
for n in "${names[@]}"; do
  say "bench $n"
  bash "$DSX_ROOT/bench/$n.sh"
done
