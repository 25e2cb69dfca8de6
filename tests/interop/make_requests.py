#!/usr/bin/env python3
"""Generate SAML AuthnRequests with real SP libraries for Lanyard's intake.

Owns: producing OUT/requests.json (+ OUT/sp.key, OUT/sp.crt, and a decoded
OUT/<name>.xml per request for humans) with AuthnRequests made by
  python3-saml  OneLogin_Saml2_Auth.login() for HTTP-Redirect (signed via
                security.authnRequestsSigned, and unsigned); for HTTP-POST the
                AuthnRequest XML from OneLogin_Saml2_Authn_Request, signed
                enveloped with OneLogin_Saml2_Utils.add_sign (python3-saml has
                no POST binding helper for requests), and unsigned
  pysaml2       Saml2Client.prepare_for_authenticate for HTTP-Redirect and
                HTTP-POST, sign=True with RSA-SHA256, and unsigned
It then sanity-checks what the libraries produced (decodes, ID, Issuer,
Destination, ACS URL; Redirect signatures over the raw query per the SAML
binding spec with the SP cert; POST signatures with xmlsec1 and the SP cert),
so the Rust intake (`interop_intake`) is fed known-good requests.

Usage:  make_requests.py OUT --idp-entity-id ID --idp-sso-url URL [--idp-metadata FILE]
Output: "PASS|FAIL <request> <peer> <detail>" lines, then
        "requests: N passed, M failed" alone on the last line. Exit 1 on any
        failure.

requests.json:
  {"sp_entity_id", "acs_url", "sp_cert_pem_file": "sp.crt", "idp_entity_id",
   "idp_sso_url", "requests": [{"name", "peer", "binding": "redirect"|"post",
   "signed", "sig_alg": URI|null, "query" (redirect: raw query string exactly
   as the SP produced it), "saml_request_b64" (post), "relay_state",
   "request_id"}]}
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import html
import json
import logging
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, one_line, require_imports, time_limit  # noqa: E402

require_imports()

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from lxml import etree  # noqa: E402

SP_ENTITY_ID = "https://sp.example.test/metadata"
ACS_URL = "https://sp.example.test/acs"
RELAY_STATE = "/console?x=1&y=2"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
B_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
B_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
TIMEOUT = 60


# ---------------------------------------------------------------------------
# SP key material
# ---------------------------------------------------------------------------
def make_sp_keypair(out: Path) -> tuple[str, str]:
    """RSA-2048 key and self-signed certificate for the SP (PEM strings)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sp.example.test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (out / "sp.key").write_text(key_pem, encoding="ascii")
    (out / "sp.crt").write_text(cert_pem, encoding="ascii")
    (out / "sp.key").chmod(0o600)
    return key_pem, cert_pem


def minimal_idp_metadata(entity_id: str, sso_url: str) -> str:
    e, s = html.escape(entity_id, quote=True), html.escape(sso_url, quote=True)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{e}">\n'
        '  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
        f'    <md:SingleSignOnService Binding="{B_REDIRECT}" Location="{s}"/>\n'
        f'    <md:SingleSignOnService Binding="{B_POST}" Location="{s}"/>\n'
        "  </md:IDPSSODescriptor>\n"
        "</md:EntityDescriptor>\n"
    )


def query_of(url: str, sso_url: str) -> str:
    """The raw query string the SP appended to the SSO URL, untouched."""
    if not url.startswith(sso_url):
        raise ValueError(f"redirect URL {url[:80]!r} does not start with the SSO URL")
    rest = url[len(sso_url):]
    if not rest or rest[0] not in "?&":
        raise ValueError(f"unexpected redirect URL shape after the SSO URL: {rest[:40]!r}")
    return rest[1:]


# ---------------------------------------------------------------------------
# python3-saml
# ---------------------------------------------------------------------------
def onelogin_settings(args, key_pem: str, cert_pem: str, signed: bool):
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    return OneLogin_Saml2_Settings(
        {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": SP_ENTITY_ID,
                "assertionConsumerService": {"url": ACS_URL, "binding": B_POST},
                "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                "x509cert": cert_pem,
                "privateKey": key_pem,
            },
            "idp": {
                "entityId": args.idp_entity_id,
                "singleSignOnService": {"url": args.idp_sso_url, "binding": B_REDIRECT},
            },
            "security": {
                "authnRequestsSigned": signed,
                "signatureAlgorithm": RSA_SHA256,
                "digestAlgorithm": SHA256,
            },
        },
        sp_validation_only=True,  # requests only: no IdP certificate needed
    )


def python3_saml_requests(args, key_pem: str, cert_pem: str) -> list[dict]:
    from onelogin.saml2.auth import OneLogin_Saml2_Auth
    from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    sp = urlsplit(ACS_URL)
    request_data = {"https": "on", "http_host": sp.hostname, "script_name": "/login", "server_port": "443",
                    "get_data": {}, "post_data": {}}
    out = []
    for signed in (True, False):
        auth = OneLogin_Saml2_Auth(request_data, old_settings=onelogin_settings(args, key_pem, cert_pem, signed))
        url = auth.login(return_to=RELAY_STATE)
        out.append({
            "name": f"python3-saml-redirect-{'signed' if signed else 'unsigned'}",
            "peer": "python3-saml", "binding": "redirect", "signed": signed,
            "sig_alg": RSA_SHA256 if signed else None,
            "query": query_of(url, args.idp_sso_url),
            "relay_state": RELAY_STATE,
            "request_id": auth.get_last_request_id(),
        })
    for signed in (True, False):
        settings = onelogin_settings(args, key_pem, cert_pem, signed)
        req = OneLogin_Saml2_Authn_Request(settings)
        xml = req.get_xml()
        if signed:
            xml = OneLogin_Saml2_Utils.add_sign(xml, key_pem, cert_pem, sign_algorithm=RSA_SHA256, digest_algorithm=SHA256)
        raw = xml if isinstance(xml, bytes) else xml.encode("utf-8")
        out.append({
            "name": f"python3-saml-post-{'signed' if signed else 'unsigned'}",
            "peer": "python3-saml", "binding": "post", "signed": signed,
            "sig_alg": RSA_SHA256 if signed else None,
            "saml_request_b64": base64.b64encode(raw).decode("ascii"),
            "relay_state": RELAY_STATE,
            "request_id": req.get_id(),
        })
    return out


# ---------------------------------------------------------------------------
# pysaml2
# ---------------------------------------------------------------------------
def pysaml2_requests(args, out_dir: Path, idp_md: Path) -> list[dict]:
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

    conf = SPConfig()
    conf.load({
        "entityid": SP_ENTITY_ID,
        "key_file": str(out_dir / "sp.key"),
        "cert_file": str(out_dir / "sp.crt"),
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {"local": [str(idp_md)]},
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(ACS_URL, BINDING_HTTP_POST)]},
            "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        }},
    })
    client = Saml2Client(config=conf)
    out = []
    for binding, bname in ((BINDING_HTTP_REDIRECT, "redirect"), (BINDING_HTTP_POST, "post")):
        for signed in (True, False):
            kwargs = {"sign": True, "sigalg": SIG_RSA_SHA256, "digest_alg": DIGEST_SHA256} if signed else {"sign": False}
            reqid, info = client.prepare_for_authenticate(entityid=args.idp_entity_id, relay_state=RELAY_STATE,
                                                          binding=binding, **kwargs)
            entry = {
                "name": f"pysaml2-{bname}-{'signed' if signed else 'unsigned'}",
                "peer": "pysaml2", "binding": bname, "signed": signed,
                "sig_alg": RSA_SHA256 if signed else None,
                "relay_state": RELAY_STATE,
                "request_id": reqid,
            }
            if bname == "redirect":
                location = dict(info["headers"])["Location"]
                entry["query"] = query_of(location, args.idp_sso_url)
            else:
                form = info["data"]
                m = re.search(r'name="SAMLRequest"\s+value="([^"]*)"', form)
                if not m:
                    raise ValueError("no SAMLRequest field in pysaml2's POST form")
                entry["saml_request_b64"] = html.unescape(m.group(1))
                rs = re.search(r'name="RelayState"\s+value="([^"]*)"', form)
                if not rs or html.unescape(rs.group(1)) != RELAY_STATE:
                    raise ValueError(f"pysaml2 POST form RelayState {rs and html.unescape(rs.group(1))!r} != {RELAY_STATE!r}")
            out.append(entry)
    return out


# ---------------------------------------------------------------------------
# sanity checks of what the libraries produced
# ---------------------------------------------------------------------------
def raw_params(query: str) -> dict[str, str]:
    params = {}
    for part in query.split("&"):
        k, _, v = part.partition("=")
        if k in params:
            raise ValueError(f"duplicate query parameter {k}")
        params[k] = v
    return params


def decode_request(req: dict) -> bytes:
    if req["binding"] == "redirect":
        p = raw_params(req["query"])
        return zlib.decompress(base64.b64decode(unquote_plus(p["SAMLRequest"])), -15)
    return base64.b64decode(req["saml_request_b64"], validate=True)


def verify_redirect_signature(req: dict, cert_pem: str) -> str | None:
    """SAML Bindings 3.4.4.1: sign 'SAMLRequest=v&RelayState=v&SigAlg=v' as the URL-encoded values."""
    p = raw_params(req["query"])
    if "Signature" not in p or "SigAlg" not in p:
        return "signed redirect lacks SigAlg/Signature"
    if unquote_plus(p["SigAlg"]) != req["sig_alg"]:
        return f"SigAlg {unquote_plus(p['SigAlg'])!r} != {req['sig_alg']!r}"
    signed = "&".join(f"{k}={p[k]}" for k in ("SAMLRequest", "RelayState", "SigAlg") if k in p)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        cert.public_key().verify(base64.b64decode(unquote_plus(p["Signature"])), signed.encode("ascii"),
                                 padding.PKCS1v15(), hashes.SHA256())
    except Exception as exc:
        return f"redirect signature does not verify over the raw query: {type(exc).__name__} {exc}"
    return None


def verify_post_signature(xml_file: Path, cert_file: Path) -> str | None:
    cmd = ["xmlsec1", "--verify", "--enabled-key-data", "key-name", "--pubkey-cert-pem", str(cert_file),
           "--id-attr:ID", f"{NS_P}:AuthnRequest", str(xml_file)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "xmlsec1 timed out"
    if p.returncode == 0 and re.search(r"^OK$", p.stdout + p.stderr, re.M):
        return None
    return "xmlsec1 --verify failed: " + one_line(p.stderr or p.stdout)


def sanity_check(report: Report, req: dict, args, out_dir: Path, cert_pem: str) -> None:
    name, peer = req["name"], req["peer"]
    problems = []
    try:
        xml = decode_request(req)
    except Exception as exc:
        report.fail(name, peer, f"cannot decode the SAMLRequest: {type(exc).__name__}: {exc}")
        return
    (out_dir / f"{name}.xml").write_bytes(xml)
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        report.fail(name, peer, f"AuthnRequest is not well-formed: {exc}")
        return
    if root.tag != f"{{{NS_P}}}AuthnRequest":
        problems.append(f"root {root.tag} is not samlp:AuthnRequest")
    if not req.get("request_id") or root.get("ID") != req["request_id"]:
        problems.append(f"ID {root.get('ID')!r} != request_id {req.get('request_id')!r}")
    issuer = root.findtext(f"{{{NS_A}}}Issuer")
    if (issuer or "").strip() != SP_ENTITY_ID:
        problems.append(f"Issuer {issuer!r} != {SP_ENTITY_ID!r}")
    if root.get("Destination") != args.idp_sso_url:
        problems.append(f"Destination {root.get('Destination')!r} != {args.idp_sso_url!r}")
    if root.get("AssertionConsumerServiceURL") not in (None, ACS_URL):
        problems.append(f"AssertionConsumerServiceURL {root.get('AssertionConsumerServiceURL')!r} != {ACS_URL!r}")
    xml_sigs = root.findall(f".//{{{NS_DS}}}Signature")
    if req["binding"] == "redirect":
        p = raw_params(req["query"])
        if unquote_plus(p.get("RelayState", "")) != RELAY_STATE:
            problems.append(f"RelayState {p.get('RelayState')!r} does not decode to {RELAY_STATE!r}")
        if xml_sigs:
            problems.append("redirect-binding AuthnRequest carries an XML signature (must be signed in the query)")
        if req["signed"]:
            err = verify_redirect_signature(req, cert_pem)
            if err:
                problems.append(err)
        elif "Signature" in p or "SigAlg" in p:
            problems.append("unsigned redirect has SigAlg/Signature")
    else:
        if req["signed"]:
            if len(xml_sigs) != 1 or xml_sigs[0].getparent() is not root:
                problems.append(f"expected one enveloped ds:Signature on the AuthnRequest, found {len(xml_sigs)}")
            else:
                alg = xml_sigs[0].find(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}SignatureMethod")
                if alg is None or alg.get("Algorithm") != req["sig_alg"]:
                    problems.append(f"SignatureMethod {None if alg is None else alg.get('Algorithm')} != {req['sig_alg']}")
                err = verify_post_signature(out_dir / f"{name}.xml", out_dir / "sp.crt")
                if err:
                    problems.append(err)
        elif xml_sigs:
            problems.append("unsigned POST request carries a ds:Signature")
    if problems:
        report.fail(name, peer, "; ".join(problems))
    else:
        how = "query signature verified" if req["binding"] == "redirect" and req["signed"] else \
              "XML signature verified by xmlsec1" if req["signed"] else "unsigned"
        report.ok(name, peer, f"{req['binding']} AuthnRequest ID={req['request_id']}, {how}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="output directory (created)")
    ap.add_argument("--idp-entity-id", required=True)
    ap.add_argument("--idp-sso-url", required=True)
    ap.add_argument("--idp-metadata", type=Path, help="IdP metadata for pysaml2 (default: a minimal one is written)")
    args = ap.parse_args()
    out_dir: Path = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report("requests")
    logging.getLogger("saml2").addHandler(logging.NullHandler())
    logging.getLogger("saml2").propagate = False

    key_pem, cert_pem = make_sp_keypair(out_dir)
    if args.idp_metadata:
        idp_md = args.idp_metadata.resolve()
    else:
        idp_md = out_dir / "idp-metadata.xml"
        idp_md.write_text(minimal_idp_metadata(args.idp_entity_id, args.idp_sso_url), encoding="utf-8")

    requests: list[dict] = []
    for peer, make in (("python3-saml", lambda: python3_saml_requests(args, key_pem, cert_pem)),
                       ("pysaml2", lambda: pysaml2_requests(args, out_dir, idp_md))):
        try:
            with time_limit(TIMEOUT):
                requests.extend(make())
        except Exception as exc:
            report.fail(f"{peer}-requests", peer, f"generation failed: {type(exc).__name__}: {one_line(exc)}")

    for req in requests:
        sanity_check(report, req, args, out_dir, cert_pem)

    manifest = {
        "sp_entity_id": SP_ENTITY_ID,
        "acs_url": ACS_URL,
        "sp_cert_pem_file": "sp.crt",
        "idp_entity_id": args.idp_entity_id,
        "idp_sso_url": args.idp_sso_url,
        "requests": requests,
    }
    (out_dir / "requests.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"# wrote {len(requests)} requests to {out_dir / 'requests.json'}", flush=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
