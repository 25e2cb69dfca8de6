"""Load many users, memberships and live sessions straight into a migrated
Lanyard database, for the memory, admin-list and scale benchmarks.

    python3 bulk_load.py --database URL --users N [--sessions M] [--group-id G]
                         [--cookies FILE --cookie-count K [--cookie-spread]]

URL is sqlite://<file> (written with Python's sqlite3, the server may be
stopped or running) or postgres://... (COPY through psql). Rows match the
migrations in crates/lanyard-store/migrations and what the store writes:
emails user<i>@bulk.example.com, usernames user<i>, first names FIRST[i % 8],
last names LAST[(i // 8) % 8] (with the lower-cased copies the search uses),
two attributes, no password. With --sessions, the first M users get one live,
complete session each (token hash = SHA-256 hex of a random token, as
lanyard_core::session::token_hash); --cookies writes the first K tokens as
`lanyard_session=<token>` lines, or with --cookie-spread K tokens spread
evenly over all M sessions (session j * M // K for j < K), so a load
rotating over them reaches across the whole table. --group-id adds every
user to that group.

Rows are generated as they are written (only the tokens to be written out
are kept), in two transactions on SQLite (synchronous=OFF and a
larger page cache for this connection only: the file keeps its WAL mode and
is a normal database afterwards) and streamed to COPY on PostgreSQL, so a
million users and sessions load in about a minute.

This is the SQL twin of lanyard-store's bulk loader (src/bulk.rs), kept in
Python so the kit needs no extra Rust target; it prints what it loaded and how
long it took.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time

FIRST = ["Ann", "Bob", "Carol", "Dan", "Eve", "Fay", "Gus", "Hal"]
LAST = ["Lee", "Smith", "Ng", "Okafor", "Garcia", "Kim", "Novak", "Rossi"]
USER_COLS = ("email", "username", "username_lc", "first_name", "first_name_lc", "last_name",
             "last_name_lc", "state", "attributes", "created_at", "updated_at")
SESSION_COLS = ("token_hash", "user_id", "stage", "csrf_secret", "created_at", "last_seen_at",
                "expires_at", "client", "user_agent")


def user_row(i: int, now: int) -> tuple:
    first, last = FIRST[i % 8], LAST[(i // 8) % 8]
    attrs = json.dumps({"dept": [["eng", "ops", "sales"][i % 3]], "employee_id": [f"E{i:07d}"]},
                       separators=(",", ":"))
    return (f"user{i}@bulk.example.com", f"user{i}", f"user{i}", first, first.lower(), last,
            last.lower(), "active", attrs, now, now)


def cookie_indices(sessions: int, count: int, spread: bool) -> list[int]:
    """Which sessions' tokens are written out: the first `count`, or `count`
    spread evenly over all of them."""
    count = max(0, min(count, sessions))
    if not spread:
        return list(range(count))
    return [j * sessions // count for j in range(count)]


def session_rows(user_ids: list[int], now: int, keep: dict[int, str]):
    """One live, complete session per user, generated as consumed; the
    tokens of the sessions whose index is a key of `keep` are stored there."""
    expires = now + 12 * 3600 * 1000
    sha256 = hashlib.sha256
    token_hex = secrets.token_hex
    for i, uid in enumerate(user_ids):
        token = token_hex(32)
        if i in keep:
            keep[i] = token
        yield (sha256(token.encode()).hexdigest(), uid, "complete", token_hex(32),
               now, now, expires, "127.0.0.1", "bench")


def load_sqlite(path: str, a, now: int, keep: dict[int, str]) -> None:
    db = sqlite3.connect(path, timeout=30)
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA foreign_keys = ON")
    # This connection only: no fsync per commit (a crash mid-load leaves a
    # half-loaded benchmark database, which is thrown away anyway) and a
    # 256 MiB page cache, so index inserts at a million rows stay in memory.
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")
    with db:
        db.executemany(f"INSERT INTO users ({', '.join(USER_COLS)}) VALUES ({', '.join('?' * len(USER_COLS))})",
                       (user_row(i, now) for i in range(a.users)))
    ids = [r[0] for r in db.execute(
        "SELECT id FROM users WHERE email LIKE '%@bulk.example.com' ORDER BY id")]
    with db:
        if a.group_id is not None:
            db.executemany("INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)",
                           ((a.group_id, uid) for uid in ids))
        if a.sessions:
            db.executemany(
                f"INSERT INTO sessions ({', '.join(SESSION_COLS)}) VALUES ({', '.join('?' * len(SESSION_COLS))})",
                session_rows(ids[: a.sessions], now, keep))
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def psql(url: str, sql: str, stdin: bytes | None = None) -> str:
    binary = os.path.join(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "psql")
    r = subprocess.run([binary, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       input=stdin, capture_output=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"psql {sql[:60]!r}: {r.stderr.decode().strip()}")
    return r.stdout.decode()


def copy_in(url: str, sql: str, rows, chunk: int = 20000) -> None:
    """COPY ... FROM STDIN through psql, the CSV streamed as it is generated
    (psql and the server work on one chunk while the next is made)."""
    import csv
    binary = os.path.join(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "psql")
    proc = subprocess.Popen([binary, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    buf = io.StringIO()
    w = csv.writer(buf)
    n = 0
    try:
        for r in rows:
            w.writerow(r)
            n += 1
            if n % chunk == 0:
                proc.stdin.write(buf.getvalue().encode())
                buf.seek(0)
                buf.truncate()
        proc.stdin.write(buf.getvalue().encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass  # psql stopped early: its error is reported below
    err = proc.stderr.read().decode().strip()
    if proc.wait(timeout=3600) != 0:
        raise SystemExit(f"psql {sql[:60]!r}: {err}")


def load_postgres(url: str, a, now: int, keep: dict[int, str]) -> None:
    copy_in(url, f"COPY users ({', '.join(USER_COLS)}) FROM STDIN WITH (FORMAT csv)",
            (user_row(i, now) for i in range(a.users)))
    ids = [int(x) for x in psql(url, "SELECT id FROM users WHERE email LIKE '%@bulk.example.com' "
                                     "ORDER BY id").split()]
    if a.group_id is not None:
        copy_in(url, "COPY group_members (group_id, user_id) FROM STDIN WITH (FORMAT csv)",
                ((a.group_id, uid) for uid in ids))
    if a.sessions:
        copy_in(url, f"COPY sessions ({', '.join(SESSION_COLS)}) FROM STDIN WITH (FORMAT csv)",
                session_rows(ids[: a.sessions], now, keep))
    psql(url, "ANALYZE")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--sessions", type=int, default=0)
    p.add_argument("--group-id", type=int)
    p.add_argument("--cookies")
    p.add_argument("--cookie-count", type=int, default=1000)
    p.add_argument("--cookie-spread", action="store_true",
                   help="write --cookie-count tokens spread over all sessions, not the first ones")
    a = p.parse_args()
    now = int(time.time() * 1000)
    t0 = time.monotonic()
    wanted = cookie_indices(min(a.sessions, a.users), a.cookie_count, a.cookie_spread) if a.cookies else []
    keep: dict[int, str] = dict.fromkeys(wanted, "")
    if a.database.startswith("sqlite://"):
        path = a.database[len("sqlite://"):].split("?")[0]
        load_sqlite(path, a, now, keep)
    elif a.database.startswith(("postgres://", "postgresql://")):
        load_postgres(a.database, a, now, keep)
    else:
        raise SystemExit(f"not a database URL: {a.database}")
    if a.cookies:
        with open(a.cookies, "w") as f:
            for i in wanted:
                if keep[i]:
                    f.write(f"lanyard_session={keep[i]}\n")
    print(f"bulk_load: {a.users} users, {a.sessions} sessions"
          f"{'' if a.group_id is None else f', all in group {a.group_id}'} in {time.monotonic() - t0:.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
