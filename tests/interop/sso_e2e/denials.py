"""Every way of not getting a response (a 4xx page, no SAMLResponse anywhere), and the audit events of the whole run."""

from __future__ import annotations

from sso_e2e.base import *  # noqa: F401,F403 - the harness's names and constants
from sso_e2e.base import Base


class Denials(Base):
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
            # the suspension ended her session: the app sends her to sign in, with no response
            p = carol.open(self.url(aws))
            problems = []
            if self.login_form(p) is None or not any("/login" in q.url for q in p.chain + [p]):
                problems.append(f"not sent to sign in: {p.describe()}")
            why = response_in(p.all_bodies())
            if why:
                problems.append(f"the answer carries {why}")
            self.check("denied-suspended", "lanyard", problems,
                       f"carol, suspended after signing in, opens the AWS app: her session ended -> {p.describe()}, "
                       "no SAMLResponse")
            self.refused("denied-suspended-sign-in", self.sign_in(Browser("carol-2"), "carol", PASSWORD, start=aws),
                         403, "suspended", "carol signs in again while suspended")
        # throttled: one address fails 3 times for dave; its 4th attempt (the
        # right password) gets 429 before anything is checked
        stranger = Browser("stranger", source="127.0.0.20")
        statuses = []
        for _ in range(3):
            p = self.sign_in(stranger, "dave", "not the password", start=aws)
            statuses.append(p.status)
            if WRONG not in p.text:
                self.fail("denied-throttled", "lanyard", f"a wrong password did not get {WRONG!r}: {p.describe()}")
                break
        else:
            p = self.sign_in(stranger, "dave", PASSWORD, start=aws)
            self.refused("denied-throttled", p, 429, "Too many failed sign-ins for this account came from your address",
                         f"one address: 3 wrong passwords for dave (statuses {statuses}), then the right one")
        # locked: 2 more failures from other addresses make 5; then the right
        # password, from yet another, is refused with the lock's end
        for n in (21, 22):
            self.sign_in(Browser(f"guesser-{n}", source=f"127.0.0.{n}"), "dave", "not the password", start=aws)
        dave = Browser("dave", source="127.0.0.23")
        p = self.sign_in(dave, "dave", PASSWORD, start=aws)
        if self.refused("denied-locked", p, 403, "locked after too many failed sign-ins until",
                        "dave: 5 wrong passwords from three addresses, then the right one from a fourth"):
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
            ("throttled dave", "user.sign_in_failed", f"user:{ids['dave']}", {"reason": "throttled"}),
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
            ("suspension ends carol's session", "user.suspend", f"user:{ids['carol']}",
             {"state": "suspended", "sessions_ended": 1}),
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

