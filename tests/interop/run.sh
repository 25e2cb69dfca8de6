#!/usr/bin/env bash
# run.sh - the entry point CI calls for the SAML interop suite.
#
# Owns: the order of the interop steps and the final verdict.
#   1. setup.sh                       install/check the peers (idempotent)
#   2. interop_cases  -> CASES/        our crate writes Responses + cases.json
#                                      + IdP metadata (cargo example)
#   3. check_responses.py CASES/       every case x every peer
#   4. check_metadata.py  CASES/<idp_metadata_file>
#   5. check_server_metadata.py SRVMD/ the real `lanyard serve` (built with cargo,
#                                      or $LANYARD_BIN): metadata exported for
#                                      configured apps via the API, the public
#                                      URL and the zip, before and after a key
#                                      rotation, through check_metadata.py's checks
#   6. make_requests.py   REQS/        AuthnRequests from python3-saml/pysaml2
#   7. interop_intake     REQS/        our crate's intake checks them (cargo example)
#   8. check_sso_e2e.py   E2E/         end to end (issue #5): a cookie-jar browser
#                                      signs in to the real server; python3-saml,
#                                      pysaml2 and moto (AWS stand-in) judge the
#                                      responses; denial pages; audit; and two
#                                      nodes on one PostgreSQL (under
#                                      scripts/with-postgres.sh unless
#                                      LANYARD_TEST_POSTGRES is already set)
# Every step ends with its own "label: N passed, M failed" line; run.sh adds
# them up and ends with exactly one line "interop-total: N passed, M failed".
# A step that crashes, times out or prints no summary counts as 1 failure;
# steps whose input is missing are skipped and counted as 1 failure each.
# Exit status: 0 only when nothing failed.
#
# Environment:
#   INTEROP_CASES_CMD   command that writes the case dir (DIR appended);
#                       default: cargo run -q -p lanyard-saml --example interop_cases --
#   INTEROP_INTAKE_CMD  command that checks requests.json (REQDIR appended);
#                       default: cargo run -q -p lanyard-saml --example interop_intake --
#   LANYARD_BIN         lanyard binary for steps 5 and 8 (default: cargo build -q -p lanyard)
#   INTEROP_KEEP=1      keep the temp dirs (always kept and printed on failure)
#   INTEROP_STEP_TIMEOUT / INTEROP_CARGO_TIMEOUT  seconds (default 600 / 3600)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY="$HERE/.venv/bin/python"
STEP_TIMEOUT="${INTEROP_STEP_TIMEOUT:-600}"
CARGO_TIMEOUT="${INTEROP_CARGO_TIMEOUT:-3600}"
read -r -a CASES_CMD <<<"${INTEROP_CASES_CMD:-cargo run -q -p lanyard-saml --example interop_cases --}"
read -r -a INTAKE_CMD <<<"${INTEROP_INTAKE_CMD:-cargo run -q -p lanyard-saml --example interop_intake --}"

TOTAL_PASS=0
TOTAL_FAIL=0
WORK="$(mktemp -d "${TMPDIR:-/tmp}/lanyard-interop.XXXXXX")"
CASES="$WORK/cases"
REQS="$WORK/requests"
SRVMD="$WORK/server-metadata"
E2E="$WORK/sso-e2e"
mkdir -p "$CASES" "$REQS" "$SRVMD" "$E2E"

finish() {
    if [ "$TOTAL_FAIL" -eq 0 ] && [ "${INTEROP_KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        echo "# interop: work files kept in $WORK"
    fi
    echo "interop-total: $TOTAL_PASS passed, $TOTAL_FAIL failed"
    if [ "$TOTAL_FAIL" -eq 0 ] && [ "$TOTAL_PASS" -gt 0 ]; then exit 0; else exit 1; fi
}
trap 'echo "# interop: interrupted"; TOTAL_FAIL=$((TOTAL_FAIL + 1)); finish' INT TERM

# step NAME TIMEOUT CMD...  - run one step, stream its output, add its summary
step() {
    local name="$1" limit="$2"; shift 2
    local log="$WORK/$name.log" rc summary p f
    echo "# interop: === $name: $*"
    (cd "$REPO" && timeout --kill-after=30 "$limit" "$@" </dev/null) 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    summary="$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "FAIL $name run.sh timed out after ${limit}s"
        TOTAL_FAIL=$((TOTAL_FAIL + 1))
    fi
    if [ -n "$summary" ]; then
        p="$(sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*$/\1/' <<<"$summary")"
        f="$(sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*$/\2/' <<<"$summary")"
        TOTAL_PASS=$((TOTAL_PASS + p))
        TOTAL_FAIL=$((TOTAL_FAIL + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; then
            echo "FAIL $name run.sh exit status $rc although its summary reports 0 failed"
            TOTAL_FAIL=$((TOTAL_FAIL + 1))
        fi
    elif [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; then
        echo "FAIL $name run.sh no 'N passed, M failed' summary line (exit status $rc)"
        TOTAL_FAIL=$((TOTAL_FAIL + 1))
    fi
    return "$rc"
}

skip() {
    echo "FAIL $1 run.sh skipped: $2"
    TOTAL_FAIL=$((TOTAL_FAIL + 1))
}

# 1. setup (no summary line of its own: counts as one check)
echo "# interop: === setup"
if timeout --kill-after=30 1800 bash "$HERE/setup.sh" </dev/null; then
    echo "PASS setup run.sh peers installed and verified"
    TOTAL_PASS=$((TOTAL_PASS + 1))
else
    echo "FAIL setup run.sh setup.sh failed (exit $?)"
    TOTAL_FAIL=$((TOTAL_FAIL + 1))
    finish
fi

# 2. our crate writes the response cases
echo "# interop: === interop_cases: ${CASES_CMD[*]} $CASES"
(cd "$REPO" && timeout --kill-after=30 "$CARGO_TIMEOUT" "${CASES_CMD[@]}" "$CASES" </dev/null)
rc=$?
if [ "$rc" -eq 0 ] && [ -f "$CASES/cases.json" ]; then
    echo "PASS interop_cases run.sh wrote $(ls "$CASES" | wc -l) files to $CASES"
    TOTAL_PASS=$((TOTAL_PASS + 1))
    cases_ok=1
else
    echo "FAIL interop_cases run.sh producer failed (exit $rc) or wrote no cases.json"
    TOTAL_FAIL=$((TOTAL_FAIL + 1))
    cases_ok=0
fi

if [ "$cases_ok" = 1 ]; then
    # manifest fields used by later steps
    if manifest="$("$PY" -c '
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
for k in ("idp_entity_id", "idp_sso_url", "idp_metadata_file", "idp_cert_file"):
    print(m[k])
' "$CASES/cases.json")"; then
        { read -r IDP_ENTITY_ID; read -r IDP_SSO_URL; read -r IDP_MD; read -r IDP_CERT; } <<<"$manifest"
    else
        skip manifest "cannot read idp_entity_id/idp_sso_url/idp_metadata_file/idp_cert_file from cases.json"
        cases_ok=0
    fi
fi

# 3. + 4. responses and metadata against the peers
if [ "$cases_ok" = 1 ]; then
    step check_responses "$STEP_TIMEOUT" "$PY" "$HERE/check_responses.py" "$CASES"
    step check_metadata "$STEP_TIMEOUT" "$PY" "$HERE/check_metadata.py" "$CASES/$IDP_MD" \
        --entity-id "$IDP_ENTITY_ID" --sso-url "$IDP_SSO_URL" --cert "$CASES/$IDP_CERT"
else
    skip check_responses "no case dir"
    skip check_metadata "no case dir"
fi

# 5. metadata exported by the running server (needs no case dir; may build the binary)
step check_server_metadata "$CARGO_TIMEOUT" "$PY" "$HERE/check_server_metadata.py" "$SRVMD"

# 6. + 7. SP libraries make AuthnRequests, our intake checks them
if [ "$cases_ok" = 1 ]; then
    step make_requests "$STEP_TIMEOUT" "$PY" "$HERE/make_requests.py" "$REQS" \
        --idp-entity-id "$IDP_ENTITY_ID" --idp-sso-url "$IDP_SSO_URL" --idp-metadata "$CASES/$IDP_MD"
    if [ -f "$REQS/requests.json" ]; then
        step interop_intake "$CARGO_TIMEOUT" "${INTAKE_CMD[@]}" "$REQS"
    else
        skip interop_intake "make_requests.py did not produce requests.json"
    fi
else
    skip make_requests "no IdP entity id / SSO URL (no case dir)"
    skip interop_intake "no requests"
fi

# 8. end to end through the running server (needs no case dir). Its two-node
# half needs a PostgreSQL server: a throwaway one unless the caller has one.
if [ -n "${LANYARD_TEST_POSTGRES:-}" ]; then
    step check_sso_e2e "$CARGO_TIMEOUT" "$PY" "$HERE/check_sso_e2e.py" "$E2E"
else
    step check_sso_e2e "$CARGO_TIMEOUT" "$REPO/scripts/with-postgres.sh" "$PY" "$HERE/check_sso_e2e.py" "$E2E"
fi

finish
