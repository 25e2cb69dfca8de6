#!/usr/bin/env bash
# Login storm (issue #28): password sign-ins per second against the raw
# argon2id rate of the same cores, and the SSO p99 of users already signed
# in while the storm runs.
#
# Usage: bench/login_storm.sh [--postgres] [--clients C] [--seconds S]
#                             [--sso-rate R] [--smoke]
#
# Targets (printed, never enforced): sign-ins/s >= 0.85 x the raw argon2id
# verifications/s, and the SSO p99 during the storm <= 25 ms.
#
# One load machine stands for many clients: the server runs with
# trusted_proxies = 127.0.0.1 (LANYARD_TRUSTED_PROXIES) and the storm sends
# a fresh X-Forwarded-For with every sign-in (10.<thread>.<c>.<d>,
# lib/login.lua), so the server's per-address limit (30 sign-ins a minute,
# login_attempts_per_minute, left at its default) sees a crowd of clients
# and every attempt reaches argon2id instead of a cheap 429. The SSO load
# and the set-up send no such header and are seen by their own loopback
# addresses. The run says so in its output (xff=rotating
# trusted_proxies=127.0.0.1).
#
# Steps:
#   1. The raw rate: crates/lanyard-core/examples/argon2_rate.rs verifies a
#      password through lanyard_core::password::verify_password (argon2id
#      19 MiB, 2 passes, 1 lane: the server's own call and parameters) on
#      one thread per core for 5 s. Measured again after the storm; the
#      ratio uses the mean of the two.
#   2. A fresh database, the server (release build or LANYARD_BIN), 100 SSO
#      users signed in and 40 storm users (lib/lanyard_bench.py setup-sso,
#      its --storm-out file of logins).
#   3. Baseline: wrk on GET /saml2/<slug> rate-limited to R responses/s
#      (default 100) over 8 connections for S s (default 20), no storm.
#   4. The storm: wrk with lib/login.lua at C connections (default 8, more
#      than the server's password semaphore of one verification per core,
#      so it always has work queued) for S + 3 s: POST /login with the
#      right password, accounts in rotation, the CSRF double-submit token
#      taken from a GET /login as each connection's first request. A sign-in
#      counts only as the server answers a successful one: 303 to /portal
#      with a new lanyard_session cookie. 2 s into it, the same
#      rate-limited SSO wrk as in step 3 runs for S s.
#   5. Reported: sign-ins/s, the ratio to the raw rate, the SSO p99 during
#      the storm, the storm wrk's own CPU (user + system: ms per sign-in and
#      % of one core), the server's RSS after. Also the server's CPU per
#      sign-in (its /proc/<pid>/stat over the storm, less the SSO responses'
#      share at the baseline's CPU per response; on PostgreSQL the
#      database's processes likewise) and cpu_ratio = one verification's
#      CPU (argon2_rate) / that: the rate ratio a machine running nothing
#      else would approach, steadier than the rates on a shared machine.
#
# The server verifies at most one password per core at once (a semaphore,
# crates/lanyard-app/src/secrets.rs), so connections beyond that queue
# inside the server: more of them raise sign-in latency, not the rate. It
# also lets at most lockout_failures (5) attempts at one account be checked
# at a time; the storm spreads its connections over 40 accounts, so that
# never refuses one.
#
# Prints a SUMMARY storm line; never fails on a timing. Fails when something
# cannot run: no successful sign-in, or a storm made mostly of refusals
# (then it measures nothing: a broken script or set-up).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 CLIENTS=8 SECS=20 SSO_RATE=100 USERS=100 STORM_USERS=40 ARGON2_SECS=5 ARGON2_BUILD=""
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --smoke) SECS=3 USERS=10 STORM_USERS=20 ARGON2_SECS=1 ARGON2_BUILD=debug ;;
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
TRUSTED_PROXIES=127.0.0.1

start_run

bench_database
migrate_with_key
LANYARD_TRUSTED_PROXIES=$TRUSTED_PROXIES start_lanyard "$DB"
say "lanyard ($BACKEND) at $LANYARD_URL, trusted_proxies = $TRUSTED_PROXIES; $USERS SSO users and $STORM_USERS storm users"
sso_users "$USERS" --storm-users "$STORM_USERS" --storm-out "$WORKDIR/storm.txt"
python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" check-sso --cookies "$WORKDIR/cookies.txt" --slug "$SLUG"
URL="$LANYARD_URL/saml2/$SLUG"
run_wrk "$URL" 8 2 "$WORKDIR/cookies.txt" >/dev/null  # warm-up

say "raw argon2id rate, $(nproc) threads, ${ARGON2_SECS}s"
ARGON2_BEFORE=$(argon2_rate "$ARGON2_SECS" $ARGON2_BUILD)

echo
echo "Login storm, $BACKEND: $CLIENTS wrk connections signing in (lib/login.lua) for $((SECS + 3))s;"
echo "the server trusts $TRUSTED_PROXIES as a proxy and every sign-in carries a new X-Forwarded-For"
echo "(10.<thread>.<c>.<d>), so this one machine stands for many clients."
echo "SSO rate-limited to $SSO_RATE/s over 8 connections, ${SECS}s, without and with the storm."
printf "%-28s %9s %9s %9s %9s %8s\n" "" resp/s p50_ms p90_ms p99_ms non200
cpu0=$(proc_cpu "$LANYARD_PID") pg0=$(pg_cpu)
base=$(run_wrk "$URL" 8 "$SECS" "$WORKDIR/cookies.txt" "$SSO_RATE")
cpu1=$(proc_cpu "$LANYARD_PID") pg1=$(pg_cpu)
printf "%-28s %9s %9s %9s %9s %8s\n" "SSO, no storm" "$(field rps "$base")" "$(field p50_ms "$base")" \
  "$(field p90_ms "$base")" "$(field p99_ms "$base")" "$(field non200 "$base")"

STORM_SECS=$((SECS + 3))
cpu2=$(proc_cpu "$LANYARD_PID") pg2=$(pg_cpu)
login_wrk "$LANYARD_URL/login" "$CLIENTS" "$STORM_SECS" "$WORKDIR/storm.txt" "$WORKDIR/storm.out" &
STORM_PID=$!
STARTED_PIDS+=("$STORM_PID")
sleep 2
during=$(run_wrk "$URL" 8 "$SECS" "$WORKDIR/cookies.txt" "$SSO_RATE")
wait "$STORM_PID" || { cat "$WORKDIR/storm.out" >&2; die "the storm's wrk failed"; }
cpu3=$(proc_cpu "$LANYARD_PID") pg3=$(pg_cpu)
storm=$(grep '^LOGIN' "$WORKDIR/storm.out") || { cat "$WORKDIR/storm.out" >&2; die "the storm's wrk printed no LOGIN line"; }
RSS=$(rss_kb "$LANYARD_PID")
printf "%-28s %9s %9s %9s %9s %8s\n" "SSO, storm of $CLIENTS conns" "$(field rps "$during")" \
  "$(field p50_ms "$during")" "$(field p90_ms "$during")" "$(field p99_ms "$during")" "$(field non200 "$during")"
echo "storm: $storm"

say "raw argon2id rate again"
ARGON2_AFTER=$(argon2_rate "$ARGON2_SECS" $ARGON2_BUILD)
echo "raw argon2id (argon2_rate): before: $ARGON2_BEFORE"
echo "                            after:  $ARGON2_AFTER"

SIGN_INS=$(field sign_ins "$storm")
ATTEMPTS=$(field attempts "$storm")
[ "${SIGN_INS:-0}" -gt 0 ] ||
  die "no successful sign-in in the storm (statuses: $(field status "$storm"), csrf_gets=$(field csrf_gets "$storm") csrf_bad=$(field csrf_bad "$storm")): lib/login.lua or the set-up is broken"
[ $((SIGN_INS * 2)) -ge "$ATTEMPTS" ] ||
  die "the storm was mostly refusals ($SIGN_INS sign-ins of $ATTEMPTS attempts, statuses $(field status "$storm")): it measured nothing"
if [ "$SIGN_INS" -lt "$ATTEMPTS" ]; then
  say "note: $((ATTEMPTS - SIGN_INS)) of $ATTEMPTS sign-in attempts failed (statuses $(field status "$storm"))"
fi

RATE=$(field sign_ins_per_s "$storm")
RAW=$(awk -v a="$(field per_s "$ARGON2_BEFORE")" -v b="$(field per_s "$ARGON2_AFTER")" 'BEGIN { printf "%.1f", (a + b) / 2 }')
RATIO=$(awk -v r="$RATE" -v raw="$RAW" 'BEGIN { printf "%.2f", (raw > 0 ? r / raw : 0) }')
# CPU per sign-in: the server's CPU over the storm minus what its SSO
# responses cost at the baseline's CPU per response (and the same for
# PostgreSQL's processes). Against argon2_rate's CPU per verification, this
# is the ratio a machine with nothing else running would approach.
per_sign_in() {  # BASE_DELTA_S STORM_DELTA_S
  awk -v b="$1" -v s="$2" -v nb="$(field requests "$base")" -v nd="$(field requests "$during")" -v n="$SIGN_INS" \
    'BEGIN { printf "%.2f", (s - (nb > 0 ? b / nb : 0) * nd) * 1000 / n }'
}
SERVER_MS=$(per_sign_in "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }')" \
  "$(awk -v a="$cpu2" -v b="$cpu3" 'BEGIN { print b - a }')")
PG_MS=$(per_sign_in "$(awk -v a="$pg0" -v b="$pg1" 'BEGIN { print b - a }')" \
  "$(awk -v a="$pg2" -v b="$pg3" 'BEGIN { print b - a }')")
VERIFY_MS=$(awk -v a="$(field cpu_ms_per_verify "$ARGON2_BEFORE")" -v b="$(field cpu_ms_per_verify "$ARGON2_AFTER")" \
  'BEGIN { printf "%.2f", (a + b) / 2 }')
CPU_RATIO=$(awk -v v="$VERIFY_MS" -v s="$SERVER_MS" -v p="$PG_MS" 'BEGIN { printf "%.2f", (s + p > 0 ? v / (s + p) : 0) }')
LOADGEN_CPU=$(cat "$WORKDIR/storm.out.cpu")
LOADGEN_MS=$(awk -v c="$LOADGEN_CPU" -v n="$SIGN_INS" 'BEGIN { printf "%.3f", c * 1000 / n }')
LOADGEN_PCT=$(awk -v c="$LOADGEN_CPU" -v s="$(field seconds "$storm")" 'BEGIN { printf "%.1f", (s > 0 ? c * 100 / s : 0) }')
echo
echo "sign-ins/s: $RATE over $(field seconds "$storm") s; raw argon2id $RAW/s (mean of before and after); ratio $RATIO (target >= 0.85)"
echo "CPU per sign-in: server $SERVER_MS ms$([ "$BACKEND" = postgres ] && echo " + PostgreSQL $PG_MS ms") (SSO's share taken out); one verification $VERIFY_MS ms (argon2_rate); CPU ratio $CPU_RATIO"
echo "SSO p99 during the storm: $(field p99_ms "$during") ms (target <= 25 ms; $(field p99_ms "$base") ms without)"
echo "load generator (the storm's wrk): ${LOADGEN_CPU} s CPU, $LOADGEN_MS ms per sign-in, $LOADGEN_PCT% of one core"
echo "SUMMARY storm backend=$BACKEND clients=$CLIENTS sso_rate=$SSO_RATE base_p99_ms=$(field p99_ms "$base") storm_p99_ms=$(field p99_ms "$during") storm_sso_rps=$(field rps "$during") sign_ins_per_s=$RATE raw_argon2_per_s=$RAW ratio=$RATIO cpu_ratio=$CPU_RATIO server_cpu_ms_per_sign_in=$SERVER_MS pg_cpu_ms_per_sign_in=$PG_MS argon2_cpu_ms=$VERIFY_MS sign_in_p99_ms=$(field p99_ms "$storm") sign_ins=$SIGN_INS attempts=$ATTEMPTS loadgen_cpu_pct=$LOADGEN_PCT loadgen_cpu_ms_per_sign_in=$LOADGEN_MS rss_mib=$(mib "$RSS") xff=rotating trusted_proxies=$TRUSTED_PROXIES"
machine_line
