"""Shared helpers for the Lanyard SAML interop scripts (tests/interop/).

Owns: the PASS/FAIL line format, the closing summary line, per-check time
limits, and the friendly "run setup.sh first" message. It knows nothing about
SAML; the check_*.py / make_requests.py scripts own that.

Line format (one per check):   PASS|FAIL <case> <peer> <detail>
Closing line (alone, last):    <label>: N passed, M failed
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_HINT = f"run {HERE / 'setup.sh'} first and use {HERE / '.venv/bin/python'}"


def require_imports() -> None:
    """Fail fast with a clear message when run outside the interop venv."""
    missing = []
    for mod in ("lxml", "xmlsec", "onelogin.saml2", "saml2", "cryptography"):
        try:
            __import__(mod)
        except Exception as exc:  # ImportError, or the xmlsec/lxml libxml2 mismatch error
            missing.append(f"{mod} ({type(exc).__name__}: {exc})")
    if missing:
        sys.stderr.write("interop: missing or broken Python packages: " + "; ".join(missing) + "\n")
        sys.stderr.write(f"interop: {VENV_HINT}\n")
        sys.exit(2)


def one_line(text: object, limit: int = 400) -> str:
    """Squash a message onto one line (peers put newlines and tabs in errors)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


class Report:
    """Collects PASS/FAIL lines and prints the closing summary."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.passed = 0
        self.failed = 0

    def result(self, ok: bool, case: str, peer: str, detail: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'} {case} {peer} {one_line(detail, 2000)}", flush=True)

    def ok(self, case: str, peer: str, detail: str) -> None:
        self.result(True, case, peer, detail)

    def fail(self, case: str, peer: str, detail: str) -> None:
        self.result(False, case, peer, detail)

    def finish(self) -> int:
        """Print the summary line and return the process exit status."""
        print(f"{self.label}: {self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed or not self.passed else 0


class CheckTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int):
    """Abort an in-process check that runs longer than `seconds` (main thread only)."""

    def on_alarm(signum, frame):  # noqa: ARG001
        raise CheckTimeout(f"check timed out after {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
