#!/usr/bin/env python3
"""End to end: a browser with a cookie jar signs in to the REAL server and gets SAML responses.

Owns issue #5's "End-to-end tests in CI": the real `lanyard serve` (harness:
lanyard_server.py) on a free port, driven over HTTP by browser.Browser (a
cookie jar, SameSite emulated, redirects followed explicitly), every
SAMLResponse judged by independent SP libraries (e2e_saml.py) configured from
the metadata the server EXPORTS:

  setup           API: group; users alice (bound group), bob (no group), carol
                  dave and erin (bound group); AWS IAM app "Amazon AWS" with the
                  entitlement 123456789012 / Admin / Lanyard; AWS apps to
                  deactivate and to delete; Custom SAML apps registered from
                  python3-saml's and pysaml2's SP metadata
  sign-in         /portal -> /login (CSRF double-submit, Origin) -> /portal;
                  session cookie HttpOnly, SameSite=Lax, not Secure on http
  portal          tiles: bound + active apps only
  idp-initiated   tile -> /saml2/<slug> -> form#saml-post to AWS's ACS;
                  python3-saml (strict, SP urn:amazon:webservices, ACS
                  https://signin.aws.amazon.com/saml) and pysaml2 accept it;
                  NameID, Role, RoleSessionName, SessionDuration asserted; a
                  wrong audience and a tampered NameID are refused (controls)
  idp-url-detour  /saml2/<slug> without a session -> sign in -> back -> response
  role-chooser    two roles: Lanyard's chooser page (no response yet), the
                  choice posted through its form -> exactly that role, its
                  own session cap and deep link, accepted by python3-saml and
                  pysaml2; a forged choice -> 403, no response
  moto            moto_server (local AWS stand-in): create-saml-provider with
                  the exported metadata, create-role, assume-role-with-saml
                  with the user's response -> assumed-role ARN of the mapped role
  sp-*            SP-initiated with python3-saml (Redirect/POST x signed/
                  unsigned) and pysaml2 (same four): InResponseTo = the
                  request ID, RelayState back unchanged, library accepts; a
                  cross-site POST finds the Lax session through the 303; the
                  sign-in detour; replay, unregistered ACS, broken signature,
                  unsigned when signatures are required: 400 pages
  totp            erin enrolls TOTP in the portal (key from the page, code
                  computed here per RFC 6238), then /saml2/<slug> -> password ->
                  /login/totp -> code -> response accepted by both libraries;
                  the same code again is refused as already used
  denied-*        unauthorized user, deactivated app, suspended user (mid-
                  session: the suspension ended the session, so sign-in; and
                  at sign-in), locked user (5 wrong passwords then the right
                  one), unknown user, deleted app, unknown slug: status +
                  phrase, and no SAMLResponse in any body of the chain
  audit           /api/v1/audit-events: user.sign_in, user.sign_in_failed
                  (wrong_password, locked, suspended, unknown_user),
                  sso.issued (both flows), sso.denied with its reasons
  two-node        two `lanyard serve` on one PostgreSQL database
                  ($LANYARD_TEST_POSTGRES; run.sh provides one through
                  scripts/with-postgres.sh; without it this is a FAIL): sign
                  in on A, SSO through B; sign out on A, B refuses the old
                  cookie

Usage:  check_sso_e2e.py [WORKDIR] [--only single|two-node]
        WORKDIR: metadata, SP keys (default: a temp dir, kept on failure).
        LANYARD_BIN skips the cargo build. run.sh step 8 runs it under
        scripts/with-postgres.sh; by hand:
          scripts/with-postgres.sh tests/interop/.venv/bin/python tests/interop/check_sso_e2e.py
Output: "PASS|FAIL <case> <peer> <detail>" lines, then
        "sso-e2e: N passed, M failed" alone on the last line. Exit 1 on any failure.
"""


from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, one_line, require_imports  # noqa: E402

require_imports()

from lanyard_server import LanyardServer, ServerError, exit_on_sigterm  # noqa: E402
from sso_e2e.base import LABEL, Stop  # noqa: E402
from sso_e2e.denials import Denials  # noqa: E402
from sso_e2e.idp import Idp  # noqa: E402
from sso_e2e.portal import Portal  # noqa: E402
from sso_e2e.sp import Sp  # noqa: E402
from sso_e2e.two_nodes import two_nodes  # noqa: E402


class Scenario(Portal, Idp, Sp, Denials):
    """The single-server checks, in order (each scenario's module in sso_e2e/)."""

    def run(self) -> None:
        steps = [self.setup, self.sign_in_alice, self.portal, self.idp_initiated, self.idp_url_detour, self.moto, self.role_chooser,
                 self.sp_python3_saml, self.sp_pysaml2, self.sp_request_policy, self.denials, self.totp, self.audit]
        for i, step in enumerate(steps):
            try:
                step()
            except Stop:
                if i < 2:  # no setup or no signed-in browser: nothing else can run
                    self.fail(step.__name__, "e2e", "later steps skipped")
                    return
            except Exception as exc:
                self.fail(step.__name__, "e2e", f"crashed: {type(exc).__name__}: {one_line(exc, 1500)}")
                if i < 2:
                    return



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workdir", nargs="?", type=Path, help="where to write metadata and keys (default: a temp dir)")
    ap.add_argument("--only", choices=("single", "two-node"), help="run one half only")
    args = ap.parse_args()
    exit_on_sigterm()
    report = Report(LABEL)
    for name in ("saml2", "xmlschema"):
        lg = logging.getLogger(name)
        lg.propagate = False
        lg.addHandler(logging.NullHandler())
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lanyard-sso-e2e."))
    work.mkdir(parents=True, exist_ok=True)

    if args.only != "two-node":
        try:
            srv = LanyardServer()
            srv.start()
        except (ServerError, OSError) as exc:
            report.fail("server", "lanyard", f"cannot start the server: {one_line(exc, 1500)}")
            srv = None
        if srv is not None:
            try:
                report.ok("server", "lanyard", f"{srv.binary} serve on {srv.base_url} (pid {srv.proc.pid}), "
                                               "fresh SQLite database, administrator API key")
                Scenario(report, srv, work).run()
            finally:
                failed = report.failed > 0
                if failed:
                    print("# sso-e2e: last lines of the server log:")
                    for line in srv.log_tail(30).splitlines():
                        print(f"#   {line}")
                rc = srv.stop(failed=failed)
            if rc not in (0, None):
                report.fail("server", "lanyard", f"lanyard serve exited with status {rc} after SIGTERM (expected 0)")
    if args.only != "single":
        two_nodes(report)
    if report.failed:
        print(f"# sso-e2e: work files kept in {work}")
    elif args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
