#!/usr/bin/env bash
# Runs the whole benchmark kit and prints every figure.
#
# Usage: bench/run_all.sh [--smoke] [--no-postgres]
#
# Full (about 40 minutes on 2 cores): SSO throughput on SQLite and
# PostgreSQL, SimpleSAMLphp side by side (with the SQLite figure), the login
# storm, memory/startup on SQLite and PostgreSQL, the users list on both,
# the per-response CPU breakdown of SSO (sso_breakdown.sh, with perf), SSO
# latency while retention prunes (both databases, about 5 minutes each), the
# scale picture (1 / 10,000 / 1,000,000 users, both databases, about 5
# minutes each) and the 10-minute soak (SQLite). --smoke: the same scripts with tiny sizes and 1-3 s runs (about 3
# minutes), for CI: it checks that the kit works, not the timings.
#
# Exit status: non-zero only if a script failed to run (a figure never fails
# it). Each script's full output is kept in $BENCH_OUT (default: a temp dir)
# and the SUMMARY lines are printed at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

SMOKE=() POSTGRES=1
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=(--smoke) ;;
    --no-postgres) POSTGRES=0 ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/lanyard-bench-out.XXXXXX")}
mkdir -p "$OUT"
failed=()

# shellcheck source=lib/common.sh
source bench/lib/common.sh
build_lanyard  # once, so every script reuses it through LANYARD_BIN
machine_line | tee "$OUT/machine.txt"

run() {
  local name=$1; shift
  echo
  echo "=== bench: $name ($*)"
  if "$@" 2>&1 | tee "$OUT/$name.log"; then :; else
    echo "=== bench: $name FAILED (exit ${PIPESTATUS[0]}), log in $OUT/$name.log"
    failed+=("$name")
  fi
}

run sso_sqlite bench/sso_throughput.sh "${SMOKE[@]}"
LANYARD_RPS=$(awk '/^SUMMARY sso/ { for (i = 1; i <= NF; i++) if ($i ~ /^max_rps=/) { sub("max_rps=", "", $i); print $i } }' "$OUT/sso_sqlite.log")
[ "$POSTGRES" = 1 ] && run sso_postgres bench/sso_throughput.sh --postgres "${SMOKE[@]}"
run simplesamlphp bench/simplesamlphp.sh "${SMOKE[@]}" ${LANYARD_RPS:+--lanyard-rps "$LANYARD_RPS"}
run login_storm bench/login_storm.sh "${SMOKE[@]}"
run memory_sqlite bench/memory.sh "${SMOKE[@]}"
[ "$POSTGRES" = 1 ] && run memory_postgres bench/memory.sh --postgres "${SMOKE[@]}"
run admin_list_sqlite bench/admin_list.sh "${SMOKE[@]}"
run breakdown_sqlite bench/sso_breakdown.sh "${SMOKE[@]}"
[ "$POSTGRES" = 1 ] && run admin_list_postgres bench/admin_list.sh --postgres "${SMOKE[@]}"
run retention_sqlite bench/retention.sh "${SMOKE[@]}"
# (Not in the smoke run: CI time. Its SQL twin of the SQLite path is short.)
[ "$POSTGRES" = 1 ] && [ ${#SMOKE[@]} -eq 0 ] && run retention_postgres bench/retention.sh --postgres
run scale_sqlite bench/scale.sh "${SMOKE[@]}"
# (Not in the smoke run either: CI time. Its PostgreSQL half differs from
# the SQLite one only in bulk_load.py's COPY, which memory.sh's smoke runs.)
[ "$POSTGRES" = 1 ] && [ ${#SMOKE[@]} -eq 0 ] && run scale_postgres bench/scale.sh --postgres
run soak_sqlite bench/soak.sh "${SMOKE[@]}"

echo
echo "=== bench: summary (logs in $OUT)"
cat "$OUT/machine.txt"
grep -h -E '^(SUMMARY|SKIP)' "$OUT"/*.log
if [ ${#failed[@]} -gt 0 ]; then
  echo "=== bench: failed to run: ${failed[*]}"
  exit 1
fi
echo "=== bench: every script ran"
