"""moto as a local stand-in for AWS IAM + STS (a smoke test of the SDK round trip).

Owns: starting one `moto_server` on 127.0.0.1 and a free port (from the
.venv-moto venv that setup.sh makes; requirements-moto.txt says why it is a
separate venv), stopping it by its PID, and the boto3 round trip

    iam create-saml-provider  (our exported IdP metadata)
    iam create-role           (trust policy: that provider, sts:AssumeRoleWithSAML)
    sts assume-role-with-saml (the SAMLResponse a user received)
    sts get-caller-identity   (with the credentials STS returned)

which runs in a child process with .venv-moto's Python (boto3 cannot be
imported into the interop venv), JSON in on stdin, JSON out on stdout.

moto validates almost nothing (no signature, audience, recipient or time
check) and crashes on an AttributeStatement with a single Attribute or a
multi-valued Role (AWS_SAML.md section 7): this proves the SDK round trip and
the Role/RoleSessionName plumbing only. The SAML validation proper is done by
python3-saml and pysaml2 in check_sso_e2e.py.

    from moto_aws import MotoServer
    with MotoServer() as moto:
        out = moto.round_trip(metadata_xml, saml_response_b64, provider_name="Lanyard",
                              role_name="Admin", account_id="123456789012")
        out["assumed_role_arn"]   # arn:aws:sts::123456789012:assumed-role/Admin/<RoleSessionName>

Run directly with the interop venv (`.venv/bin/python moto_aws.py`) for a
standalone self-test with a hand-made (unsigned) response and metadata.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MOTO_VENV = HERE / ".venv-moto"
ACCOUNT = "123456789012"  # moto's default account id (and the test's AWS account)


class MotoError(RuntimeError):
    """moto could not be started, or the round trip failed before STS answered."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """One `moto_server -H 127.0.0.1 -p PORT`; a context manager, stopped by PID."""

    def __init__(self, start_timeout: float = 60.0) -> None:
        self.start_timeout = start_timeout
        self.port = 0
        self.endpoint = ""
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.log_path: Path | None = None

    def __enter__(self) -> "MotoServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "MotoServer":
        exe = MOTO_VENV / "bin" / "moto_server"
        if not os.access(exe, os.X_OK):
            raise MotoError(f"{exe} missing: run {HERE / 'setup.sh'} first")
        fd, name = tempfile.mkstemp(prefix="lanyard-moto.", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        for _ in range(3):
            self.port = _free_port()
            self.endpoint = f"http://127.0.0.1:{self.port}"
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            self.proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "MOTO_CALL_RESET_API": "false"})
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return self
                except OSError:
                    time.sleep(0.2)
            if self.proc.poll() is None:  # did not listen in time
                self.stop(keep_log=True)
                raise MotoError(f"moto_server did not listen within {self.start_timeout}s; log {self.log_path}")
            self.proc = None
            self._log.close()
        raise MotoError(f"moto_server exited during start-up 3 times; log {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AttributeError):
            return "(no log)"

    def stop(self, keep_log: bool = False) -> None:
        if self.proc is not None:
            proc, self.proc = self.proc, None
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.log_path is not None and not keep_log:
            self.log_path.unlink(missing_ok=True)

    def round_trip(self, metadata_xml: str, saml_response_b64: str, *, provider_name: str, role_name: str,
                   account_id: str = ACCOUNT, role_arn: str | None = None, timeout: float = 120) -> dict:
        """create-saml-provider + create-role + assume-role-with-saml + get-caller-identity.

        role_arn: what is passed as RoleArn (default: the role created here).
        Returns the child's JSON: provider_arn, role_arn, assumed_role_arn,
        assumed_role_id, access_key_id, has_secret, has_session_token,
        caller_arn, packed_policy_size, or {"error": "..."}.
        """
        job = {"endpoint": self.endpoint, "metadata": metadata_xml, "saml_response": saml_response_b64,
               "provider_name": provider_name, "role_name": role_name, "account_id": account_id,
               "role_arn": role_arn}
        res = subprocess.run([str(MOTO_VENV / "bin" / "python"), str(Path(__file__).resolve()), "--child"],
                             input=json.dumps(job), capture_output=True, text=True, timeout=timeout)
        try:
            return json.loads(res.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise MotoError(f"moto round trip child exited {res.returncode}: "
                            f"{(res.stderr or res.stdout).strip()[-1500:]}") from None


# --- the child (runs in .venv-moto) --------------------------------------------------

def _child() -> int:
    import boto3  # only in .venv-moto
    from botocore.exceptions import ClientError

    job = json.loads(sys.stdin.read())
    kw = {"endpoint_url": job["endpoint"], "region_name": "us-east-1",
          "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    out: dict = {}
    try:
        iam = boto3.client("iam", **kw)
        sts = boto3.client("sts", **kw)
        prov = iam.create_saml_provider(Name=job["provider_name"], SAMLMetadataDocument=job["metadata"])
        out["provider_arn"] = prov["SAMLProviderArn"]
        got = iam.get_saml_provider(SAMLProviderArn=out["provider_arn"])
        out["provider_metadata_stored"] = got.get("SAMLMetadataDocument") == job["metadata"]
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": out["provider_arn"]},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}]}
        role = iam.create_role(RoleName=job["role_name"], AssumeRolePolicyDocument=json.dumps(trust),
                               MaxSessionDuration=43200)
        out["role_arn"] = role["Role"]["Arn"]
        resp = sts.assume_role_with_saml(RoleArn=job["role_arn"] or out["role_arn"],
                                         PrincipalArn=out["provider_arn"],
                                         SAMLAssertion=job["saml_response"])
        creds = resp["Credentials"]
        out.update({
            "assumed_role_arn": resp["AssumedRoleUser"]["Arn"],
            "assumed_role_id": resp["AssumedRoleUser"]["AssumedRoleId"],
            "access_key_id": creds["AccessKeyId"],
            "has_secret": bool(creds.get("SecretAccessKey")),
            "has_session_token": bool(creds.get("SessionToken")),
            "expiration": creds["Expiration"].isoformat(),
            "packed_policy_size": resp.get("PackedPolicySize"),
        })
        who = boto3.client("sts", endpoint_url=job["endpoint"], region_name="us-east-1",
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"]).get_caller_identity()
        out["caller_arn"] = who["Arn"]
        out["caller_account"] = who["Account"]
    except ClientError as exc:
        out["error"] = f"{exc.response.get('Error', {}).get('Code')}: {exc}"
    except Exception as exc:  # moto answers 500 on shapes it cannot parse
        out["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))
    return 0


# --- standalone self-test (interop venv) -------------------------------------------------

def _selftest() -> int:
    """moto round trip with a hand-made metadata file and an unsigned response (moto checks neither)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moto-selftest")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    der_b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    # (IAM wants 1,000..10,000,000 characters of metadata; botocore checks it too)
    md = ('<?xml version="1.0" encoding="UTF-8"?>\n'
          '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.test/saml2/aws">'
          '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
          '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>'
          f'<ds:X509Certificate>{der_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
          '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
          'Location="https://idp.example.test/saml2/aws"/></md:IDPSSODescriptor></md:EntityDescriptor>\n')
    role, prov = f"arn:aws:iam::{ACCOUNT}:role/Admin", f"arn:aws:iam::{ACCOUNT}:saml-provider/Lanyard"
    a = "https://aws.amazon.com/SAML/Attributes/"
    xml = ('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
           'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0">'
           '<saml:Assertion ID="_a" Version="2.0"><saml:Subject><saml:NameID>alice@example.com</saml:NameID></saml:Subject>'
           '<saml:AttributeStatement>'
           f'<saml:Attribute Name="{a}Role"><saml:AttributeValue>{role},{prov}</saml:AttributeValue></saml:Attribute>'
           f'<saml:Attribute Name="{a}RoleSessionName"><saml:AttributeValue>alice@example.com</saml:AttributeValue></saml:Attribute>'
           f'<saml:Attribute Name="{a}SessionDuration"><saml:AttributeValue>3600</saml:AttributeValue></saml:Attribute>'
           '</saml:AttributeStatement></saml:Assertion></samlp:Response>')
    with MotoServer() as moto:
        out = moto.round_trip(md, base64.b64encode(xml.encode()).decode(), provider_name="Lanyard",
                              role_name="Admin", role_arn=role)
    print(json.dumps(out, indent=1))
    want = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice@example.com"
    ok = out.get("assumed_role_arn") == want and out.get("caller_arn") == want
    print(f"moto-selftest: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(_child() if sys.argv[1:] == ["--child"] else _selftest())
