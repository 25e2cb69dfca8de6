"""Drive a running Lanyard for the benchmarks (standard library only).

Subcommands (every one takes --url, the server's base URL):

  setup-sso --key KEY --users N --out FILE [--storm-users M --storm-out FILE]
      Creates a group, an "Amazon AWS" app from the aws-iam template bound to
      the group with one entitlement, N users with a password (REST API, a few
      in parallel) in the group, and signs each one in with POST /login; writes
      one `lanyard_session=...` Cookie value per line to FILE. Sign-ins come from rotating loopback source addresses
      (127.0.x.y, 25 per address): the server allows 30 sign-ins per address
      per minute by default (login_attempts_per_minute), and the kit keeps
      the production default rather than switching the limit off. With
      --storm-users, also creates M more users (same password, not signed in)
      and writes their emails to --storm-out, for the login storm. Prints
      "SLUG GROUP_ID".

  storm --emails FILE --clients C --seconds S
      C threads POST /login with the right password for the users in FILE
      (round-robin) for S seconds, each from its own loopback address,
      changing address every 25 attempts so the per-address limit is never
      hit (a real storm comes from many clients; one address would mostly
      get cheap 429s); prints "STORM attempts=.. rate=.. p50_ms=.. p99_ms=.. status=..".

  admin-list --key KEY --runs R [--admin-email E --admin-password P]
      Times the users list API (first page of 50, a page deep in the list)
      and searches over the bulk-loaded users (bulk_load.py's names), R times
      each on one keep-alive connection; prints one "LIST name=.. median_ms=..
      p95_ms=.. items=.." line per query. With --admin-email, signs in at
      /admin/login and times the Users page too (said on stderr when the
      page does not find its probe user).

  admin-churn --key KEY --seconds S [--pause P]
      Admin reads and writes that leave the directory as it was (a group
      created, read, given a member and deleted; a page of users read), one
      round every P seconds; prints "CHURN ops=.. errors=.. status=..".

  check-sso --cookies FILE --slug SLUG [--n K]
      GETs /saml2/SLUG with the first K cookies; fails unless each is a 200
      page carrying a SAMLResponse.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import itertools
import json
import os
import re
import secrets
import statistics
import sys
import threading
import time
import urllib.parse

PASSWORD = "bench-password-123"
ACCOUNT = "123456789012"


class Client:
    """One keep-alive HTTP/1.1 connection to the server, from a chosen source address."""

    def __init__(self, url: str, source: str | None = None, key: str | None = None):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.source = source
        self.key = key
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            src = (self.source, 0) if self.source else None
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60, source_address=src)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        h = dict(headers or {})
        if self.key:
            h.setdefault("Authorization", f"Bearer {self.key}")
        for attempt in (1, 2):
            conn = self._connect()
            try:
                conn.request(method, path, body=body, headers=h)
                r = conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, r.headers, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def api(self, method: str, path: str, payload=None, want: int | tuple[int, ...] = (200, 201, 204)):
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, _, data = self.request(method, path, body, headers)
        wants = (want,) if isinstance(want, int) else want
        if status not in wants:
            raise SystemExit(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data) if data else None


class Addresses:
    """Loopback source addresses, each used for at most `per` sign-ins."""

    def __init__(self, per: int = 25, second_octet: int | None = None):
        self.per = per
        self.lock = threading.Lock()
        base = second_octet if second_octet is not None else int(time.time()) % 200 + 20
        self.gen = (f"127.{base}.{c}.{d}" for c in range(256) for d in range(1, 255))

    def next(self) -> str:
        with self.lock:
            return next(self.gen)


CSRF_RE = re.compile(rb'name="csrf" value="([0-9a-f]{64})"')


def sign_in(url: str, source: str, login: str, password: str, csrf: tuple[str, str] | None = None,
            client: Client | None = None) -> tuple[int, str | None]:
    """POST /login from `source`; returns (status, session token or None)."""
    c = client or Client(url, source)
    try:
        if csrf is None:
            status, headers, body = c.request("GET", "/login")
            m = CSRF_RE.search(body)
            cookie = next((v.split(";")[0].split("=", 1)[1] for k, v in headers.items()
                           if k.lower() == "set-cookie" and v.startswith("lanyard_csrf=")), None)
            if status != 200 or not m or not cookie:
                raise SystemExit(f"GET /login: HTTP {status}, no CSRF token")
            csrf = (m.group(1).decode(), cookie)
        form = urllib.parse.urlencode({"login": login, "password": password, "csrf": csrf[0], "next": "/portal"})
        status, headers, _ = c.request("POST", "/login", form.encode(), {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"lanyard_csrf={csrf[1]}",
        })
        token = None
        for k, v in headers.items():
            if k.lower() == "set-cookie" and v.startswith("lanyard_session="):
                token = v.split(";")[0].split("=", 1)[1] or None
        return status, token
    finally:
        if client is None:
            c.close()


def create_users(url: str, key: str, prefix: str, n: int, group: int | None, workers: int = 2) -> list[str]:
    emails = [f"{prefix}{i}@bench.example.com" for i in range(n)]
    local = threading.local()

    def one(i: int) -> None:
        if not hasattr(local, "c"):
            local.c = Client(url, key=key)
        u = local.c.api("POST", "/api/v1/users", {
            "email": emails[i], "username": f"{prefix}{i}", "first_name": "Bench",
            "last_name": f"User{i}", "password": PASSWORD}, 201)
        if group is not None:
            local.c.api("PUT", f"/api/v1/groups/{group}/members/{u['id']}", want=204)

    # Each create hashes a password (argon2) on the server's blocking pool:
    # more workers than cores only queue there.
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, range(n)))
    return emails


def cmd_setup_sso(a) -> None:
    api = Client(a.url, key=a.key)
    t0 = time.monotonic()
    group = api.api("POST", "/api/v1/groups", {"name": f"bench-aws-{int(time.time())}"}, 201)
    app = api.api("POST", "/api/v1/applications", {"template": "aws-iam", "label": "Amazon AWS bench"}, 201)
    api.api("PUT", f"/api/v1/applications/{app['id']}/groups/{group['id']}", want=204)
    api.api("PUT", f"/api/v1/applications/{app['id']}/entitlements",
            [{"group_id": group["id"], "account_id": ACCOUNT, "role_name": "Admin", "provider_name": "Lanyard"}], 200)
    app = api.api("GET", f"/api/v1/applications/{app['id']}", want=200)
    if not app.get("sso_active"):
        raise SystemExit(f"the bench app is not active: {app}")
    run = secrets.token_hex(3)  # fresh names, so setup may run twice on one database
    emails = create_users(a.url, a.key, f"sso-{run}-", a.users, group["id"])
    t1 = time.monotonic()
    addrs = Addresses()
    tokens: list[str] = []
    source, used, csrf = None, 0, None
    client = None
    for email in emails:
        if source is None or used >= addrs.per:
            if client:
                client.close()
            source, used, csrf = addrs.next(), 0, None
            client = Client(a.url, source)
        if csrf is None:
            status, headers, body = client.request("GET", "/login")
            m = CSRF_RE.search(body)
            ck = next(v.split(";")[0].split("=", 1)[1] for k, v in headers.items()
                      if k.lower() == "set-cookie" and v.startswith("lanyard_csrf="))
            csrf = (m.group(1).decode(), ck)
        status, token = sign_in(a.url, source, email, PASSWORD, csrf, client)
        used += 1
        if status != 303 or not token:
            raise SystemExit(f"sign-in of {email} from {source}: HTTP {status}, session cookie {token!r}")
        tokens.append(token)
    if client:
        client.close()
    t2 = time.monotonic()
    with open(a.out, "w") as f:
        for t in tokens:
            f.write(f"lanyard_session={t}\n")
    if a.storm_users:
        storm = create_users(a.url, a.key, f"storm-{run}-", a.storm_users, None)
        with open(a.storm_out, "w") as f:
            f.write("\n".join(storm) + "\n")
    print(f"setup: {a.users} users created in {t1 - t0:.1f} s, signed in in {t2 - t1:.1f} s "
          f"({(t2 - t1) / max(a.users, 1) * 1000:.0f} ms each)", file=sys.stderr)
    print(app["slug"], group["id"])


def cmd_check_sso(a) -> None:
    with open(a.cookies) as f:
        cookies = [line.strip() for line in f if line.strip()][: a.n]
    c = Client(a.url)
    for ck in cookies:
        status, _, body = c.request("GET", f"/saml2/{a.slug}", headers={"Cookie": ck})
        if status != 200 or b"SAMLResponse" not in body:
            raise SystemExit(f"GET /saml2/{a.slug}: HTTP {status}, {len(body)} bytes, "
                             f"SAMLResponse {'present' if b'SAMLResponse' in body else 'absent'}")
    print(f"check-sso: {len(cookies)} sessions each got a SAMLResponse page ({len(body)} bytes); "
          f"{describe_response(body)}", file=sys.stderr)


def describe_response(page: bytes) -> str:
    """Size, signed elements and algorithm of the SAMLResponse in a form page."""
    import base64
    import html
    import xml.etree.ElementTree as ET
    m = re.search(rb'name="SAMLResponse" value="([^"]+)"', page)
    if not m:
        return "no SAMLResponse field"
    xml = base64.b64decode(html.unescape(m.group(1).decode()))
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    root = ET.fromstring(xml)
    signed = [el.tag.split("}")[1] for el in root.iter() if el.find(f"{ds}Signature") is not None]
    alg = root.find(f".//{ds}SignatureMethod")
    return (f"{len(xml)} bytes of XML, signed elements {signed}, "
            f"{alg.get('Algorithm') if alg is not None else 'unsigned'}")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def cmd_storm(a) -> None:
    with open(a.emails) as f:
        emails = [line.strip() for line in f if line.strip()]
    addrs = Addresses(second_octet=(int(time.time()) + 100) % 200 + 20)
    rr = itertools.cycle(emails)
    rr_lock = threading.Lock()
    stop = time.monotonic() + a.seconds
    lat: list[float] = []
    status_counts: dict[int, int] = {}
    lock = threading.Lock()

    def worker() -> None:
        source, used, client, csrf = None, addrs.per, None, None
        while time.monotonic() < stop:
            if used >= addrs.per:
                if client:
                    client.close()
                source, used, csrf = addrs.next(), 0, None
                client = Client(a.url, source)
                status, headers, body = client.request("GET", "/login")
                m = CSRF_RE.search(body)
                ck = next(v.split(";")[0].split("=", 1)[1] for k, v in headers.items()
                          if k.lower() == "set-cookie" and v.startswith("lanyard_csrf="))
                csrf = (m.group(1).decode(), ck)
            with rr_lock:
                email = next(rr)
            t = time.monotonic()
            status, _ = sign_in(a.url, source, email, PASSWORD, csrf, client)
            dt = (time.monotonic() - t) * 1000
            used += 1
            with lock:
                lat.append(dt)
                status_counts[status] = status_counts.get(status, 0) + 1
        if client:
            client.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    statuses = ",".join(f"{k}:{v}" for k, v in sorted(status_counts.items()))
    print(f"STORM attempts={len(lat)} rate={len(lat) / secs:.1f} p50_ms={pct(lat, 50):.1f} "
          f"p99_ms={pct(lat, 99):.1f} status={statuses}")


# Queries over bulk_load.py's users: user<i>@bulk.example.com, first names
# FIRST[i % 8], last names LAST[(i // 8) % 8].
LIST_QUERIES = [
    ("first_page", "/api/v1/users?limit=50"),
    ("page_at_90pct", "/api/v1/users?limit=50&after={after}"),
    ("search_email_1", "/api/v1/users?limit=50&search=user{one}%40bulk"),
    ("search_lastname_12pct", "/api/v1/users?limit=50&search=smith"),
    ("search_firstname_12pct", "/api/v1/users?limit=50&search=carol"),
    ("search_none", "/api/v1/users?limit=50&search=zzzz"),
]


ADMIN_PAGES = [
    ("admin_users_page", "/admin/users"),
    ("admin_users_page_search", "/admin/users?q=smith"),
    ("admin_users_page_search_1", "/admin/users?q=user{one}%40bulk"),
]


def admin_session(url: str, email: str, password: str) -> str | None:
    """Signs in at /admin/login; the admin session cookie, or None without one."""
    c = Client(url)
    status, headers, body = c.request("GET", "/admin/login")
    m = CSRF_RE.search(body)
    ck = next((v.split(";")[0].split("=", 1)[1] for k, v in headers.items()
               if k.lower() == "set-cookie" and v.startswith("lanyard_admin_csrf=")), None)
    if status != 200 or not m or not ck:
        return None
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf": m.group(1).decode(),
                                   "next": "/admin/users"})
    status, headers, _ = c.request("POST", "/admin/login", form.encode(), {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"lanyard_admin_csrf={ck}"})
    c.close()
    return next((v.split(";")[0] for k, v in headers.items()
                 if k.lower() == "set-cookie" and v.startswith("lanyard_admin=") and "Max-Age=0" not in v), None)


def timed(c: Client, path: str, runs: int, headers: dict[str, str] | None = None):
    c.request("GET", path, headers=headers)  # warm-up
    times, body, status = [], b"", 0
    for _ in range(runs):
        t = time.perf_counter()
        status, _, body = c.request("GET", path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
    return status, body, times


def cmd_admin_list(a) -> None:
    if a.admin_email:
        cookie = admin_session(a.url, a.admin_email, a.admin_password)
        if cookie is None:
            print("PAGE none: admin sign-in at /admin/login did not give a session", file=sys.stderr)
        else:
            c = Client(a.url)
            probe = f"/admin/users?q=user{a.total // 2}%40bulk"
            status, _, body = c.request("GET", probe, headers={"Cookie": cookie})
            if status == 200 and f"user{a.total // 2}@bulk.example.com".encode() in body:
                for name, path in ADMIN_PAGES:
                    path = path.format(one=a.total // 2)
                    status, body, times = timed(c, path, a.runs, {"Cookie": cookie})
                    print(f"LIST name={name} median_ms={statistics.median(times):.2f} p95_ms={pct(times, 95):.2f} "
                          f"items=html:{len(body)}B path={path}")
            else:
                print(f"PAGE none: /admin/users did not find the probe user (HTTP {status}, {len(body)} bytes)",
                      file=sys.stderr)
    c = Client(a.url, key=a.key)
    first = c.api("GET", "/api/v1/users?limit=1", want=200)["items"][0]["id"]
    for name, path in LIST_QUERIES:
        path = path.format(after=first + int(a.total * 0.9), one=a.total // 2)
        status, body, times = timed(c, path, a.runs)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}")
        items = len(json.loads(body)["items"])
        print(f"LIST name={name} median_ms={statistics.median(times):.2f} p95_ms={pct(times, 95):.2f} "
              f"items={items} path={path}")


def cmd_admin_churn(a) -> None:
    """Admin reads and writes that leave the directory as it was: create a group, read it and a
    page of users, add a member, delete the group; paced by --pause."""
    c = Client(a.url, key=a.key)
    stop = time.monotonic() + a.seconds
    statuses: dict[int, int] = {}
    ops = errors = n = 0
    member = c.api("GET", "/api/v1/users?limit=1", want=200)["items"][0]["id"]

    def step(method: str, path: str, payload=None, ok=(200, 201, 204)):
        nonlocal ops, errors
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            status, _, data = c.request(method, path, body, headers)
        except OSError:
            status, data = 0, b""
        ops += 1
        statuses[status] = statuses.get(status, 0) + 1
        if status not in ok:
            errors += 1
            return None
        return json.loads(data) if data else {}

    while time.monotonic() < stop:
        n += 1
        group = step("POST", "/api/v1/groups", {"name": f"churn-{os.getpid()}-{n}"})
        step("GET", "/api/v1/users?limit=50")
        if group:
            step("GET", f"/api/v1/groups/{group['id']}")
            step("PUT", f"/api/v1/groups/{group['id']}/members/{member}")
            step("DELETE", f"/api/v1/groups/{group['id']}")
        time.sleep(a.pause)
    print(f"CHURN ops={ops} errors={errors} status={','.join(f'{k}:{v}' for k, v in sorted(statuses.items()))}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup-sso")
    s.add_argument("--key", required=True)
    s.add_argument("--users", type=int, default=200)
    s.add_argument("--out", required=True)
    s.add_argument("--storm-users", type=int, default=0)
    s.add_argument("--storm-out")
    s = sub.add_parser("check-sso")
    s.add_argument("--cookies", required=True)
    s.add_argument("--slug", required=True)
    s.add_argument("--n", type=int, default=3)
    s = sub.add_parser("storm")
    s.add_argument("--emails", required=True)
    s.add_argument("--clients", type=int, default=20)
    s.add_argument("--seconds", type=float, default=20)
    s = sub.add_parser("admin-churn")
    s.add_argument("--key", required=True)
    s.add_argument("--seconds", type=float, default=60)
    s.add_argument("--pause", type=float, default=0.1)
    s = sub.add_parser("admin-list")
    s.add_argument("--key", required=True)
    s.add_argument("--runs", type=int, default=50)
    s.add_argument("--total", type=int, default=100_000)
    s.add_argument("--admin-email", help="also time the /admin/users page, signed in as this admin")
    s.add_argument("--admin-password", default="bench-admin-password")
    a = p.parse_args()
    {"setup-sso": cmd_setup_sso, "check-sso": cmd_check_sso, "storm": cmd_storm,
     "admin-list": cmd_admin_list, "admin-churn": cmd_admin_churn}[a.cmd](a)


if __name__ == "__main__":
    main()
