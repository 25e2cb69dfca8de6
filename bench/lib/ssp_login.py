"""Sign users in to a SimpleSAMLphp IdP and keep their session cookies.

    python3 ssp_login.py --url http://127.0.0.1:PORT --sp ENTITY_ID --users N --out FILE

For each user<i> (password "bench-pass", as simplesamlphp.sh writes its
authsources): runs IdP-initiated SSO once with a fresh cookie jar,
GET /simplesaml/saml2/idp/SSOService.php?spentityid=ENTITY_ID -> the
exampleauth login form -> POST username/password/AuthState -> the page with
the SAMLResponse; then checks that the same cookies get a SAMLResponse
straight away (a logged-in session), and writes the jar as one Cookie header
value per line to FILE. Standard library only.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import sys
import time
import urllib.parse
import urllib.request

AUTHSTATE_RE = re.compile(r'name="AuthState"\s+value="([^"]+)"')


def sso_url(base: str, sp: str) -> str:
    return f"{base}/simplesaml/saml2/idp/SSOService.php?spentityid={urllib.parse.quote(sp, safe='')}"


def login(base: str, sp: str, user: str, password: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(sso_url(base, sp), timeout=60) as r:
        page, final = r.read().decode("utf-8", "replace"), r.geturl()
    m = AUTHSTATE_RE.search(page)
    state = m.group(1) if m else urllib.parse.parse_qs(urllib.parse.urlsplit(final).query).get("AuthState", [None])[0]
    if not state:
        raise SystemExit(f"no login form for {user} at {final}: {page[:300]!r}")
    import html
    form = urllib.parse.urlencode({"username": user, "password": password,
                                   "AuthState": html.unescape(state)}).encode()
    login_url = f"{base}/simplesaml/module.php/core/loginuserpass.php"
    with opener.open(login_url, data=form, timeout=60) as r:
        page = r.read().decode("utf-8", "replace")
    if "SAMLResponse" not in page:
        raise SystemExit(f"{user}: no SAMLResponse after signing in: {page[:500]!r}")
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    # Signed in: SSO again with just these cookies must answer at once.
    req = urllib.request.Request(sso_url(base, sp), headers={"Cookie": cookie})
    with urllib.request.build_opener().open(req, timeout=60) as r:
        if r.status != 200 or b"SAMLResponse" not in r.read():
            raise SystemExit(f"{user}: the session cookies {cookie!r} do not give a SAMLResponse")
    return cookie


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--sp", required=True)
    p.add_argument("--users", type=int, default=64)
    p.add_argument("--password", default="bench-pass")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    t0 = time.monotonic()
    cookies = [login(a.url, a.sp, f"user{i}", a.password) for i in range(a.users)]
    with open(a.out, "w") as f:
        f.write("\n".join(cookies) + "\n")
    print(f"ssp_login: {a.users} users signed in in {time.monotonic() - t0:.1f} s; cookies "
          f"{sorted({c.split('=')[0] for c in cookies[0].split('; ')})}", file=sys.stderr)


if __name__ == "__main__":
    main()
