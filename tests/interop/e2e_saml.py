"""The SP side of check_sso_e2e.py: real SP libraries judging what a browser received.

Owns, for the end-to-end test (no HTTP here; the browser and the server are
check_sso_e2e.py's):

  python3-saml  Settings built from OUR EXPORTED IdP metadata
                (OneLogin_Saml2_IdPMetadataParser.parse + merge_settings),
                strict=True, wantAssertionsSigned, rejectDeprecatedAlgorithm;
                OneLogin_Saml2_Auth.process_response(request_id=...) on the
                SAMLResponse exactly as the browser would post it to the ACS
                (request_data makes python3-saml's "current URL" the ACS URL,
                so Destination and Recipient are checked against it).
                AuthnRequests: Auth.login() (HTTP-Redirect, signed via
                authnRequestsSigned, or not) and OneLogin_Saml2_Authn_Request
                + add_sign (HTTP-POST; python3-saml has no POST helper for
                requests), and the SP metadata that registers the SP.
  pysaml2       Saml2Client configured with the same exported metadata file:
                parse_authn_request_response (signature with xmlsec1,
                audience, destination, lifetime; InResponseTo against
                `outstanding` for SP-initiated); prepare_for_authenticate for
                its own AuthnRequests; create_metadata_string for its SP
                metadata.
  decode        the Response XML for the checks the libraries do not make
                (InResponseTo present on Response and SubjectConfirmationData,
                no InResponseTo when unsolicited).
"""

from __future__ import annotations

import base64
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

B_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
B_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
EMAIL_FMT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


@dataclass
class Verdict:
    """What one SP library made of one SAMLResponse."""

    ok: bool
    error: str = ""
    name_id: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    in_response_to: str | None = None


def response_xml(b64: str) -> bytes:
    return base64.b64decode(b64, validate=True)


def response_facts(b64: str) -> dict:
    """Fields read straight from the Response XML (parsed without entities or network)."""
    root = etree.fromstring(response_xml(b64), etree.XMLParser(resolve_entities=False, no_network=True))
    scd = root.find("saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    sigs = {el.getparent().tag.split("}")[1] for el in root.iter(f"{{{NS['ds']}}}Signature")}
    return {
        "root": root.tag,
        "destination": root.get("Destination"),
        "in_response_to": root.get("InResponseTo"),
        "scd_in_response_to": None if scd is None else scd.get("InResponseTo"),
        "recipient": None if scd is None else scd.get("Recipient"),
        "issuer": (root.findtext("saml:Issuer", namespaces=NS) or "").strip(),
        "audiences": [a.text for a in root.iterfind("saml:Assertion/saml:Conditions/saml:AudienceRestriction/saml:Audience", NS)],
        "signed": sorted(sigs),  # "Response" and/or "Assertion"
        "assertions": len(root.findall("saml:Assertion", NS)),
        "status": [c.get("Value") for c in root.iter(f"{{{NS['samlp']}}}StatusCode")],
        "authn_instant": next((s.get("AuthnInstant") for s in
                               root.iterfind("saml:Assertion/saml:AuthnStatement", NS)), None),
    }


# ---------------------------------------------------------------------------
# python3-saml
# ---------------------------------------------------------------------------
def _request_data(acs_url: str, post: dict | None = None) -> dict:
    """request_data that makes python3-saml's current URL the ACS URL."""
    u = urlsplit(acs_url)
    https = u.scheme == "https"
    return {"https": "on" if https else "off", "http_host": u.hostname,
            "server_port": str(u.port or (443 if https else 80)), "script_name": u.path,
            "get_data": {}, "post_data": post or {}}


def onelogin_settings(idp_metadata_xml: str, *, sp_entity_id: str, acs_url: str, want_messages_signed: bool,
                      sp_cert: str | None = None, sp_key: str | None = None, sign_requests: bool = False):
    """python3-saml Settings: our exported metadata merged into a strict SP's settings."""
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    sp = {"entityId": sp_entity_id,
          "assertionConsumerService": {"url": acs_url, "binding": B_POST},
          "NameIDFormat": EMAIL_FMT}
    if sp_cert:
        sp["x509cert"], sp["privateKey"] = sp_cert, sp_key
    base = {
        "strict": True,
        "debug": False,
        "sp": sp,
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": want_messages_signed,
            "rejectDeprecatedAlgorithm": True,
            "wantNameId": True,
            "authnRequestsSigned": sign_requests,
            "signatureAlgorithm": RSA_SHA256,
            "digestAlgorithm": SHA256,
            "rejectUnsolicitedResponsesWithInResponseTo": True,
        },
    }
    idp = OneLogin_Saml2_IdPMetadataParser.parse(idp_metadata_xml)
    merged = OneLogin_Saml2_IdPMetadataParser.merge_settings(base, idp)
    merged["sp"]["NameIDFormat"] = EMAIL_FMT
    # parse() turns the IdP's WantAuthnRequestsSigned into authnRequestsSigned:
    # whether this SP signs is the caller's choice here.
    merged["security"]["authnRequestsSigned"] = sign_requests
    return OneLogin_Saml2_Settings(merged, sp_validation_only=not sp_cert)


def python3_saml_check(idp_metadata_xml: str, b64: str, *, sp_entity_id: str, acs_url: str,
                       want_messages_signed: bool, request_id: str | None = None) -> Verdict:
    from onelogin.saml2.auth import OneLogin_Saml2_Auth

    try:
        settings = onelogin_settings(idp_metadata_xml, sp_entity_id=sp_entity_id, acs_url=acs_url,
                                     want_messages_signed=want_messages_signed)
        auth = OneLogin_Saml2_Auth(_request_data(acs_url, {"SAMLResponse": b64}), old_settings=settings)
        auth.process_response(request_id=request_id)
    except Exception as exc:  # settings or decoding errors
        return Verdict(False, f"{type(exc).__name__}: {exc}")
    errors = auth.get_errors()
    if errors or not auth.is_authenticated():
        return Verdict(False, f"{errors} {auth.get_last_error_reason()}")
    attrs = {k: list(v) for k, v in auth.get_attributes().items()}
    return Verdict(True, "", auth.get_nameid(), attrs, response_facts(b64)["in_response_to"])


class OneLoginSp:
    """A python3-saml SP with a key pair: makes AuthnRequests and its own metadata."""

    def __init__(self, *, entity_id: str, acs_url: str, cert_pem: str, key_pem: str) -> None:
        self.entity_id, self.acs_url, self.cert_pem, self.key_pem = entity_id, acs_url, cert_pem, key_pem

    def settings(self, idp_metadata_xml: str, signed: bool, acs_url: str | None = None):
        return onelogin_settings(idp_metadata_xml, sp_entity_id=self.entity_id, acs_url=acs_url or self.acs_url,
                                 want_messages_signed=True, sp_cert=self.cert_pem, sp_key=self.key_pem,
                                 sign_requests=signed)

    def metadata(self) -> str:
        """The SP metadata (signing certificate, POST ACS, AuthnRequestsSigned) that registers this SP."""
        from onelogin.saml2.settings import OneLogin_Saml2_Settings

        s = OneLogin_Saml2_Settings({
            "strict": True,
            "sp": {"entityId": self.entity_id, "assertionConsumerService": {"url": self.acs_url, "binding": B_POST},
                   "NameIDFormat": EMAIL_FMT, "x509cert": self.cert_pem, "privateKey": self.key_pem},
            "security": {"authnRequestsSigned": True, "wantAssertionsSigned": True, "wantMessagesSigned": True},
        }, sp_validation_only=True)
        md = s.get_sp_metadata()
        errors = s.validate_metadata(md)
        if errors:
            raise ValueError(f"python3-saml SP metadata invalid: {errors}")
        return md.decode() if isinstance(md, bytes) else md

    def redirect_request(self, idp_metadata_xml: str, relay_state: str, signed: bool,
                         acs_url: str | None = None, force_authn: bool = False,
                         is_passive: bool = False) -> tuple[str, str]:
        """(full redirect URL to the IdP, request ID) from Auth.login()."""
        from onelogin.saml2.auth import OneLogin_Saml2_Auth

        auth = OneLogin_Saml2_Auth(_request_data(acs_url or self.acs_url),
                                   old_settings=self.settings(idp_metadata_xml, signed, acs_url))
        url = auth.login(return_to=relay_state, force_authn=force_authn, is_passive=is_passive)
        return url, auth.get_last_request_id()

    def post_request(self, idp_metadata_xml: str, signed: bool) -> tuple[str, str, str]:
        """(IdP SSO URL, base64 SAMLRequest, request ID) for the HTTP-POST binding."""
        from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
        from onelogin.saml2.utils import OneLogin_Saml2_Utils

        settings = self.settings(idp_metadata_xml, signed)
        req = OneLogin_Saml2_Authn_Request(settings)
        xml = req.get_xml()
        if signed:
            xml = OneLogin_Saml2_Utils.add_sign(xml, self.key_pem, self.cert_pem, sign_algorithm=RSA_SHA256,
                                                digest_algorithm=SHA256)
        raw = xml if isinstance(xml, bytes) else xml.encode("utf-8")
        return settings.get_idp_sso_url(), base64.b64encode(raw).decode("ascii"), req.get_id()

    def check(self, idp_metadata_xml: str, b64: str, request_id: str | None) -> Verdict:
        return python3_saml_check(idp_metadata_xml, b64, sp_entity_id=self.entity_id, acs_url=self.acs_url,
                                  want_messages_signed=True, request_id=request_id)


# ---------------------------------------------------------------------------
# pysaml2
# ---------------------------------------------------------------------------
class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:
            self.messages.append(str(record.msg))


def pysaml2_client(idp_metadata_file: Path, *, sp_entity_id: str, acs_url: str, want_response_signed: bool,
                   allow_unsolicited: bool, key_file: Path | None = None, cert_file: Path | None = None,
                   sign_requests: bool = False):
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    cfg = {
        "entityid": sp_entity_id,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {"local": [str(idp_metadata_file)]},
        "accepted_time_diff": 0,
        "allow_unknown_attributes": True,  # else pysaml2 drops the AWS attribute names
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(acs_url, B_POST)]},
            "allow_unsolicited": allow_unsolicited,
            "want_response_signed": want_response_signed,
            "want_assertions_signed": True,
            "authn_requests_signed": sign_requests,
            "name_id_format": EMAIL_FMT,
        }},
    }
    if key_file:
        cfg["key_file"], cfg["cert_file"] = str(key_file), str(cert_file)
    conf = SPConfig()
    conf.load(cfg)
    return Saml2Client(config=conf)


def pysaml2_check(client, b64: str, outstanding: dict | None = None) -> Verdict:
    cap = _LogCapture()
    log = logging.getLogger("saml2")
    log.addHandler(cap)
    old = log.propagate, log.level
    log.propagate = False
    log.setLevel(logging.WARNING)
    try:
        resp = client.parse_authn_request_response(b64, B_POST, outstanding=outstanding)
        # pysaml2 7.5 may return a response whose assertion was never parsed
        # (it only logs why): accepted means a parsed assertion and subject.
        if resp is None or resp.assertion is None or resp.name_id is None:
            return Verdict(False, "no parsed assertion; log: " + " | ".join(cap.messages))
        attrs: dict[str, list[str]] = {}
        for stmt in resp.assertion.attribute_statement:
            for a in stmt.attribute:
                attrs.setdefault(a.name, []).extend(v.text for v in a.attribute_value)
        return Verdict(True, "", resp.name_id.text, attrs, resp.in_response_to)
    except Exception as exc:
        return Verdict(False, f"{type(exc).__name__}: {exc}; log: " + " | ".join(cap.messages))
    finally:
        log.removeHandler(cap)
        log.propagate, log.level = old


def pysaml2_sp_metadata(client) -> str:
    from saml2.metadata import entity_descriptor

    return str(entity_descriptor(client.config))


def pysaml2_request(client, idp_entity_id: str, relay_state: str, binding: str, signed: bool,
                    **extra) -> dict:
    """An AuthnRequest from prepare_for_authenticate: {"id", "url" (redirect) or
    "action" + "saml_request" + "relay_state" (POST)}. `extra`: AuthnRequest
    attributes, e.g. is_passive="true"."""
    import html

    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

    kwargs = {"sign": True, "sigalg": SIG_RSA_SHA256, "digest_alg": DIGEST_SHA256} if signed else {"sign": False}
    kwargs.update(extra)
    reqid, info = client.prepare_for_authenticate(entityid=idp_entity_id, relay_state=relay_state,
                                                  binding=binding, **kwargs)
    if binding == B_REDIRECT:
        return {"id": reqid, "url": dict(info["headers"])["Location"]}
    form = info["data"]
    action = re.search(r'<form[^>]*action="([^"]*)"', form)
    req = re.search(r'name="SAMLRequest"\s+value="([^"]*)"', form)
    rs = re.search(r'name="RelayState"\s+value="([^"]*)"', form)
    if not (action and req):
        raise ValueError("pysaml2's POST form has no action or SAMLRequest")
    return {"id": reqid, "action": html.unescape(action.group(1)), "saml_request": html.unescape(req.group(1)),
            "relay_state": html.unescape(rs.group(1)) if rs else None}
