"""The harness every scenario uses: constants, the Base class (API calls, sign-in, judging
responses with the SP libraries), and the setup of the directory and the apps."""


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
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
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
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
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



class Base:
    """State shared by the scenarios, and their plumbing."""

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

