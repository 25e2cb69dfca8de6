#!/usr/bin/env bash
# run.sh - the entry point CI calls for the real-browser end-to-end suite.
#
# Owns: the order of the browser steps and the final verdict.
#   1. setup.sh          Debian chromium (apt-get when missing) + npm ci
#                        (playwright-core), and a launch smoke check
#   2. the binary        $LANYARD_BIN, else `cargo build --release -p lanyard`
#                        (a no-op when target/release/lanyard is up to date)
#   3. three demos       `lanyard demo --listen 127.0.0.1:0`, each on a free
#                        loopback port, each with its own temporary database:
#                          DEMO   seeded (alice, bob, the Amazon AWS app)
#                          ADMIN  --empty (only the administrator)
#                          XSS    --empty
#                        Their base URL and API key are read from their first
#                        lines of output and passed to the tests as
#                        LANYARD_E2E_<NAME>_URL / LANYARD_E2E_<NAME>_API_KEY.
#   4. node --test       demo_flow / admin_flow / xss (*.test.js), one file at
#                        a time; screenshots to $LANYARD_E2E_SCREENSHOTS
#                        (default target/e2e-screenshots, emptied first)
# The demos are stopped on exit (also on failure or Ctrl-C) by the PIDs this
# script started: SIGTERM, then SIGKILL after 10 s. Nothing else is touched.
# Ends with exactly one line "browser-total: N passed, M failed"; a crash or
# a timeout counts as a failure. Exit status: 0 only when nothing failed.
#
# Usage: bash tests/browser/run.sh [FILE.test.js ...]   (default: all)
# Environment:
#   LANYARD_BIN                 the lanyard binary (skips the cargo build)
#   LANYARD_E2E_SCREENSHOTS     where screenshots go (absolute path)
#   CHROMIUM                    default /usr/bin/chromium
#   BROWSER_TEST_TIMEOUT / BROWSER_CARGO_TIMEOUT  seconds (default 900 / 3600)
#   BROWSER_KEEP=1              keep the work dir (kept anyway on failure)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CALLER_PWD="$PWD"
REPO="$(cd "$HERE/../.." && pwd)"
TEST_TIMEOUT="${BROWSER_TEST_TIMEOUT:-900}"
CARGO_TIMEOUT="${BROWSER_CARGO_TIMEOUT:-3600}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export LANYARD_E2E_SCREENSHOTS="${LANYARD_E2E_SCREENSHOTS:-$REPO/target/e2e-screenshots}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lanyard-browser.XXXXXX")"
PASS=0
FAIL=0
PIDS=()   # the demos this script started
CHILD=""  # the `timeout` running the current step, if any

log() { printf '# browser: %s\n' "$*"; }

stop_demos() {
    local pid i
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
    done
    for pid in "${PIDS[@]}"; do
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "demo pid $pid ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    PIDS=()
}

finish() {
    trap - EXIT INT TERM
    stop_demos
    if [ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ] && [ "${BROWSER_KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        log "work files (demo logs, TAP results) kept in $WORK"
    fi
    echo "browser-total: $PASS passed, $FAIL failed"
    if [ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]; then exit 0; else exit 1; fi
}
# A step runs under `timeout`, which puts it in a process group of its own
# (so a Ctrl-C at the terminal does not reach it): on INT/TERM the trap hands
# SIGTERM to that `timeout`, which passes it to the step's whole group
# (node, the test files, chromium; or cargo), then stops the demos.
interrupted() {
    log "interrupted"
    if [ -n "$CHILD" ]; then
        kill -TERM "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    FAIL=$((FAIL + 1))
    finish
}
trap interrupted INT TERM
trap finish EXIT

# limited SECONDS CMD...: runs CMD under timeout, in the background so the
# traps above run at once on a signal; returns CMD's status.
limited() {
    local limit="$1" rc; shift
    timeout --kill-after=30 "$limit" "$@" </dev/null &
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD=""
    return "$rc"
}

# 1. setup
log "=== setup"
if limited 1800 bash "$HERE/setup.sh"; then
    PASS=$((PASS + 1))
else
    echo "FAIL setup run.sh setup.sh failed"
    FAIL=$((FAIL + 1))
    exit 1
fi

# 2. the binary
if [ -n "${LANYARD_BIN:-}" ]; then
    BIN="$(cd "$CALLER_PWD" && realpath -e "$LANYARD_BIN" 2>/dev/null || echo "$LANYARD_BIN")"
    log "=== binary: LANYARD_BIN=$BIN"
elif command -v cargo >/dev/null 2>&1; then
    log "=== binary: cargo build --release -p lanyard"
    cd "$REPO" || exit 1
    if ! limited "$CARGO_TIMEOUT" cargo build --release -q -p lanyard; then
        echo "FAIL build run.sh cargo build --release -p lanyard failed"
        FAIL=$((FAIL + 1))
        exit 1
    fi
    BIN="$REPO/target/release/lanyard"
else
    BIN="$REPO/target/release/lanyard"
    log "=== binary: no cargo; reusing $BIN"
fi
if [ ! -x "$BIN" ]; then
    echo "FAIL build run.sh no executable lanyard binary at $BIN"
    FAIL=$((FAIL + 1))
    exit 1
fi

# 3. the demos
# start_demo NAME [FLAGS...]: starts one demo, waits for its welcome text,
# exports LANYARD_E2E_<NAME>_URL and _API_KEY.
start_demo() {
    local name="$1"; shift
    local out="$WORK/demo-$name.out" pid url key i
    "$BIN" demo --listen 127.0.0.1:0 --log warn "$@" </dev/null >"$out" 2>"$WORK/demo-$name.err" &
    pid=$!
    PIDS+=("$pid")
    for i in $(seq 1 300); do
        if grep -q "Authorization: Bearer" "$out" 2>/dev/null; then break; fi
        if ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    url="$(sed -nE 's/^Lanyard demo is running on (http:\/\/[^ ]+).*/\1/p' "$out" | head -n 1)"
    key="$(sed -nE "s/.*Authorization: Bearer ([^' ]+)'.*/\1/p" "$out" | head -n 1)"
    if [ -z "$url" ] || [ -z "$key" ]; then
        echo "FAIL demo-$name run.sh lanyard demo $* printed no base URL / API key within 30 s"
        tail -n 20 "$out" "$WORK/demo-$name.err" >&2
        return 1
    fi
    case "$url" in
        http://127.0.0.1:0|http://127.0.0.1:0/*) echo "FAIL demo-$name run.sh base URL has port 0: $url"; return 1 ;;
    esac
    export "LANYARD_E2E_${name}_URL=$url" "LANYARD_E2E_${name}_API_KEY=$key"
    log "demo $name (pid $pid${*:+, $*}) on $url"
}

log "=== demos"
if start_demo DEMO && start_demo ADMIN --empty && start_demo XSS --empty; then
    PASS=$((PASS + 1))
else
    FAIL=$((FAIL + 1))
    exit 1
fi

# 4. the tests
rm -f "$LANYARD_E2E_SCREENSHOTS"/*.png 2>/dev/null
mkdir -p "$LANYARD_E2E_SCREENSHOTS"
files=()
for f in "$@"; do  # as given from the caller's directory, or a name in tests/browser
    if [ -f "$CALLER_PWD/$f" ] || [ -f "$f" ]; then files+=("$(cd "$CALLER_PWD" && realpath "$f")"); else files+=("$f"); fi
done
[ "${#files[@]}" -gt 0 ] || files=(demo_flow.test.js admin_flow.test.js xss.test.js)
log "=== node --test ${files[*]} (screenshots: $LANYARD_E2E_SCREENSHOTS)"
TAP="$WORK/results.tap"
cd "$HERE" || exit 1
limited "$TEST_TIMEOUT" node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$TAP" \
    "${files[@]}"
rc=$?
count() { sed -nE "s/^# $1 ([0-9]+)$/\1/p" "$TAP" 2>/dev/null | tail -n 1; }
p="$(count pass)"; f="$(count fail)"; c="$(count cancelled)"; s="$(count skipped)"
if [ -z "$p" ]; then
    echo "FAIL tests run.sh node --test wrote no results (exit status $rc)"
    FAIL=$((FAIL + 1))
else
    PASS=$((PASS + p))
    FAIL=$((FAIL + ${f:-0} + ${c:-0}))
    [ "${s:-0}" -gt 0 ] && log "$s test(s) skipped (an earlier step they need failed)"
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && [ "${c:-0}" -eq 0 ]; then
        echo "FAIL tests run.sh node --test exit status $rc although no test failed"
        FAIL=$((FAIL + 1))
    fi
fi
if [ "$FAIL" -gt 0 ]; then
    for e in "$WORK"/demo-*.err; do
        [ -s "$e" ] && { log "stderr of $(basename "$e" .err):"; tail -n 20 "$e"; }
    done
fi
log "screenshots: $(ls "$LANYARD_E2E_SCREENSHOTS"/*.png 2>/dev/null | wc -l) in $LANYARD_E2E_SCREENSHOTS"
exit 0  # finish (the EXIT trap) prints the verdict and sets the status
