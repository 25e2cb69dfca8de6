#!/usr/bin/env bash
# Login storm: p99 of SSO for signed-in users while 20 clients hammer
# password sign-in (POST /login, argon2id 19 MiB / 2 passes each).
#
# Usage: bench/login_storm.sh [--postgres] [--clients C] [--seconds S]
#                             [--sso-rate R] [--smoke]
#
# Steps: release build, fresh database, 100 SSO users signed in and 40 storm
# users (lib/lanyard_bench.py setup-sso). First a baseline: wrk on
# GET /saml2/<slug> rate-limited to R responses/s (default 100) over 8
# connections, no storm. Then the same wrk run while C (default 20) client
# threads POST /login with correct passwords as fast as the server answers,
# each from its own loopback address (changed every 25 attempts: the
# server keeps its default per-address limit of 30/min, which a storm from
# one address would hit at once and get cheap 429s, proving nothing; many
# addresses is also what a storm of real users looks like).
#
# Prints both p99s and the storm's sign-ins/s; never fails on a timing.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 CLIENTS=20 SECS=20 SSO_RATE=100 USERS=100 STORM_USERS=40
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --smoke) SECS=3 USERS=10 STORM_USERS=20 ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) CLIENTS=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    --sso-rate) SSO_RATE=$2; shift ;;
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
say "lanyard ($BACKEND) at $LANYARD_URL; $USERS SSO users and $STORM_USERS storm users"
sso_users "$USERS" --storm-users "$STORM_USERS" --storm-out "$WORKDIR/storm.txt"
python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" check-sso --cookies "$WORKDIR/cookies.txt" --slug "$SLUG"
URL="$LANYARD_URL/saml2/$SLUG"
run_wrk "$URL" 8 2 "$WORKDIR/cookies.txt" >/dev/null  # warm-up

echo
echo "Login storm, $BACKEND: SSO rate-limited to $SSO_RATE/s over 8 connections, ${SECS}s"
printf "%-28s %9s %9s %9s %9s %8s\n" "" resp/s p50_ms p90_ms p99_ms non200
base=$(run_wrk "$URL" 8 "$SECS" "$WORKDIR/cookies.txt" "$SSO_RATE")
printf "%-28s %9s %9s %9s %9s %8s\n" "SSO, no storm" "$(field rps "$base")" "$(field p50_ms "$base")" \
  "$(field p90_ms "$base")" "$(field p99_ms "$base")" "$(field non200 "$base")"

python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" storm --emails "$WORKDIR/storm.txt" \
  --clients "$CLIENTS" --seconds "$((SECS + 3))" >"$WORKDIR/storm.out" &
STORM_PID=$!
STARTED_PIDS+=("$STORM_PID")
sleep 2
during=$(run_wrk "$URL" 8 "$SECS" "$WORKDIR/cookies.txt" "$SSO_RATE")
wait "$STORM_PID" || die "the storm client failed"
storm=$(grep '^STORM' "$WORKDIR/storm.out")
printf "%-28s %9s %9s %9s %9s %8s\n" "SSO, $CLIENTS clients signing in" "$(field rps "$during")" \
  "$(field p50_ms "$during")" "$(field p90_ms "$during")" "$(field p99_ms "$during")" "$(field non200 "$during")"
echo "storm: $storm"
echo "SUMMARY storm backend=$BACKEND clients=$CLIENTS sso_rate=$SSO_RATE base_p99_ms=$(field p99_ms "$base") storm_p99_ms=$(field p99_ms "$during") storm_sso_rps=$(field rps "$during") sign_ins_per_s=$(field rate "$storm") sign_in_p99_ms=$(field p99_ms "$storm") rss_mib=$(mib "$(rss_kb "$LANYARD_PID")")"
machine_line
