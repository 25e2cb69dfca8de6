#!/usr/bin/env bash
# The SSO throughput measurement against a peer IdP: SimpleSAMLphp from
# Debian (package simplesamlphp, 1.19 on Debian 12) on PHP-FPM behind nginx,
# same tool (wrk + lib/sso.lua), same connection counts, and the ratio
# Lanyard / SimpleSAMLphp.
#
# Usage: bench/simplesamlphp.sh [--users N] [--seconds S] [--conns "..."]
#                               [--fpm-children K] [--lanyard-rps R] [--smoke]
#
# Set-up, all in a temporary directory, nothing system-wide touched after
# the package install (php-fpm and nginx run as our own processes on a free
# loopback port, stopped by PID at the end):
# - an RSA-2048 key and self-signed certificate (openssl);
# - SimpleSAMLphp's config.php copied from /etc/simplesamlphp with overrides
#   (SIMPLESAMLPHP_CONFIG_DIR): SAML 2.0 IdP on, exampleauth on, logging to
#   errorlog at WARNING, PHP sessions (the default store) in the temp dir;
# - an exampleauth:UserPass source with N users carrying AWS-like attributes
#   (Role, RoleSessionName), a hosted IdP with that key, and one remote SP
#   (urn:bench:sp) whose metadata asks for what Lanyard's AWS app does:
#   the Assertion signed (RSA-SHA256), the Response not, emailAddress NameID;
# - PHP-FPM: pm = static, K children (default 4 x cores, opcache on as in
#   Debian's php.ini); nginx: worker_processes auto, access log off, the
#   location block from SimpleSAMLphp's install guide.
# Each user signs in once through the real IdP-initiated flow
# (lib/ssp_login.py): the rotating cookies are logged-in sessions, so each
# GET /simplesaml/saml2/idp/SSOService.php?spentityid=urn:bench:sp answers
# with a signed SAMLResponse page.
#
# The Lanyard side comes from --lanyard-rps (run_all.sh passes its figure), or
# else this script runs bench/sso_throughput.sh with the same connection
# counts first. Prints tables, SUMMARY lines; never fails on a timing. If the
# packages cannot be installed it says so and exits 0.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

USERS=200 SECONDS_PER=10 CONNS="1 2 4 8 16 64" FPM_CHILDREN=$(( $(nproc) * 4 )) LANYARD_RPS="" SMOKE=0
for arg in "$@"; do
  case "$arg" in
    --smoke) USERS=10 SECONDS_PER=2 CONNS="4 16" SMOKE=1 ;;
  esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --users) USERS=$2; shift ;;
    --seconds) SECONDS_PER=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --fpm-children) FPM_CHILDREN=$2; shift ;;
    --lanyard-rps) LANYARD_RPS=$2; shift ;;
    --smoke) ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done

# SimpleSAMLphp needs the dom and mbstring extensions, which the Debian
# package does not pull in.
if ! ensure_packages simplesamlphp php-fpm php-xml php-mbstring nginx wrk; then
  echo "SKIP simplesamlphp: the Debian packages simplesamlphp, php-fpm, php-xml, php-mbstring, nginx and wrk cannot be installed here (see above)"
  exit 0
fi
PHP_FPM=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -n 1)
[ -x "$PHP_FPM" ] || { echo "SKIP simplesamlphp: no php-fpm binary after install"; exit 0; }
SSP=/usr/share/simplesamlphp
[ -f "$SSP/www/saml2/idp/SSOService.php" ] || { echo "SKIP simplesamlphp: $SSP has no www/saml2/idp/SSOService.php (not 1.x?)"; exit 0; }

make_workdir
machine_line
busy_note
W=$WORKDIR
mkdir -p "$W/cfg/metadata" "$W/cert" "$W/log" "$W/tmp" "$W/data" "$W/sessions" "$W/nginx"
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
SP=urn:bench:sp

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=simplesamlphp bench" \
  -keyout "$W/cert/idp.pem" -out "$W/cert/idp.crt" >/dev/null 2>&1

cp /etc/simplesamlphp/config.php "$W/cfg/config.php"
cp -r /etc/simplesamlphp/attributemap "$W/cfg/" 2>/dev/null || true
cat >>"$W/cfg/config.php" <<EOF

// --- bench/simplesamlphp.sh overrides ---
\$config['baseurlpath'] = '$BASE/simplesaml/';
\$config['certdir'] = '$W/cert/';
\$config['loggingdir'] = '$W/log/';
\$config['datadir'] = '$W/data/';
\$config['tempdir'] = '$W/tmp';
\$config['metadatadir'] = '$W/cfg/metadata/';
\$config['metadata.sources'] = [['type' => 'flatfile', 'directory' => '$W/cfg/metadata']];
\$config['secretsalt'] = '$(openssl rand -hex 16)';
\$config['auth.adminpassword'] = '$(openssl rand -hex 16)';
\$config['technicalcontact_email'] = 'bench@example.com';
\$config['timezone'] = 'UTC';
\$config['enable.saml20-idp'] = true;
\$config['module.enable'] = ['exampleauth' => true, 'core' => true, 'saml' => true];
\$config['logging.handler'] = 'errorlog';
\$config['logging.level'] = SimpleSAML\Logger::WARNING;
\$config['store.type'] = 'phpsession';
\$config['session.phpsession.savepath'] = '$W/sessions';
\$config['session.cookie.secure'] = false;
EOF

cat >"$W/cfg/authsources.php" <<EOF
<?php
\$users = ['exampleauth:UserPass'];
for (\$i = 0; \$i < $USERS; \$i++) {
    \$users["user\$i:bench-pass"] = [
        'uid' => ["user\$i"],
        'mail' => ["user\$i@bench.example.com"],
        'https://aws.amazon.com/SAML/Attributes/Role' =>
            ['arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard'],
        'https://aws.amazon.com/SAML/Attributes/RoleSessionName' => ["user\$i@bench.example.com"],
        'https://aws.amazon.com/SAML/Attributes/SessionDuration' => ['3600'],
    ];
}
\$config = [
    'admin' => ['core:AdminPassword'],
    'bench-userpass' => \$users,
];
EOF

cat >"$W/cfg/metadata/saml20-idp-hosted.php" <<EOF
<?php
\$metadata['__DYNAMIC:1__'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.pem',
    'certificate' => 'idp.crt',
    'auth' => 'bench-userpass',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
];
EOF

cat >"$W/cfg/metadata/saml20-sp-remote.php" <<EOF
<?php
\$metadata['$SP'] = [
    'AssertionConsumerService' => 'https://signin.aws.amazon.com/saml',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'mail',
    'saml20.sign.assertion' => true,
    'saml20.sign.response' => false,
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
];
EOF

cat >"$W/php-fpm.conf" <<EOF
[global]
pid = $W/php-fpm.pid
error_log = $W/php-fpm.log
daemonize = no

[bench]
user = root
group = root
listen = $W/php-fpm.sock
listen.mode = 0666
listen.backlog = 1024
pm = static
pm.max_children = $FPM_CHILDREN
clear_env = no
env[SIMPLESAMLPHP_CONFIG_DIR] = $W/cfg
php_admin_value[error_log] = $W/php-errors.log
php_admin_value[session.save_path] = $W/sessions
EOF

cat >"$W/nginx.conf" <<EOF
user root;
worker_processes auto;
pid $W/nginx.pid;
error_log $W/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $W/nginx/body;
    fastcgi_temp_path $W/nginx/fastcgi;
    proxy_temp_path $W/nginx/proxy;
    uwsgi_temp_path $W/nginx/uwsgi;
    scgi_temp_path $W/nginx/scgi;
    include /etc/nginx/mime.types;
    server {
        listen 127.0.0.1:$PORT;
        location ^~ /simplesaml {
            alias $SSP/www;
            location ~ ^(?<prefix>/simplesaml)(?<phpfile>.+?\.php)(?<pathinfo>/.*)?\$ {
                include /etc/nginx/fastcgi_params;
                fastcgi_pass unix:$W/php-fpm.sock;
                fastcgi_param SCRIPT_FILENAME \$document_root\$phpfile;
                fastcgi_param SCRIPT_NAME /simplesaml\$phpfile;
                fastcgi_param PATH_INFO \$pathinfo if_not_empty;
                fastcgi_param SIMPLESAMLPHP_CONFIG_DIR $W/cfg;
            }
        }
    }
}
EOF

"$PHP_FPM" -R -y "$W/php-fpm.conf" >"$W/php-fpm.out" 2>&1 &
STARTED_PIDS+=("$!")
FPM_PID=$!
nginx -c "$W/nginx.conf" -p "$W/nginx" -g 'daemon off;' >"$W/nginx.out" 2>&1 &
STARTED_PIDS+=("$!")
NGINX_PID=$!
for _ in $(seq 1 100); do
  [ -S "$W/php-fpm.sock" ] && curl -s -o /dev/null "$BASE/simplesaml/" && break
  sleep 0.1
done
kill -0 "$FPM_PID" 2>/dev/null || { cat "$W/php-fpm.out" "$W/php-fpm.log" >&2; die "php-fpm did not start"; }
kill -0 "$NGINX_PID" 2>/dev/null || { cat "$W/nginx.out" "$W/nginx-error.log" >&2; die "nginx did not start"; }
PHP_VERSION=$("$PHP_FPM" -v 2>/dev/null | awk 'NR == 1 { print $2 }')
SSP_VERSION=$(dpkg-query -W -f='${Version}' simplesamlphp)
say "SimpleSAMLphp $SSP_VERSION on PHP-FPM $PHP_VERSION ($FPM_CHILDREN children) + nginx at $BASE; signing in $USERS users"

python3 "$BENCH_LIB/ssp_login.py" --url "$BASE" --sp "$SP" --users "$USERS" --out "$W/cookies.txt" || {
  tail -20 "$W/php-errors.log" "$W/nginx-error.log" >&2 2>/dev/null || true
  die "signing in to SimpleSAMLphp failed"
}
URL="$BASE/simplesaml/saml2/idp/SSOService.php?spentityid=$SP"
# What one response looks like (signature placement, size).
curl -s -H "Cookie: $(head -n 1 "$W/cookies.txt")" "$URL" >"$W/sample.html"
python3 - "$W/sample.html" <<'PY'
import base64, html, re, sys
import xml.etree.ElementTree as ET
page = open(sys.argv[1]).read()
m = re.search(r'name="SAMLResponse" value="([^"]+)"', page)
xml = base64.b64decode(html.unescape(m.group(1)))
DS = "{http://www.w3.org/2000/09/xmldsig#}"
root = ET.fromstring(xml)
signed = [el.tag.split("}")[1] for el in root.iter() if el.find(f"{DS}Signature") is not None]
alg = root.find(f".//{DS}SignatureMethod")
print(f"SimpleSAMLphp response: {len(xml)} bytes of XML, signed elements {signed}, "
      f"{alg.get('Algorithm') if alg is not None else 'unsigned'}", file=sys.stderr)
PY
run_wrk "$URL" 16 2 "$W/cookies.txt" >/dev/null  # warm-up (opcache)
echo
echo "SimpleSAMLphp $SSP_VERSION SSO throughput, $USERS signed-in users, wrk ${SECONDS_PER}s per row, RSA-2048 (Assertion signed)"
printf "%-12s %10s %9s %9s %9s %8s\n" connections resp/s p50_ms p90_ms p99_ms non200
BEST=0 BEST_C=0
for c in $CONNS; do
  line=$(run_wrk "$URL" "$c" "$SECONDS_PER" "$W/cookies.txt")
  rps=$(field rps "$line")
  printf "%-12s %10s %9s %9s %9s %8s\n" "$c" "$rps" "$(field p50_ms "$line")" \
    "$(field p90_ms "$line")" "$(field p99_ms "$line")" "$(field non200 "$line")"
  if awk -v a="$rps" -v b="$BEST" 'BEGIN { exit !(a > b) }'; then BEST=$rps BEST_C=$c; fi
done
stop_pid "$NGINX_PID"
stop_pid "$FPM_PID"

if [ -z "$LANYARD_RPS" ]; then
  say "running bench/sso_throughput.sh with the same connection counts for the Lanyard side"
  args=(--conns "$CONNS" --seconds "$SECONDS_PER" --users "$USERS")
  [ "$SMOKE" = 1 ] && args+=(--smoke)
  "$BENCH_DIR/sso_throughput.sh" "${args[@]}" | tee "$W/lanyard.out"
  LANYARD_RPS=$(awk '/^SUMMARY sso/ { for (i = 1; i <= NF; i++) if ($i ~ /^max_rps=/) { sub("max_rps=", "", $i); print $i } }' "$W/lanyard.out")
fi
RATIO=$(awk -v l="$LANYARD_RPS" -v s="$BEST" 'BEGIN { printf "%.1f", (s > 0) ? l / s : 0 }')
echo "SUMMARY simplesamlphp version=$SSP_VERSION fpm_children=$FPM_CHILDREN max_rps=$BEST at_conns=$BEST_C lanyard_max_rps=$LANYARD_RPS ratio_lanyard_over_ssp=$RATIO"
machine_line
