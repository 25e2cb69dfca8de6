#!/usr/bin/env bash
# setup.sh - install the independent SAML peers used by tests/interop.
#
# Owns: making these available, idempotently, on a fresh Debian 12 machine
# (run as root in CI) or a developer machine:
#   xmlsec1          Debian package (apt-get, only when the binary is missing)
#   .venv/           Python venv with the pins in requirements.txt
#                    (python3-saml, pysaml2, lxml, xmlsec, ...), checked to
#                    import and to sign+verify with matching libxml2 versions
#   .venv-moto/      a second venv with requirements-moto.txt: moto[server]
#                    (moto_server, the local AWS stand-in of check_sso_e2e.py)
#                    and boto3; separate because botocore needs
#                    python-dateutil<3 and requirements.txt pins 4.x
#   node/node_modules  @node-saml/node-saml pinned by node/package-lock.json
#                    (npm ci)
# A second run only re-checks (a few seconds): the venv and node_modules are
# rebuilt only when requirements.txt / package-lock.json / the interpreter
# changed (hash stamps). Prints what it did; exits non-zero on any failure.
#
# Environment: PYTHON (default python3), CI/no stdin are fine (no prompts).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
NODE_DIR="$HERE/node"
PYTHON="${PYTHON:-python3}"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }
sha() { cat "$@" | sha256sum | cut -c1-64; }

# apt-get output goes to a log that is shown only when apt-get fails
apt_install() {
    local aptlog; aptlog="$(mktemp)"
    if ! { as_root timeout 900 apt-get update -q && as_root timeout 900 apt-get install -y -q --no-install-recommends "$@"; } \
            </dev/null >"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2; rm -f "$aptlog"; die "apt-get install $* failed"
    fi
    rm -f "$aptlog"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root to run: $*"
    fi
}

start=$(date +%s)

# --- xmlsec1 (Debian) -------------------------------------------------------
if command -v xmlsec1 >/dev/null 2>&1; then
    log "xmlsec1 present: $(xmlsec1 --version)"
else
    log "installing xmlsec1 with apt-get"
    apt_install xmlsec1
    command -v xmlsec1 >/dev/null 2>&1 || die "xmlsec1 still missing after apt-get install"
    log "xmlsec1 installed: $(xmlsec1 --version)"
fi

# --- Python venv ------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found"
py_id="$("$PYTHON" -c 'import sys; print(sys.version)' 2>&1)"
want_stamp="$( { cat "$HERE/requirements.txt"; echo "$py_id"; } | sha256sum | cut -c1-64)"
stamp_file="$VENV/.lanyard-stamp"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$want_stamp" ]; then
    log "python venv up to date ($VENV)"
else
    log "creating python venv $VENV with $("$PYTHON" --version)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # --only-binary for lxml/xmlsec: the wheels bundle matching libxml2
    # builds; a source build would link whatever libxml2 the system has.
    timeout 900 "$VENV/bin/pip" install -q --no-input --only-binary=lxml,xmlsec \
        -r "$HERE/requirements.txt" </dev/null
    echo "$want_stamp" >"$stamp_file"
fi

# Always verify: imports, matching libxml2, and a real sign/verify round trip.
timeout 120 "$VENV/bin/python" - <<'PY' || die "python peers are broken (see above); delete tests/interop/.venv and rerun"
import sys
from importlib.metadata import version
import lxml.etree as etree
import xmlsec  # raises "lxml & xmlsec libxml2 library version mismatch" when wrong
import onelogin.saml2.utils, saml2.client  # noqa: F401
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
import datetime as dt

lx, xs = etree.LIBXML_VERSION, xmlsec.get_libxml_version()
if lx != xs or etree.LIBXML_COMPILED_VERSION != xmlsec.get_libxml_compiled_version():
    sys.exit(f"libxml2 mismatch: lxml runtime {lx} compiled {etree.LIBXML_COMPILED_VERSION}, "
             f"xmlsec runtime {xs} compiled {xmlsec.get_libxml_compiled_version()}")
k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "setup-check")])
now = dt.datetime.now(dt.timezone.utc)
c = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key())
     .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(k, hashes.SHA256()))
kp = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
cp = c.public_bytes(serialization.Encoding.PEM).decode()
doc = ('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
       'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x" Version="2.0">'
       '<saml:Issuer>i</saml:Issuer></samlp:Response>')
signed = OneLogin_Saml2_Utils.add_sign(doc, kp, cp)
if not OneLogin_Saml2_Utils.validate_sign(signed, cp, raise_exceptions=True):
    sys.exit("python3-saml sign/verify round trip failed")
if OneLogin_Saml2_Utils.validate_sign(signed.replace(b">i<", b">j<"), cp):
    sys.exit("python3-saml accepted a tampered document in the setup check")
print("setup: python peers OK: " + ", ".join(f"{p} {version(p)}" for p in
      ("python3-saml", "pysaml2", "lxml", "xmlsec", "cryptography")) +
      f"; libxml2 {'.'.join(map(str, lx))} (lxml and xmlsec agree), libxmlsec {'.'.join(map(str, xmlsec.get_libxmlsec_version()))}")
PY

# --- moto (a local AWS stand-in) in its own venv ------------------------------
MOTO_VENV="$HERE/.venv-moto"
moto_stamp="$( { cat "$HERE/requirements-moto.txt"; echo "$py_id"; } | sha256sum | cut -c1-64)"
if [ -x "$MOTO_VENV/bin/moto_server" ] && [ "$(cat "$MOTO_VENV/.lanyard-stamp" 2>/dev/null)" = "$moto_stamp" ]; then
    log "moto venv up to date ($MOTO_VENV)"
else
    log "creating moto venv $MOTO_VENV"
    rm -rf "$MOTO_VENV"
    "$PYTHON" -m venv "$MOTO_VENV"
    timeout 900 "$MOTO_VENV/bin/pip" install -q --no-input -r "$HERE/requirements-moto.txt" </dev/null
    echo "$moto_stamp" >"$MOTO_VENV/.lanyard-stamp"
fi
timeout 120 "$MOTO_VENV/bin/python" -c '
from importlib.metadata import version
import boto3, moto, flask  # noqa: F401
from moto.server import ThreadedMotoServer  # noqa: F401
print("setup: moto peer OK: moto " + version("moto") + ", boto3 " + version("boto3") + ", botocore " + version("botocore"))
' || die "the moto venv is broken; delete tests/interop/.venv-moto and rerun"
[ -x "$MOTO_VENV/bin/moto_server" ] || die "moto_server missing from $MOTO_VENV/bin"

# --- node-saml (npm) --------------------------------------------------------
command -v node >/dev/null 2>&1 || {
    log "installing nodejs + npm with apt-get"
    apt_install nodejs npm
}
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "node >= 18 needed for @node-saml/node-saml, found $(node --version)"
lock_stamp="$(sha "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json")"
node_stamp_file="$NODE_DIR/node_modules/.lanyard-stamp"
if [ -d "$NODE_DIR/node_modules/@node-saml/node-saml" ] && [ "$(cat "$node_stamp_file" 2>/dev/null)" = "$lock_stamp" ]; then
    log "node_modules up to date ($NODE_DIR/node_modules)"
else
    log "npm ci in $NODE_DIR"
    (cd "$NODE_DIR" && timeout 900 npm ci --no-audit --no-fund --loglevel=error </dev/null)
    echo "$lock_stamp" >"$node_stamp_file"
fi
(cd "$NODE_DIR" && timeout 60 node -e '
  const { SAML } = require("@node-saml/node-saml");
  const v = require("@node-saml/node-saml/package.json").version;
  const xc = require("xml-crypto/package.json").version;
  if (typeof SAML !== "function") { console.error("SAML class missing"); process.exit(1); }
  console.log(`setup: node peer OK: @node-saml/node-saml ${v} (xml-crypto ${xc}), node ${process.version}`);
') || die "@node-saml/node-saml does not load; delete tests/interop/node/node_modules and rerun"

log "done in $(( $(date +%s) - start ))s"
