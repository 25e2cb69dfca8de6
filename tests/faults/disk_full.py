"""The SQLite database's disk fills up under a running server: clear errors, SSO goes on, nothing lost, recovery.

Owns the disk-full part of issue #27. The script runs itself in a private
mount namespace (`unshare -m` as root, `unshare -Urm` otherwise: a user
namespace where it may mount), mounts a small tmpfs there, and keeps the
SQLite database on it (the server's log stays outside). After seeding, a
file fills every free byte. Checks:

  - admin writes through the API and the admin portal fail with 503,
    Retry-After and a message that says the disk is full; never a 500;
  - a new sign-in (it must store a session) fails the same clear way;
  - signed-in users keep getting SSO (it writes nothing on its path: the
    session's last-seen time and the audit events are written behind it);
  - when space returns the same server takes writes again (no restart),
    everything acknowledged is there, and PRAGMA integrity_check says ok.

Usage: disk_full.py
Prints PASS/FAIL lines and "disk-full: N passed, M failed".
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import (LOAD_ENV, PASSWORD, LoadError, admin_sign_in, is_sso_post, seed, sign_in,  # noqa: E402
                      tear_down)

from _common import Report, one_line  # noqa: E402
from browser import Browser  # noqa: E402
from lanyard_server import LanyardServer, ServerError, exit_on_sigterm  # noqa: E402

INSIDE = "LANYARD_FAULTS_IN_NAMESPACE"
ADMIN = ("root@example.com", "a long admin passphrase")
DISK_MB = 16


def reexec_in_namespace() -> int:
    cmd = ["unshare", "-m", "--propagation", "private"] if os.geteuid() == 0 else ["unshare", "-Urm"]
    env = dict(os.environ, **{INSIDE: "1"})
    return subprocess.run([*cmd, sys.executable, __file__, *sys.argv[1:]], env=env).returncode


def fill(path: Path) -> int:
    """Write zeros to `path` until the filesystem is full; the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
                written += len(chunk)
            except OSError:
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    return written


def create_user(srv: LanyardServer, name: str) -> tuple[int, dict, dict]:
    status, headers, raw = srv.api("POST", "/api/v1/users",
                                   json={"email": f"{name}@example.com", "username": name, "password": PASSWORD})
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {"raw": raw[:200].decode("utf-8", "replace")}
    return status, headers, body


def main() -> int:
    exit_on_sigterm()
    if os.environ.get(INSIDE) != "1":
        return reexec_in_namespace()
    report = Report("disk-full")
    case = "disk-full"
    work = Path(tempfile.mkdtemp(prefix="lanyard-disk-full."))
    disk = work / "disk"
    disk.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(disk)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        report.fail(case, "setup", f"cannot mount a tmpfs in a private namespace: {one_line(res.stderr)}")
        return report.finish()
    srv = None
    failed = True
    try:
        srv = LanyardServer(database=f"sqlite://{disk / 'lanyard.db'}", extra_env=LOAD_ENV).start()
        srv.cli("admin", "create", "--email", ADMIN[0], input=ADMIN[1] + "\n")
        seeded = seed(srv, users=3)
        admin = Browser("admin")
        admin_sign_in(srv, admin, *ADMIN)
        acked = [create_user(srv, f"before-{i}")[2]["id"] for i in range(20)]
        filled = fill(disk / "filler")
        report.ok(case, "setup", f"SQLite database on a {DISK_MB} MiB tmpfs; {filled} bytes of filler left "
                                 f"{os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize} bytes free")

        # Writes until they fail (the WAL may still have room for a few).
        answers: dict[int, int] = {}
        refusal = None
        for i in range(2000):
            status, headers, body = create_user(srv, f"full-{i}")
            answers[status] = answers.get(status, 0) + 1
            if status == 201:
                acked.append(body["id"])
                continue
            refusal = (status, headers.get("retry-after"), body)
            if answers.get(status, 0) >= 5:
                break
        clear = (refusal is not None and refusal[0] == 503 and refusal[1] == "2"
                 and refusal[2].get("error") == "unavailable" and "disk is full" in refusal[2].get("message", ""))
        report.result(clear and set(answers) <= {201, 503}, case, "api-write",
                      f"API writes on a full disk: statuses {answers}; the refusal: {refusal}")
        page = admin.get(srv.url("/admin/groups/new"))
        form = next((f for f in page.forms() if urllib.parse.urlsplit(f.action).path == "/admin/groups/new"), None)
        done = admin.submit(form, {"name": "on-a-full-disk"}) if form else page
        report.result(done.status == 503 and "disk is full" in done.text and done.headers.get("retry-after") == "2",
                      case, "page-write", f"admin portal write on a full disk: {done.status} "
                      f"{one_line(done.text[done.text.find('<h1'):][:200] if '<h1' in done.text else done.text[:200])}")
        fresh = Browser("new-sign-in")
        page = sign_in(srv, fresh, seeded.users[0][1])
        report.result(page.status == 503 and "disk is full" in page.text, case, "sign-in",
                      f"a new sign-in on a full disk (it must store a session): {page.describe()}")
        sso = [is_sso_post(br.get(srv.url(seeded.sso_path))) for br in seeded.browsers for _ in range(10)]
        portal = [br.get(srv.url("/portal")).status for br in seeded.browsers]
        report.result(all(sso) and set(portal) == {200}, case, "sso",
                      f"signed-in users on a full disk: {sum(sso)}/{len(sso)} SSO responses, portal {portal}")

        (disk / "filler").unlink()
        recovered = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status, _, body = create_user(srv, f"after-{time.monotonic_ns()}")
            if status == 201:
                recovered = body["id"]
                acked.append(recovered)
                break
            time.sleep(0.2)
        page = sign_in(srv, Browser("after"), seeded.users[1][1])
        report.result(recovered is not None and page.url.endswith("/portal"), case, "recovery",
                      f"with space back, the same server (pid {srv.proc.pid}) takes writes and sign-ins again"
                      if recovered else "writes still fail 10 s after space returned")
        missing = [u for u in acked if srv.api("GET", f"/api/v1/users/{u}")[0] != 200]
        con = sqlite3.connect(disk / "lanyard.db")
        try:
            check = con.execute("PRAGMA integrity_check").fetchall()
        finally:
            con.close()
        report.result(not missing and check == [("ok",)], case, "nothing-lost",
                      f"all {len(acked)} acknowledged users present; PRAGMA integrity_check: {check[:3]}")
        failed = report.failed > 0
    except (ServerError, LoadError, OSError) as exc:
        report.fail(case, "lanyard", f"{type(exc).__name__}: {one_line(exc, 1500)}")
    finally:
        tear_down(case, failed, (srv,))
        subprocess.run(["umount", str(disk)], capture_output=True)
        if not failed:
            import shutil
            shutil.rmtree(work, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
