#!/usr/bin/env bash
# Memory and startup: resident size idle, and with 100,000 users and 100,000
# live sessions; time from exec to ready (first 200 from /healthz).
#
# Usage: bench/memory.sh [--postgres] [--users N] [--smoke]
#
# Steps (each RSS is VmRSS of the server process, read 2 s after the step;
# "peak" is VmHWM):
#   1. empty, migrated database: ready time (best of 3 cold starts), RSS idle;
#   2. after a few users were created and signed in through the API and
#      /login (argon2 runs: see the sign-in row);
#   3. N users (default 100,000), one live session each, all in the SSO
#      group, loaded by lib/bulk_load.py with the server stopped: ready time
#      (best of 3 cold starts), RSS idle after start;
#   4. after 10 s of SSO (wrk, 16 connections) rotating over 2,000 of those
#      sessions and 50 admin list/search calls: RSS and peak;
#   5. after 10 s of login storm (20 clients, lib/lanyard_bench.py storm).
# Never fails on a figure.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 USERS=100000 LOAD_SECS=10 SETTLE=2
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --smoke) USERS=2000 LOAD_SECS=2 SETTLE=1 ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --users) USERS=$2; shift ;;
    --postgres|--smoke) ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
if [ "$POSTGRES" = 1 ]; then reexec_under_postgres "${ORIG_ARGS[@]}"; fi

start_run

bench_database

# Best of three cold starts of a migrated database, in ms.
best_ready() {
  local best="" r
  for r in 1 2 3; do
    start_lanyard "$DB"
    stop_pid "$LANYARD_PID"
    if [ -z "$best" ] || [ "$READY_MS" -lt "$best" ]; then best=$READY_MS; fi
  done
  echo "$best"
}
row() { printf "%-58s %9s %9s %10s\n" "$1" "$2" "$3" "$4"; }
rss_row() {
  sleep "$SETTLE"
  row "$1" "$(mib "$(rss_kb "$LANYARD_PID")")" "$(mib "$(hwm_kb "$LANYARD_PID")")" "${2:-}"
}

lanyard_cmd migrate --database "$DB" 2>>"$WORKDIR/server.log"
KEY=$(api_key "$DB")
READY_EMPTY=$(best_ready)

echo
# The binary's own global allocator (jemalloc since 2026-11-29), unless a
# library is preloaded over it.
allocator="the binary's (jemalloc)"
grep -q "_rjem_malloc\|jemalloc" "$LANYARD_BIN" 2>/dev/null || allocator="glibc malloc"
case "$LANYARD_BIN" in */debug/*) build="dev build: figures for a smoke run only" ;; *) build="release build" ;; esac
echo "Memory and startup, $BACKEND ($(basename "$LANYARD_BIN"), $build, allocator: ${BENCH_PRELOAD:-$allocator})"
row "" "RSS_MiB" "peak_MiB" "ready_ms"
start_lanyard "$DB"
rss_row "idle, empty database" "$READY_EMPTY"
IDLE_EMPTY=$(rss_kb "$LANYARD_PID")
SETUP=$(python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" setup-sso --key "$KEY" \
  --users 10 --out "$WORKDIR/signed-in.txt")
read -r SLUG GROUP <<<"$SETUP"
rss_row "idle, after 10 users created and signed in (argon2)"
stop_pid "$LANYARD_PID"

python3 "$BENCH_LIB/bulk_load.py" --database "$DB" --users "$USERS" --sessions "$USERS" \
  --group-id "$GROUP" --cookies "$WORKDIR/cookies.txt" --cookie-count 2000
READY_FULL=$(best_ready)
start_lanyard "$DB"
rss_row "idle, $USERS users + $USERS sessions" "$READY_FULL"
IDLE_FULL=$(rss_kb "$LANYARD_PID")

python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" check-sso --cookies "$WORKDIR/cookies.txt" --slug "$SLUG"
sso=$(run_wrk "$LANYARD_URL/saml2/$SLUG" 16 "$LOAD_SECS" "$WORKDIR/cookies.txt")
python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" admin-list --key "$KEY" --runs 8 \
  --total "$USERS" >/dev/null
rss_row "after SSO over 2,000 sessions ($(field rps "$sso") resp/s) + admin lists"
LOADED=$(rss_kb "$LANYARD_PID")

python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" setup-sso --key "$KEY" --users 1 \
  --out /dev/null --storm-users 40 --storm-out "$WORKDIR/storm.txt" >/dev/null
storm=$(python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" storm --emails "$WORKDIR/storm.txt" \
  --clients 20 --seconds "$LOAD_SECS")
rss_row "after a login storm (20 clients, $(field rate "$storm") sign-ins/s)"
STORMED=$(rss_kb "$LANYARD_PID")

echo "SUMMARY memory backend=$BACKEND users=$USERS idle_empty_mib=$(mib "$IDLE_EMPTY") ready_empty_ms=$READY_EMPTY idle_full_mib=$(mib "$IDLE_FULL") ready_full_ms=$READY_FULL after_sso_mib=$(mib "$LOADED") after_storm_mib=$(mib "$STORMED") peak_mib=$(mib "$(hwm_kb "$LANYARD_PID")")"
machine_line
