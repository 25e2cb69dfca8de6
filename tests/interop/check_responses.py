#!/usr/bin/env python3
"""Check Lanyard's SAML Responses against independent SAML implementations.

Owns: deciding whether every Response case written by the Rust example
`interop_cases` is accepted (or rejected, for the right reason) by each peer:

  structure     our own reading of the signature layout the manifest claims
                (which elements are signed, SignatureMethod/DigestMethod match
                sig_alg, Reference URI points at the enveloping element)
  xmlsec1       the xmlsec1 command line, every expected ds:Signature verified
                separately, pinned IdP certificate only (KeyInfo is ignored)
  python3-saml  OneLogin_Saml2_Response.is_valid, strict mode
  pysaml2       Saml2Client.parse_authn_request_response (uses xmlsec1 inside)
  node-saml     @node-saml/node-saml validatePostResponseAsync (node_check.js)
  lxml-c14n     exclusive C14N of each signed element vs the .c14n file written
                by our crate, byte for byte
  identity      (accept cases) python3-saml, pysaml2 and node-saml read the
                same NameID and the same attribute values, exactly; and the
                values in the case's optional "name_id" / "attributes"
                ({"Name": ["value", ...]}) manifest keys when given

Usage:  check_responses.py DIR        (DIR holds cases.json, see run.sh)
Output: one line per (case, peer): "PASS|FAIL <case> <peer> <detail>", then
        "interop: N passed, M failed" alone on the last line. Exit 1 on any
        failure, 2 on a setup/usage error.

Expectations: an "accept" case must be accepted by every peer. A "reject" case
must be rejected by every peer that checks the defective property, and the
peer's reason must match REASONS[peer][defect]; a peer that does not check
that property (REASONS value None) must still ACCEPT the otherwise-valid
Response, and its line says "n/a".
"""

from __future__ import annotations

import argparse
import base64
import copy
import difflib
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, Report, one_line, require_imports, time_limit  # noqa: E402

require_imports()

from lxml import etree  # noqa: E402

NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": NS_P, "saml": NS_A, "ds": NS_DS}

SIG_ALGS = {
    # manifest sig_alg: (SignatureMethod, DigestMethod)
    "rsa-sha256": ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256"),
    "rsa-sha1": ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1"),
}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

SIGNED_MODES = ("assertion", "response", "both")
PEERS = ("structure", "xmlsec1", "python3-saml", "pysaml2", "node-saml", "lxml-c14n")

# ---------------------------------------------------------------------------
# Each peer's rejection reason per defect, as observed with the pinned
# versions (see setup.sh). A regex is searched (case-insensitive) in the
# peer's error text. None = the peer does not check this property, so it
# must accept the (otherwise valid) Response: reported as "n/a".
# ---------------------------------------------------------------------------
REASONS: dict[str, dict[str, str | None]] = {
    "xmlsec1": {
        # exact lines: "...:data and digest do not match" (a Reference digest)
        # or "...:data do not match:details=EVP_VerifyFinal: signature verification failed"
        "tampered": r"data and digest do not match|signature verification failed",
        "untrusted-key": r"signature verification failed",
        "expired": None,  # signature-only tool
        "wrong-audience": None,
        "wrong-destination": None,
    },
    "python3-saml": {
        # note: the audience message names OUR entity id, not the one received
        "tampered": r"^Signature validation failed\. SAML Response rejected$",
        "untrusted-key": r"^Signature validation failed\. SAML Response rejected$",
        "expired": r"^Could not validate timestamp: expired\. Check system clock\.$",
        "wrong-audience": r"is not a valid audience for this Response$",
        "wrong-destination": r"^The response was received at \S+ instead of \S+$",
    },
    "pysaml2": {
        "tampered": r"^SignatureError: Failed to verify signature$",
        "untrusted-key": r"^SignatureError: Failed to verify signature$",
        "expired": r"^ResponseLifetimeExceed: Can't use response, too old ",
        "wrong-audience": r"^Exception: AudienceRestrictions conditions not satisfied!",
        # pysaml2 does not raise here: parse_authn_request_response returns a
        # response with no parsed assertion and logs "destination '...' not in
        # return addresses '...'" (captured from the saml2 logger).
        "wrong-destination": r"without a parsed assertion; log: .*destination '\S+' not in return addresses",
    },
    "node-saml": {
        # "Invalid document signature" (Response signature) or "Invalid signature" (Assertion)
        "tampered": r"^Invalid (document )?signature$",
        "untrusted-key": r"^Invalid (document )?signature$",
        "expired": r"^SAML assertion expired: clocks skewed too much$",
        "wrong-audience": r"^SAML assertion audience mismatch\. Expected: ",
        "wrong-destination": None,  # node-saml checks neither Destination nor Recipient
    },
}
# Defects a case may carry. "untrusted-key" (signed by a key other than the
# pinned IdP certificate, that key's cert in KeyInfo) goes beyond the four in
# the interop_cases contract; it is ready for a Rust case. The structure,
# lxml-c14n and identity checks do not depend on the defect (lxml-c14n is
# n/a for tampered documents: the altered element no longer matches what was
# signed).
KNOWN_DEFECTS = ("tampered", "untrusted-key", "expired", "wrong-audience", "wrong-destination")

XMLSEC1_TIMEOUT = 30
PY_PEER_TIMEOUT = 30
NODE_TIMEOUT = 180


def secure_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


def qn(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


# ---------------------------------------------------------------------------
# manifest
# ---------------------------------------------------------------------------
class ManifestError(Exception):
    pass


def load_manifest(case_dir: Path) -> dict:
    path = case_dir / "cases.json"
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc
    for key in ("idp_entity_id", "idp_sso_url", "sp_entity_id", "acs_url", "idp_cert_file", "idp_metadata_file", "cases"):
        if key not in m:
            raise ManifestError(f"{path}: missing key {key!r}")
    if not m["cases"]:
        raise ManifestError(f"{path}: no cases")
    for f in (m["idp_cert_file"], m["idp_metadata_file"]):
        if not (case_dir / f).is_file():
            raise ManifestError(f"{path}: file {f!r} not found in {case_dir}")
    return m


def case_problem(case: dict, case_dir: Path) -> str | None:
    """Return why a case entry is malformed, or None."""
    for key in ("name", "file", "signed", "sig_alg", "expect"):
        if key not in case:
            return f"manifest entry lacks {key!r}"
    if case["signed"] not in SIGNED_MODES:
        return f"unknown signed mode {case['signed']!r}"
    if case["sig_alg"] not in SIG_ALGS:
        return f"unknown sig_alg {case['sig_alg']!r}"
    if case["expect"] not in ("accept", "reject"):
        return f"unknown expect {case['expect']!r}"
    defect = case.get("defect")
    if case["expect"] == "accept" and defect is not None:
        return f"expect=accept with defect {defect!r}"
    if case["expect"] == "reject" and defect not in KNOWN_DEFECTS:
        return f"expect=reject needs a known defect {KNOWN_DEFECTS}, got {defect!r} (add it to REASONS)"
    if not (case_dir / case["file"]).is_file():
        return f"response file {case['file']!r} not found"
    return None


def wants(case: dict) -> tuple[bool, bool]:
    """(assertion signed, response signed) for the case's signing mode."""
    return case["signed"] in ("assertion", "both"), case["signed"] in ("response", "both")


# ---------------------------------------------------------------------------
# judging a peer outcome against the expectation
# ---------------------------------------------------------------------------
def judge(report: Report, case: dict, peer: str, accepted: bool, reason: str, extra: str = "") -> None:
    name = case["name"]
    reason = one_line(reason)
    suffix = f" ({extra})" if extra else ""
    if case["expect"] == "accept":
        if accepted:
            report.ok(name, peer, f"accepted{suffix}")
        else:
            report.fail(name, peer, f"expected accept, peer rejected: {reason}{suffix}")
        return
    defect = case["defect"]
    pattern = REASONS[peer].get(defect, "MISSING")
    if pattern == "MISSING":
        report.fail(name, peer, f"no REASONS entry for defect {defect!r}; peer said: {'accepted' if accepted else reason}")
    elif pattern is None:
        if accepted:
            report.ok(name, peer, f"n/a: {peer} does not check '{defect}'; accepted the otherwise-valid response{suffix}")
        else:
            report.fail(name, peer, f"n/a peer for '{defect}' should have accepted, but rejected: {reason}{suffix}")
    elif accepted:
        report.fail(name, peer, f"expected reject ({defect}), peer ACCEPTED{suffix}")
    elif re.search(pattern, reason, re.IGNORECASE):
        report.ok(name, peer, f"rejected ({defect}): {reason}{suffix}")
    else:
        report.fail(name, peer, f"rejected, but for the wrong reason for '{defect}': {reason!r} does not match /{pattern}/{suffix}")


# ---------------------------------------------------------------------------
# structure
# ---------------------------------------------------------------------------
def check_structure(report: Report, case: dict, root: etree._Element) -> None:
    """The Response's signature layout matches the manifest's signed/sig_alg."""
    problems: list[str] = []
    seen: list[str] = []
    if root.tag != qn(NS_P, "Response"):
        report.fail(case["name"], "structure", f"root element is {root.tag}, not samlp:Response")
        return
    assertions = root.findall(qn(NS_A, "Assertion"))
    if len(assertions) != 1:
        report.fail(case["name"], "structure", f"expected exactly 1 saml:Assertion child, found {len(assertions)}")
        return
    want_a, want_r = wants(case)
    sig_method, digest_method = SIG_ALGS[case["sig_alg"]]
    all_sigs = root.findall(f".//{qn(NS_DS, 'Signature')}")
    expected_total = int(want_a) + int(want_r)
    if len(all_sigs) != expected_total:
        problems.append(f"{len(all_sigs)} ds:Signature elements in document, expected {expected_total}")
    for label, elem, wanted in (("Response", root, want_r), ("Assertion", assertions[0], want_a)):
        sigs = elem.findall(qn(NS_DS, "Signature"))
        if len(sigs) != int(wanted):
            problems.append(f"{label} has {len(sigs)} direct ds:Signature, expected {int(wanted)}")
            continue
        if not wanted:
            continue
        sig = sigs[0]
        prev = sig.getprevious()
        while prev is not None and not isinstance(prev.tag, str):
            prev = prev.getprevious()
        if prev is None or prev.tag != qn(NS_A, "Issuer"):
            problems.append(f"{label} ds:Signature does not directly follow saml:Issuer")
        sm = sig.find("ds:SignedInfo/ds:SignatureMethod", NS)
        cm = sig.find("ds:SignedInfo/ds:CanonicalizationMethod", NS)
        refs = sig.findall("ds:SignedInfo/ds:Reference", NS)
        if sm is None or sm.get("Algorithm") != sig_method:
            problems.append(f"{label} SignatureMethod {None if sm is None else sm.get('Algorithm')} != {sig_method}")
        if cm is None or cm.get("Algorithm") != EXC_C14N:
            problems.append(f"{label} CanonicalizationMethod is not exclusive c14n")
        if len(refs) != 1:
            problems.append(f"{label} has {len(refs)} References, expected 1")
            continue
        ref = refs[0]
        if ref.get("URI") != "#" + (elem.get("ID") or "<no ID>"):
            problems.append(f"{label} Reference URI {ref.get('URI')!r} does not point at its own ID {elem.get('ID')!r}")
        dm = ref.find("ds:DigestMethod", NS)
        if dm is None or dm.get("Algorithm") != digest_method:
            problems.append(f"{label} DigestMethod {None if dm is None else dm.get('Algorithm')} != {digest_method}")
        transforms = [t.get("Algorithm") for t in ref.findall("ds:Transforms/ds:Transform", NS)]
        if transforms != [ENVELOPED, EXC_C14N]:
            problems.append(f"{label} Transforms {transforms} != [enveloped-signature, exc-c14n]")
        seen.append(label)
    if problems:
        report.fail(case["name"], "structure", "; ".join(problems))
    else:
        signed = "+".join(seen)
        report.ok(case["name"], "structure", f"signed={signed} alg={case['sig_alg']} exc-c14n, Reference URIs match, as the manifest says")


# ---------------------------------------------------------------------------
# xmlsec1
# ---------------------------------------------------------------------------
def _xp(local: str, ns: str) -> str:
    return f"*[local-name()='{local}' and namespace-uri()='{ns}']"


XMLSEC_SIG_XPATH = {
    "Response": f"/{_xp('Response', NS_P)}/{_xp('Signature', NS_DS)}",
    "Assertion": f"/{_xp('Response', NS_P)}/{_xp('Assertion', NS_A)}/{_xp('Signature', NS_DS)}",
}


def xmlsec1_verify(xml_file: Path, cert_file: Path, which: str) -> tuple[bool, str]:
    """Verify one ds:Signature (chosen by --node-xpath) with the pinned cert only.

    --enabled-key-data key-name: keys are never read from the document's
    KeyInfo (X509Data/KeyValue are ignored); the only key xmlsec1 can use is
    the one loaded from --pubkey-cert-pem.
    """
    cmd = [
        "xmlsec1", "--verify",
        "--enabled-key-data", "key-name",
        "--pubkey-cert-pem", str(cert_file),
        "--id-attr:ID", f"{NS_A}:Assertion",
        "--id-attr:ID", f"{NS_P}:Response",
        "--node-xpath", XMLSEC_SIG_XPATH[which],
        str(xml_file),
    ]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=XMLSEC1_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, f"xmlsec1 timed out after {XMLSEC1_TIMEOUT}s"
    out = (p.stdout + "\n" + p.stderr).strip()
    ok = p.returncode == 0 and re.search(r"^OK$", out, re.M) is not None
    if ok:
        return True, "OK"
    # keep the lines that carry the reason, drop the "certificate verification failed"
    # noise about self-signed certs (KeyInfo certs are not used anyway)
    lines = [ln for ln in out.splitlines() if ln.startswith("func=") and "X509StoreVerify" not in ln]
    reasons = [ln.split(":", 5)[-1] for ln in lines] or out.splitlines()[-3:]
    return False, f"rc={p.returncode}: " + " | ".join(reasons)


def check_xmlsec1(report: Report, case: dict, xml_file: Path, cert_file: Path) -> None:
    want_a, want_r = wants(case)
    results = []
    for which, wanted in (("Response", want_r), ("Assertion", want_a)):
        if wanted:
            results.append((which, *xmlsec1_verify(xml_file, cert_file, which)))
    accepted = all(ok for _, ok, _ in results)
    summary = ", ".join(f"{w} sig {'OK' if ok else 'FAILED'}" for w, ok, _ in results)
    reason = " / ".join(f"{w}: {msg}" for w, ok, msg in results if not ok)
    judge(report, case, "xmlsec1", accepted, reason, summary)


# ---------------------------------------------------------------------------
# python3-saml
# ---------------------------------------------------------------------------
def pem_body(pem: str) -> str:
    return "".join(ln.strip() for ln in pem.splitlines() if ln.strip() and "-----" not in ln)


def onelogin_request_data(acs_url: str, b64: str) -> dict:
    """request_data so that python3-saml's 'current URL' equals the ACS URL."""
    u = urlsplit(acs_url)
    default_port = 443 if u.scheme == "https" else 80
    return {
        "https": "on" if u.scheme == "https" else "off",
        "http_host": u.hostname,
        "server_port": str(u.port or default_port),
        "script_name": u.path,
        "get_data": {},
        "post_data": {"SAMLResponse": b64},
    }


def python3_saml_is_valid(m: dict, cert_pem: str, case: dict, b64: str, reject_deprecated: bool) -> tuple[bool, str]:
    from onelogin.saml2.response import OneLogin_Saml2_Response
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    want_a, want_r = wants(case)
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": m["sp_entity_id"],
                "assertionConsumerService": {"url": m["acs_url"], "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
                "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            },
            "idp": {
                "entityId": m["idp_entity_id"],
                "singleSignOnService": {"url": m["idp_sso_url"], "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
                "x509cert": pem_body(cert_pem),
            },
            "security": {
                "wantAssertionsSigned": want_a,
                "wantMessagesSigned": want_r,
                "rejectDeprecatedAlgorithm": reject_deprecated,
                "wantNameId": True,
            },
        },
        sp_validation_only=True,
    )
    try:
        resp = OneLogin_Saml2_Response(settings, b64)
        ok = resp.is_valid(onelogin_request_data(m["acs_url"], b64))
        err = resp.get_error()
    except Exception as exc:  # constructor errors (bad base64/XML) end up here
        return False, f"{type(exc).__name__}: {exc}"
    if ok:
        VIEWS.setdefault(case["name"], {}).setdefault(
            "python3-saml", (resp.get_nameid(), {k: list(v) for k, v in resp.get_attributes().items()}))
        return True, f"NameID={resp.get_nameid()}"
    return False, err or "is_valid() returned False without an error"


def check_python3_saml(report: Report, m: dict, cert_pem: str, case: dict, b64: str) -> None:
    sha1 = case["sig_alg"] == "rsa-sha1"
    # SHA-256 cases run with the strictest setting; SHA-1 cases with the
    # library default (rejectDeprecatedAlgorithm=False), which accepts SHA-1.
    try:
        with time_limit(PY_PEER_TIMEOUT):
            ok, msg = python3_saml_is_valid(m, cert_pem, case, b64, reject_deprecated=not sha1)
    except Exception as exc:
        ok, msg = False, f"{type(exc).__name__}: {exc}"
    extra = "rejectDeprecatedAlgorithm=False (library default) for SHA-1" if sha1 else "rejectDeprecatedAlgorithm=True"
    judge(report, case, "python3-saml", ok, msg, extra + (f", {msg}" if ok else ""))
    if sha1 and case["expect"] == "accept":
        # Record what the stricter setting does: it must reject SHA-1 and name it.
        try:
            with time_limit(PY_PEER_TIMEOUT):
                ok2, msg2 = python3_saml_is_valid(m, cert_pem, case, b64, reject_deprecated=True)
        except Exception as exc:
            ok2, msg2 = False, f"{type(exc).__name__}: {exc}"
        peer = "python3-saml[rejectDeprecatedAlgorithm]"
        if not ok2 and re.search(r"^Deprecated (signature|digest) algorithm found: http://www\.w3\.org/2000/09/xmldsig#(rsa-)?sha1$", msg2):
            report.ok(case["name"], peer, f"SHA-1 rejected when rejectDeprecatedAlgorithm=True (not the default): {msg2}")
        else:
            report.fail(case["name"], peer, f"expected the SHA-1 response to be rejected as deprecated, got: {'accepted' if ok2 else msg2}")


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
        except Exception:  # never let logging break a check
            self.messages.append(str(record.msg))


def pysaml2_client(m: dict, case_dir: Path, case: dict):
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    want_a, want_r = wants(case)
    cfg = {
        "entityid": m["sp_entity_id"],
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {"local": [str(case_dir / m["idp_metadata_file"])]},
        "accepted_time_diff": 0,
        "allow_unknown_attributes": True,  # else pysaml2 silently drops the AWS attributes
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(m["acs_url"], BINDING_HTTP_POST)]},
                "allow_unsolicited": True,
                "want_response_signed": want_r,
                "want_assertions_signed": want_a,
                "want_assertions_or_response_signed": True,
            }
        },
    }
    conf = SPConfig()
    conf.load(cfg)
    return Saml2Client(config=conf)


def check_pysaml2(report: Report, m: dict, case_dir: Path, case: dict, b64: str) -> None:
    from saml2 import BINDING_HTTP_POST

    cap = _LogCapture()
    log = logging.getLogger("saml2")
    log.addHandler(cap)
    old_prop, old_level = log.propagate, log.level
    log.propagate = False  # keep pysaml2's own warnings off our output
    log.setLevel(logging.WARNING)
    try:
        with time_limit(PY_PEER_TIMEOUT):
            client = pysaml2_client(m, case_dir, case)
            resp = client.parse_authn_request_response(b64, BINDING_HTTP_POST)
            # pysaml2 7.5.x ignores the result of AuthnResponse.verify() in
            # Entity._parse_response: on some failures (e.g. Destination not an
            # ACS URL) it returns a response object whose assertion was never
            # parsed, and only logs why. An SP gets no identity from that, so
            # "accepted" means: a response with a parsed assertion and subject.
            if resp is None:
                ok, msg = False, "returned None; log: " + " | ".join(cap.messages)
            elif resp.assertion is None or resp.name_id is None:
                ok, msg = False, "returned a response without a parsed assertion; log: " + " | ".join(cap.messages)
            else:
                subject = resp.get_subject()
                # raw parsed attributes (resp.ava would apply pysaml2's name converters)
                attrs: dict[str, list] = {}
                for stmt in resp.assertion.attribute_statement:
                    for a in stmt.attribute:
                        attrs.setdefault(a.name, []).extend(v.text for v in a.attribute_value)
                VIEWS.setdefault(case["name"], {})["pysaml2"] = (subject.text, attrs)
                ok, msg = True, f"NameID={subject.text}, {len(resp.get_identity())} attributes"
    except Exception as exc:
        ok, msg = False, f"{type(exc).__name__}: {exc}"
    finally:
        log.removeHandler(cap)
        log.propagate, log.level = old_prop, old_level
    want_a, want_r = wants(case)
    extra = f"want_response_signed={want_r} want_assertions_signed={want_a}"
    judge(report, case, "pysaml2", ok, msg, extra + (f", {msg}" if ok else ""))


# ---------------------------------------------------------------------------
# node-saml
# ---------------------------------------------------------------------------
def run_node_saml(m: dict, cert_pem: str, jobs: list[tuple[dict, str]], work: Path) -> dict[str, dict] | str:
    """Run node_check.js once for all cases. Returns {case: result} or an error string."""
    node = shutil.which("node")
    if not node:
        return "node not found on PATH"
    payload = []
    for case, b64 in jobs:
        want_a, want_r = wants(case)
        payload.append({
            "name": case["name"],
            "saml_response_b64": b64,
            "idp_cert_pem": cert_pem,
            "idp_entity_id": m["idp_entity_id"],
            "sp_entity_id": m["sp_entity_id"],
            "acs_url": m["acs_url"],
            "want_assertions_signed": want_a,
            "want_response_signed": want_r,
        })
    job_file = work / "node-jobs.json"
    job_file.write_text(json.dumps(payload), encoding="utf-8")
    try:
        p = subprocess.run([node, str(HERE / "node_check.js"), str(job_file)], capture_output=True, text=True,
                           timeout=NODE_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"node_check.js timed out after {NODE_TIMEOUT}s"
    if p.returncode != 0:
        return f"node_check.js exited {p.returncode}: {one_line(p.stderr)}"
    results = {}
    for line in p.stdout.splitlines():
        if line.strip():
            r = json.loads(line)
            results[r["name"]] = r
    return results


# ---------------------------------------------------------------------------
# lxml exclusive c14n
# ---------------------------------------------------------------------------
def lxml_exc_c14n(root: etree._Element, elem_id: str) -> tuple[bytes | None, list[str]]:
    """Exclusive c14n (no comments) of the element with ID=elem_id, after the
    enveloped-signature transform (its direct ds:Signature children removed).

    The element is canonicalised inside a deep copy of the whole document, not
    as a detached copy: lxml's deepcopy of a lone element keeps only the
    namespace declarations that element names/attributes use, which would
    lose a prefix named in an InclusiveNamespaces PrefixList. Exclusive c14n
    renders only *visibly utilized* prefixes, so a prefix used only inside an
    attribute value (e.g. xs in xsi:type="xs:string") is not rendered unless
    declared on an element inside the subtree, or listed in the Transform's
    InclusiveNamespaces PrefixList (honoured here, as a verifier would).
    Whatever lxml gives is the reference.
    """
    doc = copy.deepcopy(root)  # copy the whole document so the element keeps its ancestors
    found = doc.xpath("//*[@ID=$id]", id=elem_id)
    if len(found) != 1:
        return None, []
    elem = found[0]
    prefixes = inclusive_prefixes(elem)
    for sig in elem.findall(qn(NS_DS, "Signature")):
        elem.remove(sig)
    return etree.tostring(elem, method="c14n", exclusive=True, with_comments=False,
                          inclusive_ns_prefixes=prefixes or None), prefixes


def inclusive_prefixes(elem: etree._Element) -> list[str]:
    """PrefixList of the ec:InclusiveNamespaces in the exc-c14n Transform of the
    Reference (in the element's own ds:Signature) that points at this element."""
    out: list[str] = []
    for ref in elem.findall(f"{qn(NS_DS, 'Signature')}/{qn(NS_DS, 'SignedInfo')}/{qn(NS_DS, 'Reference')}"):
        if ref.get("URI") != "#" + (elem.get("ID") or ""):
            continue
        for t in ref.findall(f"{qn(NS_DS, 'Transforms')}/{qn(NS_DS, 'Transform')}"):
            if t.get("Algorithm") == EXC_C14N:
                inc = t.find(f"{{{EXC_C14N}}}InclusiveNamespaces")
                if inc is not None:
                    out += [p for p in (inc.get("PrefixList") or "").split() if p != "#default"]
    return out


def short_diff(expected: bytes, actual: bytes) -> str:
    """First differing byte with context, plus a few lines of a tag-level diff."""
    n = next((i for i, (a, b) in enumerate(zip(expected, actual)) if a != b), min(len(expected), len(actual)))
    lo = max(0, n - 60)
    out = [f"first difference at byte {n} (lxml {len(expected)} bytes, ours {len(actual)} bytes)",
           f"lxml: ...{expected[lo:n + 60]!r}...", f"ours: ...{actual[lo:n + 60]!r}..."]

    def split(b: bytes) -> list[str]:
        return b.decode("utf-8", "replace").replace("><", ">\n<").splitlines()

    diff = [ln for ln in difflib.unified_diff(split(expected), split(actual), "lxml", "ours", n=0, lineterm="")
            if not ln.startswith(("---", "+++", "@@"))]
    if diff:
        out.append("diff: " + " ".join(diff[:8]) + (" ..." if len(diff) > 8 else ""))
    return " | ".join(out)


def check_c14n(report: Report, case: dict, root: etree._Element, case_dir: Path) -> None:
    name = case["name"]
    entries = case.get("c14n") or []
    if case.get("defect") == "tampered":
        report.ok(name, "lxml-c14n", f"n/a: tampered document, its c14n no longer matches what was signed ({len(entries)} entries not compared)")
        return
    # every signed element should have a c14n file so our canonicalisation is compared
    want_a, want_r = wants(case)
    signed_ids = {}
    if want_r:
        signed_ids[root.get("ID")] = "Response"
    if want_a:
        a = root.find(qn(NS_A, "Assertion"))
        if a is not None:
            signed_ids[a.get("ID")] = "Assertion"
    covered = {e.get("id") for e in entries}
    for sid, label in signed_ids.items():
        if sid not in covered:
            report.fail(name, "lxml-c14n", f"no c14n file for the signed {label} (ID={sid}); add one to the manifest")
    for entry in entries:
        peer = f"lxml-c14n[{signed_ids.get(entry.get('id'), entry.get('id'))}]"
        path = case_dir / str(entry.get("file"))
        try:
            ours = path.read_bytes()
        except OSError as exc:
            report.fail(name, peer, f"cannot read {entry.get('file')}: {exc}")
            continue
        ref, prefixes = lxml_exc_c14n(root, str(entry.get("id")))
        inc = f", InclusiveNamespaces {' '.join(prefixes)}" if prefixes else ""
        if ref is None:
            report.fail(name, peer, f"no unique element with ID={entry.get('id')!r} in {case['file']}")
        elif ref == ours:
            report.ok(name, peer, f"{entry['file']} byte-identical to lxml exclusive c14n ({len(ref)} bytes{inc})")
        else:
            report.fail(name, peer, f"{entry['file']} differs from lxml exclusive c14n: {short_diff(ref, ours)}")


# ---------------------------------------------------------------------------
# identity: what the accepting SPs read out of the assertion
# ---------------------------------------------------------------------------
# VIEWS[case][peer] = (NameID, {attribute Name: [values]}) from peers that accepted
VIEWS: dict[str, dict[str, tuple]] = {}


def _first_difference(a: tuple, b: tuple) -> str:
    if a[0] != b[0]:
        return f"NameID {a[0]!r} vs {b[0]!r}"
    for name in sorted(set(a[1]) | set(b[1])):
        if a[1].get(name) != b[1].get(name):
            return f"{name}: {a[1].get(name)!r} vs {b[1].get(name)!r}"
    return "?"


def check_identity(report: Report, case: dict) -> None:
    """Every accepting peer read the same NameID and attribute values (exact
    strings: hostile characters, CR, tabs, non-ASCII must survive). When the
    manifest gives "name_id" / "attributes" for the case, they must match those."""
    views = VIEWS.get(case["name"], {})
    if len(views) < 2:
        report.fail(case["name"], "identity", f"only {sorted(views)} produced an identity to compare")
        return
    peers = sorted(views)
    ref_peer = peers[0]
    problems = [f"{ref_peer} vs {p}: {_first_difference(views[ref_peer], views[p])}"
                for p in peers[1:] if views[p] != views[ref_peer]]
    want_attrs, want_nameid = case.get("attributes"), case.get("name_id")
    for p in peers:
        got_nameid, got_attrs = views[p]
        if want_nameid is not None and got_nameid != want_nameid:
            problems.append(f"{p} NameID {got_nameid!r} != manifest {want_nameid!r}")
        if want_attrs is not None and got_attrs != want_attrs:
            problems.append(f"{p} vs manifest: {_first_difference((None, got_attrs), (None, want_attrs))}")
    if problems:
        report.fail(case["name"], "identity", "; ".join(problems))
    else:
        nameid, attrs = views[ref_peer]
        vs = " and the manifest" if (want_attrs is not None or want_nameid is not None) else ""
        report.ok(case["name"], "identity", f"{', '.join(peers)}{vs} agree: NameID={nameid!r}, "
                                            f"{len(attrs)} attributes, {sum(len(v) for v in attrs.values())} values")


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case_dir", type=Path, help="directory with cases.json written by interop_cases")
    ap.add_argument("--peer", action="append", choices=PEERS, help="only run these peers (repeatable)")
    args = ap.parse_args()
    peers = set(args.peer or PEERS)
    case_dir: Path = args.case_dir.resolve()
    report = Report("interop")

    try:
        m = load_manifest(case_dir)
    except ManifestError as exc:
        report.fail("manifest", "-", str(exc))
        return report.finish()
    if "xmlsec1" in peers or "pysaml2" in peers:
        if not shutil.which("xmlsec1"):
            report.fail("setup", "xmlsec1", "xmlsec1 not on PATH (run setup.sh)")
            return report.finish()
    cert_pem = (case_dir / m["idp_cert_file"]).read_text(encoding="utf-8")
    print(f"# cases: {case_dir} ({len(m['cases'])} cases); SP {m['sp_entity_id']} ACS {m['acs_url']}; IdP {m['idp_entity_id']}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="lanyard-interop-"))
    try:
        runnable: list[tuple[dict, bytes, str, etree._Element]] = []
        names = set()
        for case in m["cases"]:
            cname = str(case.get("name", "?"))
            problem = case_problem(case, case_dir)
            if cname in names:
                problem = "duplicate case name"
            names.add(cname)
            if problem:
                report.fail(cname, "manifest", problem)
                continue
            raw = (case_dir / case["file"]).read_bytes()
            try:
                root = etree.fromstring(raw, secure_parser())
            except etree.XMLSyntaxError as exc:
                report.fail(cname, "manifest", f"{case['file']} is not well-formed XML: {exc}")
                continue
            runnable.append((case, raw, base64.b64encode(raw).decode("ascii"), root))

        # node-saml runs once for all cases (one node start-up)
        node_results: dict[str, dict] | str = {}
        if "node-saml" in peers and runnable:
            node_results = run_node_saml(m, cert_pem, [(c, b64) for c, _, b64, _ in runnable], work)

        for case, raw, b64, root in runnable:
            xml_file = case_dir / case["file"]
            if "structure" in peers:
                check_structure(report, case, root)
            if "xmlsec1" in peers:
                check_xmlsec1(report, case, xml_file, case_dir / m["idp_cert_file"])
            if "python3-saml" in peers:
                check_python3_saml(report, m, cert_pem, case, b64)
            if "pysaml2" in peers:
                check_pysaml2(report, m, case_dir, case, b64)
            if "node-saml" in peers:
                if isinstance(node_results, str):
                    report.fail(case["name"], "node-saml", node_results)
                elif case["name"] not in node_results:
                    report.fail(case["name"], "node-saml", "no result from node_check.js")
                else:
                    r = node_results[case["name"]]
                    want_a, want_r = wants(case)
                    extra = f"wantAuthnResponseSigned={str(want_r).lower()} wantAssertionsSigned={str(want_a).lower()}"
                    if r["ok"]:
                        extra += f", nameID={r.get('name_id')}"
                        attrs = {k: v if isinstance(v, list) else [v] for k, v in (r.get("attributes") or {}).items()}
                        VIEWS.setdefault(case["name"], {})["node-saml"] = (r.get("name_id"), attrs)
                    judge(report, case, "node-saml", bool(r["ok"]), r.get("error") or "", extra)
            if "lxml-c14n" in peers:
                check_c14n(report, case, root, case_dir)
            if case["expect"] == "accept":
                check_identity(report, case)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
