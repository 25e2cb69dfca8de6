#!/usr/bin/env bash
# Where an SSO response's CPU goes, and how much of it is not the RSA
# signature (issue #28's "non-RSA server CPU per SSO response").
#
# Usage: bench/sso_breakdown.sh [--postgres] [--seconds S] [--conns "8 16 32"]
#                               [--no-perf] [--profile-out FILE]
#                               [--pg-statements] [--smoke]
#
# On one server with 100 signed-in users, wrk (closed loop) runs in turn
# against
#   GET /healthz          no database, no signing (HTTP + routing floor);
#   GET /portal           the session lookup + the user's tiles;
#   GET /saml2/<slug>     the whole IdP-initiated SSO, one RSA-2048 signature;
# /healthz and /portal at 16 connections, SSO at each count of --conns. Each
# row: responses/s, the server's CPU time per response (user + system, from
# /proc/<pid>/stat), context switches per response (all of the server's
# threads) and, on PostgreSQL, PostgreSQL's own CPU per response.
#
# The signature's own cost is measured in the same run, before and after
# the rows, by crates/lanyard-saml/examples/rsa_cpu.rs: Lanyard's signing
# call (aws-lc-rs, RSASSA-PKCS1-v1_5 SHA-256, a fresh RSA-2048 key, since a
# signature's cost depends on the modulus size and not on the key) on one
# thread per core, as CPU time, not wall time. "non-RSA CPU" is the server's
# CPU per SSO response at the connection count of the highest SSO rate,
# minus the mean of the two. The statements of one SSO response are counted
# from sqlx's own log (a second server run with --log sqlx::query=debug).
#
# With perf (Debian package linux-perf; skipped with --no-perf or when
# missing), the SSO run at that connection count is sampled and the samples
# are grouped (RSA, kernel, SQLite, sqlx, allocator, other) and the top
# symbols listed; --profile-out FILE keeps that text.
#
# --pg-statements (PostgreSQL): the server runs with pg_stat_statements
# loaded (not a default setting, so not for the target figures: it costs
# PostgreSQL a little CPU per statement), and after the SSO rows the kit
# prints each statement's calls and execution time per SSO response, and
# the plan of the session statement (EXPLAIN ANALYZE, BUFFERS) for one
# signed-in user. Never fails on a figure.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 SECS=10 PERF=1 USERS=100 CONNS="8 16 32" RSA_SECS=3 RSA_BUILD="" PROFILE_OUT="" PG_STATEMENTS=0
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --no-perf) PERF=0 ;;
    --pg-statements) PG_STATEMENTS=1 ;;
    --smoke) SECS=2 PERF=0 USERS=10 CONNS=16 RSA_SECS=1 RSA_BUILD=debug ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --profile-out) PROFILE_OUT=$2; shift ;;
    --postgres|--no-perf|--smoke|--pg-statements) ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
if [ "$POSTGRES" = 1 ] && [ "$PG_STATEMENTS" = 1 ] && [ -z "${LANYARD_TEST_POSTGRES:-}" ]; then
  export LANYARD_PG_OPTIONS="${LANYARD_PG_OPTIONS:-} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
fi
if [ "$POSTGRES" = 1 ]; then reexec_under_postgres "${ORIG_ARGS[@]}"; fi
[ "$POSTGRES" = 1 ] || PG_STATEMENTS=0

start_run

bench_database
migrate_with_key

# Statements per SSO response, from sqlx's log and the SQLite reads made
# inline (lanyard-store's inline_read logs the same field).
BENCH_LOG="warn,sqlx::query=debug,lanyard_store::inline_read=debug" start_lanyard "$DB"
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
measure() {  # NAME URL COOKIEFILE CONNS
  local c0 s0 d0 c1 s1 d1 line n
  c0=$(cpu); s0=$(switches); d0=$(pg_cpu)
  line=$(run_wrk "$2" "$4" "$SECS" "$3")
  c1=$(cpu); s1=$(switches); d1=$(pg_cpu)
  n=$(field requests "$line")
  printf "%-16s %6s %9s %9s %14s %14s %15s %8s\n" "$1" "$4" "$(field rps "$line")" "$(field p50_ms "$line")" \
    "$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.3f", (b - a) * 1000 / n }')" \
    "$(awk -v d="$(switch_delta "$s0" "$s1")" -v n="$n" 'BEGIN { printf "%.1f", d / n }')" \
    "$(awk -v a="$d0" -v b="$d1" -v n="$n" 'BEGIN { printf "%.3f", (b - a) * 1000 / n }')" "$(field non200 "$line")"
}
printf 'x=1\n' >"$WORKDIR/none.txt"
run_wrk "$LANYARD_URL/saml2/$SLUG" 16 2 "$WORKDIR/cookies.txt" >/dev/null  # warm-up

RSA_LINE1=$(rsa_cpu "$RSA_SECS" $RSA_BUILD)
echo
echo "Per-response cost, $BACKEND, wrk ${SECS}s each, $(nproc) cores"
printf "%-16s %6s %9s %9s %14s %14s %15s %8s\n" endpoint conns resp/s p50_ms cpu_ms/resp ctx_sw/resp pg_cpu_ms/resp non200
measure "/healthz" "$LANYARD_URL/healthz" "$WORKDIR/none.txt" 16
measure "/portal" "$LANYARD_URL/portal" "$WORKDIR/cookies.txt" 16
if [ "$PG_STATEMENTS" = 1 ]; then
  "$PSQL" -qAt "$DB" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
fi
BEST_RPS=0 BEST_C="" SSO_CPU="" SSO_PG="" SSO_RESPONSES=0
for c in $CONNS; do
  line=$(measure "/saml2/<slug>" "$LANYARD_URL/saml2/$SLUG" "$WORKDIR/cookies.txt" "$c")
  echo "$line"
  rps=$(echo "$line" | awk '{ print $3 }')
  SSO_RESPONSES=$(awk -v a="$SSO_RESPONSES" -v r="$rps" -v s="$SECS" 'BEGIN { printf "%d", a + r * s }')
  if awk -v a="$rps" -v b="$BEST_RPS" 'BEGIN { exit !(a > b) }'; then
    BEST_RPS=$rps BEST_C=$c SSO_CPU=$(echo "$line" | awk '{ print $5 }') SSO_PG=$(echo "$line" | awk '{ print $7 }')
  fi
done
RSA_LINE2=$(rsa_cpu "$RSA_SECS" $RSA_BUILD)
rsa_ms() { echo "$1" | tr ' ' '\n' | awk -F= '$1 == "cpu_ms_per_sign" { print $2 }'; }
RSA_MS=$(awk -v a="$(rsa_ms "$RSA_LINE1")" -v b="$(rsa_ms "$RSA_LINE2")" 'BEGIN { printf "%.4f", (a + b) / 2 }')
NON_RSA=$(awk -v a="$SSO_CPU" -v b="$RSA_MS" 'BEGIN { printf "%.3f", a - b }')
echo "one RSA-2048 signature, CPU time (rsa_cpu, $(nproc) threads): before: $RSA_LINE1"
echo "                                                  after:  $RSA_LINE2"
echo "SSO at its best rate ($BEST_RPS/s at $BEST_C connections): server CPU $SSO_CPU ms/response - RSA $RSA_MS ms = non-RSA $NON_RSA ms"
echo "SSO statements per response (sqlx log): $NQ: $QUERIES"
if [ "$PG_STATEMENTS" = 1 ]; then
  echo "PostgreSQL statements during the SSO rows (pg_stat_statements, ~$SSO_RESPONSES responses):"
  "$PSQL" -q "$DB" -P pager=off -c "SELECT round(calls::numeric / $SSO_RESPONSES, 3) AS calls_per_resp,
      round((total_exec_time / $SSO_RESPONSES)::numeric, 4) AS exec_ms_per_resp,
      round((total_exec_time / calls)::numeric, 4) AS mean_ms, round(rows::numeric / calls, 1) AS rows_per_call, plans,
      left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS statement
    FROM pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time DESC LIMIT 8"
  TOKEN=$(sed -n 2p "$WORKDIR/cookies.txt" | sed 's/.*=//')
  HASH=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
  SESSION_SQL=$("$PSQL" -qAt "$DB" -c "SELECT query FROM pg_stat_statements
    WHERE query LIKE 'SELECT s.id AS session_id%LEFT JOIN apps%' ORDER BY calls DESC LIMIT 1")
  if [ -n "$SESSION_SQL" ]; then
    echo "The SSO session statement's plan (one signed-in user, after the run):"
    "$PSQL" -q "$DB" -P pager=off -c "PREPARE sso_session AS $SESSION_SQL" \
      -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE sso_session('$HASH', '$SLUG')" | sed 's/^/  /'
  fi
fi
echo "SUMMARY breakdown backend=$BACKEND sso_rps=$BEST_RPS at_conns=$BEST_C sso_cpu_ms=$SSO_CPU rsa_cpu_ms=$RSA_MS non_rsa_cpu_ms=$NON_RSA pg_cpu_ms=$SSO_PG statements=$NQ"

if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then
  ensure_packages linux-perf || PERF=0
fi
if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
  perf record -F 999 -g -p "$LANYARD_PID" -o "$WORKDIR/perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
  PERF_PID=$!
  sleep 0.3
  run_wrk "$LANYARD_URL/saml2/$SLUG" "$BEST_C" "$SECS" "$WORKDIR/cookies.txt" >/dev/null
  wait "$PERF_PID" || true
  {
  echo "# $BACKEND, SSO at $BEST_C connections; non-RSA CPU $NON_RSA ms/response (server $SSO_CPU - RSA $RSA_MS); $(date -u +%FT%TZ)"
  echo "perf samples of the server during SSO (-F 999, all threads), grouped; the"
  echo "second column is the share of the samples that are not the RSA signature:"
  perf report -i "$WORKDIR/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
    awk '/^ +[0-9.]+%/ {
      p = $1; sub("%", "", p); s = $0
      if (s ~ /bn_|BN_|mulx|sqrx|mont|rsaz|RSAZ|amm52|extract_multiplier|_rsa_|RSA_/) g = "RSA signature (aws-lc bignum)"
      else if (s ~ /sha256|sha1_block/) g = "digests (aws-lc SHA-256)"
      else if (s ~ /\[k\]/) g = "kernel (scheduling, futex wake/wait, network)"
      else if (s ~ /sqlite3|pcache|btree|Vdbe/) g = "SQLite engine"
      else if (s ~ /flume|sqlx|AnyRow|AnyColumn|statement_cache/) g = "sqlx + its channels"
      else if (s ~ /malloc|free|je_|rjem|sdallocx|_int_|memmove|memcpy|memset|memcmp|unlink_chunk/) g = "allocator and memcpy"
      else if (s ~ /lanyard_saml|askama|base64/) g = "XML, page, base64 (lanyard_saml, askama)"
      else g = "other (tokio, hyper, axum, lanyard, ...)"
      t[g] += p; all += p; if (g !~ /^RSA/) rest += p
    } END {
      for (g in t) printf "  %6.1f%%  %6s  %s\n", t[g], (g ~ /^RSA/ ? "" : sprintf("%.1f%%", rest ? t[g] * 100 / rest : 0)), g
    }' | sort -rn || true
  echo "  top symbols that are not the RSA signature (% of all samples):"
  perf report -i "$WORKDIR/perf.data" --no-children --sort comm,sym --stdio -g none 2>/dev/null |
    awk '/^ +[0-9.]+%/ && !/bn_|BN_|mulx|sqrx|mont|rsaz|RSAZ|amm52|extract_multiplier|_rsa_|RSA_/' |
    cut -c1-160 | head -40 | sed 's/^/  /' || true
  } | tee "$WORKDIR/profile.txt"
  if [ -n "$PROFILE_OUT" ]; then cp "$WORKDIR/profile.txt" "$PROFILE_OUT"; fi
fi
machine_line
