// Shared pieces of the browser suite: the demo servers, the browser, sign-in
// helpers, waits that fail with a useful message, and screenshots.
//
// Servers: run.sh starts one `lanyard demo` per suite file and passes its
// base URL and API key as LANYARD_E2E_<NAME>_URL / _API_KEY (NAME = DEMO,
// ADMIN, XSS). When those are unset (a file run by hand with
// `node --test tests/browser/<file>`), the file starts its own demo from
// LANYARD_BIN (default target/release/lanyard, then target/debug/lanyard)
// and stops it, by PID, when the file ends.
//
// Browser: playwright-core driving CHROMIUM (default /usr/bin/chromium,
// Debian's package) with a fresh temporary profile per launch; no browser
// download is involved.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { chromium } = require('playwright-core');

const REPO = path.resolve(__dirname, '..', '..', '..');
const SCREENSHOTS = process.env.LANYARD_E2E_SCREENSHOTS || path.join(REPO, 'target', 'e2e-screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const VIEWPORT = { width: 1280, height: 800 };
// How long a wait for a page, a locator or a URL may take.
const WAIT_MS = Number(process.env.LANYARD_E2E_WAIT_MS || 15000);

const DEMO = {
  adminEmail: 'admin@example.com',
  adminPassword: 'admin-demo-password',
  alicePassword: 'alice-demo-password',
  bobPassword: 'bob-demo-password',
  appSlug: 'aws',
};

// ---- servers -------------------------------------------------------------

function findBinary() {
  if (process.env.LANYARD_BIN) return process.env.LANYARD_BIN;
  for (const p of ['target/release/lanyard', 'target/debug/lanyard']) {
    const abs = path.join(REPO, p);
    if (fs.existsSync(abs)) return abs;
  }
  throw new Error('no lanyard binary: set LANYARD_BIN or run `cargo build --release -p lanyard`');
}

/** Reads `Lanyard demo is running on <url>` and the API key from the welcome text. */
function parseWelcome(text) {
  const url = /Lanyard demo is running on (http:\/\/\S+)/.exec(text);
  const key = /Authorization: Bearer ([^'\s]+)'/.exec(text);
  if (!url || !key) return null;
  return { url: url[1].replace(/\/$/, ''), apiKey: key[1] };
}

function startDemo(empty) {
  const bin = findBinary();
  const args = ['demo', '--listen', '127.0.0.1:0', '--log', 'warn'];
  if (empty) args.push('--empty');
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`lanyard demo printed no base URL within 30 s:\n${out}`));
    }, 30000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lanyard demo exited (${code}) before printing its base URL:\n${out}`));
    });
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const w = parseWelcome(out);
      if (w) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({
          ...w,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
            setTimeout(() => { if (child.exitCode === null) child.kill('SIGKILL'); }, 10000).unref();
          }),
        });
      }
    });
  });
}

/**
 * The demo for suite `name` (DEMO, ADMIN or XSS): from run.sh's environment,
 * else started here (`empty` selects `--empty`). `stop()` stops only a demo
 * started here.
 */
async function demoServer(name, { empty }) {
  const url = process.env[`LANYARD_E2E_${name}_URL`];
  const apiKey = process.env[`LANYARD_E2E_${name}_API_KEY`];
  if (url && apiKey) return { url: url.replace(/\/$/, ''), apiKey, stop: async () => {} };
  return startDemo(empty);
}

/** A REST API call with the demo's administrator key; returns the parsed JSON. */
async function api(server, method, pathname, body) {
  const res = await fetch(server.url + pathname, {
    method,
    headers: {
      authorization: `Bearer ${server.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// ---- browser -------------------------------------------------------------

async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * A fresh context (its own cookies) with one page. Every JavaScript dialog
 * is dismissed and recorded in `page.dialogs`; uncaught page errors in
 * `page.pageErrors`.
 */
async function newPage(browser) {
  const context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  const page = await context.newPage();
  page.dialogs = [];
  page.pageErrors = [];
  page.on('dialog', (d) => { page.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => page.pageErrors.push(String(e)));
  return page;
}

/** `page.goto` that insists on the HTTP status (default 200). */
async function visit(page, url, status = 200) {
  const res = await page.goto(url);
  assert.ok(res, `no response for ${url}`);
  assert.equal(res.status(), status, `GET ${url} answered ${res.status()}, expected ${status}`);
  return res;
}

/** Waits until the page's URL path (and query) matches `re`. */
async function waitForPath(page, re) {
  try {
    await page.waitForURL((u) => re.test(u.pathname + u.search));
  } catch (e) {
    throw new Error(`expected a URL matching ${re}, still on ${page.url()}: ${firstLine(e)}`);
  }
}

/** Waits for `locator` to be visible; the error says what was expected and where. */
async function see(locator, what) {
  try {
    await locator.first().waitFor({ state: 'visible' });
  } catch (e) {
    throw new Error(`expected to see ${what} on ${locator.page().url()}: ${firstLine(e)}`);
  }
  return locator.first();
}

/** The trimmed text of the visible `locator`. */
async function textOf(locator, what) {
  const l = await see(locator, what);
  return (await l.textContent()).replace(/\s+/g, ' ').trim();
}

function firstLine(e) {
  return String(e && e.message ? e.message : e).split('\n')[0];
}

// ---- sign-in -------------------------------------------------------------

/** Signs in at the user sign-in page already open in `page`. */
async function fillUserSignIn(page, login, password) {
  await see(page.getByRole('heading', { name: 'Sign in' }), 'the sign-in page');
  await page.getByLabel('Email or username').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** /login, sign in, land on the portal. */
async function signInUser(page, base, login, password) {
  await visit(page, `${base}/login`);
  await fillUserSignIn(page, login, password);
  await waitForPath(page, /^\/portal$/);
  await see(page.getByRole('heading', { name: 'Your applications' }), 'the portal');
}

/** /admin/login with the demo administrator, land on SSO Applications. */
async function signInAdmin(page, base) {
  await visit(page, `${base}/admin/login`);
  await see(page.getByRole('heading', { name: 'Admin sign in' }), 'the admin sign-in page');
  await page.getByLabel('Email').fill(DEMO.adminEmail);
  await page.getByLabel('Password').fill(DEMO.adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitForPath(page, /^\/admin\/applications$/);
  await see(page.getByRole('heading', { name: 'SSO Applications' }), 'the SSO Applications page');
}

// ---- screenshots ---------------------------------------------------------

/**
 * Saves a 1280x800 viewport screenshot as <SCREENSHOTS>/<name>.png: the top
 * of the page, or with `top` (a locator) scrolled so that element is at the
 * top of the view. The scroll position is restored afterwards.
 */
async function shot(page, name, top) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  const scrolled = await page.evaluate(() => [window.scrollX, window.scrollY]);
  if (top) await top.first().evaluate((el) => el.scrollIntoView({ block: 'start' }));
  else await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file });
  await page.evaluate(([x, y]) => window.scrollTo(x, y), scrolled);
  return file;
}

module.exports = {
  DEMO, REPO, SCREENSHOTS, WAIT_MS,
  demoServer, api, launchBrowser, newPage, visit, waitForPath, see, textOf,
  fillUserSignIn, signInUser, signInAdmin, shot, firstLine,
};
