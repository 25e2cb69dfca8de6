"""Drive a live `lanyard serve` for the interop and end-to-end scripts.

Owns: starting one throwaway Lanyard server (real binary, fresh SQLite
database in a temp dir, an administrator API key), talking to it over HTTP
with the standard library only, and stopping it (by its PID) and cleaning up.
It knows nothing about SAML; the check_*.py scripts own that.

    from lanyard_server import LanyardServer

    with LanyardServer() as srv:            # builds, migrates, starts, waits
        status, headers, body = srv.api("POST", "/api/v1/applications",
                                        json={"template": "aws-iam", "label": "Amazon AWS"})
        app = srv.json(body)
        srv.get(app["metadata_url"])          # any URL, no Authorization header
        srv.cli("admin", "create", "--email", "a@example.com", input="pass phrase\n")

Attributes once started: base_url (LANYARD_BASE_URL: the `base_url` argument,
default "http://127.0.0.1:PORT"), direct_url ("http://127.0.0.1:PORT", where
url()/request() send relative paths), port, api_key
(administrator), workdir (temp dir: lanyard.db, server.log), database
("sqlite://..."), binary, proc (subprocess.Popen).

Several nodes on one database (what a PostgreSQL deployment does):

    url = create_postgres_database(os.environ["LANYARD_TEST_POSTGRES"])  # fresh db
    with LanyardServer(database=url) as a, LanyardServer(database=url) as b:
        ...                                  # same users, apps and sessions
    drop_postgres_database(url)

`database` may be any URL `lanyard serve --database` takes; each node runs
`migrate` (idempotent) and makes its own API key, unless given one
(`api_key=`: a key the database already holds, e.g. after a restore, where a
new key would add an audit event). Browsers with a cookie jar
live in browser.py.

Environment:
  LANYARD_BIN           use this binary instead of `cargo build -q -p lanyard`
                        + target/debug/lanyard (no build is run then)
  LANYARD_SERVER_KEEP=1 keep the temp dir (also kept when start-up fails)
The server gets a clean environment: inherited LANYARD_* variables (e.g.
LANYARD_CONFIG) are dropped so the caller's settings cannot leak in.

Scripts should call exit_on_sigterm() first, so a SIGTERM still runs the
clean-up. Run directly (`python3 lanyard_server.py`) for a smoke test: start, check
/healthz and an authenticated call, stop.
"""

from __future__ import annotations

import json as _json
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

Response = tuple[int, dict[str, str], bytes]


class ServerError(RuntimeError):
    """The server could not be built, set up, started or stopped."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def locate_binary(build: bool = True, build_timeout: int = 3600) -> Path:
    """$LANYARD_BIN if set; else `cargo build -q -p lanyard` and target/debug/lanyard."""
    env_bin = os.environ.get("LANYARD_BIN")
    if env_bin:
        path = Path(env_bin).resolve()
        if not os.access(path, os.X_OK):
            raise ServerError(f"LANYARD_BIN={env_bin} is not an executable file")
        return path
    if build:
        try:
            res = subprocess.run(["cargo", "build", "-q", "-p", "lanyard"], cwd=REPO,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=build_timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServerError(f"cargo build -q -p lanyard failed: {exc}") from exc
        if res.returncode != 0:
            tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-30:])
            raise ServerError(f"cargo build -q -p lanyard failed (exit {res.returncode}):\n{tail}")
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    path = target / "debug" / "lanyard"
    if not os.access(path, os.X_OK):
        raise ServerError(f"{path} not found (build it, or set LANYARD_BIN)")
    return path


def _psql() -> str:
    for cand in (os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin") + "/psql", shutil.which("psql")):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise ServerError("psql not found (install postgresql-15 or set PG_BIN)")


def _psql_run(server_url: str, sql: str) -> None:
    res = subprocess.run([_psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server_url, "-c", sql],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise ServerError(f"psql {sql!r} failed: {(res.stderr or res.stdout).strip()}")


def create_postgres_database(server_url: str, prefix: str = "lanyard_e2e") -> str:
    """CREATE a fresh database on the PostgreSQL server `server_url` (a superuser URL
    such as $LANYARD_TEST_POSTGRES) and return its URL (same server, new path)."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    name = f"{prefix}_{secrets.token_hex(6)}"
    _psql_run(server_url, f'CREATE DATABASE "{name}"')
    u = urlsplit(server_url)
    return urlunsplit((u.scheme, u.netloc, "/" + name, u.query, ""))


def drop_postgres_database(database_url: str) -> None:
    """DROP a database made by create_postgres_database (connects to `postgres`)."""
    from urllib.parse import urlsplit, urlunsplit

    u = urlsplit(database_url)
    name = u.path.lstrip("/")
    _psql_run(urlunsplit((u.scheme, u.netloc, "/postgres", u.query, "")),
              f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def exit_on_sigterm() -> None:
    """Turn SIGTERM (e.g. run.sh's `timeout`) into SystemExit, so `with LanyardServer()`
    blocks still stop the server and remove the temp dir. Call from a script's main."""

    def on_term(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand 3xx responses back to the caller instead of following them (SSO tests need Location)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002
        return None


# The secrets key of a PostgreSQL database shared by several test nodes (every
# node must hold the same key; a SQLite database gets its own key file next to
# it). Test-only: 32 fixed bytes.
TEST_SECRETS_KEY = base64.b64encode(bytes(range(32))).decode("ascii")


class LanyardServer:
    """One `lanyard serve` on 127.0.0.1 with a fresh SQLite database; a context manager."""

    def __init__(self, *, binary: str | Path | None = None, build: bool = True,
                 base_url: str | None = None, log: str = "info", keep: bool | None = None,
                 start_timeout: float = 60.0, stop_timeout: float = 20.0,
                 extra_env: dict[str, str] | None = None, database: str | None = None,
                 api_key: str | None = None) -> None:
        self._database_arg = database
        self._api_key_arg = api_key
        self._binary_arg = Path(binary) if binary else None
        self._build = build
        self._base_url_arg = base_url
        self.log = log
        self.keep = keep if keep is not None else os.environ.get("LANYARD_SERVER_KEEP") == "1"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.extra_env = dict(extra_env or {})
        self.binary: Path | None = None
        self.workdir: Path | None = None
        self.database = ""
        self.port = 0
        self.base_url = ""
        self.direct_url = ""
        self.api_key = ""
        self.proc: subprocess.Popen | None = None
        self._log_file = None
        self._opener = urllib.request.build_opener(_NoRedirect)

    # --- lifecycle -----------------------------------------------------------

    def __enter__(self) -> "LanyardServer":
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop(failed=exc_type is not None)

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "server.log"

    def env(self) -> dict[str, str]:
        """The environment every lanyard command of this server runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANYARD_")}
        env.update({
            "LANYARD_DATABASE": self.database,
            "LANYARD_LISTEN": f"127.0.0.1:{self.port}",
            "LANYARD_BASE_URL": self.base_url,
            "LANYARD_LOG": self.log,
            "NO_COLOR": "1",
        })
        if self.database.startswith("postgres"):
            env["LANYARD_SECRETS_KEY"] = TEST_SECRETS_KEY
        env.update(self.extra_env)
        return env

    def start(self) -> "LanyardServer":
        """Build/locate, migrate, create the API key, serve, wait for /healthz."""
        if self.proc is not None:
            raise ServerError("already started")
        self.binary = self._binary_arg.resolve() if self._binary_arg else locate_binary(self._build)
        self.workdir = Path(tempfile.mkdtemp(prefix="lanyard-server."))
        self.database = self._database_arg or f"sqlite://{self.workdir / 'lanyard.db'}"
        try:
            self.port = free_port()
            self._set_base_url()
            self.cli("migrate")
            self.api_key = self._api_key_arg or self.cli("apikey", "create", "--name", "interop",
                                                         "--role", "administrator").strip()
            if not self.api_key or "\n" in self.api_key:
                raise ServerError(f"apikey create printed {self.api_key!r}, expected the key alone")
            for attempt in range(3):
                if attempt:  # the port was taken between free_port() and bind
                    self.port = free_port()
                    self._set_base_url()
                if self._spawn_and_wait():
                    return self
            raise ServerError(f"lanyard serve could not bind a port after 3 tries; log:\n{self.log_tail()}")
        except BaseException:
            self.stop(failed=True)
            raise

    def _set_base_url(self) -> None:
        self.direct_url = f"http://127.0.0.1:{self.port}"
        self.base_url = (self._base_url_arg or self.direct_url).rstrip("/")

    def _spawn_and_wait(self) -> bool:
        """Start `serve`; True once /healthz answers, False if the port was taken."""
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([str(self.binary), "serve"], cwd=self.workdir, env=self.env(),
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                self._log_file.close()
                self._log_file = None
                if "cannot listen on" in self.log_tail():
                    return False
                raise ServerError(f"lanyard serve exited with status {rc} during start-up; log:\n{self.log_tail()}")
            try:
                status, _, body = self.get("/healthz", timeout=2)
                if status == 200:
                    return True
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise ServerError(f"/healthz did not answer 200 within {self.start_timeout}s; log:\n{self.log_tail()}")

    def stop(self, failed: bool = False) -> int | None:
        """SIGTERM the server by PID, wait, SIGKILL only if it does not exit; clean up.

        Returns the server's exit status (None if it was not running). The
        temp dir is kept (and its path printed to stderr) when `keep` is set
        or `failed` is true.
        """
        rc = None
        if self.proc is not None:
            proc, self.proc = self.proc, None
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    sys.stderr.write(f"lanyard_server: pid {proc.pid} ignored SIGTERM for "
                                     f"{self.stop_timeout}s; killing it\n")
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
            rc = proc.returncode
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.workdir is not None:
            if self.keep or failed:
                sys.stderr.write(f"lanyard_server: work dir kept: {self.workdir}\n")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
                self.workdir = None
        return rc

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except (OSError, AssertionError):
            return "(no log)"

    # --- the binary's other commands -------------------------------------------

    def cli(self, *args: str, input: str | None = None, check: bool = True,  # noqa: A002
            timeout: float = 120) -> str:
        """Run `lanyard ARGS` against this server's database; return stdout.

        With check (default) a non-zero exit raises ServerError naming stderr.
        """
        assert self.binary is not None and self.workdir is not None
        res = subprocess.run([str(self.binary), *args], cwd=self.workdir, env=self.env(),
                             input=input if input is not None else "",
                             capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            out = (res.stderr.strip() + "\n" + res.stdout.strip()).strip() or "(no output)"
            raise ServerError(f"lanyard {' '.join(args)} exited {res.returncode}: {out}")
        return res.stdout

    # --- HTTP --------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """A full URL as is; a path on this process (direct_url, not base_url: several
        nodes may share one public base URL)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.direct_url + ("" if path_or_url.startswith("/") else "/") + path_or_url

    def request(self, method: str, path_or_url: str, *, json: object = None, data: bytes | str | None = None,
                headers: dict[str, str] | None = None, auth: bool = False, timeout: float = 60) -> Response:
        """One HTTP request; returns (status, headers with lower-case names, body bytes).

        Never raises for an HTTP status (4xx/5xx/3xx come back as values; 3xx
        are not followed). `json` is serialised with Content-Type
        application/json; `data` is sent as is. `auth` adds the Bearer key.
        """
        hdrs = {"Accept": "*/*"}
        body = None
        if json is not None:
            body = _json.dumps(json).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif data is not None:
            body = data.encode("utf-8") if isinstance(data, str) else data
        if auth:
            hdrs["Authorization"] = f"Bearer {self.api_key}"
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url(path_or_url), data=body, method=method.upper(), headers=hdrs)
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()

    def api(self, method: str, path: str, json: object = None, data: bytes | str | None = None,
            headers: dict[str, str] | None = None) -> Response:
        """An authenticated (administrator key) request; `path` like /api/v1/users or a full URL."""
        return self.request(method, path, json=json, data=data, headers=headers, auth=True)

    def get(self, path_or_url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> Response:
        """An unauthenticated GET (public routes: /healthz, metadata, SSO endpoints)."""
        return self.request("GET", path_or_url, headers=headers, timeout=timeout)

    @staticmethod
    def json(body: bytes) -> object:
        return _json.loads(body.decode("utf-8"))


def _smoke() -> int:
    exit_on_sigterm()
    with LanyardServer() as srv:
        status, _, body = srv.get("/healthz")
        print(f"healthz {status} {body[:200]!r}")
        status, _, body = srv.api("GET", "/api/v1/users")
        print(f"GET /api/v1/users {status} {body[:200]!r}")
        status, _, _ = srv.request("GET", "/api/v1/users")
        print(f"GET /api/v1/users without key {status}")
        print(f"server {srv.base_url} pid {srv.proc.pid}, work dir {srv.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(_smoke())
