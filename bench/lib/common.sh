# Shared helpers for the bench/ scripts (sourced, not run).
#
# Owns: installing the tools a script needs (Debian packages, as root or with
# sudo when there is one; otherwise the script is told to skip that part),
# building the release binary, starting and stopping one `lanyard serve` on a
# free loopback port (by PID, never by name), a throwaway PostgreSQL database
# (the script re-runs itself under scripts/with-postgres.sh), the raw RSA-2048
# signing rate, resident memory, and the machine line printed with every run.
#
# Nothing here asserts a timing: scripts print figures and fail only when
# something could not run.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
BENCH_LIB="$BENCH_DIR/lib"

say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# BENCH_NICE=-10 (root only) runs this script and everything it starts (the
# servers, PostgreSQL, wrk, openssl, PHP-FPM, nginx) at that priority, so that
# other work on a shared machine disturbs the figures less. With the kernel's
# autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled = 1), CPU is
# first shared equally between sessions and nice only orders processes inside
# one, so the session's autogroup gets the same nice value too
# (/proc/self/autogroup). Both sides of every ratio run at the same priority.
# Unset: the default priority.
if [ -n "${BENCH_NICE:-}" ] && [ "$(nice)" != "$BENCH_NICE" ]; then
  renice -n "$BENCH_NICE" -p $$ >/dev/null 2>&1 || echo "cannot renice to $BENCH_NICE; running at $(nice)" >&2
fi
# The outermost script that changes the autogroup puts it back on exit.
AUTOGROUP_RESTORE=""
if [ -n "${BENCH_NICE:-}" ] && [ -w /proc/self/autogroup ]; then
  autogroup_was=$(awk '{ print $3 }' /proc/self/autogroup)
  if [ "$autogroup_was" != "$BENCH_NICE" ]; then
    if echo "$BENCH_NICE" >/proc/self/autogroup 2>/dev/null; then
      AUTOGROUP_RESTORE=$autogroup_was
    else
      echo "cannot set the autogroup's nice to $BENCH_NICE" >&2
    fi
  fi
fi
die() { say "error: $*"; exit 1; }

# --- tools ---------------------------------------------------------------------

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
fi
APT_UPDATED=""

# ensure_packages PKG... : installs missing Debian packages. Returns 1 (and
# says why) when they cannot be installed here; the caller skips that part.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
    say "cannot install ${missing[*]}: not root and no passwordless sudo"
    return 1
  fi
  if ! command -v apt-get >/dev/null; then
    say "cannot install ${missing[*]}: no apt-get on this machine"
    return 1
  fi
  if [ -z "$APT_UPDATED" ]; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    APT_UPDATED=1
  fi
  if ! $SUDO apt-get install -s "${missing[@]}" >/dev/null 2>&1; then
    say "cannot install ${missing[*]}: apt-get install -s refuses (not in this machine's package lists?)"
    return 1
  fi
  say "installing ${missing[*]}"
  # policy-rc.d-style containers do not start services; where services would
  # start (php-fpm, nginx, apache2), the scripts never rely on them.
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null 2>&1; then
    say "apt-get install ${missing[*]} failed"
    return 1
  fi
}

need_wrk() {
  command -v wrk >/dev/null || ensure_packages wrk || die "wrk is needed (Debian package wrk)"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# --- machine -----------------------------------------------------------------

cpu_model() { grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'; }

machine_line() {
  echo "machine: nproc=$(nproc), cpu=\"$(cpu_model)\", mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), date=$(date -u +%Y-%m-%dT%H:%M:%SZ), load=\"$(cut -d' ' -f1-3 /proc/loadavg)\", nice=$(nice)$([ -r /proc/self/autogroup ] && echo ", autogroup=\"$(cat /proc/self/autogroup)\"")$(steal_since_start)"
}

# cpu_ticks : "steal total" jiffies of all CPUs so far (/proc/stat).
cpu_ticks() {
  awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' /proc/stat
}

# steal_since_start : ", steal=N%" of the CPU time since start_run (time
# the hypervisor gave to other guests: on a shared VM host it moves every
# figure, so each run reports it), or nothing before start_run.
steal_since_start() {
  [ -n "${STEAL_START:-}" ] || return 0
  cpu_ticks | awk -v s="$STEAL_START" '{ split(s, a, " "); d = $2 - a[2]
    if (d > 0) printf ", steal=%.1f%%", ($1 - a[1]) * 100 / d }'
}

# busy_note: warns when other work is using the CPUs (the figures are then
# the machine's under that load).
busy_note() {
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    say "note: load average $load before the run: other processes are using the CPUs, figures will be noisy"
  fi
}

# rsa_sign_rate SECONDS : openssl's RSA-2048 signatures/s on every core (one
# process per core, `openssl speed -multi`), printed as a number.
rsa_sign_rate() {
  local secs=${1:-5} cores
  cores=$(nproc)
  openssl speed -multi "$cores" -seconds "$secs" rsa2048 2>/dev/null |
    awk '/^rsa 2048 bits/ { print $(NF-1) }' | tail -n 1
}

# bench_example EXAMPLE SECONDS [debug] : builds one of the kit's
# measuring examples (release, or the dev build when the last argument is
# "debug", as the smoke runs use) and runs it for SECONDS. Built for the
# whole workspace (no -p: example names are unique), so the dependencies'
# features are the ones the test build already compiled: with -p <crate>, CI's
# fresh target/ rebuilt lanyard-core's dependencies for argon2_rate (2 min).
bench_example() {
  local example=$1 secs=$2 flag=--release dir=release target
  if [ "${3:-}" = debug ]; then flag="" dir=debug; fi
  # shellcheck disable=SC2086
  (cd "$REPO_DIR" && cargo build -q $flag --example "$example") ||
    die "could not build the $example example"
  target=${CARGO_TARGET_DIR:-$REPO_DIR/target}
  case "$target" in /*) ;; *) target="$REPO_DIR/$target" ;; esac
  "$target/$dir/examples/$example" "$secs"
}

# rsa_cpu SECONDS [debug] : prints "RSA_CPU threads=.. signs=..
# cpu_ms_per_sign=.. signs_per_s=..": one RSA-2048 signature's CPU time
# through Lanyard's own signing call (aws-lc-rs), one thread per core
# (crates/lanyard-saml/examples/rsa_cpu.rs).
rsa_cpu() { bench_example rsa_cpu "$@"; }

# rss_kb PID / hwm_kb PID : resident set now / its peak, in KiB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# --- lanyard -----------------------------------------------------------------

# build_lanyard : sets LANYARD_BIN (a release build unless LANYARD_BIN is set).
build_lanyard() {
  if [ -n "${LANYARD_BIN:-}" ]; then
    [ -x "$LANYARD_BIN" ] || die "LANYARD_BIN=$LANYARD_BIN is not executable"
    return
  fi
  say "cargo build --release -p lanyard"
  (cd "$REPO_DIR" && cargo build --release -q -p lanyard) || die "release build failed"
  local target=${CARGO_TARGET_DIR:-$REPO_DIR/target}
  case "$target" in /*) ;; *) target="$REPO_DIR/$target" ;; esac
  LANYARD_BIN="$target/release/lanyard"
  export LANYARD_BIN
}

# A work directory per run, removed on exit (unless BENCH_KEEP=1).
make_workdir() {
  WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-bench.XXXXXX")
  export WORKDIR
}

# Every process a script started, stopped on exit by PID.
STARTED_PIDS=()
cleanup_all() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; done
  if [ -n "${WORKDIR:-}" ] && [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$WORKDIR"; fi
  if [ -n "${BENCH_PG_DB:-}" ]; then pg_drop_database "$BENCH_PG_DB"; fi
  if [ -n "$AUTOGROUP_RESTORE" ]; then echo "$AUTOGROUP_RESTORE" >/proc/self/autogroup 2>/dev/null || true; fi
}
trap cleanup_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# The secrets key of the benchmark's databases (test-only, fixed, so the
# PostgreSQL ones, which get no key file, open on every start).
export LANYARD_SECRETS_KEY="${LANYARD_SECRETS_KEY:-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}"

# lanyard_env : the environment lanyard commands run with (inherited LANYARD_*
# settings dropped, so a developer's config cannot leak in).
lanyard_cmd() {
  env -u LANYARD_CONFIG -u LANYARD_LISTEN -u LANYARD_BASE_URL -u LANYARD_LOG -u LANYARD_DATABASE \
    "$LANYARD_BIN" "$@"
}

# start_lanyard DATABASE_URL : starts `lanyard serve` on a free port. Sets
# LANYARD_PID, LANYARD_URL and READY_MS (exec to the first 200 of /healthz,
# polled every millisecond by lib/ready.py; migrations included). Logs to
# $WORKDIR/server.log. BENCH_PRELOAD=<library> starts the server with that
# LD_PRELOAD (e.g. Debian's libjemalloc2, to compare allocators without a
# rebuild).
start_lanyard() {
  local db=$1 port out
  port=$(free_port)
  LANYARD_URL="http://127.0.0.1:$port"
  out=$(env -u LANYARD_CONFIG -u LANYARD_LISTEN -u LANYARD_BASE_URL -u LANYARD_LOG -u LANYARD_DATABASE \
    ${BENCH_PRELOAD:+LD_PRELOAD=$BENCH_PRELOAD} python3 "$BENCH_LIB/ready.py" "$LANYARD_URL/healthz" "$WORKDIR/server.log" 60 -- \
    "$LANYARD_BIN" serve --listen "127.0.0.1:$port" --database "$db" --log "${BENCH_LOG:-warn}") ||
    { tail -20 "$WORKDIR/server.log" >&2; die "lanyard serve did not start"; }
  LANYARD_PID=${out%% *}
  READY_MS=${out##* }
  STARTED_PIDS+=("$LANYARD_PID")
  export LANYARD_PID LANYARD_URL READY_MS
}

# ready_ms DATABASE_URL : best of three cold starts (exec -> /healthz 200) on
# an already migrated database; prints milliseconds.
ready_ms() {
  local db=$1 best="" r
  for r in 1 2 3; do
    start_lanyard "$db"
    stop_pid "$LANYARD_PID"
    if [ -z "$best" ] || [ "$READY_MS" -lt "$best" ]; then best=$READY_MS; fi
  done
  echo "$best"
}

api_key() {
  lanyard_cmd apikey create --name "bench-$RANDOM" --role administrator --database "$1" 2>>"$WORKDIR/server.log"
}

# start_run : what every wrk-driven script does first: wrk installed, the
# binary built (or LANYARD_BIN), a work directory, the machine line and a
# note when the CPUs are busy.
start_run() {
  need_wrk
  build_lanyard
  make_workdir
  machine_line
  STEAL_START=$(cpu_ticks)
  busy_note
}

# --- databases -----------------------------------------------------------------

# reexec_under_postgres ARGS... : when --postgres was asked for and no server is
# there yet, runs the calling script again under scripts/with-postgres.sh (a
# durable throwaway PostgreSQL 15 unless LANYARD_PG_DURABLE=0) and exits
# with its status.
reexec_under_postgres() {
  if [ -z "${LANYARD_TEST_POSTGRES:-}" ]; then
    export LANYARD_PG_DURABLE=${LANYARD_PG_DURABLE:-1}
    # A child, not exec: this script's exit trap still runs (and stops it,
    # by PID, if this script is interrupted).
    "$REPO_DIR/scripts/with-postgres.sh" "$0" "$@" &
    STARTED_PIDS+=("$!")
    local status=0
    wait "$!" || status=$?
    exit "$status"
  fi
}

PSQL=${PG_BIN:-/usr/lib/postgresql/15/bin}/psql

# bench_database : a fresh database for this run: a SQLite file in $WORKDIR,
# or, with POSTGRES=1, a new database on $LANYARD_TEST_POSTGRES (dropped on
# exit). Sets DB and BACKEND.
bench_database() {
  if [ "${POSTGRES:-0}" = 1 ]; then
    DB=$(pg_new_database); BENCH_PG_DB=$DB; BACKEND=postgres
  else
    DB="sqlite://$WORKDIR/lanyard.db"; BACKEND=sqlite
  fi
}

# migrate_with_key : migrates $DB and sets KEY, an admin API key for it.
migrate_with_key() {
  lanyard_cmd migrate --database "$DB" 2>>"$WORKDIR/server.log"
  KEY=$(api_key "$DB")
}

# sso_users N [setup-sso options...] : on the running server, N users made
# through the REST API and signed in with POST /login (their cookies, one
# per line, in $WORKDIR/cookies.txt) and an "Amazon AWS" app bound to their
# group (lib/lanyard_bench.py setup-sso). Sets SLUG and GROUP.
sso_users() {
  local n=$1 setup; shift
  setup=$(python3 "$BENCH_LIB/lanyard_bench.py" --url "$LANYARD_URL" setup-sso --key "$KEY" \
    --users "$n" --out "$WORKDIR/cookies.txt" "$@")
  read -r SLUG GROUP <<<"$setup"
}

# pg_new_database : prints the URL of a fresh database on $LANYARD_TEST_POSTGRES
# (dropped on exit).
pg_new_database() {
  local name="lanyard_bench_$RANDOM$RANDOM"
  "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$LANYARD_TEST_POSTGRES" -c "CREATE DATABASE $name" >/dev/null
  echo "${LANYARD_TEST_POSTGRES%/*}/$name"
}

pg_drop_database() {
  "$PSQL" -X -q -d "$LANYARD_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS ${1##*/} WITH (FORCE)" \
    >/dev/null 2>&1 || true
}

# pg_cpu : CPU seconds (user + system) used so far by the PostgreSQL server
# of $LANYARD_TEST_POSTGRES: its postmaster, including the backends that have
# exited (cutime/cstime), plus the live backends; found by the port. Prints 0
# when there is none.
pg_cpu() {
  local port pm
  [ -n "${LANYARD_TEST_POSTGRES:-}" ] || { echo 0; return; }
  port=${LANYARD_TEST_POSTGRES##*:}; port=${port%%/*}
  pm=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
  [ -n "$pm" ] || { echo 0; return; }
  {
    awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat" 2>/dev/null
    for p in $(ps -o pid= --ppid "$pm" 2>/dev/null); do
      awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null
    done
  } | awk -v hz="$(getconf CLK_TCK)" '{ s += $1 } END { printf "%.3f", s / hz }'
}

# --- wrk -------------------------------------------------------------------------

# run_wrk URL CONNECTIONS SECONDS COOKIE_FILE [RATE] : wrk with bench/lib/sso.lua;
# prints its RESULT line (rps, p50/p90/p99 in ms, non-200 count). RATE
# (responses/s over all connections) turns on the rate-limited mode.
run_wrk() {
  local url=$1 conns=$2 secs=$3 cookies=$4 rate=${5:-0} threads=2
  [ "$conns" -lt "$threads" ] && threads=$conns
  WRK_COOKIES="$cookies" WRK_RATE="$rate" WRK_CONNS="$conns" \
    wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 10s -s "$BENCH_LIB/sso.lua" "$url" \
    >"$WORKDIR/wrk.out" 2>&1 || { cat "$WORKDIR/wrk.out" >&2; die "wrk failed"; }
  grep '^RESULT' "$WORKDIR/wrk.out" || { cat "$WORKDIR/wrk.out" >&2; die "wrk printed no RESULT"; }
}

# field NAME LINE : the value of NAME=... in a RESULT line.
field() { echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# --- login storm -------------------------------------------------------------------

# argon2_rate SECONDS [debug] : prints "ARGON2 threads=.. verifications=..
# seconds=.. per_s=.. cpu_ms_per_verify=..": password verifications per
# second through Lanyard's own verify call (lanyard_core::password: argon2id
# 19 MiB, 2 passes, 1 lane), one thread per core
# (crates/lanyard-core/examples/argon2_rate.rs; the dev profile builds
# argon2 optimized too).
argon2_rate() { bench_example argon2_rate "$@"; }

# login_wrk URL CONNECTIONS SECONDS ACCOUNTS_FILE OUT : wrk with
# bench/lib/login.lua on URL (the server's /login): password sign-ins for
# the logins in ACCOUNTS_FILE (lib/lanyard_bench.py's password), a rotating
# X-Forwarded-For (the server must trust 127.0.0.1 as a proxy). wrk's
# output goes to OUT (its LOGIN line), and the CPU seconds wrk itself used
# (user + system of all its threads, the utime + stime of /proc/<pid>/stat,
# taken from its rusage when it is reaped, with bash's `times`) to OUT.cpu.
# Meant to run in the background (`login_wrk ... &`); stopping it (TERM)
# stops wrk.
login_wrk() {
  local url=$1 conns=$2 secs=$3 accounts=$4 out=$5 threads=2 pid rc=0 password
  [ "$conns" -lt "$threads" ] && threads=$conns
  password=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import lanyard_bench; print(lanyard_bench.PASSWORD)' \
    "$BENCH_LIB")
  # `times` straight into files (a command substitution would run it in a
  # subshell of its own, with no children yet): between the two, wrk is the
  # only child this shell reaps.
  times >"$out.t0"
  WRK_ACCOUNTS="$accounts" WRK_THREADS="$threads" WRK_PASSWORD="$password" \
    wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 10s -s "$BENCH_LIB/login.lua" "$url" \
    >"$out" 2>&1 &
  pid=$!
  # shellcheck disable=SC2064
  trap "kill -TERM $pid 2>/dev/null; exit 143" TERM
  wait "$pid" || rc=$?
  times >"$out.t1"
  # The second line of `times`: the children's user and system time.
  awk 'FNR == 2 {
      split($1, u, /[ms]/); split($2, s, /[ms]/)
      t[FILENAME] = u[1] * 60 + u[2] + s[1] * 60 + s[2] }
    END { printf "%.3f\n", t[ARGV[2]] - t[ARGV[1]] }' "$out.t0" "$out.t1" >"$out.cpu"
  return "$rc"
}

# proc_cpu PID : CPU seconds (user + system, all threads) used so far by
# the live process PID, from /proc/<pid>/stat.
proc_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}
