#!/usr/bin/env bash
# Does a VACUUM that truncates `sessions` stall SSO on PostgreSQL? (Issue
# #27's stall: truncation takes an ACCESS EXCLUSIVE lock on the table every
# SSO statement reads, and autovacuum's first pass comes about a minute
# after a database is created.)
#
# Usage: bench/pg_vacuum_truncate.sh [--no-truncate] [--smoke]
#
# A throwaway durable PostgreSQL 15, 200 signed-in users, autovacuum off; a
# probe request every 10 ms beside the whole run (lib/probe.py, slow = over
# 15 ms). Three rounds of: 20,000 sessions inserted at the table's end and
# deleted, CHECKPOINT, then SSO at 800/s (wrk, 16 connections) for 10 s
# with `VACUUM (VERBOSE) sessions` 4 s in (it truncates the emptied pages;
# --no-truncate sets vacuum_truncate = false first, as a control). Prints
# each round's p50/p99, the VACUUM's truncation and duration with its UTC
# start and end, and the probe's slow requests with their UTC times.
# Never fails on a timing.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")
POSTGRES=1 NOTRUNC=0 ROUNDS=3 ROWS=20000 SECS=10 AT=4 USERS=200
for a in "$@"; do
  case "$a" in
    --no-truncate) NOTRUNC=1 ;;
    --smoke) ROUNDS=1 ROWS=2000 SECS=3 AT=1 USERS=10 ;;
    *) die "unknown argument $a" ;;
  esac
done
reexec_under_postgres "${ORIG_ARGS[@]}"
start_run
bench_database
migrate_with_key
start_lanyard "$DB"
sso_users "$USERS"
URL="$LANYARD_URL/saml2/$SLUG"
q() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
if [ "$NOTRUNC" = 1 ]; then q -c "ALTER TABLE sessions SET (vacuum_truncate = false)"; fi
q -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
python3 "$BENCH_LIB/probe.py" --url "$URL" --cookie "$(tail -n 1 "$WORKDIR/cookies.txt")" \
  --seconds 100000 --every 10 --slow 15 >"$WORKDIR/probe.out" 2>&1 &
PROBE_PID=$!
STARTED_PIDS+=("$PROBE_PID")
run_wrk "$URL" 16 3 "$WORKDIR/cookies.txt" >/dev/null  # warm-up (closed loop: slow probes here)
echo "warm-up ends $(date -u +%H:%M:%S.%N | cut -c1-12)"
for round in $(seq 1 "$ROUNDS"); do
  q -c "INSERT INTO sessions (token_hash, user_id, stage, csrf_secret, created_at, last_seen_at,
          expires_at, auth_methods, authenticated_at)
        SELECT 'exp$round-' || g, (SELECT min(id) FROM users), 'complete', 'c', 0, 0, 0, 'password', 0
        FROM generate_series(1, $ROWS) g" \
    -c "DELETE FROM sessions WHERE token_hash LIKE 'exp$round-%'"
  q -c CHECKPOINT
  ( sleep "$AT"
    echo "VACUUM starts $(date -u +%H:%M:%S.%N | cut -c1-12)"
    q -c "\\timing on" -c "VACUUM (VERBOSE) sessions" 2>&1 | grep -E "truncated|Time" || true
    echo "VACUUM ends $(date -u +%H:%M:%S.%N | cut -c1-12)" ) >"$WORKDIR/vacuum$round.out" 2>&1 &
  vacuum_pid=$!
  line=$(run_wrk "$URL" 16 "$SECS" "$WORKDIR/cookies.txt" 800)
  wait "$vacuum_pid"
  echo "round $round: SSO $(field rps "$line")/s p50 $(field p50_ms "$line") ms p99 $(field p99_ms "$line") ms"
  cat "$WORKDIR/vacuum$round.out"
done
kill -INT "$PROBE_PID" 2>/dev/null || true
wait "$PROBE_PID" 2>/dev/null || true
echo "probe (UTC):"
cat "$WORKDIR/probe.out"
machine_line
