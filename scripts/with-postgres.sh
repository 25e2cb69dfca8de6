#!/usr/bin/env bash
# Usage: scripts/with-postgres.sh CMD [ARGS...]
#
# Runs CMD beside a throwaway PostgreSQL 15 server and removes the server
# afterwards, also when CMD fails or the script is interrupted. CMD sees
#   LANYARD_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres
# (a superuser, trust auth on loopback only), which the store tests and the
# store benchmark use to make fresh databases, and
#   LANYARD_TEST_POSTGRES_CA=DIR/ca.pem
#   LANYARD_TEST_POSTGRES_OTHER_CA=DIR/other-ca.pem
# for the TLS tests (crates/lanyard-store/tests/it/tls.rs), and
#   LANYARD_TEST_POSTGRES_CONTROL=DIR/control.sh
# which stops (`stop fast|immediate`) and starts (`start`) this server, for
# the fault suite (tests/faults/pg_restart.py).
#
# TLS is on (ssl=on) with a server certificate for localhost and 127.0.0.1
# signed by a test CA (ca.pem); other-ca.pem is an unrelated CA. All of it is
# made fresh for each run, test-only, by
#   cargo run -q -p lanyard-saml --example test_tls_certs -- DIR
# (same dev profile as the tests, so it reuses their build; cargo must be on
# PATH) and removed with the server. Clients may still connect without TLS,
# but note that sqlx's default sslmode is `prefer`: a URL without sslmode
# (LANYARD_TEST_POSTGRES itself) gets an encrypted, unverified connection;
# `?sslmode=disable` keeps one plain.
#
# The cluster lives in a mktemp directory owned by an unprivileged user
# (lanyard-pg, created if missing when run as root; PostgreSQL refuses to run
# as root), listens on 127.0.0.1 on a free port and on a socket in that
# directory only. Its default collation is ICU en-US, as on a typical
# production server, so tests notice any query that silently relies on byte
# order. Durability is off (fsync, synchronous_commit) since the data is
# thrown away; set LANYARD_PG_DURABLE=1 to keep the defaults (e.g. to
# benchmark).
#
# LANYARD_PG_OPTIONS adds server options ("-c name=value ..."), and
# LANYARD_PG_KEEP_LOG=FILE keeps a copy of the server's log there, for
# looking into latency questions.
#
# PG_BIN overrides /usr/lib/postgresql/15/bin. If it is missing and we are
# root, postgresql-15 is installed from Debian's packages.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=lanyard-pg
say() { echo "with-postgres: $*" >&2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if ! command -v cargo >/dev/null; then
  say "cargo not found on PATH: it is needed to make the server's test TLS certificates (cargo run -p lanyard-saml --example test_tls_certs)"
  exit 1
fi

if [ ! -x "$PG_BIN/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing postgresql-15"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  else
    say "$PG_BIN/initdb not found; install postgresql-15 or set PG_BIN"
    exit 1
  fi
fi

# Run the server's programs as an unprivileged user when we are root.
if [ "$(id -u)" = 0 ]; then
  if ! id "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
  fi
  as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
  as_pg() { "$@"; }
fi

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local port
  for port in $(seq 25432 25999); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  say "no free port found"
  exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-pg.XXXXXX")
data="$tmp/data"
started=""

cleanup() {
  if [ -n "$started" ] && [ -f "$data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || {
      # pg_ctl could not stop it: end that one server by the PID it wrote.
      pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
      [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
    }
  fi
  if [ -n "${LANYARD_PG_KEEP_LOG:-}" ] && [ -f "$tmp/server.log" ]; then
    cp "$tmp/server.log" "$LANYARD_PG_KEEP_LOG" || true
  fi
  rm -rf "$tmp"
}
# On INT or TERM, stop CMD first (it runs in the background so that the
# signal is seen at once, not when CMD happens to finish), then clean up.
child=""
on_signal() {
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

if [ "$(id -u)" = 0 ]; then
  chown "$PG_USER" "$tmp"
fi
chmod 700 "$tmp"

as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
  --locale=C.UTF-8 --locale-provider=icu --icu-locale=en-US >"$tmp/initdb.log" 2>&1 || {
  cat "$tmp/initdb.log" >&2
  exit 1
}

port=$(free_port)

# Test-only TLS material (see the header), made as the caller: the server's
# user must own server.key (mode 0600, which PostgreSQL insists on).
tls="$tmp/tls"
(cd "$root" && cargo run -q -p lanyard-saml --example test_tls_certs -- "$tls") || {
  say "could not make the test TLS certificates (cargo run -p lanyard-saml --example test_tls_certs)"
  exit 1
}
if [ "$(id -u)" = 0 ]; then
  chown -R "$PG_USER" "$tls"
fi

options="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$tmp"
options="$options -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key"
if [ "${LANYARD_PG_DURABLE:-0}" != 1 ]; then
  options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
# Extra server options, e.g. "-c log_min_duration_statement=30" to look
# into a latency question.
options="$options ${LANYARD_PG_OPTIONS:-}"

started=1
if ! as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$tmp/server.log" -o "$options" -w -t 60 start >/dev/null; then
  cat "$tmp/server.log" >&2 || true
  exit 1
fi
for _ in $(seq 1 60); do
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres && break
  sleep 0.5
done
"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres || {
  say "server did not become ready"
  cat "$tmp/server.log" >&2 || true
  exit 1
}

# The fault suite stops and starts this server under load: a script that
# does it as the server's user, with the same options.
control="$tmp/control.sh"
{
  echo '#!/usr/bin/env bash'
  echo '# Usage: control.sh stop fast|immediate | start'
  echo 'set -euo pipefail'
  echo 'case "$1" in'
  if [ "$(id -u)" = 0 ]; then run_as="runuser -u $PG_USER --"; else run_as=""; fi
  echo "  stop) $run_as $PG_BIN/pg_ctl -D $data -m \"\$2\" -w -t 60 stop >/dev/null ;;"
  echo "  start) $run_as $PG_BIN/pg_ctl -D $data -l $tmp/server.log -o '$options' -w -t 60 start >/dev/null ;;"
  echo '  *) echo "usage: $0 stop fast|immediate | start" >&2; exit 2 ;;'
  echo 'esac'
} >"$control"
chmod 755 "$control"

export LANYARD_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
export LANYARD_TEST_POSTGRES_CONTROL="$control"
export LANYARD_TEST_POSTGRES_CA="$tls/ca.pem"
export LANYARD_TEST_POSTGRES_OTHER_CA="$tls/other-ca.pem"
say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') ready: $LANYARD_TEST_POSTGRES"

set +e
"$@" <&0 &
child=$!
wait "$child"
status=$?
set -e
exit "$status"
