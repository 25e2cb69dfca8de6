#!/usr/bin/env bash
# The test command of README.md: every Rust test of the workspace, on SQLite
# and, when PostgreSQL 15 is installed, on PostgreSQL too.
#
# Store and web tests run on SQLite always, and on PostgreSQL when
# LANYARD_TEST_POSTGRES holds a server URL. Without it, this script starts a
# throwaway PostgreSQL 15 server itself (scripts/with-postgres.sh) when the
# server's programs are installed (PG_BIN, default /usr/lib/postgresql/15/bin),
# and otherwise says that the PostgreSQL half is skipped and why. CI
# (.ci/run) runs it under scripts/with-postgres.sh, which installs
# postgresql-15 first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -z "${LANYARD_TEST_POSTGRES:-}" ]; then
  if [ -x "$PG_BIN/initdb" ]; then
    exec ./scripts/with-postgres.sh "$0" "$@"
  fi
  skipped="PostgreSQL half SKIPPED: $PG_BIN/initdb is not installed (install postgresql-15, or run ./scripts/with-postgres.sh ./scripts/test.sh as root, which installs it)"
  echo "test.sh: $skipped" >&2
fi

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"

if [ -n "${LANYARD_TEST_POSTGRES:-}" ]; then
  echo "test.sh: every test ran on SQLite and on PostgreSQL" >&2
else
  echo "test.sh: every test ran on SQLite; $skipped" >&2
fi
