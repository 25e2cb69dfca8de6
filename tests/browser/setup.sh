#!/usr/bin/env bash
# setup.sh - install what the browser suite (tests/browser) needs.
#
# Owns: making these available, idempotently, on a fresh Debian 12 machine
# (run as root in CI) or a developer machine:
#   chromium         Debian's package (+ fonts-liberation), with apt-get, only
#                    when $CHROMIUM (default /usr/bin/chromium) is missing.
#                    playwright-core drives it; no browser is downloaded
#                    (`npx playwright install` is never used).
#   node_modules     playwright-core pinned by package-lock.json (npm ci),
#                    redone only when package.json / package-lock.json change
#                    (hash stamp)
# Then a smoke check: playwright-core launches the chromium headless and
# renders a page. Prints what it did; exits non-zero on any failure.
#
# Environment: CHROMIUM (default /usr/bin/chromium). No prompts.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export DEBIAN_FRONTEND=noninteractive
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }
sha() { cat "$@" | sha256sum | cut -c1-64; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root to run: $*"
    fi
}

# apt-get output goes to a log that is shown only when apt-get fails
apt_install() {
    local aptlog; aptlog="$(mktemp)"
    if ! { as_root timeout 900 apt-get update -q && as_root timeout 1200 apt-get install -y -q "$@"; } \
            </dev/null >"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2; rm -f "$aptlog"; die "apt-get install $* failed"
    fi
    rm -f "$aptlog"
}

start=$(date +%s)

# --- chromium (Debian) --------------------------------------------------------
# Debian's /usr/bin/chromium is a wrapper script that may print a harmless
# shell warning on stderr; only its stdout is the version.
if [ -x "$CHROMIUM" ]; then
    log "chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
    log "installing chromium and fonts-liberation with apt-get"
    apt_install chromium fonts-liberation
    [ -x "$CHROMIUM" ] || die "$CHROMIUM still missing after apt-get install chromium"
    log "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
fi

# --- node + playwright-core ---------------------------------------------------
command -v node >/dev/null 2>&1 || {
    log "installing nodejs + npm with apt-get"
    apt_install nodejs npm
}
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "node >= 20 needed for playwright-core, found $(node --version)"
command -v npm >/dev/null 2>&1 || die "npm not found (it comes with node)"

lock_stamp="$(sha "$HERE/package.json" "$HERE/package-lock.json")"
stamp_file="$HERE/node_modules/.lanyard-stamp"
if [ -f "$HERE/node_modules/playwright-core/package.json" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$lock_stamp" ]; then
    log "node_modules up to date ($HERE/node_modules)"
else
    log "npm ci in $HERE"
    (cd "$HERE" && timeout 900 npm ci --no-audit --no-fund --loglevel=error </dev/null)
    echo "$lock_stamp" >"$stamp_file"
fi

# --- smoke check: launch the browser, render a page ----------------------------
(cd "$HERE" && CHROMIUM="$CHROMIUM" timeout 120 node -e '
  const { chromium } = require("playwright-core");
  const v = require("playwright-core/package.json").version;
  (async () => {
    const { launchBrowser } = require("./lib/harness");
    const browser = await launchBrowser();
    const page = await browser.newPage();
    await page.setContent("<h1>ok</h1>");
    const text = await page.textContent("h1");
    const bv = browser.version();
    await browser.close();
    if (text !== "ok") throw new Error("the page did not render: " + text);
    console.log(`setup: browser OK: playwright-core ${v} driving ${process.env.CHROMIUM} (Chromium ${bv}), node ${process.version}`);
  })().catch((e) => { console.error(e); process.exit(1); });
') || die "playwright-core cannot drive $CHROMIUM (see above); delete tests/browser/node_modules and rerun"

log "done in $(( $(date +%s) - start ))s"
