#!/usr/bin/env bash
# Where an SSO response's CPU goes: evidence for the throughput gap.
#
# Usage: bench/sso_breakdown.sh [--postgres] [--seconds S] [--no-perf] [--smoke]
#
# On one server with 100 signed-in users, wrk (16 connections, closed loop)
# runs in turn against
#   GET /healthz          no database, no signing (HTTP + routing floor);
#   GET /portal           the session lookup (2 queries) + the user's tiles (1);
#   GET /saml2/<slug>     the whole SSO: 7 queries + one RSA-2048 signature;
# and for each prints responses/s, the server's CPU time per response (user +
# system, from /proc/<pid>/stat) and context switches per response (all of the
# server's threads, /proc/<pid>/task/*/status). The statements of one SSO
# response are counted from sqlx's own log (a second server run with
# --log sqlx::query=debug). `openssl speed rsa2048` on one core gives the cost
# of the signature alone, so "SSO CPU - RSA" is what Lanyard adds.
#
# With perf (Debian package linux-perf; skipped with --no-perf or when
# missing), the SSO run is also sampled and the samples are grouped: RSA
# (aws-lc bignum), kernel (scheduling, futex, network), SQLite, sqlx/flume
# channels, allocator, other. Never fails on a figure.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 SECS=10 PERF=1 USERS=100
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --no-perf) PERF=0 ;;
    --smoke) SECS=2 PERF=0 USERS=10 ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS=$2; shift ;;
    --postgres|--no-perf|--smoke) ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
if [ "$POSTGRES" = 1 ]; then reexec_under_postgres "${ORIG_ARGS[@]}"; fi

start_run

bench_database
migrate_with_key

# Statements per SSO response, from sqlx's log.
BENCH_LOG="warn,sqlx::query=debug" start_lanyard "$DB"
sso_users "$USERS"
ONE=$(sed -n 2p "$WORKDIR/cookies.txt")
curl -s -o /dev/null -H "Cookie: $ONE" "$LANYARD_URL/saml2/$SLUG"  # warm the pool's connections
sleep 1
: >"$WORKDIR/server.log"
curl -s -o /dev/null -H "Cookie: $ONE" "$LANYARD_URL/saml2/$SLUG"
sleep 0.5  # the audit writer flushes every 200 ms
# One line per statement: the table each one reads or writes.
QUERIES=$(sed 's/\x1b\[[0-9;]*m//g' "$WORKDIR/server.log" | grep -o 'db.statement="[^"]*' |
  tr '\n' ' ' | grep -oE '(FROM|INTO|UPDATE) [a-z_]+' | awk '{ print $2 }' | sort | uniq -c |
  awk '{ printf "%s%s x%d", sep, $2, $1; sep = ", " }')
NQ=$(sed 's/\x1b\[[0-9;]*m//g' "$WORKDIR/server.log" | grep 'db.statement=' | grep -vc 'PRAGMA' || true)
stop_pid "$LANYARD_PID"

start_lanyard "$DB"
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$LANYARD_PID/stat"; }
# Context switches per thread ("tid count" lines). Threads come and go (the
# blocking pool lets idle ones exit), so the total is the sum of per-thread
# increases; a thread that exits during a run takes its last increase with it
# (an undercount, small next to ~40 per response).
switches() {
  local t
  for t in /proc/"$LANYARD_PID"/task/*; do
    # A thread may exit between the glob and the read (idle blocking-pool
    # threads leave after 10 s): skip it rather than fail the script.
    awk -v tid="${t##*/}" '/ctxt_switches/ { s += $2 } END { if (s != "") print tid, s }' "$t/status" 2>/dev/null || true
  done
}
switch_delta() {  # BEFORE AFTER : sum over threads of (after - before)
  awk 'NR == FNR { b[$1] = $2; next } { d += $2 - (($1 in b) ? b[$1] : 0) } END { print d + 0 }' \
    <(echo "$1") <(echo "$2")
}
measure() {  # NAME URL COOKIEFILE
  local c0 s0 d0 c1 s1 d1 line n
  c0=$(cpu); s0=$(switches); d0=$(pg_cpu)
  line=$(run_wrk "$2" 16 "$SECS" "$3")
  c1=$(cpu); s1=$(switches); d1=$(pg_cpu)
  n=$(field requests "$line")
  printf "%-16s %9s %9s %14s %14s %15s %8s\n" "$1" "$(field rps "$line")" "$(field p50_ms "$line")" \
    "$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.3f", (b - a) * 1000 / n }')" \
    "$(awk -v d="$(switch_delta "$s0" "$s1")" -v n="$n" 'BEGIN { printf "%.1f", d / n }')" \
    "$(awk -v a="$d0" -v b="$d1" -v n="$n" 'BEGIN { printf "%.3f", (b - a) * 1000 / n }')" "$(field non200 "$line")"
}
echo "$LANYARD_URL/healthz" >/dev/null
printf 'x=1\n' >"$WORKDIR/none.txt"
run_wrk "$LANYARD_URL/saml2/$SLUG" 16 2 "$WORKDIR/cookies.txt" >/dev/null  # warm-up

RSA1=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $(NF-1) }')
echo
echo "Per-response cost, $BACKEND, wrk 16 connections ${SECS}s each, $(nproc) cores"
printf "%-16s %9s %9s %14s %14s %15s %8s\n" endpoint resp/s p50_ms cpu_ms/resp ctx_sw/resp pg_cpu_ms/resp non200
measure "/healthz" "$LANYARD_URL/healthz" "$WORKDIR/none.txt"
measure "/portal" "$LANYARD_URL/portal" "$WORKDIR/cookies.txt"
SSO_LINE=$(measure "/saml2/<slug>" "$LANYARD_URL/saml2/$SLUG" "$WORKDIR/cookies.txt")
echo "$SSO_LINE"
SSO_CPU=$(echo "$SSO_LINE" | awk '{ print $4 }')
RSA_MS=$(awk -v r="$RSA1" 'BEGIN { printf "%.3f", 1000 / r }')
echo "one RSA-2048 signature on one core (openssl speed): $RSA_MS ms ($RSA1/s)"
echo "SSO statements per response (sqlx log): $NQ: $QUERIES"
echo "SUMMARY breakdown backend=$BACKEND sso_cpu_ms=$SSO_CPU rsa_ms=$RSA_MS lanyard_adds_ms=$(awk -v a="$SSO_CPU" -v b="$RSA_MS" 'BEGIN { printf "%.3f", a - b }') statements=$NQ"

if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then
  ensure_packages linux-perf || PERF=0
fi
if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
  perf record -F 999 -g -p "$LANYARD_PID" -o "$WORKDIR/perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
  PERF_PID=$!
  sleep 0.3
  run_wrk "$LANYARD_URL/saml2/$SLUG" 16 "$SECS" "$WORKDIR/cookies.txt" >/dev/null
  wait "$PERF_PID" || true
  echo
  echo "perf samples of the server during SSO (-F 999, all threads), grouped:"
  perf report -i "$WORKDIR/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
    awk '/^ +[0-9.]+%/ {
      p = $1; sub("%", "", p); s = $0
      if (s ~ /bn_|mulx|sqrx|mont|rsa|sha256|aws_lc/) g = "RSA and digests (aws-lc)"
      else if (s ~ /\[k\]/) g = "kernel (scheduling, futex wake/wait, network)"
      else if (s ~ /sqlite3|pcache|btree|Vdbe/) g = "SQLite engine"
      else if (s ~ /flume|sqlx|AnyRow|AnyColumn|statement_cache/) g = "sqlx + its channels"
      else if (s ~ /malloc|free|_int_|memmove|memcpy|memset|unlink_chunk/) g = "allocator and memcpy"
      else g = "other (tokio, axum, askama, lanyard, base64, ...)"
      t[g] += p
    } END { for (g in t) printf "  %6.1f%%  %s\n", t[g], g }' | sort -rn || true
  echo "  top symbols:"
  perf report -i "$WORKDIR/perf.data" --no-children --sort comm,sym --stdio -g none 2>/dev/null |
    awk '/^ +[0-9.]+%/' | head -12 | sed 's/^/  /' || true
fi
machine_line
