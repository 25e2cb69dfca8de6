"""Two `lanyard serve` processes on one PostgreSQL database: a session made on one node works, and ends, on the other."""

from __future__ import annotations

from sso_e2e.base import *  # noqa: F401,F403 - the harness's names and constants
from sso_e2e.base import Base


# ---------------------------------------------------------------------------
# two nodes on one PostgreSQL database
# ---------------------------------------------------------------------------
def two_nodes(report: Report) -> None:
    case = "two-node"
    server = os.environ.get("LANYARD_TEST_POSTGRES")
    if not server:
        report.fail(case, "postgres", "skipped: LANYARD_TEST_POSTGRES is not set (run.sh runs this step under "
                                      "scripts/with-postgres.sh; by hand: scripts/with-postgres.sh "
                                      "tests/interop/.venv/bin/python tests/interop/check_sso_e2e.py)")
        return
    try:
        url = create_postgres_database(server)
    except ServerError as exc:
        report.fail(case, "postgres", one_line(exc))
        return
    a = b = None
    failed = True
    try:
        a = LanyardServer(database=url)
        a.start()
        b = LanyardServer(database=url, base_url=a.base_url)  # one public URL, two processes
        b.start()
        report.ok(case, "lanyard", f"node A pid {a.proc.pid} on {a.direct_url}, node B pid {b.proc.pid} on "
                                   f"{b.direct_url}, one PostgreSQL database {url.rsplit('/', 1)[-1]}, "
                                   f"base URL {a.base_url} for both")
        _two_nodes(report, a, b)
        failed = report.failed > 0
    except (ServerError, OSError, Stop) as exc:
        report.fail(case, "lanyard", f"{type(exc).__name__}: {one_line(exc, 1500)}")
    except Exception as exc:
        report.fail(case, "e2e", f"crashed: {type(exc).__name__}: {one_line(exc, 1500)}")
    finally:
        for node in (b, a):
            if node is not None:
                if failed:
                    print(f"# two-node: log of {node.direct_url}:")
                    for line in node.log_tail(15).splitlines():
                        print(f"#   {line}")
                node.stop(failed=failed)
        try:
            drop_postgres_database(url)
        except ServerError as exc:
            print(f"# two-node: could not drop {url}: {exc}")


def _two_nodes(report: Report, a: LanyardServer, b: LanyardServer) -> None:
    case = "two-node"
    work = Path(tempfile.mkdtemp(prefix="lanyard-e2e-two-node."))
    sa = Base(report, a, work)
    g = sa.api(case, "POST", "/api/v1/groups", 201, {"name": "aws-admins"})
    u = sa.api(case, "POST", "/api/v1/users", 201, {"email": "alice@example.com", "username": "alice", "password": PASSWORD})
    sa.api(case, "PUT", f"/api/v1/groups/{g['id']}/members/{u['id']}", 204)
    app = sa.api(case, "POST", APPS, 201, {"template": "aws-iam", "label": "Amazon AWS"})
    sa.api(case, "PUT", f"{APPS}/{app['id']}/groups/{g['id']}", 204)
    sa.api(case, "PUT", f"{APPS}/{app['id']}/entitlements", 200,
           [{"group_id": g["id"], "account_id": ACCOUNT, "role_name": "Admin", "provider_name": "Lanyard"}])
    # B knows what A created, and exports the same metadata
    sb = Base(report, b, work)
    sb.apps["aws"] = sb.api(case, "GET", f"{APPS}/{app['id']}", 200)
    sa.apps["aws"] = app
    sa.export("aws")
    sb.export("aws")
    report.result(sa.md["aws"] == sb.md["aws"], case, "metadata",
                  "node B exports byte-identical metadata for the app created on node A" if sa.md["aws"] == sb.md["aws"]
                  else "node A and node B export different metadata")
    br = Browser("alice-two-node")
    page = sa.sign_in(br, "alice", PASSWORD)
    if page.status != 200 or not page.url.endswith("/portal"):
        report.fail(case, "lanyard", f"sign-in on node A: {page.describe()}")
        return
    token = br.cookie("lanyard_session")
    report.ok(case, "node-a", f"signed in on node A: {page.describe()}")
    path = f"/saml2/{app['slug']}"
    page = br.open(b.url(path))
    if any("/login" in p.url for p in page.chain) or page.form("saml-post") is None:
        report.fail(case, "node-b", f"SSO through node B with node A's session: {page.describe()} "
                                    f"{one_line(re.sub(r'<[^>]+>', ' ', page.text), 300)}")
        return
    b64 = sb.saml_post(case, page, AWS_ACS, None, peer="node-b")
    if b64:
        sb.judge_aws(case, b64, "alice@example.com")
    # control: a browser holding nothing but a copy of the cookie gets SSO on B (so the check after
    # the sign-out below shows the session's end, not a broken cookie copy)
    probe = Browser("copied-cookie")
    probe.set_cookie("lanyard_session", token)
    p = probe.open(b.url(path))
    if p.form("saml-post") is None:
        report.fail(case, "node-b", f"a copy of the session cookie does not work on node B: {p.describe()}")
        return
    report.ok(case, "node-b", f"control: a browser with only a copy of the session cookie gets SSO on node B: {p.describe()}")
    # sign out on A
    portal = br.open(a.url("/portal"))
    out = next((f for f in portal.forms() if urllib.parse.urlsplit(f.action).path == "/logout"), None)
    if out is None:
        report.fail(case, "node-a", "no sign-out form on node A's portal")
        return
    bye = br.submit(out, follow=True)
    if not bye.chain or bye.chain[0].status != 303 or sa.login_form(bye) is None:
        report.fail(case, "node-a", f"sign-out on node A: {bye.describe()}")
        return
    report.ok(case, "node-a", f"signed out on node A: {bye.describe()}; cookie now {br.cookie('lanyard_session')!r}")
    # the old cookie, replayed on B (a browser that ignored the clearing Set-Cookie)
    replay = Browser("replayed-cookie")
    replay.set_cookie("lanyard_session", token)
    page = replay.open(b.url(path))
    problems = []
    if sa.login_form(page) is None or not any("/login" in p.url for p in page.chain + [page]):
        problems.append(f"node B did not send the old session to sign in: {page.describe()}")
    why = response_in(page.all_bodies())
    if why:
        problems.append(f"node B's answer carries {why}")
    sb.check(case, "node-b", problems, f"node A's sign-out ended the session on node B: the old cookie -> "
                                       f"{page.describe()}, no SAMLResponse")
    deadline = time.monotonic() + 20
    while True:
        events = sb.api(case, "GET", "/api/v1/audit-events?action=user.sign_out&limit=50", 200)["items"]
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    report.result(bool(events), case, "audit", f"node B's audit API shows node A's user.sign_out: "
                  f"{[(e['action'], e['target']) for e in events]}")
    shutil.rmtree(work, ignore_errors=True)


