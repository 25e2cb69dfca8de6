"""A minimal browser for end-to-end tests: a cookie jar, explicit redirects, HTML forms.

Owns: what a user's browser does between Lanyard and an SP, with the
standard library only (urllib + http.cookiejar + html.parser):

  - one cookie jar per Browser (cookies are per host, not per port, as in
    real browsers: two Lanyard nodes on 127.0.0.1 share them, which is how
    the two-node test carries one session cookie to both);
  - SameSite as browsers apply it for a request marked cross_site=True: a
    cross-site POST carries only SameSite=None cookies, a cross-site top-level
    GET carries Lax and None but not Strict (a cookie without SameSite counts
    as Lax, as in Chromium);
  - redirects are never followed silently: follow() walks 3xx hops and records
    each one in Page.chain (303 -> GET; 307/308 keep method and body);
  - forms() parses <form> elements (id, method, action, inputs with their
    decoded values, buttons), submit() posts one.

    b = Browser()
    page = b.open(srv.url("/portal"))             # GET + follow redirects
    form = page.form("login-form") or page.forms()[0]
    page = b.submit(form, {"login": "a@example.com", "password": "..."}, follow=True)

It knows nothing about SAML or Lanyard's pages.
"""

from __future__ import annotations

import functools
import html.parser
import http.client
import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field


@dataclass
class Form:
    id: str | None
    method: str
    action: str  # absolute (resolved against the page URL)
    fields: dict[str, str]  # <input>/<textarea>/<select> name -> value (last wins)
    inputs: list[dict]  # every input's attributes, in order (incl. nameless ones)
    buttons: list[dict]  # <button> and <input type=submit> attributes (+ "text" for <button>)
    attrs: dict[str, str] = field(default_factory=dict)
    page_url: str = ""  # the page the form was on (its origin is sent as Origin on submit)


@dataclass
class Page:
    method: str
    url: str
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", " (except Set-Cookie)
    set_cookies: list[str]  # every raw Set-Cookie header value
    body: bytes
    chain: list["Page"] = field(default_factory=list)  # the redirect hops that led here (oldest first)
    sent_cookie: str = ""  # the Cookie header this request carried

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str | None:
        loc = self.headers.get("location")
        return urllib.parse.urljoin(self.url, loc) if loc else None

    def forms(self) -> list[Form]:
        p = _FormParser(self.url)
        p.feed(self.text)
        p.close()
        return p.forms

    def form(self, form_id: str) -> Form | None:
        return next((f for f in self.forms() if f.id == form_id), None)

    def all_bodies(self) -> bytes:
        """This page's body and every redirect hop's body (for "X appears nowhere" checks)."""
        return b"\n".join([p.body for p in self.chain] + [self.body])

    def describe(self) -> str:
        def short(u: str) -> str:
            return u if len(u) <= 110 else u[:100] + "..." + u[-6:]

        return " -> ".join(f"{p.status} {p.method} {short(p.url)}" for p in self.chain + [self])


class _FormParser(html.parser.HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.forms: list[Form] = []
        self._cur: Form | None = None
        self._button: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._cur = Form(id=a.get("id"), method=(a.get("method") or "get").lower(),
                             action=urllib.parse.urljoin(self.base, a.get("action") or self.base),
                             fields={}, inputs=[], buttons=[], attrs=a, page_url=self.base)
            self.forms.append(self._cur)
        elif self._cur is None:
            return
        elif tag == "input":
            self._cur.inputs.append(a)
            typ = (a.get("type") or "text").lower()
            if typ in ("submit", "image"):
                self._cur.buttons.append(a)
            elif "name" in a and (typ not in ("checkbox", "radio") or "checked" in a):
                self._cur.fields[a["name"]] = a.get("value", "")
        elif tag == "button":
            self._button = dict(a, text="")
            self._cur.buttons.append(self._button)
        elif tag == "textarea":
            self._textarea = dict(a, text="")
        elif tag == "select" and "name" in a:
            self._cur.fields.setdefault(a["name"], "")

    def handle_data(self, data):
        if self._button is not None:
            self._button["text"] += data
        if self._textarea is not None:
            self._textarea["text"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._cur = None
        elif tag == "button":
            self._button = None
        elif tag == "textarea" and self._textarea is not None:
            if self._cur is not None and "name" in self._textarea:
                self._cur.fields[self._textarea["name"]] = self._textarea["text"]
            self._textarea = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002
        return None


def _samesite(cookie: http.cookiejar.Cookie) -> str:
    for k, v in cookie._rest.items():  # noqa: SLF001 - where cookiejar keeps unknown attributes
        if k.lower() == "samesite":
            return (v or "").lower()
    return "lax"  # the browsers' default when absent


class _SameSitePolicy(http.cookiejar.DefaultCookiePolicy):
    def return_ok(self, cookie, request):
        if not super().return_ok(cookie, request):
            return False
        cross = getattr(request, "lanyard_cross_site", False)
        if not cross:
            return True
        ss = _samesite(cookie)
        if ss == "none":
            return True
        if ss == "strict":
            return False
        return request.get_method() == "GET"  # Lax: top-level safe navigations only


def origin_of(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    return f"{u.scheme}://{u.netloc}"


class _FromSource(urllib.request.HTTPHandler):
    """Connects from a chosen local address (any of 127.0.0.0/8 reaches a
    server on 127.0.0.1 on Linux), so one test can be several clients."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def http_open(self, req):
        return self.do_open(functools.partial(http.client.HTTPConnection, source_address=(self.source, 0)), req)


class Browser:
    """One user's browser: a cookie jar and no automatic redirects. `source`:
    the local address it connects from (default: the system's choice)."""

    def __init__(self, name: str = "browser", user_agent: str = "lanyard-e2e/1.0",
                 source: str | None = None) -> None:
        self.name = name
        self.jar = http.cookiejar.CookieJar(policy=_SameSitePolicy())
        self.user_agent = user_agent
        handlers = [_NoRedirect, urllib.request.HTTPCookieProcessor(self.jar)]
        if source:
            handlers.append(_FromSource(source))
        self._opener = urllib.request.build_opener(*handlers)
        self.history: list[Page] = []

    # --- cookies -------------------------------------------------------------

    def cookie(self, name: str) -> str | None:
        for c in self.jar:
            if c.name == name:
                return c.value
        return None

    def cookies(self) -> dict[str, str]:
        return {c.name: c.value for c in self.jar}

    def clear_cookies(self) -> None:
        self.jar.clear()

    def set_cookie(self, name: str, value: str, host: str = "127.0.0.1", path: str = "/") -> None:
        """Plant a cookie by hand (e.g. to replay a copied session cookie)."""
        self.jar.set_cookie(http.cookiejar.Cookie(
            0, name, value, None, False, host, False, False, path, True, False, None, False, None, None,
            {"SameSite": "Lax"}))

    # --- requests ------------------------------------------------------------

    def request(self, method: str, url: str, *, form: dict | list | None = None, data: bytes | None = None,
                headers: dict[str, str] | None = None, cross_site: bool = False, origin: str | None = None,
                timeout: float = 60) -> Page:
        """One request. `origin` is sent as the Origin header (browsers send one with
        every POST: the origin of the page the form was on)."""
        method = method.upper()
        hdrs = {"User-Agent": self.user_agent, "Accept": "text/html,*/*"}
        if origin:
            hdrs["Origin"] = origin
        body = data
        if form is not None:
            body = urllib.parse.urlencode(form).encode("ascii")
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        hdrs.update(headers or {})
        req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
        req.lanyard_cross_site = cross_site
        try:
            resp = self._opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as err:
            resp = err
        with resp:
            raw = resp.read()
            msg = resp.headers
            hd: dict[str, str] = {}
            for k, v in msg.items():
                k = k.lower()
                if k != "set-cookie":
                    hd[k] = f"{hd[k]}, {v}" if k in hd else v
            page = Page(method, url, resp.status if hasattr(resp, "status") else resp.code, hd,
                        msg.get_all("Set-Cookie") or [], raw, sent_cookie=req.get_header("Cookie") or "")
        self.history.append(page)
        return page

    def get(self, url: str, **kw) -> Page:
        return self.request("GET", url, **kw)

    def post(self, url: str, form: dict | list, **kw) -> Page:
        return self.request("POST", url, form=form, **kw)

    def follow(self, page: Page, max_hops: int = 10, cross_site: bool = False) -> Page:
        """Follow 3xx hops from `page`; the final page's chain lists every hop."""
        chain = list(page.chain)
        cur = page
        for _ in range(max_hops):
            if cur.status not in (301, 302, 303, 307, 308) or not cur.location:
                break
            chain.append(cur)
            if cur.status in (307, 308):
                nxt = self.request(cur.method, cur.location, cross_site=cross_site)
            else:
                nxt = self.request("GET", cur.location, cross_site=cross_site)
            cur = nxt
        else:
            raise RuntimeError(f"{self.name}: more than {max_hops} redirects from {page.url}")
        cur.chain = chain
        return cur

    def open(self, url: str, **kw) -> Page:
        """GET and follow redirects."""
        return self.follow(self.get(url, **kw), cross_site=kw.get("cross_site", False))

    def submit(self, form: Form, values: dict[str, str] | None = None, *, follow: bool = False,
               cross_site: bool = False) -> Page:
        """Submit `form` with its own fields, overridden by `values`."""
        fields = dict(form.fields)
        fields.update(values or {})
        if form.method == "post":
            page = self.post(form.action, fields, cross_site=cross_site, origin=origin_of(form.page_url or form.action))
        else:
            sep = "&" if "?" in form.action else "?"
            page = self.get(form.action + sep + urllib.parse.urlencode(fields), cross_site=cross_site)
        return self.follow(page, cross_site=cross_site) if follow else page
