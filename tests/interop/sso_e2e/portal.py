"""Sign-in, the portal's tiles, TOTP enrollment and the TOTP step of SSO."""

from __future__ import annotations

from sso_e2e.base import *  # noqa: F401,F403 - the harness's names and constants
from sso_e2e.base import Base


class Portal(Base):
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

