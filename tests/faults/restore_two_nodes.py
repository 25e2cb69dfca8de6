"""Two running nodes on one PostgreSQL database serve the restored state, never their caches.

Owns the cache half of issue #26, with real processes: nodes A and B run
`lanyard serve` on one PostgreSQL database and keep running throughout.

  1. A user signs in; SSO through both nodes carries role Admin.
  2. `lanyard backup`; then the entitlement becomes ReadOnly and both nodes
     serve (and cache) ReadOnly.
  3. The database is emptied (DROP SCHEMA public CASCADE) under them: no
     node answers SSO with a SAMLResponse while it is empty.
  4. `lanyard restore` into it. Node A's next SSO carries Admin (the
     restored state). Then an admin changes the entitlement to PowerUser
     through node A: without the restore's new epoch, the app's version
     number would now be the one node B cached with ReadOnly, and B would
     serve ReadOnly. B's next response must carry PowerUser.

Usage: restore_two_nodes.py (needs LANYARD_TEST_POSTGRES; run.sh starts one).
Prints PASS/FAIL lines and "restore-two-nodes: N passed, M failed".
"""

from __future__ import annotations

import base64
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import ACCOUNT, APPS, LOAD_ENV, LoadError, call, postgres_database, seed, tear_down  # noqa: E402

from _common import Report, one_line  # noqa: E402
from lanyard_server import LanyardServer, ServerError, _psql_run, exit_on_sigterm  # noqa: E402
from backup_roundtrip import restore  # noqa: E402


def roles(page) -> list[str] | None:
    """The AWS role names in an SSO auto-post page's assertion; None when it is not one."""
    m = re.search(rb'name="SAMLResponse" value="([^"]+)"', page.body)
    if page.status != 200 or not m:
        return None
    xml = base64.b64decode(m.group(1)).decode("utf-8")
    return re.findall(r":role/([A-Za-z]+),", xml)


def entitle(srv: LanyardServer, seeded, role: str) -> None:
    call(srv, "PUT", f"{APPS}/{seeded.app['id']}/entitlements", 200,
         [{"group_id": seeded.group_id, "account_id": ACCOUNT, "role_name": role, "provider_name": "Lanyard"}])


def main() -> int:
    exit_on_sigterm()
    report = Report("restore-two-nodes")
    case = "restore-two-nodes"
    url = postgres_database(report, case)
    if url is None:
        return report.finish()
    a = b = None
    failed = True
    try:
        a = LanyardServer(database=url, extra_env=LOAD_ENV).start()
        b = LanyardServer(database=url, base_url=a.base_url, extra_env=LOAD_ENV).start()
        seeded = seed(a, users=1)
        br = seeded.browsers[0]

        def sso(node):
            return roles(br.get(node.url(seeded.sso_path)))

        first = (sso(a), sso(b))
        report.result(first == (["Admin"], ["Admin"]), case, "before",
                      f"SSO through node A and node B: roles {first}")
        backup = Path(tempfile.mkdtemp(prefix="lanyard-restore-two.")) / "lanyard.backup"
        a.cli("backup", "--to", str(backup))
        entitle(a, seeded, "ReadOnly")
        cached = (sso(a), sso(b))
        report.result(cached == (["ReadOnly"], ["ReadOnly"]), case, "cached",
                      f"after the backup the role became ReadOnly; both nodes serve it: {cached}")

        _psql_run(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        during = []
        for node in (a, b):
            page = br.get(node.url(seeded.sso_path))
            during.append((page.status, roles(page)))
        report.result(all(r is None for _, r in during), case, "emptied",
                      f"with the database emptied under them, SSO answers (status, roles): {during}")

        res = restore(a, backup, url)
        if res.returncode != 0:
            report.fail(case, "restore", f"lanyard restore exited {res.returncode}: {one_line(res.stderr)}")
            return report.finish()
        report.ok(case, "restore", one_line(res.stderr))
        after_a = sso(a)
        report.result(after_a == ["Admin"], case, "node-a",
                      f"node A's first SSO after the restore carries the restored role: {after_a}")
        entitle(a, seeded, "PowerUser")
        after = (sso(b), sso(a))
        report.result(after == (["PowerUser"], ["PowerUser"]), case, "node-b",
                      f"after a change on node A, node B (which had cached ReadOnly at the version number the "
                      f"change would reach without a new epoch) and node A serve: {after}")
        failed = report.failed > 0
    except (ServerError, LoadError, OSError) as exc:
        report.fail(case, "lanyard", f"{type(exc).__name__}: {one_line(exc, 1500)}")
    finally:
        tear_down(case, failed, (b, a), (url,))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
