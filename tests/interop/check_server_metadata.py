#!/usr/bin/env python3
"""Check the IdP metadata a running Lanyard server exports for its applications.

Owns: issue #4's proof that what the real `lanyard` binary serves (not a cargo
example) is accepted by python3-saml's and pysaml2's metadata parsers, through
the REST API and the public metadata URL, before and after a key rotation:

  server          lanyard_server.LanyardServer starts the binary on a fresh
                  SQLite database with an administrator API key
  api             POST /api/v1/applications (aws-iam template) -> 201 with id,
                  slug, idp_url, metadata_url, sso.idp_entity_id;
                  GET .../{id}/metadata -> 200, application/samlmetadata+xml,
                  Content-Disposition filename="Lanyard-<slug>-metadata.xml";
                  GET .../{id}/keys -> the signing key(s), 2048+ bits, one active
  file, python3-saml[...], pysaml2[...]
                  check_metadata.py's own checks (imported, not duplicated),
                  with --entity-id sso.idp_entity_id, --sso-url idp_url and
                  --cert the active key's certificate
  certs           the metadata's signing certificates are exactly the keys
                  the API lists, the active one first
  public          <metadata_url> without Authorization returns the same bytes
  rotation        POST .../{id}/keys {"activate": false} -> 201 inactive key;
                  the re-export lists both certificates, the parsers see both,
                  the active key is unchanged
  zip             GET /api/v1/applications/metadata?ids=<id1>,<id2> ->
                  application/zip holding exactly Lanyard-<slug>-metadata.xml
                  per app, each byte-identical to the single export
  secrets         no response body (nor zip entry) contains "PRIVATE KEY"

Usage:  check_server_metadata.py [WORKDIR]   (default: a temp dir, kept on
        failure; run.sh passes one). LANYARD_BIN skips the cargo build.
Output: "PASS|FAIL <case> <peer> <detail>" lines, then
        "server-metadata: N passed, M failed" alone on the last line. Exit 1
        on any failure.
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, one_line, require_imports  # noqa: E402

require_imports()

import check_metadata as cm  # noqa: E402
from lanyard_server import LanyardServer, ServerError, exit_on_sigterm  # noqa: E402

APPS = "/api/v1/applications"
MD_TYPE = "application/samlmetadata+xml"


class Stop(Exception):
    """A step failed (already reported); later steps depend on it."""


class Run:
    """The checks, in order, against one server."""

    def __init__(self, report: Report, srv: LanyardServer, work: Path) -> None:
        self.report = report
        self.srv = srv
        self.work = work
        self.bodies: list[tuple[str, bytes]] = []  # every response body, for the secrets check

    # --- helpers -------------------------------------------------------------

    def call(self, method: str, path: str, *, json: object = None, auth: bool = True):
        status, headers, body = self.srv.request(method, path, json=json, auth=auth)
        self.bodies.append((f"{method} {path}", body))
        return status, headers, body

    def expect(self, case: str, what: str, method: str, path: str, want: int, *, json: object = None,
               auth: bool = True):
        """A request that must answer `want`; FAIL + Stop otherwise."""
        status, headers, body = self.call(method, path, json=json, auth=auth)
        if status != want:
            self.report.fail(case, "api", f"{what}: {method} {path} answered {status}, expected {want}: "
                                          f"{one_line(body.decode('utf-8', 'replace'), 600)}")
            raise Stop
        return headers, body

    def parsed(self, case: str, what: str, body: bytes):
        try:
            return self.srv.json(body)
        except ValueError as exc:
            self.report.fail(case, "api", f"{what}: body is not JSON: {exc}")
            raise Stop from exc

    # --- steps ---------------------------------------------------------------

    def create_app(self, case: str, label: str) -> dict:
        form = {"template": "aws-iam", "label": label}
        _, body = self.expect(case, "create", "POST", APPS, 201, json=form)
        app = self.parsed(case, "create", body)
        problems = []
        for key in ("id", "slug", "idp_url", "metadata_url"):
            if not isinstance(app, dict) or not app.get(key):
                problems.append(f"no {key}")
        if problems:
            self.report.fail(case, "api", f"POST {APPS} 201 but " + "; ".join(problems))
            raise Stop
        idp_entity_id = (app.get("sso") or {}).get("idp_entity_id")
        if not idp_entity_id:
            problems.append("no sso.idp_entity_id")
        want_idp = f"{self.srv.base_url}/saml2/{app['slug']}"
        if app["idp_url"] != want_idp:
            problems.append(f"idp_url {app['idp_url']!r} != {want_idp!r}")
        if app["metadata_url"] != want_idp + "/metadata":
            problems.append(f"metadata_url {app['metadata_url']!r} != {want_idp + '/metadata'!r}")
        if app.get("template") != "aws-iam" or app.get("label") != label:
            problems.append(f"template/label {app.get('template')!r}/{app.get('label')!r}")
        if problems:
            self.report.fail(case, "api", f"POST {APPS} 201 but " + "; ".join(problems))
            raise Stop
        self.report.ok(case, "api", f"POST {APPS} {form} -> 201 id={app['id']} slug={app['slug']} "
                                    f"idp_url={app['idp_url']} idp_entity_id={idp_entity_id}")
        return app

    def export(self, case: str, app: dict, name: str) -> tuple[Path, bytes]:
        """GET the single export, check its headers, write it to WORK/name."""
        path = f"{APPS}/{app['id']}/metadata"
        headers, body = self.expect(case, "export", "GET", path, 200)
        want_file = f"Lanyard-{app['slug']}-metadata.xml"
        problems = []
        ctype = headers.get("content-type", "")
        if not ctype.startswith(MD_TYPE):
            problems.append(f"Content-Type {ctype!r} is not {MD_TYPE}")
        disp = headers.get("content-disposition", "")
        if f'filename="{want_file}"' not in disp:
            problems.append(f"Content-Disposition {disp!r} lacks filename=\"{want_file}\"")
        if not body:
            problems.append("empty body")
        out = self.work / name
        out.write_bytes(body)
        if problems:
            self.report.fail(case, "api", f"GET {path}: " + "; ".join(problems))
        else:
            self.report.ok(case, "api", f"GET {path} -> 200 {ctype}, {disp}, {len(body)} bytes -> {out.name}")
        return out, body

    def keys(self, case: str, app: dict, count: int) -> tuple[list[dict], dict]:
        """GET the keys: `count` of them, each 2048+ bits with a PEM certificate, exactly one active."""
        path = f"{APPS}/{app['id']}/keys"
        _, body = self.expect(case, "keys", "GET", path, 200)
        keys = self.parsed(case, "keys", body)
        problems = []
        if not isinstance(keys, list) or len(keys) != count:
            self.report.fail(case, "api", f"GET {path}: expected a list of {count} key(s), got {one_line(keys, 300)}")
            raise Stop
        for k in keys:
            pem = k.get("certificate_pem") or ""
            if "-----BEGIN CERTIFICATE-----" not in pem:
                problems.append(f"key {k.get('id')}: certificate_pem is not a PEM certificate")
            if not isinstance(k.get("bits"), int) or k["bits"] < 2048:
                problems.append(f"key {k.get('id')}: {k.get('bits')} bits (< 2048)")
        active = [k for k in keys if k.get("active") is True]
        if len(active) != 1:
            problems.append(f"{len(active)} active keys, expected 1")
        if problems:
            self.report.fail(case, "api", f"GET {path}: " + "; ".join(problems))
            raise Stop
        desc = ", ".join(f"id {k['id']} {k['bits']} bits" + (" active" if k["active"] else "") for k in keys)
        self.report.ok(case, "api", f"GET {path} -> {count} key(s) ({desc})")
        return keys, active[0]

    def peers(self, file: Path, raw: bytes, app: dict, keys: list[dict], active: dict) -> None:
        """check_metadata.py's checks, then: the signing certs are exactly the API's keys, active first."""
        cert_file = file.with_suffix(".active-cert.pem")
        cert_file.write_text(active["certificate_pem"], encoding="utf-8")
        args = argparse.Namespace(entity_id=app["sso"]["idp_entity_id"], sso_url=app["idp_url"],
                                  cert=str(cert_file))
        label = file.name
        root, exp = cm.check_file(self.report, label, raw, args)
        if root is None or exp is None:
            raise Stop
        cm.check_python3_saml(self.report, label, raw, exp)
        cm.check_pysaml2(self.report, label, file.resolve(), exp)
        want = [cm.b64_of(k["certificate_pem"]) for k in keys]
        problems = []
        if sorted(exp.signing) != sorted(want):
            problems.append(f"the file's {len(exp.signing)} signing cert(s) are not the {len(want)} key(s) "
                            f"GET /keys lists")
        if not exp.signing or exp.signing[0] != cm.b64_of(active["certificate_pem"]):
            problems.append("the first signing KeyDescriptor is not the active key")
        if problems:
            self.report.fail(label, "certs", "; ".join(problems))
        else:
            self.report.ok(label, "certs", f"signing certs = the {len(want)} API key(s), active key (id {active['id']}) first")

    def public(self, case: str, app: dict, raw: bytes) -> None:
        url = app["metadata_url"]
        status, headers, body = self.call("GET", url, auth=False)
        if status != 200:
            self.report.fail(case, "public", f"GET {url} (no Authorization) answered {status}")
        elif body != raw:
            self.report.fail(case, "public", f"GET {url} (no Authorization): {len(body)} bytes differ from the "
                                             f"{len(raw)}-byte API export")
        else:
            self.report.ok(case, "public", f"GET {url} (no Authorization) -> 200 "
                                           f"{headers.get('content-type', '')}, byte-identical to the API export")

    def rotate(self, case: str, app: dict, before: dict) -> dict:
        path = f"{APPS}/{app['id']}/keys"
        _, body = self.expect(case, "add key", "POST", path, 201, json={"activate": False})
        key = self.parsed(case, "add key", body)
        problems = []
        if not isinstance(key, dict) or key.get("active") is not False:
            problems.append(f"the new key is not inactive: {one_line(key, 300)}")
        elif key.get("id") == before["id"]:
            problems.append("the new key has the old key's id")
        if problems:
            self.report.fail(case, "api", f"POST {path}: " + "; ".join(problems))
            raise Stop
        self.report.ok(case, "api", f"POST {path} {{\"activate\": false}} -> 201 inactive key id {key['id']} "
                                    f"({key.get('bits')} bits)")
        return key

    def zip_export(self, case: str, apps: list[tuple[dict, bytes]]) -> None:
        ids = ",".join(str(a["id"]) for a, _ in apps)
        path = f"{APPS}/metadata?ids={ids}"
        headers, body = self.expect(case, "zip", "GET", path, 200)
        (self.work / "Lanyard-metadata.zip").write_bytes(body)
        ctype = headers.get("content-type", "")
        problems = []
        if not ctype.startswith("application/zip"):
            problems.append(f"Content-Type {ctype!r} is not application/zip")
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as zf:
                if (bad := zf.testzip()) is not None:
                    problems.append(f"entry {bad} has a bad CRC")
                entries = {i.filename: zf.read(i) for i in zf.infolist()}
        except zipfile.BadZipFile as exc:
            self.report.fail(case, "zip", f"GET {path}: not a zip: {exc}")
            return
        for name, data in entries.items():
            self.bodies.append((f"zip entry {name}", data))
        want = {f"Lanyard-{a['slug']}-metadata.xml": raw for a, raw in apps}
        if sorted(entries) != sorted(want):
            problems.append(f"entries {sorted(entries)} != {sorted(want)}")
        for name, raw in want.items():
            if name in entries and entries[name] != raw:
                problems.append(f"{name} ({len(entries[name])} bytes) differs from the single export ({len(raw)} bytes)")
        if problems:
            self.report.fail(case, "zip", f"GET {path}: " + "; ".join(problems))
        else:
            self.report.ok(case, "zip", f"GET {path} -> 200 {ctype}, entries {sorted(entries)}, "
                                        "each byte-identical to its single export")

    def secrets(self) -> None:
        leaks = [what for what, body in self.bodies if b"PRIVATE KEY" in body]
        if leaks:
            self.report.fail("all-responses", "secrets", f"'PRIVATE KEY' in: {', '.join(leaks)}")
        else:
            self.report.ok("all-responses", "secrets", f"no 'PRIVATE KEY' in {len(self.bodies)} response bodies "
                                                       "and zip entries")

    # --- the whole run ---------------------------------------------------------

    def run(self) -> None:
        try:
            app1 = self.create_app("app1", "Amazon AWS")
            file1, raw1 = self.export("app1", app1, f"Lanyard-{app1['slug']}-metadata.xml")
            keys1, active1 = self.keys("app1", app1, 1)
            self.peers(file1, raw1, app1, keys1, active1)
            self.public("app1", app1, raw1)

            self.rotate("app1-rotation", app1, active1)
            file1b, raw1b = self.export("app1-rotation", app1, f"Lanyard-{app1['slug']}-metadata.rotation.xml")
            keys1b, active1b = self.keys("app1-rotation", app1, 2)
            if active1b["id"] != active1["id"]:
                self.report.fail("app1-rotation", "api", f"the active key changed from id {active1['id']} to "
                                                         f"{active1b['id']} although the new key was added inactive")
            self.peers(file1b, raw1b, app1, keys1b, active1b)
            self.public("app1-rotation", app1, raw1b)

            app2 = self.create_app("app2", "AWS Sandbox")
            file2, raw2 = self.export("app2", app2, f"Lanyard-{app2['slug']}-metadata.xml")
            keys2, active2 = self.keys("app2", app2, 1)
            self.peers(file2, raw2, app2, keys2, active2)
            self.public("app2", app2, raw2)

            self.zip_export("zip", [(app1, raw1b), (app2, raw2)])
        except Stop:
            pass
        finally:
            self.secrets()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workdir", nargs="?", type=Path, help="where to write the exported files (default: a temp dir)")
    args = ap.parse_args()
    exit_on_sigterm()
    report = Report("server-metadata")
    saml2_log = logging.getLogger("saml2")  # pysaml2 logs what it also raises; keep output clean
    saml2_log.propagate = False
    saml2_log.addHandler(logging.NullHandler())
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lanyard-server-metadata."))
    work.mkdir(parents=True, exist_ok=True)

    try:
        srv = LanyardServer()
        srv.start()
    except (ServerError, OSError) as exc:
        report.fail("server", "lanyard", f"cannot start the server: {one_line(exc, 1500)}")
        print(f"# server-metadata: work files in {work}")
        return report.finish()
    try:
        report.ok("server", "lanyard", f"{srv.binary} serve on {srv.base_url} (pid {srv.proc.pid}), "
                                       "fresh SQLite database, administrator API key")
        Run(report, srv, work).run()
    except Exception as exc:  # a bug in this script or a surprising answer: still one verdict line
        report.fail("server", "check_server_metadata", f"crashed: {type(exc).__name__}: {one_line(exc)}")
    finally:
        failed = report.failed > 0 or sys.exc_info()[0] is not None
        if failed:
            print("# server-metadata: last lines of the server log:")
            for line in srv.log_tail(30).splitlines():
                print(f"#   {line}")
        rc = srv.stop(failed=failed)
    if rc not in (0, None):
        report.fail("server", "lanyard", f"lanyard serve exited with status {rc} after SIGTERM (expected 0)")
    if report.failed:
        print(f"# server-metadata: work files kept in {work}")
    elif args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
