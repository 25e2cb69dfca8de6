#!/usr/bin/env bash
# Scale picture (issue #28): SSO throughput, latency and CPU time per
# response with 1, 10,000 and 1,000,000 users and live sessions, bulk-loaded,
# on SQLite or PostgreSQL; time from exec to ready at each size.
#
# Usage: bench/scale.sh [--postgres] [--sizes "1 10000 1000000"] [--seconds S]
#                       [--conns "16 32"] [--cookies K] [--smoke]
#
# For each size N, in turn:
#   1. a fresh migrated database (a new SQLite file, or a new database on the
#      throwaway PostgreSQL of scripts/with-postgres.sh; the previous size's is
#      removed first), an admin API key, and on a running server the "Amazon
#      AWS" app bound to a new group (lib/lanyard_bench.py setup-sso, no users
#      of its own); the server is then stopped;
#   2. N users, all in that group, and one live session each, loaded straight
#      into the database by lib/bulk_load.py (timed: "load_s"); the cookies
#      of K (default 2,000) of those sessions spread evenly over the whole
#      table (every N/K-th, --cookie-spread), not only the first users;
#   3. time from exec to ready (lib/ready.py: the first 200 of /healthz) of
#      3 cold starts: the best and each;
#   4. a server started again, RSS (VmRSS) idle after 2 s; three of the
#      sessions (first, middle, last) checked to get a SAMLResponse;
#   5. a warm-up, then IdP-initiated SSO with wrk (lib/sso.lua rotating over
#      the K cookies) for S seconds (default 10) at each connection count
#      (default 16 and 32), closed loop: responses/s, p50, p99, non-200s, the
#      server's CPU time per response (utime + stime of its PID from
#      /proc/PID/stat before and after the run, over the responses),
#      PostgreSQL's CPU per response (its backends, on --postgres), and the
#      1-minute load average at the end of the run; the connection count with
#      the most responses/s is reported;
#   6. RSS after the runs; the server stopped.
#
# What it shows: the cost of one SSO response (CPU, latency) does not grow
# with the directory (a session and a user are found through indexes), so
# resp/s, p99 and cpu_ms/resp should stay flat from 1 to 1,000,000 users;
# the last lines set the largest size beside the smallest. Startup time and
# the load time are printed for each size.
#
# --smoke: sizes "1 1000", 2-s runs, 1-s warm-up; every step runs. Prints a
# table and one "SUMMARY scale ..." line per size. Never fails on a timing:
# exits non-zero only when something could not run.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ORIG_ARGS=("$@")

POSTGRES=0 SIZES="1 10000 1000000" SECS=10 CONNS="16 32" COOKIES=2000 WARM=3 SETTLE=2 STARTS=3
for arg in "$@"; do
  case "$arg" in
    --postgres) POSTGRES=1 ;;
    --smoke) SIZES="1 1000" SECS=2 WARM=1 SETTLE=1 ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --cookies) COOKIES=$2; shift ;;
    --postgres|--smoke) ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
for n in $SIZES; do
  case "$n" in ''|*[!0-9]*) die "--sizes: $n is not a number" ;; esac
  [ "$n" -ge 1 ] || die "--sizes: sizes start at 1"
done
if [ "$POSTGRES" = 1 ]; then reexec_under_postgres "${ORIG_ARGS[@]}"; fi

start_run

# CPU seconds the server has used so far (user + system).
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$LANYARD_PID/stat"; }
per_resp() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.3f", n ? (b - a) * 1000 / n : 0 }'; }
now_s() { date +%s.%N; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# fresh_database : a new, empty database for the next size (the previous
# one removed first), migrated, with an API key: sets DB, BACKEND, KEY.
fresh_database() {
  if [ "$POSTGRES" = 1 ] && [ -n "${BENCH_PG_DB:-}" ]; then
    pg_drop_database "$BENCH_PG_DB"
    BENCH_PG_DB=""
  fi
  rm -f "$WORKDIR/lanyard.db" "$WORKDIR/lanyard.db-wal" "$WORKDIR/lanyard.db-shm"
  bench_database
  migrate_with_key
}

case "$LANYARD_BIN" in */debug/*) build="dev build: figures for a smoke run only" ;; *) build="release build" ;; esac
ROWS=() SUMMARIES=()
FIRST_N="" FIRST_CPU="" FIRST_P99="" FIRST_RPS="" FIRST_READY=""
LAST_N="" LAST_CPU="" LAST_P99="" LAST_RPS="" LAST_READY=""

for N in $SIZES; do
  say "size $N: fresh database, SSO app and group"
  fresh_database
  start_lanyard "$DB"
  sso_users 0
  stop_pid "$LANYARD_PID"

  K=$COOKIES
  if [ "$K" -gt "$N" ]; then K=$N; fi
  say "size $N: bulk-loading $N users + $N sessions ($BACKEND)"
  t0=$(now_s)
  python3 "$BENCH_LIB/bulk_load.py" --database "$DB" --users "$N" --sessions "$N" \
    --group-id "$GROUP" --cookies "$WORKDIR/cookies.txt" --cookie-count "$K" --cookie-spread
  t1=$(now_s)
  LOAD_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

  # Exec to ready, cold starts of the loaded database.
  READY_EACH="" READY_BEST=""
  for _ in $(seq 1 "$STARTS"); do
    start_lanyard "$DB"
    stop_pid "$LANYARD_PID"
    READY_EACH="${READY_EACH:+$READY_EACH/}$READY_MS"
    if [ -z "$READY_BEST" ] || [ "$READY_MS" -lt "$READY_BEST" ]; then READY_BEST=$READY_MS; fi
  done

  start_lanyard "$DB"
  sleep "$SETTLE"
  IDLE_KB=$(rss_kb "$LANYARD_PID")
  # First, middle and last of the spread sessions.
  awk -v k="$K" 'NR == 1 || NR == int((k + 1) / 2) || NR == k' "$WORKDIR/cookies.txt" >"$WORKDIR/check.txt"
  python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" check-sso --cookies "$WORKDIR/check.txt" \
    --slug "$SLUG" --n 3
  URL="$LANYARD_URL/saml2/$SLUG"
  run_wrk "$URL" 16 "$WARM" "$WORKDIR/cookies.txt" >/dev/null  # warm-up

  echo
  echo "== $N users + $N live sessions ($BACKEND): loaded in $LOAD_S s; ready ${READY_BEST} ms" \
    "(each of $STARTS cold starts: $READY_EACH); RSS idle $(mib "$IDLE_KB") MiB; SSO over $K sessions spread over the table, wrk ${SECS}s"
  printf "%8s %10s %9s %9s %8s %12s %15s %7s\n" conns resp/s p50_ms p99_ms non200 cpu_ms/resp pg_cpu_ms/resp load1
  BEST_RPS=0 BEST=""
  for c in $CONNS; do
    cpu0=$(server_cpu); pg0=$(pg_cpu)
    line=$(run_wrk "$URL" "$c" "$SECS" "$WORKDIR/cookies.txt")
    cpu1=$(server_cpu); pg1=$(pg_cpu); l1=$(load1)
    rps=$(field rps "$line"); n=$(field requests "$line")
    bad=$(( $(field non200 "$line") + $(field errors "$line") ))
    cpu=$(per_resp "$cpu0" "$cpu1" "$n"); pgc=$(per_resp "$pg0" "$pg1" "$n")
    printf "%8s %10s %9s %9s %8s %12s %15s %7s\n" "$c" "$rps" "$(field p50_ms "$line")" \
      "$(field p99_ms "$line")" "$bad" "$cpu" "$pgc" "$l1"
    if [ -z "$BEST" ] || awk -v a="$rps" -v b="$BEST_RPS" 'BEGIN { exit !(a > b) }'; then
      BEST_RPS=$rps
      BEST="$c $rps $(field p50_ms "$line") $(field p99_ms "$line") $bad $cpu $pgc $l1"
    fi
  done
  sleep "$SETTLE"
  AFTER_KB=$(rss_kb "$LANYARD_PID")
  stop_pid "$LANYARD_PID"
  read -r B_C B_RPS B_P50 B_P99 B_BAD B_CPU B_PG B_LOAD <<<"$BEST"
  [ "$B_BAD" = 0 ] || say "note: $B_BAD non-200 answers or socket errors at $N users ($B_C connections)"

  ROWS+=("$(printf "%9s %8s %9s %9s %6s %10s %9s %9s %12s %15s %7s %9s" "$N" "$LOAD_S" "$READY_BEST" \
    "$(mib "$IDLE_KB")" "$B_C" "$B_RPS" "$B_P50" "$B_P99" "$B_CPU" "$B_PG" "$B_LOAD" "$(mib "$AFTER_KB")")")
  SUMMARIES+=("SUMMARY scale backend=$BACKEND users=$N ready_ms=$READY_BEST sso_rps=$B_RPS p50_ms=$B_P50 p99_ms=$B_P99 cpu_ms_per_resp=$B_CPU rss_mib=$(mib "$AFTER_KB") conns=$B_C load_s=$LOAD_S ready_each_ms=$READY_EACH idle_rss_mib=$(mib "$IDLE_KB") pg_cpu_ms_per_resp=$B_PG load1=$B_LOAD non200=$B_BAD cookies=$K")
  if [ -z "$FIRST_N" ]; then
    FIRST_N=$N FIRST_CPU=$B_CPU FIRST_P99=$B_P99 FIRST_RPS=$B_RPS FIRST_READY=$READY_BEST
  fi
  LAST_N=$N LAST_CPU=$B_CPU LAST_P99=$B_P99 LAST_RPS=$B_RPS LAST_READY=$READY_BEST
done

echo
echo "Scale picture, $BACKEND ($(basename "$LANYARD_BIN"), $build): SSO (GET /saml2/<slug>, RSA-2048) at the best connection count of \"$CONNS\", wrk ${SECS}s"
printf "%9s %8s %9s %9s %6s %10s %9s %9s %12s %15s %7s %9s\n" users load_s ready_ms idle_MiB conns resp/s \
  p50_ms p99_ms cpu_ms/resp pg_cpu_ms/resp load1 rss_MiB
printf "%s\n" "${ROWS[@]}"
if [ "$FIRST_N" != "$LAST_N" ]; then
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }'; }
  echo "$LAST_N users vs $FIRST_N: cpu_ms/resp $FIRST_CPU -> $LAST_CPU (x$(ratio "$FIRST_CPU" "$LAST_CPU")), resp/s $FIRST_RPS -> $LAST_RPS (x$(ratio "$FIRST_RPS" "$LAST_RPS")), p99 $FIRST_P99 -> $LAST_P99 ms (x$(ratio "$FIRST_P99" "$LAST_P99")), ready $FIRST_READY -> $LAST_READY ms"
fi
printf "%s\n" "${SUMMARIES[@]}"
machine_line
