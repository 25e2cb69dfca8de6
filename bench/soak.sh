#!/usr/bin/env bash
# Soak: mixed load for a long while, to see that nothing grows and nothing
# slows down (issue #27). SSO from signed-in users (wrk, closed loop, 16
# connections, in one-minute runs back to back), password sign-ins (one
# client of lib/lanyard_bench.py storm, rotating source addresses) and admin
# reads and writes through the API (lib/lanyard_bench.py admin-churn: a
# group created, read, given a member and deleted, a page of users read,
# ten rounds a second) all at once.
#
# Usage: bench/soak.sh [--postgres] [--minutes M] [--smoke]
#
# Prints a row per minute (SSO rate, p50, p99, errors, the lowest and
# highest RSS sampled each second) and the verdicts issue #27 asks for, as
# figures (never a failure): errors (all three clients), the growth of the
# RSS floor over the last five minutes (target < 5%), the worst minute's
# p99 against the first minute's (target <= 2x), and start, peak and end
# RSS, and who holds the resident memory at each minute's end
# (lib/memsplit.py). BENCH_MALLOC_CONF is passed to the
# server as jemalloc's MALLOC_CONF (e.g. dirty_decay_ms:0 to see how
# much of the RSS is pages the allocator keeps for reuse).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 MINUTES=10 MINUTE=60 USERS=200 STORM_USERS=40
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --smoke) MINUTES=2 MINUTE=3 USERS=10 STORM_USERS=5 ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift ;;
    --postgres|--smoke) ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
if [ "$POSTGRES" = 1 ]; then reexec_under_postgres "${ORIG_ARGS[@]}"; fi

start_run

bench_database
migrate_with_key
if [ -n "${BENCH_MALLOC_CONF:-}" ]; then export MALLOC_CONF=$BENCH_MALLOC_CONF; fi
start_lanyard "$DB"
unset MALLOC_CONF
say "lanyard ($BACKEND) ready; $USERS SSO users and $STORM_USERS sign-in users"
sso_users "$USERS" --storm-users "$STORM_USERS" --storm-out "$WORKDIR/storm.txt"
URL="$LANYARD_URL/saml2/$SLUG"
run_wrk "$URL" 16 2 "$WORKDIR/cookies.txt" >/dev/null  # warm-up

TOTAL=$((MINUTES * MINUTE))
START_RSS=$(rss_kb "$LANYARD_PID")
python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" storm --emails "$WORKDIR/storm.txt" \
  --clients 1 --seconds "$TOTAL" >"$WORKDIR/storm.out" 2>&1 &
STORM_PID=$!
STARTED_PIDS+=("$STORM_PID")
python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" admin-churn --key "$KEY" \
  --seconds "$TOTAL" --pause 0.1 >"$WORKDIR/churn.out" 2>&1 &
CHURN_PID=$!
STARTED_PIDS+=("$CHURN_PID")

# RSS every second, into one file per minute: a sign-in's argon2id works
# in 19 MiB that comes and goes, so a single sample says little; each
# minute's lowest sample (its floor) is what stays.
sample_rss() {
  while kill -0 "$LANYARD_PID" 2>/dev/null; do
    rss_kb "$LANYARD_PID" >>"$WORKDIR/rss.$(cat "$WORKDIR/minute")" 2>/dev/null || true
    sleep 1
  done
}
echo 1 >"$WORKDIR/minute"
sample_rss &
SAMPLER_PID=$!
STARTED_PIDS+=("$SAMPLER_PID")

echo
echo "Soak, $BACKEND, $MINUTES x ${MINUTE}s: SSO (wrk, 16 connections, closed loop) + 1 sign-in client + admin churn"
printf "%-7s %9s %9s %9s %8s %13s %13s\n" minute sso_rps p50_ms p99_ms errors rss_min_mib rss_max_mib
P99S=() FLOORS=() ERRORS=0
for m in $(seq 1 "$MINUTES"); do
  echo "$m" >"$WORKDIR/minute"
  line=$(run_wrk "$URL" 16 "$MINUTE" "$WORKDIR/cookies.txt")
  floor=$(sort -n "$WORKDIR/rss.$m" | head -n 1)
  top=$(sort -n "$WORKDIR/rss.$m" | tail -n 1)
  errs=$(( $(field non200 "$line") + $(field errors "$line") ))
  ERRORS=$((ERRORS + errs))
  P99S+=("$(field p99_ms "$line")")
  FLOORS+=("$floor")
  printf "%-7s %9s %9s %9s %8s %13s %13s\n" "$m" "$(field rps "$line")" "$(field p50_ms "$line")" \
    "$(field p99_ms "$line")" "$errs" "$(mib "$floor")" "$(mib "$top")"
  echo "minute $m $(python3 "$BENCH_LIB/memsplit.py" "$LANYARD_PID")" >>"$WORKDIR/memsplit.txt"
done
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$STORM_PID" || true
wait "$CHURN_PID" || true
STORM=$(grep '^STORM' "$WORKDIR/storm.out" || echo "STORM none: $(tail -1 "$WORKDIR/storm.out")")
CHURN=$(grep '^CHURN' "$WORKDIR/churn.out" || echo "CHURN none: $(tail -1 "$WORKDIR/churn.out")")
echo "sign-ins: $STORM"
echo "admin:    $CHURN"
PEAK=$(hwm_kb "$LANYARD_PID")
END_RSS=$(rss_kb "$LANYARD_PID")
# Growth of the floor over the last five minutes (or the last half, when
# shorter): the last minute's floor against the floor of the minute before
# that window.
LAST=$(( MINUTES >= 10 ? 5 : (MINUTES + 1) / 2 ))
FROM=${FLOORS[$((MINUTES - LAST - 1))]:-${FLOORS[0]}}
TO=${FLOORS[$((MINUTES - 1))]}
GROWTH=$(awk -v a="$FROM" -v b="$TO" 'BEGIN { printf "%.1f", a ? (b - a) * 100 / a : 0 }')
WORST=$(printf '%s\n' "${P99S[@]}" | sort -g | tail -1)
P99_RATIO=$(awk -v a="${P99S[0]}" -v b="$WORST" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
STORM_BAD=$(echo "$STORM" | tr ' ' '\n' | awk -F= '$1 == "status"' | tr ',' '\n' | awk -F: '$1 != "status=303" && $1 != "303" { s += $2 } END { print s + 0 }')
CHURN_BAD=$(echo "$CHURN" | tr ' ' '\n' | awk -F= '$1 == "errors" { print $2 }')
echo
echo "RSS: start $(mib "$START_RSS") MiB, peak $(mib "$PEAK") MiB, end $(mib "$END_RSS") MiB; the floor grew ${GROWTH}% over the last $LAST minutes ($(mib "$FROM") -> $(mib "$TO") MiB; target < 5%)"
# Who holds the resident memory at the end of each minute (lib/memsplit.py:
# jemalloc's extents, glibc's heap and per-thread arenas, stacks, the binary).
echo "resident memory by holder at each minute's end (MiB; lib/memsplit.py):"
sed 's/^/  /' "$WORKDIR/memsplit.txt"
echo "p99: first minute ${P99S[0]} ms, worst minute $WORST ms, ratio $P99_RATIO (target <= 2)"
echo "errors: SSO $ERRORS, sign-ins $STORM_BAD (answers other than 303), admin ${CHURN_BAD:-?} (target 0)"
echo "SUMMARY soak backend=$BACKEND minutes=$MINUTES sso_errors=$ERRORS signin_errors=$STORM_BAD admin_errors=${CHURN_BAD:-?} rss_start_mib=$(mib "$START_RSS") rss_peak_mib=$(mib "$PEAK") rss_end_mib=$(mib "$END_RSS") rss_floor_growth_last_pct=$GROWTH p99_first_ms=${P99S[0]} p99_worst_ms=$WORST p99_ratio=$P99_RATIO"
machine_line
