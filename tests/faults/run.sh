#!/usr/bin/env bash
# run.sh - the fault and operations suite: real `lanyard serve` processes
# under load while something goes wrong (or is restored) under them.
#
#   tests/faults/run.sh            the short form CI runs (see README.md for
#                                  its cost)
#   tests/faults/run.sh --full     the full run, by hand (longer load, more
#                                  repetitions)
#
# Each script prints "PASS|FAIL case peer detail" lines and one closing
# "label: N passed, M failed" line; this script adds them up and ends with
# "faults-total: N passed, M failed" (exit 0 only when nothing failed). The
# Python comes from the interop suite's venv (tests/interop/setup.sh, run
# here, is idempotent); PostgreSQL is a throwaway one from
# scripts/with-postgres.sh unless LANYARD_TEST_POSTGRES is set. LANYARD_BIN
# names the binary (default: cargo build -q -p lanyard, target/debug).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY="$HERE/../interop/.venv/bin/python"
FULL=0
[ "${1:-}" = "--full" ] && FULL=1

if [ -z "${LANYARD_TEST_POSTGRES:-}" ]; then
    # Durable settings: some scripts stop PostgreSQL the hard way and count
    # what it acknowledged.
    LANYARD_PG_DURABLE=1 exec "$REPO/scripts/with-postgres.sh" "$0" "$@"
fi

if ! bash "$REPO/tests/interop/setup.sh" >/dev/null </dev/null; then
    echo "FAIL setup run.sh tests/interop/setup.sh failed"
    echo "faults-total: 0 passed, 1 failed"
    exit 1
fi
# HAProxy from Debian for the node-loss script (only the binary is used,
# with a config of the script's own).
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null ||
            echo "# faults: could not install haproxy (node_loss.py will say so)"
    else
        echo "# faults: haproxy is not installed and we are not root (node_loss.py will say so)"
    fi
fi
if [ -z "${LANYARD_BIN:-}" ]; then
    (cd "$REPO" && cargo build -q -p lanyard) || { echo "faults-total: 0 passed, 1 failed"; exit 1; }
    export LANYARD_BIN="$REPO/target/debug/lanyard"
fi

TOTAL_PASS=0
TOTAL_FAIL=0
# step NAME LIMIT CMD...: run one script, stream it, add up its summary line.
step() {
    local name="$1" limit="$2" started log rc summary p f
    shift 2
    started=$(date +%s)
    log="$(mktemp)"
    echo "# faults: === $name: $*"
    (cd "$REPO" && timeout --kill-after=30 "$limit" "$@" </dev/null) 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    summary="$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)"
    rm -f "$log"
    if [ -n "$summary" ]; then
        p="$(sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*$/\1/' <<<"$summary")"
        f="$(sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*$/\2/' <<<"$summary")"
        TOTAL_PASS=$((TOTAL_PASS + p))
        TOTAL_FAIL=$((TOTAL_FAIL + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            echo "FAIL $name run.sh exit status $rc although its summary reports 0 failed"
            TOTAL_FAIL=$((TOTAL_FAIL + 1))
        fi
    else
        echo "FAIL $name run.sh no 'N passed, M failed' summary line (exit status $rc)"
        TOTAL_FAIL=$((TOTAL_FAIL + 1))
    fi
    echo "# faults: $name took $(( $(date +%s) - started )) s"
}

if [ "$FULL" = 1 ]; then
    step backup_roundtrip 900 "$PY" "$HERE/backup_roundtrip.py" --seconds 20
else
    step backup_roundtrip 300 "$PY" "$HERE/backup_roundtrip.py" --seconds 4
fi
step restore_two_nodes 300 "$PY" "$HERE/restore_two_nodes.py"
step pg_restart 300 "$PY" "$HERE/pg_restart.py"
step node_loss 300 "$PY" "$HERE/node_loss.py"
step disk_full 300 "$PY" "$HERE/disk_full.py"
if [ "$FULL" = 1 ]; then
    step crash 1800 "$PY" "$HERE/crash.py" --rounds 20
else
    step crash 600 "$PY" "$HERE/crash.py" --rounds 3
fi

echo "faults-total: $TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ] && [ "$TOTAL_PASS" -gt 0 ]
