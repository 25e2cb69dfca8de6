#!/usr/bin/env bash
# The test command of README.md: every Rust test of the workspace.
#
# Store tests run on SQLite always, and on PostgreSQL when LANYARD_TEST_POSTGRES
# holds a connection URL (scripts/with-postgres.sh starts a throwaway server and
# sets it; .ci/run does that). Without it the PostgreSQL half says it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
