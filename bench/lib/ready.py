"""Start a server and time it to ready.

    python3 ready.py URL LOGFILE TIMEOUT_S -- CMD [ARGS...]

Starts CMD (stdout and stderr appended to LOGFILE), polls URL over a raw
socket every millisecond until it answers 200, and prints "PID MS": the
server's PID (left running; the caller stops it by that PID) and the time from
just before exec to the first 200. Exits 1 (after stopping CMD) if CMD exits
or TIMEOUT_S passes first.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit


def ok(host: str, port: int, path: str) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
            return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def main() -> int:
    url, log, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    u = urlsplit(url)
    with open(log, "ab") as out:
        t0 = time.monotonic_ns()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    while True:
        if ok(u.hostname, u.port, u.path or "/"):
            ms = (time.monotonic_ns() - t0) / 1e6
            print(proc.pid, f"{ms:.0f}")
            return 0
        if proc.poll() is not None:
            print(f"server exited with status {proc.returncode}", file=sys.stderr)
            return 1
        if (time.monotonic_ns() - t0) / 1e9 > timeout:
            proc.terminate()
            print(f"not ready after {timeout} s", file=sys.stderr)
            return 1
        time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main())
