"""The load and the bookkeeping every fault and operations script shares.

Owns: seeding a directory on a live `lanyard serve` (a group, users with
passwords, an AWS IAM app bound to the group with an entitlement), the load
threads (SSO of signed-in users, password sign-ins, admin writes through the
API), what each thread saw (every acknowledged write with its id and the
moment it was acknowledged, every failure by status), and reading a server's
whole state back through the API for comparisons. The harness that starts
servers is tests/interop/lanyard_server.py; the cookie-jar browser is
tests/interop/browser.py. Standard library only (plus those two).

    seeded = seed(srv, users=8)
    load = Load(lambda: srv, seeded)          # a function: the node to use now
    load.start(sso=2, sign_ins=1, writers=2)
    ...
    load.stop()
    load.acked("user")                         # [(user id, email, t)]
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "interop"))

from browser import Browser, Page  # noqa: E402
from lanyard_server import (LanyardServer, ServerError, create_postgres_database,  # noqa: E402
                            drop_postgres_database)

PASSWORD = "correct horse battery staple"
ACCOUNT = "123456789012"
APPS = "/api/v1/applications"
# Every load run lifts the per-address sign-in limit: all its browsers come
# from 127.0.0.1.
LOAD_ENV = {"LANYARD_LOGIN_ATTEMPTS_PER_MINUTE": "1000000"}


class LoadError(RuntimeError):
    """A step of the set-up failed (the load itself records, never raises)."""


def postgres_database(report, case: str) -> str | None:
    """A fresh database on $LANYARD_TEST_POSTGRES (run.sh starts the server), or None after a FAIL
    line saying why."""
    server = os.environ.get("LANYARD_TEST_POSTGRES")
    if not server:
        report.fail(case, "setup", "LANYARD_TEST_POSTGRES is not set (run.sh starts a PostgreSQL)")
        return None
    return create_postgres_database(server)


def tear_down(case: str, failed: bool, servers, databases=()) -> None:
    """Stops the servers (printing each one's log tail first when the case failed; their temp dirs
    are then kept) and drops the PostgreSQL databases."""
    for srv in servers:
        if srv is None:
            continue
        if failed and srv.proc is not None:
            print(f"# {case}: log of {srv.direct_url}:\n" + srv.log_tail(15))
        srv.stop(failed=failed)
    for url in databases:
        try:
            drop_postgres_database(url)
        except ServerError as exc:
            print(f"# {case}: could not drop {url}: {exc}")


def call(srv: LanyardServer, method: str, path: str, want: int, body: object = None) -> object:
    """An administrator API call that must answer `want`; its JSON body (or None)."""
    status, _, raw = srv.api(method, path, json=body)
    if status != want:
        raise LoadError(f"{method} {path} answered {status}, expected {want}: {raw[:300]!r}")
    return json.loads(raw) if raw else None


@dataclass
class Seeded:
    group_id: int
    app: dict
    users: list[tuple[int, str]]  # (id, email)
    browsers: list[Browser] = field(default_factory=list)  # signed in, one per user

    @property
    def sso_path(self) -> str:
        return f"/saml2/{self.app['slug']}"


def sign_in(srv: LanyardServer, br: Browser, login: str, password: str = PASSWORD) -> Page:
    """The user's way in: /portal, the sign-in form, submitted, redirects followed."""
    page = br.open(srv.url("/portal"))
    form = next((f for f in page.forms()
                 if urllib.parse.urlsplit(f.action).path == "/login" and "password" in f.fields), None)
    if form is None:
        raise LoadError(f"no sign-in form at /portal: {page.describe()}")
    return br.submit(form, {"login": login, "password": password}, follow=True)


def admin_sign_in(srv: LanyardServer, br: Browser, email: str, password: str) -> Page:
    """An admin's way in (no second factor: the scripts run with the default
    require_admin_second_factor = false)."""
    page = br.open(srv.url("/admin/login"))
    form = next((f for f in page.forms() if urllib.parse.urlsplit(f.action).path == "/admin/login"), None)
    if form is None:
        raise LoadError(f"no admin sign-in form: {page.describe()}")
    done = br.submit(form, {"email": email, "password": password}, follow=True)
    if done.status != 200 or "/admin/login" in done.url:
        raise LoadError(f"{email} could not sign in to the admin portal: {done.describe()}")
    return done


def is_sso_post(page: Page) -> bool:
    return page.status == 200 and b'name="SAMLResponse"' in page.body


def seed(srv: LanyardServer, users: int = 8, prefix: str = "load", front=None) -> Seeded:
    """A group, `users` users in it (signed in, one browser each), an AWS IAM app for the group.
    `front`: where the users sign in (anything with `url(path)`, e.g. a load balancer in front of
    `srv` and the nodes' public base URL); default `srv`."""
    group = call(srv, "POST", "/api/v1/groups", 201, {"name": f"{prefix}-engineers"})
    app = call(srv, "POST", APPS, 201, {"template": "aws-iam", "label": f"AWS {prefix}"})
    call(srv, "PUT", f"{APPS}/{app['id']}/groups/{group['id']}", 204)
    call(srv, "PUT", f"{APPS}/{app['id']}/entitlements", 200,
         [{"group_id": group["id"], "account_id": ACCOUNT, "role_name": "Admin", "provider_name": "Lanyard"}])
    seeded = Seeded(group["id"], app, [])
    for i in range(users):
        email = f"{prefix}-user{i}@example.com"
        user = call(srv, "POST", "/api/v1/users", 201,
                    {"email": email, "username": f"{prefix}-user{i}", "password": PASSWORD})
        call(srv, "PUT", f"/api/v1/groups/{group['id']}/members/{user['id']}", 204)
        seeded.users.append((user["id"], email))
        br = Browser(f"{prefix}-user{i}")
        page = sign_in(front or srv, br, email)
        if page.status != 200 or not page.url.endswith("/portal"):
            raise LoadError(f"{email} could not sign in: {page.describe()}")
        seeded.browsers.append(br)
    return seeded


class Load:
    """Load threads against whichever node `node()` returns at each request.

    Records, per kind ("user", "group", "member", "sign_in", "sso"), the
    acknowledged operations (key, monotonic time of the acknowledgement) and
    the failures by status (0: no answer). Keys: user -> (id, email);
    group -> (id, name); member -> (group id, user id); sign_in -> (email,
    session cookie); sso -> None.
    """

    def __init__(self, node, seeded: Seeded, prefix: str = "w") -> None:
        self.node = node
        self.seeded = seeded
        self.prefix = prefix
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._acked: dict[str, list[tuple[object, float]]] = {}
        self.failures: Counter = Counter()  # (kind, status) -> count
        self.failure_samples: list[str] = []
        self._seq = 0

    # --- recording -------------------------------------------------------------

    def _ack(self, kind: str, key: object) -> None:
        with self._lock:
            self._acked.setdefault(kind, []).append((key, time.monotonic()))

    def _fail(self, kind: str, status: int, detail: str) -> None:
        with self._lock:
            self.failures[(kind, status)] += 1
            if len(self.failure_samples) < 20:
                self.failure_samples.append(f"{kind} {status}: {detail[:200]}")

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def acked(self, kind: str, before: float | None = None) -> list:
        """The keys of acknowledged operations of `kind` (acknowledged before `before`, if given)."""
        with self._lock:
            return [k for k, t in self._acked.get(kind, []) if before is None or t < before]

    def count(self, kind: str) -> int:
        with self._lock:
            return len(self._acked.get(kind, []))

    def failed(self) -> int:
        with self._lock:
            return sum(self.failures.values())

    # --- the threads -----------------------------------------------------------

    def start(self, sso: int = 2, sign_ins: int = 1, writers: int = 1,
              admin: Browser | None = None) -> "Load":
        """`admin`: a signed-in admin browser; one more thread then creates groups through the
        admin portal's form (acknowledged as "page_group": (id, name))."""
        if admin is not None:
            self._spawn(self._page_writes, admin)
        for i in range(sso):
            self._spawn(self._sso, self.seeded.browsers[i % len(self.seeded.browsers)])
        for i in range(sign_ins):
            # Each thread its own users: a sign-in in flight when the server
            # is killed keeps the attempt it claimed (on purpose: a crash must
            # not hand out free guesses) until that user's next success from
            # this address, so two threads signing one user in at once right
            # after a kill could meet the per-address limit (3) and get 429.
            mine = self.seeded.users[i::sign_ins] or self.seeded.users
            self._spawn(self._sign_ins, mine)
        for _ in range(writers):
            self._spawn(self._writes)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=self._guard, args=(target, *args), daemon=True)
        self._threads.append(t)
        t.start()

    def _guard(self, target, *args) -> None:
        while not self._stop.is_set():
            try:
                target(*args)
            except (OSError, http.client.HTTPException) as exc:  # no answer, or half of one
                self._fail(target.__name__.strip("_"), 0, f"{type(exc).__name__}: {exc}")
                time.sleep(0.05)

    def _sso(self, br: Browser) -> None:
        br.history.clear()  # a long run must not keep every page
        page = br.get(self.node().url(self.seeded.sso_path))
        if is_sso_post(page):
            self._ack("sso", None)
        else:
            self._fail("sso", page.status, page.text[:200])

    def _sign_ins(self, users: list) -> None:
        _, email = users[self._next() % len(users)]
        br = Browser("sign-in")
        page = sign_in(self.node(), br, email)
        if page.status == 200 and page.url.endswith("/portal") and br.cookie("lanyard_session"):
            self._ack("sign_in", (email, br.cookie("lanyard_session")))
        else:
            self._fail("sign_in", page.status, page.describe())

    def _page_writes(self, br: Browser) -> None:
        br.history.clear()
        name = f"{self.prefix}-page-{self._next()}"
        page = br.get(self.node().url("/admin/groups/new"))
        form = next((f for f in page.forms()
                     if urllib.parse.urlsplit(f.action).path == "/admin/groups/new"), None)
        if form is None:
            self._fail("page_group", page.status, page.describe())
            return
        done = br.submit(form, {"name": name})
        path = urllib.parse.urlsplit(done.location or "").path
        if done.status == 303 and path.startswith("/admin/groups/"):
            self._ack("page_group", (int(path.rsplit("/", 1)[1]), name))
        else:
            self._fail("page_group", done.status, done.text[:200])

    def _writes(self) -> None:
        n = self._next()
        srv = self.node()
        name = f"{self.prefix}-{n}"
        status, _, raw = srv.api("POST", "/api/v1/users",
                                 json={"email": f"{name}@example.com", "username": name, "password": PASSWORD})
        if status != 201:
            self._fail("user", status, raw.decode("utf-8", "replace"))
            return
        user = json.loads(raw)
        self._ack("user", (user["id"], user["email"]))
        status, _, raw = srv.api("POST", "/api/v1/groups", json={"name": name})
        if status != 201:
            self._fail("group", status, raw.decode("utf-8", "replace"))
            return
        group = json.loads(raw)
        self._ack("group", (group["id"], group["name"]))
        status, _, raw = srv.api("PUT", f"/api/v1/groups/{group['id']}/members/{user['id']}")
        if status != 204:
            self._fail("member", status, raw.decode("utf-8", "replace"))
            return
        self._ack("member", (group["id"], user["id"]))


# --- reading a server's state back ---------------------------------------------------


def pages(srv: LanyardServer, path: str, cursor: str = "after") -> list[dict]:
    """Every item of a paged list (`next` passed back as `cursor`)."""
    items, nxt = [], None
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit=500" + (f"&{cursor}={nxt}" if nxt is not None else "")
        page = call(srv, "GET", url, 200)
        items += page["items"]
        nxt = page.get("next")
        if nxt is None or not page["items"]:
            return items


def state(srv: LanyardServer) -> dict:
    """What a restore must bring back, read through the API: users, groups with their members,
    apps with their bindings, entitlements, signing keys and metadata, and the audit log."""
    users = pages(srv, "/api/v1/users")
    groups = pages(srv, "/api/v1/groups")
    members = {g["id"]: sorted(u["id"] for u in pages(srv, f"/api/v1/groups/{g['id']}/members"))
               for g in groups}
    apps = pages(srv, APPS)
    per_app = {}
    for a in apps:
        status, _, metadata = srv.api("GET", f"{APPS}/{a['id']}/metadata")
        per_app[a["id"]] = {
            "groups": call(srv, "GET", f"{APPS}/{a['id']}/groups", 200),
            "entitlements": call(srv, "GET", f"{APPS}/{a['id']}/entitlements", 200),
            "keys": call(srv, "GET", f"{APPS}/{a['id']}/keys", 200),
            "metadata": (status, metadata),
        }
    audit = pages(srv, "/api/v1/audit-events", cursor="before")
    return {"users": {u["id"]: u for u in users}, "groups": {g["id"]: g for g in groups},
            "members": members, "apps": {a["id"]: a for a in apps}, "per_app": per_app,
            "audit": {e["id"]: e for e in audit}}
