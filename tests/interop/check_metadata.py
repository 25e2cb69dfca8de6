#!/usr/bin/env python3
"""Check that Lanyard's IdP metadata is understood by independent SAML SPs.

Owns: deciding whether one IdP metadata file (written by our crate) is read
correctly by
  file          UTF-8 without BOM, well-formed XML, at least 1000 characters,
                one md:EntityDescriptor with an md:IDPSSODescriptor
  python3-saml  OneLogin_Saml2_IdPMetadataParser.parse (entityId, SSO URL for
                the HTTP-Redirect and the HTTP-POST binding, signing cert(s);
                with two signing KeyDescriptors both certs must appear in
                x509certMulti) and its metadata schema validation
  pysaml2       saml2.mdstore.MetadataStore.load("local", FILE) (entity,
                IDPSSODescriptor SSO services for both bindings, signing certs)
                and pysaml2's schema validation
The expected values are read from the file with lxml (what the document
says) and, when given, from --entity-id / --sso-url / --cert (what our crate
meant to say; run.sh passes them from cases.json).

Usage:  check_metadata.py FILE [--entity-id ID] [--sso-url URL] [--cert PEM]
Output: "PASS|FAIL <file> <peer> <detail>" lines, then
        "metadata: N passed, M failed" alone on the last line. Exit 1 on any
        failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, one_line, require_imports, time_limit  # noqa: E402

require_imports()

from lxml import etree  # noqa: E402

NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"md": NS_MD, "ds": NS_DS}
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
MIN_CHARS = 1000
TIMEOUT = 60


def b64_of(pem_or_b64: str) -> str:
    """Certificate as one base64 string without whitespace or PEM armour."""
    return "".join(ln.strip() for ln in pem_or_b64.splitlines() if "-----" not in ln).replace(" ", "")


class Expected:
    """What the metadata must contain, from the document and the command line."""

    def __init__(self, root: etree._Element, args: argparse.Namespace) -> None:
        self.entity_id = root.get("entityID")
        idp = root.find("md:IDPSSODescriptor", NS)
        self.sso = {}
        for binding in (REDIRECT, POST):
            loc = idp.xpath("md:SingleSignOnService[@Binding=$b]/@Location", namespaces=NS, b=binding) if idp is not None else []
            self.sso[binding] = loc[0] if loc else None
        kds = idp.findall("md:KeyDescriptor", NS) if idp is not None else []
        self.signing = [b64_of(c.text or "") for kd in kds if kd.get("use") in (None, "signing")
                        for c in kd.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)]
        self.key_descriptors = len(kds)
        self.cli_entity_id = args.entity_id
        self.cli_sso_url = args.sso_url
        self.cli_cert = b64_of(Path(args.cert).read_text(encoding="utf-8")) if args.cert else None


def check_file(report: Report, label: str, raw: bytes, args: argparse.Namespace) -> tuple[etree._Element | None, Expected | None]:
    """Encoding, size, well-formedness, shape; and the document vs the CLI values."""
    problems = []
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.append("starts with a UTF-8 BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.fail(label, "file", f"not valid UTF-8: {exc}")
        return None, None
    if len(text) < MIN_CHARS:
        problems.append(f"only {len(text)} characters (< {MIN_CHARS})")
    try:
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        report.fail(label, "file", f"not well-formed XML: {exc}")
        return None, None
    if root.tag != f"{{{NS_MD}}}EntityDescriptor":
        report.fail(label, "file", f"root is {root.tag}, expected md:EntityDescriptor")
        return None, None
    exp = Expected(root, args)
    if root.find("md:IDPSSODescriptor", NS) is None:
        problems.append("no md:IDPSSODescriptor")
    for binding, loc in exp.sso.items():
        if not loc:
            problems.append(f"no SingleSignOnService for {binding.rsplit(':', 1)[-1]}")
        elif exp.cli_sso_url and loc != exp.cli_sso_url:
            problems.append(f"SSO {binding.rsplit(':', 1)[-1]} Location {loc!r} != expected {exp.cli_sso_url!r}")
    if not exp.signing:
        problems.append("no signing X509Certificate")
    if exp.cli_entity_id and exp.entity_id != exp.cli_entity_id:
        problems.append(f"entityID {exp.entity_id!r} != expected {exp.cli_entity_id!r}")
    if exp.cli_cert and exp.cli_cert not in exp.signing:
        problems.append("the IdP signing certificate (--cert) is not among the signing KeyDescriptors")
    if problems:
        report.fail(label, "file", "; ".join(problems))
    else:
        report.ok(label, "file", f"UTF-8 without BOM, {len(text)} chars, entityID={exp.entity_id}, "
                                 f"{exp.key_descriptors} KeyDescriptor(s), {len(exp.signing)} signing cert(s), SSO Redirect+POST")
    return root, exp


def schema_errors(raw: bytes) -> str:
    """The first errors from python3-saml's own metadata XSD (its validate_xml only says 'invalid_xml')."""
    import onelogin.saml2

    xsd = Path(onelogin.saml2.__file__).parent / "schemas" / "saml-schema-metadata-2.0.xsd"
    try:
        schema = etree.XMLSchema(etree.parse(str(xsd)))
        schema.validate(etree.fromstring(raw))
        return " | ".join(f"line {e.line}: {e.message}" for e in list(schema.error_log)[:3]) or "(no detail)"
    except Exception as exc:  # detail only; the verdict came from python3-saml
        return f"(no detail: {exc})"


def check_python3_saml(report: Report, label: str, raw: bytes, exp: Expected) -> None:
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
    from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

    for binding, short in ((REDIRECT, "Redirect"), (POST, "POST")):
        try:
            with time_limit(TIMEOUT):
                data = OneLogin_Saml2_IdPMetadataParser.parse(raw.decode("utf-8"), required_sso_binding=binding)
        except Exception as exc:
            report.fail(label, f"python3-saml[{short}]", f"parse raised {type(exc).__name__}: {one_line(exc)}")
            continue
        idp = data.get("idp", {})
        problems = []
        if idp.get("entityId") != exp.entity_id or exp.entity_id is None:
            problems.append(f"entityId {idp.get('entityId')!r} != {exp.entity_id!r}")
        sso = (idp.get("singleSignOnService") or {}).get("url")
        if not sso or sso != exp.sso[binding]:
            problems.append(f"{short} SSO url {sso!r} != {exp.sso[binding]!r}")
        if "x509certMulti" in idp:
            got = idp["x509certMulti"].get("signing", [])
            how = "x509certMulti.signing"
        else:
            got = [idp["x509cert"]] if idp.get("x509cert") else []
            how = "x509cert"
        if sorted(got) != sorted(exp.signing) or not got:
            problems.append(f"{how} has {len(got)} cert(s) that differ from the {len(exp.signing)} signing cert(s) in the file")
        if len(exp.signing) >= 2 and not how.startswith("x509certMulti"):
            problems.append("two signing KeyDescriptors but no x509certMulti")
        if exp.cli_cert and exp.cli_cert not in got:
            problems.append("IdP signing cert (--cert) not extracted")
        if problems:
            report.fail(label, f"python3-saml[{short}]", "; ".join(problems))
        else:
            report.ok(label, f"python3-saml[{short}]", f"entityId, {short} SSO url {sso}, {len(got)} signing cert(s) via {how}")

    try:
        with time_limit(TIMEOUT):
            res = OneLogin_Saml2_XML.validate_xml(raw, "saml-schema-metadata-2.0.xsd", debug=False)
    except Exception as exc:
        res = f"{type(exc).__name__}: {exc}"
    if isinstance(res, str):
        report.fail(label, "python3-saml[schema]", f"saml-schema-metadata-2.0.xsd validation failed: {res}: {schema_errors(raw)}")
    else:
        report.ok(label, "python3-saml[schema]", "valid against saml-schema-metadata-2.0.xsd")


def check_pysaml2(report: Report, label: str, path: Path, exp: Expected) -> None:
    from saml2.attribute_converter import ac_factory
    from saml2.config import Config
    from saml2.mdstore import MetadataStore
    from saml2.xml.schema import validate as schema_validate

    try:
        with time_limit(TIMEOUT):
            mds = MetadataStore(ac_factory(), Config())
            mds.load("local", str(path))
    except Exception as exc:
        report.fail(label, "pysaml2", f"MetadataStore.load raised {type(exc).__name__}: {one_line(exc)}")
        return
    problems = []
    entities = list(mds.keys())
    if entities != [exp.entity_id]:
        problems.append(f"entities {entities} != [{exp.entity_id!r}]")
    else:
        ent = mds[exp.entity_id]
        if not ent.get("idpsso_descriptor"):
            problems.append("no idpsso_descriptor")
        for binding, short in ((REDIRECT, "Redirect"), (POST, "POST")):
            try:
                locs = [s["location"] for s in mds.single_sign_on_service(exp.entity_id, binding)]
            except Exception as exc:
                locs = []
                problems.append(f"single_sign_on_service({short}) raised {type(exc).__name__}: {exc}")
            if locs != [exp.sso[binding]]:
                problems.append(f"{short} SSO {locs} != [{exp.sso[binding]!r}]")
        certs = [b64_of(c) for _name, c in mds.certs(exp.entity_id, "idpsso", use="signing")]
        if sorted(certs) != sorted(exp.signing):
            problems.append(f"{len(certs)} signing cert(s) found, differ from the {len(exp.signing)} in the file")
        if exp.cli_cert and exp.cli_cert not in certs:
            problems.append("IdP signing cert (--cert) not found")
    if problems:
        report.fail(label, "pysaml2", "; ".join(problems))
    else:
        report.ok(label, "pysaml2", f"entity {exp.entity_id}: IDPSSODescriptor with SSO Redirect+POST, {len(certs)} signing cert(s)")

    try:
        with time_limit(TIMEOUT):
            schema_validate(path.read_text(encoding="utf-8"))
    except Exception as exc:
        detail = exc.args[0].get("error", exc) if exc.args and isinstance(exc.args[0], dict) else exc
        report.fail(label, "pysaml2[schema]", f"schema validation failed: {type(exc).__name__}: {one_line(detail)}")
    else:
        report.ok(label, "pysaml2[schema]", "valid against pysaml2's SAML metadata schemas")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", type=Path, help="IdP metadata XML written by our crate")
    ap.add_argument("--entity-id", help="expected IdP entityID")
    ap.add_argument("--sso-url", help="expected SSO Location (both bindings)")
    ap.add_argument("--cert", help="PEM file of the IdP signing certificate that must be listed")
    args = ap.parse_args()
    report = Report("metadata")
    saml2_log = logging.getLogger("saml2")  # pysaml2 logs what it also raises; keep output clean
    saml2_log.propagate = False
    saml2_log.addHandler(logging.NullHandler())
    label = args.file.name
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        report.fail(label, "file", f"cannot read: {exc}")
        return report.finish()
    root, exp = check_file(report, label, raw, args)
    if root is not None and exp is not None:
        check_python3_saml(report, label, raw, exp)
        check_pysaml2(report, label, args.file.resolve(), exp)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
