#!/usr/bin/env bash
# SSO latency while retention prunes: the p99 of SSO at a fixed rate (half
# the machine's closed-loop maximum) without pruning, then while `lanyard
# prune` (what `serve` runs hourly: DELETE ... in batches of at most 1000
# rows sized to take about 4 ms, resting nine times as long as each took)
# deletes N expired audit events.
# Issue #26 asks the second to stay within 20% of the first.
#
# Usage: bench/retention.sh [--postgres] [--rows N] [--seconds S]
#                           [--rounds R] [--smoke]
#
# Steps: release build; a fresh database (SQLite file, or with --postgres a
# database on a throwaway durable PostgreSQL 15); 200 signed-in users and an
# AWS app (lib/lanyard_bench.py setup-sso); the closed-loop maximum at 16
# connections (5 s). Then R rounds of: audit events dated 500 days ago
# (expired under the default 400-day retention) inserted straight into the
# database until N are waiting (the first round inserts N, later rounds a
# few ten thousand, checkpointed at once, so no baseline runs during a big
# insert's checkpoint); wrk rate-limited to half the maximum for S seconds
# (the baseline); `lanyard prune` started and wrk again for S seconds at
# the same rate; then the prune is stopped (SIGTERM: each batch is its own
# transaction, so stopping is safe). Prints a row per round (baseline p99,
# p99 while pruning, ratio, rows deleted in the window) and a SUMMARY line
# with the median ratio. Defaults: 12 rounds of 5 s: on a shared machine the
# p99 drifts over tens of seconds, and many short pairs compare like with
# like better than a few long ones (docs/BENCHMARKS.md). Never fails on a
# timing.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 ROWS=1000000 SECONDS_PER=5 ROUNDS=12 USERS=200
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --smoke) ROWS=20000 SECONDS_PER=2 ROUNDS=1 USERS=10 ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift ;;
    --seconds) SECONDS_PER=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --postgres|--smoke) ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
if [ "$POSTGRES" = 1 ]; then reexec_under_postgres "${ORIG_ARGS[@]}"; fi

start_run

bench_database
migrate_with_key
# The server keeps every audit event (its own hourly run would prune the
# rows too, a minute after start): only `lanyard prune` prunes here. It runs
# the same function, [`lanyard_app::retention::prune`], in its own process.
export LANYARD_AUDIT_RETENTION_DAYS=0
start_lanyard "$DB"
unset LANYARD_AUDIT_RETENTION_DAYS
say "lanyard ($BACKEND) ready; creating and signing in $USERS users"
sso_users "$USERS"
URL="$LANYARD_URL/saml2/$SLUG"

# old_events N : N audit events 500 days old, straight into the database
# (one statement; the server keeps running).
old_events() {
  local n=$1 at
  at=$(( ($(date +%s) - 500 * 86400) * 1000 ))
  if [ "$BACKEND" = postgres ]; then
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB" -c \
      "INSERT INTO audit_events (at, actor, action, target, source, summary)
       SELECT $at + g, 'bench', 'user.sign_in', 'user:' || (g % 1000), '127.0.0.1', '{}'
       FROM generate_series(1, $n) AS g" >/dev/null
  else
    python3 - "$WORKDIR/lanyard.db" "$n" "$at" <<'EOF'
import sqlite3, sys
db, n, at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = sqlite3.connect(db, timeout=60)
con.execute("""WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?)
               INSERT INTO audit_events (at, actor, action, target, source, summary)
               SELECT ? + i, 'bench', 'user.sign_in', 'user:' || (i % 1000), '127.0.0.1', '{}' FROM g""",
            (n, at))
con.commit()
# Checkpoint now (as far as the server's readers allow), not in the
# server's next commit during the measured window.
con.execute("PRAGMA wal_checkpoint(PASSIVE)")
EOF
  fi
}

# bench_events : the expired events this script inserted that are left.
bench_events() {
  if [ "$BACKEND" = postgres ]; then
    "$PSQL" -X -q -t -A -d "$DB" -c "SELECT count(*) FROM audit_events WHERE actor = 'bench'"
  else
    python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1], timeout=60).execute(
      "SELECT count(*) FROM audit_events WHERE actor = '"'"'bench'"'"'").fetchone()[0])' "$WORKDIR/lanyard.db"
  fi
}

run_wrk "$URL" 16 3 "$WORKDIR/cookies.txt" >/dev/null  # warm-up
line=$(run_wrk "$URL" 16 5 "$WORKDIR/cookies.txt")
MAX=$(field rps "$line")
RATE=$(awk -v b="$MAX" 'BEGIN { printf "%.0f", b / 2 }')
echo
echo "SSO p99 while pruning, $BACKEND, $ROWS expired audit events waiting at each round's start, wrk ${SECONDS_PER}s at $RATE/s (half of $MAX/s), 16 connections"
printf "%-6s %9s %9s %12s %12s %7s %10s %9s\n" round rps p50_ms base_p99_ms prune_p99_ms ratio deleted non200
RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
  waiting=$(bench_events)
  [ "$waiting" -ge "$ROWS" ] || old_events $(( ROWS - waiting ))
  if [ "$BACKEND" = postgres ]; then "$PSQL" -X -q -d "$DB" -c CHECKPOINT >/dev/null; fi
  base=$(run_wrk "$URL" 16 "$SECONDS_PER" "$WORKDIR/cookies.txt" "$RATE")
  left_before=$(bench_events)
  # Not through lanyard_cmd (a function: in the background it is a subshell,
  # and a SIGTERM to that would leave the prune running on).
  env -u LANYARD_CONFIG -u LANYARD_DATABASE "$LANYARD_BIN" prune --database "$DB" \
    >"$WORKDIR/prune.out" 2>&1 &
  prune_pid=$!
  STARTED_PIDS+=("$prune_pid")
  during=$(run_wrk "$URL" 16 "$SECONDS_PER" "$WORKDIR/cookies.txt" "$RATE")
  still=running
  kill -0 "$prune_pid" 2>/dev/null || still=done
  if [ "$still" = running ]; then
    kill -TERM "$prune_pid" 2>/dev/null || true
    wait "$prune_pid" 2>/dev/null || true
  else
    wait "$prune_pid" || die "lanyard prune failed: $(cat "$WORKDIR/prune.out")"
  fi
  deleted=$(( left_before - $(bench_events) ))
  ratio=$(awk -v a="$(field p99_ms "$base")" -v b="$(field p99_ms "$during")" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
  RATIOS+=("$ratio")
  printf "%-6s %9s %9s %12s %12s %7s %10s %9s%s\n" "$r" "$(field rps "$during")" \
    "$(field p50_ms "$during")" "$(field p99_ms "$base")" "$(field p99_ms "$during")" "$ratio" \
    "$deleted" "$(( $(field non200 "$base") + $(field non200 "$during") ))" \
    "$([ "$still" = running ] && echo "" || echo "  (the prune ended inside the window: $(cat "$WORKDIR/prune.out"))")"
done
MEDIAN=$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "SUMMARY retention backend=$BACKEND rows=$ROWS rate=$RATE rounds=$ROUNDS p99_ratio_median=$MEDIAN ratios=$(IFS=,; echo "${RATIOS[*]}")"
machine_line
