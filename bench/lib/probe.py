"""A latency timeline beside a benchmark: one request every --every ms for --seconds s.

    python3 probe.py --url URL --cookie 'lanyard_session=...' --seconds S [--every MS] [--slow MS]

Prints one "SLOW at=<UTC time> ms=<latency>" line for each request slower
than --slow ms (default 30), then "PROBE requests=.. slow=.. p50_ms=..
p99_ms=.. max_ms=.. max_at=..". Used to place a stall in time and set it
beside the database's log (bench/sso_throughput.sh with BENCH_PROBE=1).
Standard library only; its own keep-alive connection.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import signal
import time
import urllib.parse


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--cookie", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--every", type=float, default=20)
    p.add_argument("--slow", type=float, default=30)
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    conn = None
    lat: list[float] = []
    worst, worst_at, slow = 0.0, "", 0
    stop = time.monotonic() + a.seconds
    ended = []
    for sig in (signal.SIGINT, signal.SIGTERM):  # the caller ends it: still print the summary
        signal.signal(sig, lambda *_: ended.append(True))
    while time.monotonic() < stop and not ended:
        at = datetime.datetime.now(datetime.timezone.utc)
        t = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            conn.request("GET", u.path, headers={"Cookie": a.cookie})
            conn.getresponse().read()
        except OSError:
            conn = None
        ms = (time.perf_counter() - t) * 1000
        lat.append(ms)
        stamp = at.strftime("%H:%M:%S.%f")[:-3]
        if ms > a.slow:
            slow += 1
            print(f"SLOW at={stamp} ms={ms:.1f}", flush=True)
        if ms > worst:
            worst, worst_at = ms, stamp
        time.sleep(max(0.0, a.every / 1000 - (time.perf_counter() - t)))
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(len(lat) * q / 100))] if lat else 0.0  # noqa: E731
    print(f"PROBE requests={len(lat)} slow={slow} p50_ms={pct(50):.2f} p99_ms={pct(99):.2f} "
          f"max_ms={worst:.1f} max_at={worst_at}")


if __name__ == "__main__":
    main()
