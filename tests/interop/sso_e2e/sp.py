"""SP-initiated SSO: AuthnRequests made by python3-saml and pysaml2 on both bindings, signed and not; refusals."""

from __future__ import annotations

from sso_e2e.base import *  # noqa: F401,F403 - the harness's names and constants
from sso_e2e.base import Base


class Sp(Base):
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


    # --- the AuthnRequest policy: IsPassive, ForceAuthn, apps that take none ----------

    def sp_request_policy(self) -> None:
        md = self.md["sp1"]
        # IsPassive without a session: a signed NoPassive status goes back to the SP, whose request passed
        # its checks; python3-saml and pysaml2 read it as "not authenticated, NoPassive"
        case = "sp-no-passive-python3-saml"
        url, rid = self.sp1.redirect_request(md, RELAY, True, is_passive=True)
        page = Browser("passive-1").open(self.direct(url))
        b64 = self.saml_post(case, page, SP1[1], RELAY)
        if b64:
            f = es.response_facts(b64)
            v = self.sp1.check(md, b64, rid)
            problems = []
            if f["status"] != [STATUS_RESPONDER, STATUS_NO_PASSIVE]:
                problems.append(f"status codes {f['status']}")
            if f["in_response_to"] != rid or f["assertions"] != 0 or f["signed"] != ["Response"]:
                problems.append(f"InResponseTo {f['in_response_to']!r}, {f['assertions']} assertions, "
                                f"signed {f['signed']}")
            if v.ok or "NoPassive" not in v.error:
                problems.append(f"python3-saml: ok={v.ok} {v.error}")
            self.check(case, "python3-saml", problems,
                       f"IsPassive, no session -> signed Responder/NoPassive for {rid}; python3-saml: {v.error}")
        case = "sp-no-passive-pysaml2"
        idp_entity = self.apps["sp2"]["sso"]["idp_entity_id"]
        req = es.pysaml2_request(self.sp2, idp_entity, RELAY, es.B_REDIRECT, True, is_passive="true")
        page = Browser("passive-2").open(self.direct(req["url"]))
        b64 = self.saml_post(case, page, SP2[1], RELAY)
        if b64:
            v = es.pysaml2_check(self.sp2, b64, outstanding={req["id"]: "/"})
            self.check(case, "pysaml2", [] if (not v.ok and "StatusNoPassive" in v.error) else [v.error],
                       f"IsPassive, no session -> pysaml2 raises {one_line(v.error, 120)}")
        # ForceAuthn with a session: the whole sign-in again; the response's AuthnInstant is the new one
        url, rid = self.sp1.redirect_request(md, RELAY, True, force_authn=True)
        self.force_authn("sp-force-authn-python3-saml", "python3-saml", url, SP1[1],
                         lambda b64: self.sp1.check(md, b64, rid))
        req = es.pysaml2_request(self.sp2, idp_entity, RELAY, es.B_REDIRECT, True, force_authn="true")
        self.force_authn("sp-force-authn-pysaml2", "pysaml2", req["url"], SP2[1],
                         lambda b64: es.pysaml2_check(self.sp2, b64, outstanding={req["id"]: "/"}))
        # an Amazon AWS IAM app takes no AuthnRequest (AWS never sends one): a page, no response
        case = "sp-aws-iam-refuses-requests"
        url, rid = self.sp1.redirect_request(self.md["aws"], "https://evil.example.test/", False)
        self.refused(case, self.alice.open(self.direct(url)), 400, "does not take sign-in requests",
                     "an AuthnRequest made up for the AWS IAM app's IdP URL")

    def force_authn(self, case: str, peer: str, url: str, acs: str, judge) -> None:
        """alice (signed in) opens a ForceAuthn request: the sign-in form again, then a response the SP
        accepts whose AuthnInstant is no earlier than the request."""
        asked_at = datetime.now(timezone.utc).replace(microsecond=0)
        page = self.alice.open(self.direct(url))
        form = self.login_form(page)
        if form is None:
            self.fail(case, "lanyard", f"a signed-in browser was not asked to sign in again: {page.describe()}")
            return
        done = self.alice.submit(form, {"login": "alice", "password": PASSWORD}, follow=True)
        b64 = self.saml_post(case, done, acs, RELAY)
        if not b64:
            return
        f = es.response_facts(b64)
        v = judge(b64)
        instant = datetime.fromisoformat((f["authn_instant"] or "").replace("Z", "+00:00"))
        problems = [] if v.ok else [f"{peer}: {v.error}"]
        if instant < asked_at:
            problems.append(f"AuthnInstant {f['authn_instant']} is before the request ({asked_at})")
        self.check(case, peer, problems,
                   f"ForceAuthn -> sign in again -> AuthnInstant {f['authn_instant']} >= "
                   f"{asked_at.isoformat()}; {peer} accepts")
