#!/usr/bin/env bash
# SSO throughput: IdP-initiated SSO (GET /saml2/<slug>, Assertion signed with
# RSA-2048) for many signed-in users, against the machine's raw RSA-2048
# signing rate measured in the same run.
#
# Usage: bench/sso_throughput.sh [--postgres] [--users N] [--seconds S]
#                                [--conns "1 2 4 8 16 64"] [--smoke]
#
# Steps: release build; a fresh SQLite file (or, with --postgres, a database
# on a throwaway durable PostgreSQL 15 from scripts/with-postgres.sh); an API
# key; N users created through the REST API and signed in with POST /login
# (lib/lanyard_bench.py setup-sso); an "Amazon AWS" app (aws-iam template)
# bound to their group with an entitlement. Then wrk (lib/sso.lua rotates the
# N session cookies, so consecutive requests are different users) at each
# connection count, closed loop; then at half the best rate, rate-limited
# (lib/sso.lua's delay(): exponential gaps per connection, 16 connections),
# for p99 at half load. `openssl speed -multi <nproc> rsa2048` runs before and
# after the wrk runs; the ratio uses their mean.
#
# Prints a table and SUMMARY lines; never fails on a timing. The load tool
# runs on the same machine and takes its share of the cores, as in issue #7.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 USERS=200 SECONDS_PER=10 CONNS="1 2 4 8 16 64" HALF_CONNS=16 RSA_SECS=5 WARM=3
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --smoke) USERS=10 SECONDS_PER=2 CONNS="4 16" RSA_SECS=1 WARM=1 ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --users) USERS=$2; shift ;;
    --seconds) SECONDS_PER=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --postgres|--smoke) ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
if [ "$POSTGRES" = 1 ]; then reexec_under_postgres "${ORIG_ARGS[@]}"; fi

start_run

bench_database
migrate_with_key
start_lanyard "$DB"
say "lanyard ($BACKEND) ready at $LANYARD_URL in ${READY_MS} ms; creating and signing in $USERS users"
sso_users "$USERS"
python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" check-sso --cookies "$WORKDIR/cookies.txt" \
  --slug "$SLUG" --n 3
URL="$LANYARD_URL/saml2/$SLUG"
# BENCH_PROBE=1: a latency timeline beside the whole run (lib/probe.py, one
# request every 20 ms with the last user's cookie), its slow requests
# printed with their UTC times at the end, to set beside the database's log.
if [ "${BENCH_PROBE:-0}" = 1 ]; then
  python3 "$BENCH_LIB/probe.py" --url "$URL" --cookie "$(tail -n 1 "$WORKDIR/cookies.txt")" \
    --seconds 100000 >"$WORKDIR/probe.out" 2>&1 &
  PROBE_PID=$!
  STARTED_PIDS+=("$PROBE_PID")
fi

# CPU seconds the server has used so far (user + system).
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$LANYARD_PID/stat"; }

say "openssl speed -multi $(nproc) rsa2048 (${RSA_SECS} s)"
RSA1=$(rsa_sign_rate "$RSA_SECS")
run_wrk "$URL" 16 "$WARM" "$WORKDIR/cookies.txt" >/dev/null  # warm-up

echo
echo "SSO throughput, $BACKEND, $USERS signed-in users, wrk ${SECONDS_PER}s per row, RSA-2048 (Assertion signed)"
printf "%-12s %10s %9s %9s %9s %8s %16s %12s\n" connections resp/s p50_ms p90_ms p99_ms non200 server_cpu_ms/resp pg_cpu_ms/resp
BEST=0 BEST_C=0
for c in $CONNS; do
  cpu0=$(server_cpu); pg0=$(pg_cpu)
  line=$(run_wrk "$URL" "$c" "$SECONDS_PER" "$WORKDIR/cookies.txt")
  cpu1=$(server_cpu); pg1=$(pg_cpu)
  rps=$(field rps "$line"); n=$(field requests "$line")
  per=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" 'BEGIN { printf "%.3f", n ? (b - a) * 1000 / n : 0 }')
  pgper=$(awk -v a="$pg0" -v b="$pg1" -v n="$n" 'BEGIN { printf "%.3f", n ? (b - a) * 1000 / n : 0 }')
  printf "%-12s %10s %9s %9s %9s %8s %16s %12s\n" "$c" "$rps" "$(field p50_ms "$line")" \
    "$(field p90_ms "$line")" "$(field p99_ms "$line")" "$(field non200 "$line")" "$per" "$pgper"
  if awk -v a="$rps" -v b="$BEST" 'BEGIN { exit !(a > b) }'; then BEST=$rps BEST_C=$c; fi
done

HALF=$(awk -v b="$BEST" 'BEGIN { printf "%.0f", b / 2 }')
line=$(run_wrk "$URL" "$HALF_CONNS" "$((SECONDS_PER * 2))" "$WORKDIR/cookies.txt" "$HALF")
printf "%-12s %10s %9s %9s %9s %8s   (rate-limited to %s/s, %s connections)\n" "half-load" \
  "$(field rps "$line")" "$(field p50_ms "$line")" "$(field p90_ms "$line")" "$(field p99_ms "$line")" \
  "$(field non200 "$line")" "$HALF" "$HALF_CONNS"
HALF_P99=$(field p99_ms "$line")

RSA2=$(rsa_sign_rate "$RSA_SECS")
RSA=$(awk -v a="$RSA1" -v b="$RSA2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
RATIO=$(awk -v s="$BEST" -v r="$RSA" 'BEGIN { printf "%.3f", s / r }')
RSS=$(rss_kb "$LANYARD_PID")
echo
echo "raw RSA-2048 signs/s on $(nproc) cores (openssl speed -multi $(nproc)): before $RSA1, after $RSA2, mean $RSA"
if [ -n "${PROBE_PID:-}" ]; then
  kill -INT "$PROBE_PID" 2>/dev/null || true
  wait "$PROBE_PID" 2>/dev/null || true
  echo "probe (one request every 20 ms through the whole run; UTC times):"
  cat "$WORKDIR/probe.out"
fi
echo "SUMMARY sso backend=$BACKEND users=$USERS max_rps=$BEST at_conns=$BEST_C rsa_signs_per_s=$RSA ratio=$RATIO half_rate=$HALF half_p99_ms=$HALF_P99 rss_mib=$(mib "$RSS")"
machine_line
