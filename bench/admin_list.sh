#!/usr/bin/env bash
# Admin listing at 100,000 users: the time for the users list and searches.
#
# Usage: bench/admin_list.sh [--postgres] [--users N] [--runs R] [--smoke]
#
# Issue #7 asks for the admin Users list page: /admin/users (first page,
# ?q= a last name, ?q= one email), signed in as an admin, and the REST API
# the same searches go through, GET /api/v1/users?limit=50 (first page, and a page at 90% of the id range
# via `after`) and ?search= (an email prefix with a handful of matches, a
# last-name and a first-name prefix each matching 1/8 of the users, and a
# prefix matching none), each R times (default 50) on one keep-alive
# connection with an administrator API key, after one warm-up call. Times are
# client-side wall times (request written to body read), median and p95.
# Users are loaded by lib/bulk_load.py (N, default 100,000). An admin is
# created (lanyard admin create) and signed in at /admin/login; the page
# rows are printed first (items = the HTML size).
# Never fails on a figure.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 USERS=100000 RUNS=50
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --smoke) USERS=2000 RUNS=5 ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --users) USERS=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --postgres|--smoke) ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
if [ "$POSTGRES" = 1 ]; then reexec_under_postgres "${ORIG_ARGS[@]}"; fi

build_lanyard
make_workdir
machine_line
busy_note

bench_database
migrate_with_key
ADMIN=bench-admin@example.com
echo "bench-admin-password" | lanyard_cmd admin create --email "$ADMIN" --database "$DB" >/dev/null 2>&1 ||
  say "could not create an admin (lanyard admin create); the Users page is not timed"
python3 "$BENCH_LIB/bulk_load.py" --database "$DB" --users "$USERS"
start_lanyard "$DB"

echo
echo "Users list, $BACKEND, $USERS users, $RUNS calls each"
python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" admin-list --key "$KEY" --runs "$RUNS" \
  --total "$USERS" --admin-email "$ADMIN" >"$WORKDIR/list.out"
printf "%-24s %10s %10s %6s   %s\n" query median_ms p95_ms items path
awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = substr($i, length(kv[1]) + 2) }
       printf "%-24s %10s %10s %6s   %s\n", v["name"], v["median_ms"], v["p95_ms"], v["items"], v["path"] }' \
  "$WORKDIR/list.out"
worst=$(awk '{ split($3, a, "="); if (a[2] > m) m = a[2] } END { print m }' "$WORKDIR/list.out")
page=$(grep -q '^LIST name=admin_users_page' "$WORKDIR/list.out" && echo timed || echo not-found)
echo "SUMMARY admin_list backend=$BACKEND users=$USERS worst_median_ms=$worst admin_users_page=$page"
machine_line
