"""Load many users, memberships and live sessions straight into a migrated
Lanyard database, for the memory and admin-list benchmarks.

    python3 bulk_load.py --database URL --users N [--sessions M] [--group-id G]
                         [--cookies FILE --cookie-count K]

URL is sqlite://<file> (written with Python's sqlite3, the server may be
stopped or running) or postgres://... (COPY through psql). Rows match the
migrations in crates/lanyard-store/migrations and what the store writes:
emails user<i>@bulk.example.com, usernames user<i>, first names FIRST[i % 8],
last names LAST[(i // 8) % 8] (with the lower-cased copies the search uses),
two attributes, no password. With --sessions, the first M users get one live,
complete session each (token hash = SHA-256 hex of a random token, as
lanyard_core::session::token_hash); --cookies writes the first K tokens as
`lanyard_session=<token>` lines. --group-id adds every user to that group.

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


def session_rows(user_ids: list[int], now: int, tokens: list[str]) -> list[tuple]:
    rows = []
    for uid in user_ids:
        token = secrets.token_hex(32)
        tokens.append(token)
        rows.append((hashlib.sha256(token.encode()).hexdigest(), uid, "complete", secrets.token_hex(32),
                     now, now, now + 12 * 3600 * 1000, "127.0.0.1", "bench"))
    return rows


def load_sqlite(path: str, a, now: int) -> list[str]:
    db = sqlite3.connect(path, timeout=30)
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA foreign_keys = ON")
    tokens: list[str] = []
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
                session_rows(ids[: a.sessions], now, tokens))
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return tokens


def psql(url: str, sql: str, stdin: bytes | None = None) -> str:
    binary = os.path.join(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "psql")
    r = subprocess.run([binary, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       input=stdin, capture_output=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"psql {sql[:60]!r}: {r.stderr.decode().strip()}")
    return r.stdout.decode()


def csv_bytes(rows) -> bytes:
    import csv
    buf = io.StringIO()
    w = csv.writer(buf)
    for r in rows:
        w.writerow(r)
    return buf.getvalue().encode()


def load_postgres(url: str, a, now: int) -> list[str]:
    tokens: list[str] = []
    psql(url, f"COPY users ({', '.join(USER_COLS)}) FROM STDIN WITH (FORMAT csv)",
         csv_bytes(user_row(i, now) for i in range(a.users)))
    ids = [int(x) for x in psql(url, "SELECT id FROM users WHERE email LIKE '%@bulk.example.com' "
                                     "ORDER BY id").split()]
    if a.group_id is not None:
        psql(url, "COPY group_members (group_id, user_id) FROM STDIN WITH (FORMAT csv)",
             csv_bytes((a.group_id, uid) for uid in ids))
    if a.sessions:
        psql(url, f"COPY sessions ({', '.join(SESSION_COLS)}) FROM STDIN WITH (FORMAT csv)",
             csv_bytes(session_rows(ids[: a.sessions], now, tokens)))
    psql(url, "ANALYZE")
    return tokens


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--sessions", type=int, default=0)
    p.add_argument("--group-id", type=int)
    p.add_argument("--cookies")
    p.add_argument("--cookie-count", type=int, default=1000)
    a = p.parse_args()
    now = int(time.time() * 1000)
    t0 = time.monotonic()
    if a.database.startswith("sqlite://"):
        path = a.database[len("sqlite://"):].split("?")[0]
        tokens = load_sqlite(path, a, now)
    elif a.database.startswith(("postgres://", "postgresql://")):
        tokens = load_postgres(a.database, a, now)
    else:
        raise SystemExit(f"not a database URL: {a.database}")
    if a.cookies:
        with open(a.cookies, "w") as f:
            for t in tokens[: a.cookie_count]:
                f.write(f"lanyard_session={t}\n")
    print(f"bulk_load: {a.users} users, {a.sessions} sessions"
          f"{'' if a.group_id is None else f', all in group {a.group_id}'} in {time.monotonic() - t0:.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
