"""PostgreSQL restarted under SSO load: 503 with Retry-After while it is away, service again within 3 s.

Owns the database-restart part of issue #27. One `lanyard serve` on
PostgreSQL (durable settings; run.sh's throwaway server, stopped and started
with $LANYARD_TEST_POSTGRES_CONTROL), SSO load from 4 signed-in browsers and
a /readyz poller. For each of `pg_ctl stop -m fast` and `-m immediate`: the
database is stopped for OUTAGE seconds, then started. Checks:

  - no response is a 500 (or any status but 200 and 503), none is partial:
    every 503 is the whole "Temporarily unavailable" page with Retry-After;
  - every request that started while the database was away was answered
    (503) within 2 s;
  - /readyz said 503 while it was away;
  - SSO answered 200 again within 3 s of the database accepting
    connections, without restarting Lanyard, and stayed up.

Usage: pg_restart.py [--outage SECONDS]
Prints PASS/FAIL lines and "pg-restart: N passed, M failed".
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import LOAD_ENV, LoadError, postgres_database, seed, tear_down  # noqa: E402

from _common import Report, one_line  # noqa: E402
from lanyard_server import LanyardServer, ServerError, exit_on_sigterm  # noqa: E402


class Recorder:
    """(start, end, status, retry-after, body ok) of every request, per thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sso: list[tuple[float, float, int, str | None, bool]] = []
        self.ready: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def sso_loop(self, srv: LanyardServer, br, path: str) -> None:
        while not self.stop.is_set():
            br.history.clear()
            t0 = time.monotonic()
            try:
                page = br.get(srv.url(path), timeout=10)
                status, retry, body = page.status, page.headers.get("retry-after"), page.body
            except (OSError, http.client.HTTPException) as exc:
                status, retry, body = 0, None, str(exc).encode()
            t1 = time.monotonic()
            whole = (status == 200 and b"</form>" in body and b'name="SAMLResponse"' in body) or (
                status == 503 and b"Temporarily unavailable" in body and body.rstrip().endswith(b"</html>"))
            with self.lock:
                self.sso.append((t0, t1, status, retry, whole))
            if status != 200:
                time.sleep(0.05)

    def ready_loop(self, srv: LanyardServer) -> None:
        while not self.stop.is_set():
            try:
                status = srv.get("/readyz", timeout=5)[0]
            except (OSError, http.client.HTTPException):
                status = 0
            with self.lock:
                self.ready.append((time.monotonic(), status))
            time.sleep(0.1)


def control(*args: str) -> float:
    """Run the PostgreSQL control script; the monotonic time it returned."""
    res = subprocess.run([os.environ["LANYARD_TEST_POSTGRES_CONTROL"], *args], capture_output=True, text=True,
                         timeout=120)
    if res.returncode != 0:
        raise ServerError(f"control.sh {' '.join(args)} failed: {one_line(res.stderr)}")
    return time.monotonic()


def main() -> int:
    exit_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outage", type=float, default=3.0)
    args = ap.parse_args()
    report = Report("pg-restart")
    case = "pg-restart"
    if not os.environ.get("LANYARD_TEST_POSTGRES_CONTROL"):
        report.fail(case, "setup", "LANYARD_TEST_POSTGRES_CONTROL is not set (run.sh starts a PostgreSQL)")
        return report.finish()
    url = postgres_database(report, case)
    if url is None:
        return report.finish()
    srv = None
    failed = True
    try:
        srv = LanyardServer(database=url, extra_env=LOAD_ENV).start()
        seeded = seed(srv, users=4)
        for mode in ("fast", "immediate"):
            rec = Recorder()
            threads = [threading.Thread(target=rec.sso_loop, args=(srv, br, seeded.sso_path), daemon=True)
                       for br in seeded.browsers]
            threads.append(threading.Thread(target=rec.ready_loop, args=(srv,), daemon=True))
            for t in threads:
                t.start()
            time.sleep(1.5)
            went = time.monotonic()
            gone = control("stop", mode)
            time.sleep(args.outage)
            back_at = time.monotonic()
            back = control("start")
            time.sleep(5.0)
            rec.stop.set()
            for t in threads:
                t.join(timeout=30)
            judge(report, f"{case}-{mode}", rec, went, gone, back_at, back, srv)
        failed = report.failed > 0
    except (ServerError, LoadError, OSError) as exc:
        report.fail(case, "lanyard", f"{type(exc).__name__}: {one_line(exc, 1500)}")
    finally:
        tear_down(case, failed, (srv,), (url,))
    return report.finish()


def judge(report: Report, case: str, rec: Recorder, went: float, gone: float, back_at: float, back: float,
          srv: LanyardServer) -> None:
    """went: stop asked; gone: stop returned; back_at: start asked; back: start returned (accepting)."""
    sso = rec.sso
    statuses: dict[int, int] = {}
    for _, _, status, _, _ in sso:
        statuses[status] = statuses.get(status, 0) + 1
    wrong = [s for s in statuses if s not in (200, 503)]
    partial = sum(1 for r in sso if not r[4] and r[2] in (200, 503))
    no_retry = sum(1 for r in sso if r[2] == 503 and r[3] is None)
    report.result(not wrong and not partial and no_retry == 0 and statuses.get(503, 0) > 0, case, "statuses",
                  f"SSO answers by status {statuses}; every 503 whole, with Retry-After"
                  if not wrong and not partial and not no_retry else
                  f"SSO answers by status {statuses}: {partial} partial, {no_retry} 503s without Retry-After")
    away = [r for r in sso if gone <= r[0] < back_at]
    slow = [round(r[1] - r[0], 2) for r in away if r[1] - r[0] > 2.0]
    report.result(bool(away) and not slow, case, "fast-503",
                  f"{len(away)} requests while the database was away, slowest answered in "
                  f"{max((r[1] - r[0] for r in away), default=0):.2f} s" if away and not slow
                  else f"requests while away: {len(away)}, answered after more than 2 s: {slow[:10]}")
    ready_away = [s for t, s in rec.ready if gone + 0.5 <= t < back_at]
    report.result(bool(ready_away) and all(s == 503 for s in ready_away), case, "readyz",
                  f"/readyz while the database was away: {sorted(set(ready_away))} over {len(ready_away)} polls")
    first_ok = next((r[1] for r in sso if r[0] >= back and r[2] == 200), None)
    later_bad = [r[2] for r in sso if first_ok is not None and r[0] > first_ok and r[2] != 200]
    recovered = first_ok is not None and first_ok - back <= 3.0 and not later_bad
    report.result(recovered, case, "recovery",
                  f"first SSO 200 {first_ok - back:.2f} s after PostgreSQL accepted connections again (stop took "
                  f"{gone - went:.2f} s), no failure after it; server pid {srv.proc.pid} never restarted"
                  if recovered else f"after the database came back: first 200 at "
                                    f"{None if first_ok is None else round(first_ok - back, 2)} s, failures after "
                                    f"it: {later_bad[:10]}")


if __name__ == "__main__":
    sys.exit(main())
