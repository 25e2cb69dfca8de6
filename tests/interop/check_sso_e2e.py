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
                  session and at sign-in), locked user (5 wrong passwords then
                  the right one), unknown user, deleted app, unknown slug:
                  status + phrase, and no SAMLResponse in any body of the chain
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
import base64
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, one_line, require_imports  # noqa: E402

require_imports()

import e2e_saml as es  # noqa: E402
from browser import Browser, Page, origin_of  # noqa: E402
from lanyard_server import (LanyardServer, ServerError, create_postgres_database,  # noqa: E402
                            drop_postgres_database, exit_on_sigterm)
from make_requests import make_sp_keypair  # noqa: E402
from moto_aws import MotoError, MotoServer  # noqa: E402

LABEL = "sso-e2e"
PASSWORD = "correct horse battery staple"
AWS_ACS = "https://signin.aws.amazon.com/saml"
AWS_SP = "urn:amazon:webservices"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:saml-provider/Lanyard"
ROLE_VALUE = f"{ROLE_ARN},{PROVIDER_ARN}"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
SESSION_DURATION = "3600"  # the aws-iam template's constant
SP1 = ("https://sp.example.test/metadata", "https://sp.example.test/acs")  # python3-saml
SP2 = ("https://sp2.example.test/metadata", "https://sp2.example.test/acs")  # pysaml2
RELAY = "/console/home?region=eu-west-1&x=a b"
APPS = "/api/v1/applications"
WRONG = "Wrong email/username or password."
# the Custom SAML apps' attribute rows: a mapped user field, a constant, the groups attribute
CUSTOM_ATTRS = {"attributes": [{"name": "email", "source": {"kind": "user_field", "value": "email"}},
                               {"name": "department", "source": {"kind": "constant", "value": "engineering"}}],
                "groups_attribute": "groups"}
CUSTOM_WANT = {"NameID": "alice@example.com", "email": ["alice@example.com"], "department": ["engineering"],
               "groups": ["aws-admins"]}


class Stop(Exception):
    """A step failed (already reported); the steps that depend on it are skipped."""


def totp_code(secret_b32: str, step: int) -> str:
    """RFC 6238 (HMAC-SHA1, 6 digits, 30 s steps), what an authenticator app shows for `step`."""
    import hashlib
    import hmac
    import struct

    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def response_in(body: bytes) -> str | None:
    """Why `body` may carry a SAML response (None when it clearly does not)."""
    low = body.lower()
    if b"samlresponse" in low:
        return "the text 'SAMLResponse'"
    if b"phnhbwxwoljlc3bvbnnl" in low:  # base64 of "<samlp:Response"
        return "a base64 <samlp:Response"
    if b"<samlp:response" in low or b":assertion" in low:
        return "Response/Assertion XML"
    return None


class Scenario:
    """The single-server checks, in order."""

    def __init__(self, report: Report, srv: LanyardServer, work: Path) -> None:
        self.report = report
        self.srv = srv
        self.work = work
        self.ids: dict[str, int] = {}  # user/group ids by name
        self.apps: dict[str, dict] = {}
        self.md: dict[str, str] = {}  # exported metadata by app key
        self.aws_response: str | None = None
        self.request_ids: dict[str, str] = {}  # case -> AuthnRequest ID that got a response
        self.alice: Browser | None = None

    # --- plumbing ------------------------------------------------------------

    def ok(self, case: str, peer: str, detail: str) -> None:
        self.report.ok(case, peer, detail)

    def fail(self, case: str, peer: str, detail: str) -> None:
        self.report.fail(case, peer, detail)

    def check(self, case: str, peer: str, problems: list[str], good: str) -> bool:
        if problems:
            self.fail(case, peer, "; ".join(problems))
            return False
        self.ok(case, peer, good)
        return True

    def api(self, case: str, method: str, path: str, want: int, json_body: object = None) -> object:
        status, _, body = self.srv.api(method, path, json=json_body)
        if status != want:
            self.fail(case, "api", f"{method} {path} answered {status}, expected {want}: "
                                   f"{one_line(body.decode('utf-8', 'replace'), 600)}")
            raise Stop
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return body.decode("utf-8", "replace")

    def url(self, path: str) -> str:
        return self.srv.url(path)

    @staticmethod
    def login_form(page: Page):
        for f in page.forms():
            if urllib.parse.urlsplit(f.action).path == "/login" and "password" in f.fields:
                return f
        return None

    def sign_in(self, br: Browser, login: str, password: str, start: str = "/portal") -> Page:
        """Open `start` (following redirects), fill the sign-in form wherever it appears, submit, follow."""
        page = br.open(self.url(start))
        form = self.login_form(page)
        if form is None:
            raise AssertionError(f"no sign-in form after {page.describe()}")
        done = br.submit(form, {"login": login, "password": password}, follow=True)
        done.chain = page.chain + [page] + done.chain
        return done

    def saml_post(self, case: str, page: Page, acs: str, relay: str | None, peer: str = "lanyard") -> str | None:
        """Check the auto-post page; return its SAMLResponse (None after a FAIL)."""
        problems = []
        if page.status != 200:
            problems.append(f"status {page.status} ({page.describe()}): {one_line(page.text, 300)}")
        form = page.form("saml-post")
        if form is None:
            self.fail(case, peer, f"no form#saml-post: {'; '.join(problems) or one_line(page.text, 300)}")
            return None
        if form.method != "post":
            problems.append(f"form method {form.method}")
        if form.action != acs:
            problems.append(f"form action {form.action!r} != ACS {acs!r}")
        unnamed = [i for i in form.inputs if not i.get("name")]
        if unnamed:
            problems.append(f"inputs without a name: {unnamed}")
        if not any((b.get("type") or "submit") == "submit" for b in form.buttons):
            problems.append("no submit button (the no-JavaScript path)")
        if form.fields.get("RelayState") != relay:
            problems.append(f"RelayState {form.fields.get('RelayState')!r} != {relay!r}")
        inline = [m for m in re.findall(r"<script\b[^>]*>", page.text, re.I) if "src=" not in m.lower()]
        if inline or re.search(r"\son[a-z]+\s*=", page.text, re.I):
            problems.append(f"inline script or handler on the page: {inline}")
        csp = page.headers.get("content-security-policy", "")
        if "unsafe-inline" in csp or "form-action" not in csp or origin_of(acs) not in csp:
            problems.append(f"CSP {csp!r}: want form-action allowing the ACS origin, no unsafe-inline")
        b64 = form.fields.get("SAMLResponse")
        if not b64:
            problems.append("no SAMLResponse field")
        if not self.check(case, peer, problems,
                          f"{page.describe()}: form#saml-post POST {acs}, RelayState={relay!r}, "
                          f"every input named, button for no-JS, no inline script, CSP {one_line(csp, 200)}"):
            return None
        return b64

    def refused(self, case: str, page: Page, status: int, phrase: str, what: str) -> bool:
        """A denial page: `status`, `phrase` in the text, no SAML response in any body of the chain."""
        problems = []
        if page.status != status:
            problems.append(f"status {page.status}, expected {status}")
        if phrase.lower() not in page.text.lower():
            problems.append(f"phrase {phrase!r} not on the page: {one_line(re.sub(r'<[^>]+>', ' ', page.text), 400)}")
        for p in page.chain + [page]:
            why = response_in(p.body)
            if why:
                problems.append(f"{p.method} {p.url} ({p.status}) body carries {why}")
            if p.status in (301, 302, 303, 307, 308) and p.location and "SAMLResponse" in p.location:
                problems.append(f"redirect to {p.location} carries a SAMLResponse")
        return self.check(case, "lanyard", problems,
                          f"{what}: {page.describe()} -> {page.status} '{phrase}', no SAMLResponse in "
                          f"{len(page.chain) + 1} bodies")

    def judge_aws(self, case: str, b64: str, name_id: str) -> bool:
        """python3-saml (strict) and pysaml2 accept an AWS response; its content is asserted."""
        md = self.md["aws"]
        entity = self.apps["aws"]["sso"]["idp_entity_id"]
        want = {"NameID": name_id, f"{ATTR}Role": [ROLE_VALUE], f"{ATTR}RoleSessionName": [name_id],
                f"{ATTR}SessionDuration": [SESSION_DURATION]}
        all_ok = True
        v = es.python3_saml_check(md, b64, sp_entity_id=AWS_SP, acs_url=AWS_ACS, want_messages_signed=False)
        all_ok &= self.content(case, "python3-saml", v, want, "strict, SP urn:amazon:webservices, ACS "
                               f"{AWS_ACS}, wantAssertionsSigned, rejectDeprecatedAlgorithm, settings from the exported metadata")
        client = es.pysaml2_client(self.work / "aws-metadata.xml", sp_entity_id=AWS_SP, acs_url=AWS_ACS,
                                   want_response_signed=False, allow_unsolicited=True)
        v = es.pysaml2_check(client, b64)
        all_ok &= self.content(case, "pysaml2", v, want, "want_assertions_signed, accepted_time_diff=0, "
                               "metadata file = the export")
        f = es.response_facts(b64)
        problems = []
        if f["in_response_to"] or f["scd_in_response_to"]:
            problems.append(f"unsolicited response carries InResponseTo {f['in_response_to']!r}/{f['scd_in_response_to']!r}")
        if f["destination"] != AWS_ACS or f["recipient"] != AWS_ACS:
            problems.append(f"Destination {f['destination']!r} / Recipient {f['recipient']!r} != {AWS_ACS}")
        if f["issuer"] != entity:
            problems.append(f"Issuer {f['issuer']!r} != the app's IdP entity ID {entity!r}")
        if "Assertion" not in f["signed"] or f["assertions"] != 1:
            problems.append(f"signed elements {f['signed']}, {f['assertions']} assertions")
        all_ok &= self.check(case, "xml", problems,
                             f"no InResponseTo; Destination=Recipient={AWS_ACS}; Issuer={entity}; "
                             f"Audience {f['audiences']}; signed {f['signed']}")
        return all_ok

    def content(self, case: str, peer: str, v: es.Verdict, want: dict, how: str,
                request_id: str | None = None) -> bool:
        if not v.ok:
            self.fail(case, peer, f"refused the response ({how}): {v.error}")
            return False
        problems = []
        if v.name_id != want["NameID"]:
            problems.append(f"NameID {v.name_id!r} != {want['NameID']!r}")
        for name, values in want.items():
            if name != "NameID" and v.attributes.get(name) != values:
                problems.append(f"{name.replace(ATTR, '')} {v.attributes.get(name)!r} != {values!r}")
        if request_id is not None and v.in_response_to != request_id:
            problems.append(f"InResponseTo {v.in_response_to!r} != request ID {request_id!r}")
        shown = ", ".join(f"{k.replace(ATTR, '')}={vals}" for k, vals in v.attributes.items())
        return self.check(case, peer, problems, f"accepted ({how}); NameID={v.name_id}; {shown}"
                          + (f"; InResponseTo={v.in_response_to}" if request_id else ""))

    # --- steps ---------------------------------------------------------------

    def setup(self) -> None:
        case = "setup"
        g = self.api(case, "POST", "/api/v1/groups", 201, {"name": "aws-admins"})
        self.ids["group"] = g["id"]
        for name in ("alice", "bob", "carol", "dave", "erin"):
            u = self.api(case, "POST", "/api/v1/users", 201,
                         {"email": f"{name}@example.com", "username": name, "password": PASSWORD})
            self.ids[name] = u["id"]
            if name != "bob":
                self.api(case, "PUT", f"/api/v1/groups/{g['id']}/members/{u['id']}", 204)
        for key, label in (("aws", "Amazon AWS"), ("off", "AWS Sandbox"), ("gone", "AWS Retired")):
            app = self.api(case, "POST", APPS, 201, {"template": "aws-iam", "label": label})
            self.api(case, "PUT", f"{APPS}/{app['id']}/groups/{g['id']}", 204)
            self.api(case, "PUT", f"{APPS}/{app['id']}/entitlements", 200,
                     [{"group_id": g["id"], "account_id": ACCOUNT, "role_name": "Admin", "provider_name": "Lanyard"}])
            self.apps[key] = self.api(case, "GET", f"{APPS}/{app['id']}", 200)
            if not self.apps[key]["sso_active"]:
                self.fail(case, "api", f"{label}: sso_active is false after creation (placeholders "
                                       f"{self.apps[key].get('placeholders')})")
                raise Stop
        self.api(case, "POST", f"{APPS}/{self.apps['off']['id']}/deactivate", 200)
        # the SPs of the SP-initiated cases, registered from their own metadata
        key_pem, cert_pem = make_sp_keypair(self.work)
        self.sp1 = es.OneLoginSp(entity_id=SP1[0], acs_url=SP1[1], cert_pem=cert_pem, key_pem=key_pem)
        sp1_md = self.sp1.metadata()
        (self.work / "sp1-metadata.xml").write_text(sp1_md, encoding="utf-8")
        self.apps["sp1"] = self.api(case, "POST", APPS, 201, {"template": "custom-saml", "label": "Example SP",
                                                              "sp_metadata": sp1_md, **CUSTOM_ATTRS})
        self.api(case, "PUT", f"{APPS}/{self.apps['sp1']['id']}/groups/{g['id']}", 204)
        self.export("aws")
        self.export("sp1")
        # pysaml2 loads some IdP metadata before it writes its own SP metadata (any will do: sp1's)
        placeholder = self.work / "placeholder-idp.xml"
        placeholder.write_text(self.md["sp1"], encoding="utf-8")
        (self.work / "sp2").mkdir(exist_ok=True)
        make_sp_keypair(self.work / "sp2")
        self.sp2_files = (self.work / "sp2" / "sp.key", self.work / "sp2" / "sp.crt")
        self.sp2 = es.pysaml2_client(placeholder, sp_entity_id=SP2[0], acs_url=SP2[1], want_response_signed=True,
                                     allow_unsolicited=False, key_file=self.sp2_files[0],
                                     cert_file=self.sp2_files[1], sign_requests=True)
        sp2_md = es.pysaml2_sp_metadata(self.sp2)
        (self.work / "sp2-metadata.xml").write_text(sp2_md, encoding="utf-8")
        self.apps["sp2"] = self.api(case, "POST", APPS, 201, {"template": "custom-saml", "label": "Example SP Two",
                                                              "sp_metadata": sp2_md, **CUSTOM_ATTRS})
        self.api(case, "PUT", f"{APPS}/{self.apps['sp2']['id']}/groups/{g['id']}", 204)
        self.export("sp2")
        self.sp2 = es.pysaml2_client(self.work / "sp2-idp-metadata.xml", sp_entity_id=SP2[0], acs_url=SP2[1],
                                     want_response_signed=True, allow_unsolicited=False,
                                     key_file=self.sp2_files[0], cert_file=self.sp2_files[1], sign_requests=True)
        problems = []
        for key in ("sp1", "sp2"):
            a = self.apps[key]
            # both SPs' metadata say AuthnRequestsSigned="true": the import must require signed requests;
            # the signed/unsigned matrix runs with it off, sp-signed-required turns it on again
            if not a["sso"]["require_signed_requests"]:
                problems.append(f"{key}: AuthnRequestsSigned=\"true\" in the SP metadata did not set require_signed_requests")
            a.update(self.api(case, "PATCH", f"{APPS}/{a['id']}", 200, {"sso": {"require_signed_requests": False}}))
            want_sp = SP1 if key == "sp1" else SP2
            acs = [u["url"] for u in a["sso"]["acs_urls"]]
            if a["sso"]["sp_entity_id"] != want_sp[0] or want_sp[1] not in acs or not a["sp_certificates"]:
                problems.append(f"{key}: SP metadata import gave sp_entity_id={a['sso']['sp_entity_id']!r} "
                                f"acs={acs} {len(a['sp_certificates'])} certificates")
            if not a["sso_active"]:
                problems.append(f"{key}: sso_active false (placeholders {a.get('placeholders')})")
        self.check(case, "api", problems,
                   f"group {g['id']}, users {self.ids}, apps " +
                   ", ".join(f"{k}={a['slug']}" for k, a in self.apps.items()) +
                   f"; '{self.apps['off']['slug']}' deactivated; Custom SAML apps from python3-saml's and "
                   "pysaml2's SP metadata; metadata exported for aws/sp1/sp2")

    def export(self, key: str) -> None:
        status, headers, body = self.srv.api("GET", f"{APPS}/{self.apps[key]['id']}/metadata")
        if status != 200 or not body.startswith(b"<?xml"):
            self.fail("setup", "api", f"export of {key}: {status} {one_line(body[:300])}")
            raise Stop
        self.md[key] = body.decode("utf-8")
        name = {"aws": "aws-metadata.xml", "sp1": "sp1-idp-metadata.xml", "sp2": "sp2-idp-metadata.xml"}[key]
        (self.work / name).write_bytes(body)

    def sign_in_alice(self) -> None:
        case = "sign-in"
        br = Browser("alice")
        page = self.sign_in(br, "alice@example.com", PASSWORD)
        problems = []
        if page.status != 200 or urllib.parse.urlsplit(page.url).path != "/portal":
            problems.append(f"ended at {page.describe()}")
        hops = [p.url for p in page.chain]
        if not any("/login?next=%2Fportal" in u for u in hops):
            problems.append(f"/portal did not send the browser to /login?next=%2Fportal: {hops}")
        cookies = [c for p in page.chain + [page] for c in p.set_cookies if c.startswith("lanyard_session=")]
        if not cookies:
            problems.append("no lanyard_session cookie set")
        else:
            attrs = [a.strip().lower() for a in cookies[-1].split(";")[1:]]
            if "httponly" not in attrs or "samesite=lax" not in attrs:
                problems.append(f"session cookie attributes {attrs}: want HttpOnly, SameSite=Lax")
            if "secure" in attrs:
                problems.append("session cookie is Secure on an http base URL (browsers would drop it)")
        csrf = [c for p in page.chain for c in p.set_cookies if c.startswith("lanyard_csrf=")]
        if not csrf:
            problems.append("no lanyard_csrf double-submit cookie on the sign-in page")
        if "alice@example.com" not in page.text:
            problems.append("the portal does not name the user")
        if self.check(case, "lanyard", problems, f"{page.describe()}; Set-Cookie {cookies[-1].split('=')[0]}=...; "
                      f"{'; '.join(cookies[-1].split(';')[1:]).strip()}"):
            self.alice = br
        else:
            raise Stop
        # a POST without the CSRF token is refused
        fresh = Browser("csrf")
        p = fresh.open(self.url("/login"))
        form = self.login_form(p)
        bad = fresh.submit(form, {"login": "alice", "password": PASSWORD, "csrf": "0" * 64})
        self.check("sign-in-csrf", "lanyard",
                   [] if bad.status == 403 and not fresh.cookie("lanyard_session") else
                   [f"a wrong CSRF token got {bad.status}, session cookie {bool(fresh.cookie('lanyard_session'))}"],
                   f"wrong CSRF token -> {bad.status}, no session")

    def tiles(self, br: Browser) -> dict[str, str]:
        page = br.open(self.url("/portal"))
        return {m.group(1): m.group(0) for m in re.finditer(r'href="(/saml2/[^"]+)"', page.text)}

    def portal(self) -> None:
        tiles = self.tiles(self.alice)
        want = {f"/saml2/{self.apps[k]['slug']}" for k in ("aws", "gone", "sp1", "sp2")}
        problems = []
        if not want <= set(tiles):
            problems.append(f"missing tiles {sorted(want - set(tiles))}")
        off = f"/saml2/{self.apps['off']['slug']}"
        if off in tiles:
            problems.append(f"the deactivated app has a tile {off}")
        self.check("portal", "lanyard", problems, f"alice's tiles {sorted(tiles)}; deactivated app not shown")

    def idp_initiated(self) -> None:
        case = "idp-initiated"
        href = f"/saml2/{self.apps['aws']['slug']}"
        if href not in self.tiles(self.alice):
            self.fail(case, "lanyard", f"no tile {href} on alice's portal")
            return
        page = self.alice.open(self.url(href))
        b64 = self.saml_post(case, page, AWS_ACS, None)
        if not b64:
            return
        self.aws_response = b64
        self.judge_aws(case, b64, "alice@example.com")
        # controls: the same validator refuses what it must
        v = es.python3_saml_check(self.md["aws"], b64, sp_entity_id="urn:example:not-aws", acs_url=AWS_ACS,
                                  want_messages_signed=False)
        self.check(case, "python3-saml[control]", [] if not v.ok else ["accepted a response for another audience"],
                   f"another SP entity ID is refused: {one_line(v.error, 200)}")
        xml = es.response_xml(b64).replace(b">alice@example.com<", b">mallory@example.com<", 1)
        v = es.python3_saml_check(self.md["aws"], base64.b64encode(xml).decode(), sp_entity_id=AWS_SP,
                                  acs_url=AWS_ACS, want_messages_signed=False)
        self.check(case, "python3-saml[control]", [] if not v.ok else ["accepted a tampered NameID"],
                   f"a tampered NameID is refused: {one_line(v.error, 200)}")

    def idp_url_detour(self) -> None:
        case = "idp-url-detour"
        br = Browser("alice-2")
        path = f"/saml2/{self.apps['aws']['slug']}"
        page = self.sign_in(br, "alice", PASSWORD, start=path)
        hops = [p.url for p in page.chain]
        want_login = "/login?next=" + urllib.parse.quote(path, safe="")
        if not any(want_login in u for u in hops) or not page.url.endswith(path):
            self.fail(case, "lanyard", f"expected {path} -> {want_login} -> sign in -> {path}: {page.describe()}")
            return
        b64 = self.saml_post(case, page, AWS_ACS, None)
        if b64:
            self.judge_aws(case, b64, "alice@example.com")

    def moto(self) -> None:
        case = "moto"
        if not self.aws_response:
            self.fail(case, "moto", "no AWS response from idp-initiated to redeem")
            return
        v = es.python3_saml_check(self.md["aws"], self.aws_response, sp_entity_id=AWS_SP, acs_url=AWS_ACS,
                                  want_messages_signed=False)
        roles = v.attributes.get(f"{ATTR}Role", [""]) if v.ok else [ROLE_VALUE]
        role_arn, _, principal_arn = roles[0].partition(",")
        try:
            with MotoServer() as moto:
                out = moto.round_trip(self.md["aws"], self.aws_response, provider_name="Lanyard",
                                      role_name="Admin", role_arn=role_arn)
                endpoint = moto.endpoint
        except (MotoError, OSError) as exc:
            self.fail(case, "moto", f"moto: {one_line(exc, 1500)}")
            return
        want = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice@example.com"
        problems = []
        if out.get("error"):
            problems.append(out["error"])
        if out.get("provider_arn") != PROVIDER_ARN or principal_arn != PROVIDER_ARN:
            problems.append(f"provider ARN {out.get('provider_arn')!r}, Role value's principal {principal_arn!r}, "
                            f"want {PROVIDER_ARN}")
        if not out.get("provider_metadata_stored"):
            problems.append("the exported metadata did not round-trip through create-saml-provider")
        if out.get("assumed_role_arn") != want or out.get("caller_arn") != want:
            problems.append(f"assumed-role ARN {out.get('assumed_role_arn')!r}, caller {out.get('caller_arn')!r}, want {want}")
        if not (out.get("access_key_id") and out.get("has_secret") and out.get("has_session_token")):
            problems.append(f"incomplete credentials {out}")
        self.check(case, "moto", problems,
                   f"moto_server {endpoint}: create-saml-provider (exported metadata) -> {out.get('provider_arn')}; "
                   f"create-role -> {out.get('role_arn')}; assume-role-with-saml(RoleArn={role_arn}, the user's "
                   f"response) -> {out.get('assumed_role_arn')}, key {out.get('access_key_id')}; "
                   f"get-caller-identity -> {out.get('caller_arn')} (smoke test: moto checks no signature)")

    # --- SP-initiated ------------------------------------------------------------

    def sp_response(self, case: str, br: Browser, page: Page, acs: str, relay: str | None, rid: str,
                    judge, peer: str) -> bool:
        b64 = self.saml_post(case, page, acs, relay)
        if not b64:
            return False
        f = es.response_facts(b64)
        problems = []
        if f["in_response_to"] != rid or f["scd_in_response_to"] != rid:
            problems.append(f"InResponseTo {f['in_response_to']!r} / SubjectConfirmationData "
                            f"{f['scd_in_response_to']!r} != request ID {rid!r}")
        if f["destination"] != acs or f["recipient"] != acs:
            problems.append(f"Destination {f['destination']!r} / Recipient {f['recipient']!r} != {acs}")
        self.check(case, "xml", problems, f"InResponseTo={rid} on Response and SubjectConfirmationData; "
                                          f"Destination=Recipient={acs}; signed {f['signed']}")
        v = judge(b64)
        ok = self.content(case, peer, v, CUSTOM_WANT,
                          "strict, request_id given" if peer == "python3-saml" else "outstanding={request ID}",
                          request_id=rid)
        if ok:
            self.request_ids[case] = rid
        return ok

    def sp_python3_saml(self) -> None:
        md, slug = self.md["sp1"], self.apps["sp1"]["slug"]
        sso = f"{self.srv.base_url}/saml2/{slug}"

        def judge_with(rid):
            return lambda b64: self.sp1.check(md, b64, rid)

        for binding in ("redirect", "post"):
            for signed in (True, False):
                case = f"sp-python3-saml-{binding}-{'signed' if signed else 'unsigned'}"
                try:
                    if binding == "redirect":
                        url, rid = self.sp1.redirect_request(md, RELAY, signed)
                        if not url.startswith(sso + "?"):
                            self.fail(case, "python3-saml", f"redirect URL {url[:100]} is not on {sso}")
                            continue
                        page = self.alice.open(self.direct(url))
                    else:
                        dest, req_b64, rid = self.sp1.post_request(md, signed)
                        page = self.cross_site_post(case, self.alice, dest, req_b64, RELAY, origin_of(SP1[1]))
                        if page is None:
                            continue
                except Exception as exc:
                    self.fail(case, "python3-saml", f"{type(exc).__name__}: {one_line(exc)}")
                    continue
                if any("/login" in p.url for p in page.chain):
                    self.fail(case, "lanyard", f"a signed-in browser was sent to sign in: {page.describe()}")
                    continue
                self.sp_response(case, self.alice, page, SP1[1], RELAY, rid, judge_with(rid), "python3-saml")

        # the sign-in detour: a browser without a session arrives with an AuthnRequest
        case = "sp-python3-saml-redirect-detour"
        url, rid = self.sp1.redirect_request(md, RELAY, True)
        br = Browser("alice-sp")
        page = br.open(self.direct(url))
        form = self.login_form(page)
        if form is None:
            self.fail(case, "lanyard", f"no sign-in form after the AuthnRequest: {page.describe()}")
        else:
            done = br.submit(form, {"login": "alice", "password": PASSWORD}, follow=True)
            if not done.url.startswith(self.direct(sso) + "?SAMLRequest="):
                self.fail(case, "lanyard", f"did not come back to the AuthnRequest: {done.describe()}")
            else:
                self.ok(case, "lanyard", f"{page.describe()} -> sign in -> {done.describe()}")
                self.sp_response(case, br, done, SP1[1], RELAY, rid, judge_with(rid), "python3-saml")

        # a cross-site POST from a browser without a session: 303 -> GET -> sign in -> back
        case = "sp-python3-saml-post-detour"
        dest, req_b64, rid = self.sp1.post_request(md, True)
        br = Browser("alice-sp-post")
        page = self.cross_site_post(case, br, dest, req_b64, RELAY, origin_of(SP1[1]))
        form = self.login_form(page) if page else None
        if page is not None and form is None:
            self.fail(case, "lanyard", f"no sign-in form: {page.describe()}")
        elif form is not None:
            done = br.submit(form, {"login": "alice", "password": PASSWORD}, follow=True)
            self.sp_response(case, br, done, SP1[1], RELAY, rid, judge_with(rid), "python3-saml")

        # replay: the same redirect URL again
        case = "sp-replay"
        url, rid = self.sp1.redirect_request(md, RELAY, True)
        first = self.alice.open(self.direct(url))
        if first.form("saml-post") is None:
            self.fail(case, "lanyard", f"the first use did not get a response: {first.describe()}")
        else:
            again = self.alice.open(self.direct(url))
            self.refused(case, again, 400, "cannot be used", f"the same AuthnRequest {rid} a second time")

        # an ACS URL the app does not have: an error page, never a redirect or a post
        case = "sp-unregistered-acs"
        url, rid = self.sp1.redirect_request(md, RELAY, True, acs_url="https://evil.example.test/acs")
        page = self.alice.get(self.direct(url))
        if page.status in (301, 302, 303, 307, 308):
            self.fail(case, "lanyard", f"redirected to {page.location} for an unregistered ACS")
        else:
            self.refused(case, page, 400, "cannot be used", "AssertionConsumerServiceURL https://evil.example.test/acs")

        # a signed redirect whose RelayState was changed after signing
        case = "sp-bad-signature"
        url, rid = self.sp1.redirect_request(md, RELAY, True)
        tampered = re.sub(r"RelayState=[^&]*", "RelayState=%2Fsomewhere-else", url)
        self.refused(case, self.alice.open(self.direct(tampered)), 400, "cannot be used",
                     "RelayState changed after the SP signed the query")

        # the app requires signed requests: unsigned refused, signed accepted
        case = "sp-signed-required"
        self.api(case, "PATCH", f"{APPS}/{self.apps['sp1']['id']}", 200, {"sso": {"require_signed_requests": True}})
        url, rid = self.sp1.redirect_request(md, RELAY, False)
        self.refused(case, self.alice.open(self.direct(url)), 400, "cannot be used",
                     "an unsigned AuthnRequest to an app that requires signed ones")
        url, rid = self.sp1.redirect_request(md, RELAY, True)
        self.sp_response(case + "-signed", self.alice, self.alice.open(self.direct(url)), SP1[1], RELAY, rid,
                         judge_with(rid), "python3-saml")
        self.api(case, "PATCH", f"{APPS}/{self.apps['sp1']['id']}", 200, {"sso": {"require_signed_requests": False}})

    def direct(self, url: str) -> str:
        """A URL on the public base URL, sent to this server process."""
        if url.startswith(self.srv.base_url):
            return self.srv.direct_url + url[len(self.srv.base_url):]
        return url

    def cross_site_post(self, case: str, br: Browser, dest: str, req_b64: str, relay: str | None,
                        origin: str) -> Page | None:
        """The SP's page posts the AuthnRequest cross-site; the IdP must answer 303 to a same-site GET."""
        form = {"SAMLRequest": req_b64}
        if relay is not None:
            form["RelayState"] = relay
        first = br.post(self.direct(dest), form, cross_site=True, origin=origin)
        loc = first.location or ""
        if first.status != 303 or not loc.startswith(self.srv.direct_url + "/saml2/"):
            self.fail(case, "lanyard", f"POST binding answered {first.status} Location {loc!r}, expected a 303 "
                                       f"to a same-site GET: {one_line(first.text, 300)}")
            return None
        page = br.follow(first, cross_site=True)
        if br.cookie("lanyard_session"):  # a signed-in browser: SameSite=Lax at work
            get = page.chain[1] if len(page.chain) > 1 else page
            problems = []
            if "lanyard_session=" in first.sent_cookie:
                problems.append("the cross-site POST carried the Lax session cookie (browser emulation broken)")
            if "lanyard_session=" not in get.sent_cookie:
                problems.append(f"the same-site GET after the 303 did not carry the session cookie: {get.url}")
            self.check(case, "browser", problems, "cross-site POST sent no session cookie (SameSite=Lax); "
                                                  "the 303's top-level GET did, and found the session")
        return page

    def sp_pysaml2(self) -> None:
        idp_entity = self.apps["sp2"]["sso"]["idp_entity_id"]
        for binding, bname in ((es.B_REDIRECT, "redirect"), (es.B_POST, "post")):
            for signed in (True, False):
                case = f"sp-pysaml2-{bname}-{'signed' if signed else 'unsigned'}"
                try:
                    req = es.pysaml2_request(self.sp2, idp_entity, RELAY, binding, signed)
                    if bname == "redirect":
                        page = self.alice.open(self.direct(req["url"]))
                    else:
                        if req["relay_state"] != RELAY:
                            self.fail(case, "pysaml2", f"pysaml2's form RelayState {req['relay_state']!r}")
                            continue
                        page = self.cross_site_post(case, self.alice, req["action"], req["saml_request"], RELAY,
                                                    origin_of(SP2[1]))
                        if page is None:
                            continue
                except Exception as exc:
                    self.fail(case, "pysaml2", f"{type(exc).__name__}: {one_line(exc)}")
                    continue
                rid = req["id"]
                self.sp_response(case, self.alice, page, SP2[1], RELAY, rid,
                                 lambda b64, rid=rid: es.pysaml2_check(self.sp2, b64, outstanding={rid: "/"}),
                                 "pysaml2")

    # --- denials -------------------------------------------------------------------

    def denials(self) -> None:
        aws = f"/saml2/{self.apps['aws']['slug']}"
        # not bound to bob's groups
        bob = Browser("bob")
        p = self.sign_in(bob, "bob", PASSWORD)
        if p.status == 200 and p.url.endswith("/portal"):
            self.refused("denied-unauthorized", bob.open(self.url(aws)), 403, "not authorized",
                         "bob (no bound group) opens the AWS app")
        else:
            self.fail("denied-unauthorized", "lanyard", f"bob could not sign in: {p.describe()}")
        # SSO deactivated
        self.refused("denied-deactivated", self.alice.open(self.url(f"/saml2/{self.apps['off']['slug']}")), 403,
                     "deactivated", "alice opens a deactivated app")
        # suspended while signed in
        carol = Browser("carol")
        p = self.sign_in(carol, "carol", PASSWORD, start=aws)
        if p.form("saml-post") is None:
            self.fail("denied-suspended", "lanyard", f"carol got no response before suspension: {p.describe()}")
        else:
            self.api("denied-suspended", "POST", f"/api/v1/users/{self.ids['carol']}/suspend", 200)
            self.refused("denied-suspended", carol.open(self.url(aws)), 403, "suspended",
                         "carol, suspended after signing in, opens the AWS app")
            self.refused("denied-suspended-sign-in", self.sign_in(Browser("carol-2"), "carol", PASSWORD, start=aws),
                         403, "suspended", "carol signs in again while suspended")
        # locked: 5 wrong passwords, then the right one
        dave = Browser("dave")
        statuses = []
        for _ in range(5):
            p = self.sign_in(dave, "dave", "not the password", start=aws)
            statuses.append(p.status)
            if WRONG not in p.text:
                self.fail("denied-locked", "lanyard", f"a wrong password did not get {WRONG!r}: {p.describe()}")
                break
        else:
            p = self.sign_in(dave, "dave", PASSWORD, start=aws)
            if self.refused("denied-locked", p, 403, "locked",
                            f"dave: 5 wrong passwords (statuses {statuses}, each '{WRONG}'), then the right one"):
                p = dave.open(self.url(aws))
                self.check("denied-locked", "lanyard",
                           [] if self.login_form(p) and not response_in(p.all_bodies()) else
                           [f"the locked user's browser reached {p.describe()}"],
                           f"the AWS app still sends dave's browser to sign in: {p.describe()}")
        # unknown user: the same message as a wrong password
        p = self.sign_in(Browser("nobody"), "nobody@example.com", PASSWORD, start=aws)
        self.refused("denied-unknown-user", p, 200, WRONG, "an unknown login")
        # deleted app: works, then deleted, then 404
        gone = f"/saml2/{self.apps['gone']['slug']}"
        p = self.alice.open(self.url(gone))
        if p.form("saml-post") is None:
            self.fail("denied-deleted-app", "lanyard", f"the app to delete did not work first: {p.describe()}")
        else:
            self.api("denied-deleted-app", "DELETE", APPS, 200, {"ids": [self.apps["gone"]["id"]], "confirm_count": 1})
            self.refused("denied-deleted-app", self.alice.open(self.url(gone)), 404, "not found",
                         "alice opens the app after it was deleted (it had worked before)")
            self.check("denied-deleted-app", "portal", [] if gone not in self.tiles(self.alice) else
                       [f"the deleted app's tile {gone} is still on the portal"], "the tile is gone from the portal")
        self.refused("denied-unknown-slug", self.alice.open(self.url("/saml2/no-such-app")), 404, "not found",
                     "an unknown slug")

    # --- TOTP ----------------------------------------------------------------------

    def totp(self) -> None:
        case = "totp"
        aws = f"/saml2/{self.apps['aws']['slug']}"
        br = Browser("erin")
        self.sign_in(br, "erin", PASSWORD)
        page = br.open(self.url("/portal/totp"))
        m = re.search(r"<code>([A-Z2-7]{16,})</code>", page.text)
        form = next((f for f in page.forms() if urllib.parse.urlsplit(f.action).path == "/portal/totp"), None)
        if not m or form is None or "otpauth://totp/" not in page.text:
            self.fail(case, "lanyard", f"no key, otpauth URI or form on /portal/totp: {page.describe()}")
            return
        secret = m.group(1)
        step = int(time.time()) // 30
        done = br.submit(form, {"code": totp_code(secret, step)}, follow=True)
        if "two-step sign-in is on" not in br.open(self.url("/portal/totp")).text.lower():
            self.fail(case, "lanyard", f"enrollment with a correct code did not turn TOTP on: {done.describe()}")
            return
        self.ok(case, "lanyard", f"enrolled: key from the page, code for step {step} -> {done.describe()}")
        # sign in through the app's URL: password, then a code (the next step's, within the 1-step skew)
        code = totp_code(secret, step + 1)
        e2 = Browser("erin-2")
        page = self.sign_in(e2, "erin", PASSWORD, start=aws)
        f2 = next((f for f in page.forms() if urllib.parse.urlsplit(f.action).path == "/login/totp"), None)
        if f2 is None or "/login/totp" not in page.url:
            self.fail(case, "lanyard", f"the password did not lead to the code step: {page.describe()}")
            return
        if response_in(page.all_bodies()):
            self.fail(case, "lanyard", "a SAML response before the second factor")
            return
        page = e2.submit(f2, {"code": code}, follow=True)
        b64 = self.saml_post(case, page, AWS_ACS, None)
        if b64:
            v = es.python3_saml_check(self.md["aws"], b64, sp_entity_id=AWS_SP, acs_url=AWS_ACS,
                                      want_messages_signed=False)
            self.content(case, "python3-saml", v, {"NameID": "erin@example.com", f"{ATTR}Role": [ROLE_VALUE],
                                                   f"{ATTR}RoleSessionName": ["erin@example.com"]},
                         "strict, after password + TOTP")
        # the same code once more: refused, whatever the window says
        e3 = Browser("erin-3")
        page = self.sign_in(e3, "erin", PASSWORD, start=aws)
        f3 = next((f for f in page.forms() if urllib.parse.urlsplit(f.action).path == "/login/totp"), None)
        if f3 is None:
            self.fail(case + "-replay", "lanyard", f"no code step: {page.describe()}")
            return
        self.refused(case + "-replay", e3.submit(f3, {"code": code}, follow=True), 200, "already used",
                     "the code that just signed erin in, used again")

    # --- audit -------------------------------------------------------------------

    def events(self) -> list[dict]:
        out, before = [], None
        for _ in range(40):
            q = "?limit=500" + (f"&before={before}" if before else "")
            page = self.api("audit", "GET", f"/api/v1/audit-events{q}", 200)
            out.extend(page["items"])
            before = page.get("next")
            if not before:
                break
        return out

    def audit(self) -> None:
        case = "audit"
        ids, apps = self.ids, self.apps

        def summary(e):
            s = e.get("summary")
            return json.loads(s) if isinstance(s, str) else (s or {})

        def has(events, action, target=None, **fields):
            for e in events:
                if e["action"] != action or (target and e["target"] != target):
                    continue
                s = summary(e)
                if all(s.get(k) == v for k, v in fields.items()):
                    return e
            return None

        want = [
            ("sign-in alice", "user.sign_in", f"user:{ids['alice']}", {"method": "password"}),
            ("wrong password dave", "user.sign_in_failed", f"user:{ids['dave']}", {"reason": "wrong_password"}),
            ("locked dave", "user.sign_in_failed", f"user:{ids['dave']}", {"reason": "locked"}),
            ("suspended carol", "user.sign_in_failed", f"user:{ids['carol']}", {"reason": "suspended"}),
            ("unknown user", "user.sign_in_failed", None, {"reason": "unknown_user"}),
            ("sign-in erin with TOTP", "user.sign_in", f"user:{ids['erin']}", {"method": "password+totp"}),
            ("replayed TOTP erin", "user.sign_in_failed", f"user:{ids['erin']}", {"reason": "replayed_totp"}),
            ("issued idp-initiated", "sso.issued", f"application:{apps['aws']['id']}",
             {"flow": "idp_initiated", "user": ids["alice"], "acs_url": AWS_ACS}),
            ("denied not_authorized", "sso.denied", f"application:{apps['aws']['id']}",
             {"reason": "not_authorized", "user": ids["bob"]}),
            ("denied sso_inactive", "sso.denied", f"application:{apps['off']['id']}", {"reason": "sso_inactive"}),
            ("denied user_suspended", "sso.denied", f"application:{apps['aws']['id']}",
             {"reason": "user_suspended", "user": ids["carol"]}),
            ("denied replayed", "sso.denied", f"application:{apps['sp1']['id']}", {"reason": "replayed"}),
        ]
        for c, rid in self.request_ids.items():
            binding = "post" if "-post" in c else "redirect"
            app = apps["sp2"] if "pysaml2" in c else apps["sp1"]
            want.append((f"issued {c}", "sso.issued", f"application:{app['id']}",
                         {"flow": "sp_initiated", "request_id": rid, "binding": binding}))
        deadline = time.monotonic() + 20  # the audit writer batches
        while True:
            events = self.events()
            missing = [w for w in want if not has(events, w[1], w[2], **w[3])]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for label, action, target, fields in want:
            e = has(events, action, target, **fields)
            if e:
                self.ok(case, "api", f"{label}: {action} {e['target']} by {e['actor']} {json.dumps(summary(e))}")
            else:
                seen = sorted({(x['action'], summary(x).get('reason')) for x in events if x['action'].startswith(('user.sign', 'sso.'))},
                              key=str)
                self.fail(case, "api", f"{label}: no {action} {target or ''} with {fields}; seen {seen}")
        leaked = [e for e in events if PASSWORD in json.dumps(e)]
        self.check(case, "secrets", [f"{len(leaked)} events contain the password"] if leaked else [],
                   f"{len(events)} events, none contains a password")

    def run(self) -> None:
        steps = [self.setup, self.sign_in_alice, self.portal, self.idp_initiated, self.idp_url_detour, self.moto,
                 self.sp_python3_saml, self.sp_pysaml2, self.denials, self.totp, self.audit]
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
    sa = Scenario(report, a, work)
    g = sa.api(case, "POST", "/api/v1/groups", 201, {"name": "aws-admins"})
    u = sa.api(case, "POST", "/api/v1/users", 201, {"email": "alice@example.com", "username": "alice", "password": PASSWORD})
    sa.api(case, "PUT", f"/api/v1/groups/{g['id']}/members/{u['id']}", 204)
    app = sa.api(case, "POST", APPS, 201, {"template": "aws-iam", "label": "Amazon AWS"})
    sa.api(case, "PUT", f"{APPS}/{app['id']}/groups/{g['id']}", 204)
    sa.api(case, "PUT", f"{APPS}/{app['id']}/entitlements", 200,
           [{"group_id": g["id"], "account_id": ACCOUNT, "role_name": "Admin", "provider_name": "Lanyard"}])
    # B knows what A created, and exports the same metadata
    sb = Scenario(report, b, work)
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
