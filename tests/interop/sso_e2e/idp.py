"""IdP-initiated SSO (a tile, and the IdP URL without a session), and moto's STS round trip."""

from __future__ import annotations

from sso_e2e.base import *  # noqa: F401,F403 - the harness's names and constants
from sso_e2e.base import Base


class Idp(Base):
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


    def role_chooser(self) -> None:
        """Two roles: Lanyard's chooser, then a response with exactly the chosen role, judged by both libraries."""
        case = "role-chooser"
        app = self.apps["aws"]
        slug, ents = app["slug"], f"{APPS}/{app['id']}/entitlements"
        other, cap = "210987654321", 3600
        chosen = f"arn:aws:iam::{other}:role/ReadOnly,arn:aws:iam::{other}:saml-provider/Lanyard"
        self.api(case, "PATCH", f"{APPS}/{app['id']}", 200, {"attributes": [
            {"name": f"{ATTR}SessionDuration", "source": {"kind": "constant", "value": "28800"}},
            {"name": f"{ATTR}RoleSessionName", "source": {"kind": "user_field", "value": "email"}}]})
        self.api(case, "PUT", ents, 200, [
            {"group_id": self.ids["group"], "account_id": ACCOUNT, "role_name": "Admin", "provider_name": "Lanyard",
             "account_label": "production"},
            {"group_id": self.ids["group"], "account_id": other, "role_name": "ReadOnly", "provider_name": "Lanyard",
             "account_label": "sandbox", "max_session_duration": cap, "deep_link": "eu-west-1"}])
        try:
            page = self.alice.open(self.url(f"/saml2/{slug}"))
            form = next((f for f in page.forms() if f.action.endswith(f"/saml2/{slug}/role")), None)
            choices = sorted(b.get("value", "") for b in (form.buttons if form else []) if b.get("name") == "role")
            if page.status != 200 or form is None or choices != [f"{ACCOUNT}:Admin", f"{other}:ReadOnly"] \
                    or "sandbox (2109 8765 4321)" not in page.text or response_in(page.body):
                self.fail(case, "lanyard", f"expected the chooser with two roles and no response: {page.describe()} "
                                           f"choices {choices}: {one_line(page.text, 300)}")
                return
            self.ok(case, "lanyard", f"{page.describe()}: Lanyard's chooser, accounts by label, choices {choices}, "
                                     "no SAMLResponse yet")
            done = self.alice.submit(form, {"role": f"{other}:ReadOnly"}, follow=True)
            relay = f"https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
            b64 = self.saml_post(case, done, AWS_ACS, relay)
            if b64:
                want = {"NameID": "alice@example.com", f"{ATTR}Role": [chosen],
                        f"{ATTR}RoleSessionName": ["alice@example.com"], f"{ATTR}SessionDuration": [str(cap)]}
                v = es.python3_saml_check(self.md["aws"], b64, sp_entity_id=AWS_SP, acs_url=AWS_ACS,
                                          want_messages_signed=False)
                self.content(case, "python3-saml", v, want, "strict; exactly the chosen role, its own session cap")
                client = es.pysaml2_client(self.work / "aws-metadata.xml", sp_entity_id=AWS_SP, acs_url=AWS_ACS,
                                           want_response_signed=False, allow_unsolicited=True)
                self.content(case, "pysaml2", es.pysaml2_check(client, b64), want,
                             "exactly the chosen role, its own session cap")
            forged = self.alice.submit(form, {"role": "999999999999:Root"}, follow=True)
            self.refused(case, forged, 403, "Role not available", "a forged choice (a role not granted)")
        finally:
            # the later steps expect the one Admin role and the template's SessionDuration
            self.api(case, "PUT", ents, 200, [{"group_id": self.ids["group"], "account_id": ACCOUNT,
                                               "role_name": "Admin", "provider_name": "Lanyard"}])
            self.api(case, "PATCH", f"{APPS}/{app['id']}", 200, {"attributes": [
                {"name": f"{ATTR}SessionDuration", "source": {"kind": "constant", "value": SESSION_DURATION}},
                {"name": f"{ATTR}RoleSessionName", "source": {"kind": "user_field", "value": "email"}}]})
