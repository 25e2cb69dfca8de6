// xss: hostile text in an application's Display Label and Description (and
// a group name) renders as text everywhere a browser shows it: the admin
// pages, the user portal's tile and the SAML form page; a javascript: URL is
// refused where the pages take a URL; every page carries the security
// headers, and the browser enforces the CSP (a script injected inline does
// not run).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

const PAYLOAD = '<script>window.__xss=1</script>"\'><img src=x onerror="window.__xss=2">';
const GROUP_NAME = '<b>xss-group</b>"\'><img src=x onerror="window.__xss=3">';
const RELAY_STATE = `javascript:alert(1)//${PAYLOAD}`;
const USER = { email: 'mallory@example.com', username: 'mallory', password: 'mallory-e2e-password' };

let server;
let browser;
let admin;
const APP = { id: null, slug: null };
let groupId;

before(async () => {
  server = await h.demoServer('XSS', { empty: true });
  browser = await h.launchBrowser();
  admin = await h.newPage(browser);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

/** Nothing ran: no __xss, no injected <img>, no dialog, no page error. */
async function assertInert(page, where) {
  assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined', `${where}: window.__xss was set`);
  assert.equal(await page.locator('img[src="x"]').count(), 0, `${where}: an <img src=x> element was injected`);
  assert.equal(await page.locator('script:not([src])').count(), 0, `${where}: an inline <script> element is in the DOM`);
  assert.deepEqual(page.dialogs, [], `${where}: a dialog opened`);
  assert.deepEqual(page.pageErrors, [], `${where}: a page error`);
}

/** The payload is shown as text by `locator`. */
async function assertLiteral(locator, text, what) {
  const got = await h.textOf(locator, what);
  assert.ok(got.includes(text), `${what}: expected the literal text ${JSON.stringify(text)}, got ${JSON.stringify(got)}`);
}

function assertSecurityHeaders(res, where) {
  const hdr = res.headers();
  const csp = hdr['content-security-policy'];
  assert.ok(csp, `${where}: no Content-Security-Policy`);
  assert.ok(!csp.includes("'unsafe-inline'"), `${where}: CSP allows 'unsafe-inline': ${csp}`);
  assert.ok(!csp.includes("'unsafe-eval'"), `${where}: CSP allows 'unsafe-eval': ${csp}`);
  assert.match(csp, /(^|;)\s*frame-ancestors 'none'\s*(;|$)/, `${where}: ${csp}`);
  assert.match(csp, /(^|;)\s*script-src 'self'\s*(;|$)/, `${where}: ${csp}`);
  assert.equal(hdr['x-content-type-options'], 'nosniff', where);
  assert.ok(['no-referrer', 'same-origin', 'strict-origin', 'strict-origin-when-cross-origin']
    .includes(hdr['referrer-policy']), `${where}: Referrer-Policy ${hdr['referrer-policy']}`);
}

test('create an application whose label and description are markup', async () => {
  await h.signInAdmin(admin, server.url);
  await h.visit(admin, `${server.url}/admin/applications/new?template=aws-iam`);
  await admin.getByLabel('Display Label (required)').fill(PAYLOAD);
  await admin.getByLabel('Description').fill(PAYLOAD);
  await admin.getByLabel('Show in User Portal').check();
  await admin.getByRole('button', { name: 'Save Application' }).click();
  await h.see(admin.getByRole('heading', { name: 'Application saved' }), 'the saved page');
  await assertLiteral(admin.getByRole('status'), `${PAYLOAD} was added`, 'the saved notice');
  await assertInert(admin, 'the saved page');
  await admin.getByRole('link', { name: 'Configure Application' }).click();
  await h.waitForPath(admin, /^\/admin\/applications\/\d+\?tab=sso$/);
  APP.id = Number(new URL(admin.url()).pathname.split('/').pop());
  APP.slug = await h.textOf(admin.locator('p.muted').filter({ hasText: 'IdP URL' }).locator('code').first(), 'the slug');
  assert.match(APP.slug, /^[a-z0-9-]+$/, 'the slug keeps only safe characters');
});

test('a javascript: URL is refused as an ACS URL (and shown back as text)', async (t) => {
  if (!APP.id) return t.skip('no application');
  await h.visit(admin, `${server.url}/admin/applications/${APP.id}?tab=sso`);
  const acs = admin.getByLabel(/^Other ACS URLs/);
  await acs.fill('javascript:alert(1)');
  const [res] = await Promise.all([
    admin.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/admin/applications/${APP.id}/sso`)),
    admin.getByRole('button', { name: 'Save', exact: true }).click(),
  ]);
  assert.equal(res.status(), 400);
  await h.see(admin.getByText('ACS URL must be an absolute https URL', { exact: true }), 'the ACS URL field error');
  await h.see(admin.getByRole('alert').getByText('must be an absolute https URL'), 'the "Not saved" summary');
  assert.equal(await admin.getByLabel(/^Other ACS URLs/).inputValue(), 'javascript:alert(1)', 'the value is shown back as typed');
  assert.equal(await admin.locator('a[href^="javascript:"]').count(), 0, 'no javascript: link on the page');
  await assertInert(admin, 'the refused SSO form');
  await h.shot(admin, 'xss-01-javascript-acs-refused', admin.getByRole('heading', { name: 'SSO settings' }));

  // Nothing was saved: the stored ACS is still the template's.
  const app = await h.api(server, 'GET', `/api/v1/applications/${APP.id}`);
  assert.ok(!JSON.stringify(app).includes('javascript:'), 'the refused URL was not stored');

  // The stand-in is a valid loopback ACS; the user flow below uses it.
  // RelayState is opaque to the IdP (AWS reads it as the console URL to
  // open): a hostile one is stored, and must stay text on every page that
  // carries it (the SAML form's hidden input, the stand-in).
  await h.visit(admin, `${server.url}/admin/applications/${APP.id}?tab=sso`);
  await admin.getByLabel(/^Other ACS URLs/).fill(`${server.url}/aws-standin/${APP.slug}/saml`);
  await admin.getByLabel('The default is the first of the other ACS URLs').check();
  await admin.getByLabel('Default RelayState').fill(RELAY_STATE);
  await admin.getByRole('button', { name: 'Save', exact: true }).click();
  await h.waitForPath(admin, /[?&]saved=1$/);
  assert.equal(await admin.getByLabel('Default RelayState').inputValue(), RELAY_STATE);
  await assertInert(admin, 'the saved SSO form');
});

test('the list, the search echo and every detail tab show the markup as text', async (t) => {
  if (!APP.id) return t.skip('no application');
  let res = await h.visit(admin, `${server.url}/admin/applications`);
  assertSecurityHeaders(res, '/admin/applications');
  const link = admin.getByRole('link', { name: PAYLOAD, exact: true });
  await h.see(link, 'the label as the row link');
  assert.equal(await link.getAttribute('href'), `/admin/applications/${APP.id}`);
  await assertInert(admin, 'the application list');
  await h.shot(admin, 'xss-02-apps-list');

  // The search box echoes its query in the "no match" text and the input.
  await h.visit(admin, `${server.url}/admin/applications?search=${encodeURIComponent(PAYLOAD + 'zz')}`);
  await assertLiteral(admin.getByText(/^No applications match/), PAYLOAD + 'zz', 'the no-match text');
  assert.equal(await admin.getByLabel('Search applications').inputValue(), PAYLOAD + 'zz');
  await assertInert(admin, 'the search echo');

  for (const tab of ['general', 'sso', 'attributes', 'groups', 'preview']) {
    res = await h.visit(admin, `${server.url}/admin/applications/${APP.id}?tab=${tab}`);
    assertSecurityHeaders(res, `detail tab ${tab}`);
    await assertLiteral(admin.getByRole('heading', { level: 1 }), PAYLOAD, `the ${tab} tab heading`);
    if (tab === 'general') {
      assert.equal(await admin.getByLabel('Display Label (required)').inputValue(), PAYLOAD);
      assert.equal(await admin.getByLabel('Description').inputValue(), PAYLOAD);
    }
    await assertInert(admin, `the ${tab} tab`);
  }
  // The preview echoes an unknown user back.
  await h.visit(admin, `${server.url}/admin/applications/${APP.id}?tab=preview&user=${encodeURIComponent(PAYLOAD)}`);
  await assertInert(admin, 'the preview with a hostile user query');
  await h.visit(admin, `${server.url}/admin/applications/${APP.id}?tab=general`);
  await h.shot(admin, 'xss-03-detail-general');
});

test('a group named with markup: the User Groups tab and the entitlement form show it as text', async (t) => {
  if (!APP.id) return t.skip('no application');
  // The directory through the REST API (this file is about rendering, not
  // the Users/Groups pages).
  const user = await h.api(server, 'POST', '/api/v1/users', {
    email: USER.email, username: USER.username, first_name: 'Mallory', last_name: PAYLOAD, password: USER.password,
  });
  groupId = (await h.api(server, 'POST', '/api/v1/groups', { name: GROUP_NAME, description: PAYLOAD })).id;
  await h.api(server, 'PUT', `/api/v1/groups/${groupId}/members/${user.id}`);

  await h.visit(admin, `${server.url}/admin/applications/${APP.id}?tab=groups`);
  const box = admin.getByRole('checkbox', { name: GROUP_NAME, exact: true });
  await h.see(box, 'the group checkbox labelled with the literal name');
  await assertInert(admin, 'the User Groups tab');
  await box.check();
  await admin.getByRole('button', { name: 'Save', exact: true }).click();
  await h.waitForPath(admin, /[?&]saved=1$/);
  assert.equal(await admin.getByRole('checkbox', { name: GROUP_NAME, exact: true }).isChecked(), true);

  await h.visit(admin, `${server.url}/admin/applications/${APP.id}?tab=attributes`);
  await admin.getByLabel('Group, row 1', { exact: true }).selectOption({ label: GROUP_NAME });
  await admin.getByLabel('Account ID, row 1', { exact: true }).fill('123456789012');
  await admin.getByLabel('Role name, row 1', { exact: true }).fill('XssAudit');
  await admin.getByLabel('SAML provider name, row 1', { exact: true }).fill('Lanyard');
  await admin.getByRole('button', { name: 'Save entitlements' }).click();
  await h.waitForPath(admin, /[?&]saved=1$/);
  await assertInert(admin, 'the Attributes tab');
});

test('the portal tile and the SAML form page show the markup as text', async (t) => {
  if (!groupId) return t.skip('no bound group');
  const user = await h.newPage(browser);
  // Hold the SAML form page (no auto-submit) to look at it.
  await user.route('**/static/autosubmit.js', (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: '' }));
  await h.signInUser(user, server.url, USER.email, USER.password);
  const res = await h.visit(user, `${server.url}/portal`);
  assertSecurityHeaders(res, '/portal');
  const tile = user.locator('a.tile');
  await h.see(tile, 'the tile');
  assert.equal(await tile.count(), 1);
  assert.equal(await h.textOf(tile.locator('.label'), 'the tile label'), PAYLOAD);
  assert.equal(await h.textOf(tile.locator('.muted'), 'the tile description'), PAYLOAD);
  await assertInert(user, 'the portal');
  await h.shot(user, 'xss-04-portal');

  const [post] = await Promise.all([
    user.waitForResponse((r) => r.url() === `${server.url}/saml2/${APP.slug}`),
    tile.click(),
  ]);
  assertSecurityHeaders(post, 'the SAML form page');
  await assertLiteral(user.getByRole('heading', { level: 1 }), `Signing in to ${PAYLOAD}`, 'the SAML form heading');
  await assertInert(user, 'the SAML form page');
  const html = await post.text();
  assert.ok(!html.includes('<script>window.__xss'), 'the raw payload is not in the HTML');
  assert.ok(!html.includes('<img src=x'), 'the raw <img> is not in the HTML');
  assert.equal(await user.locator('input[name="RelayState"]').inputValue(), RELAY_STATE,
    'the RelayState travels intact in its hidden input');

  // Continue by hand: the stand-in signs in with the one role.
  await user.getByRole('button', { name: 'Continue' }).click();
  await h.waitForPath(user, new RegExp(`^/aws-standin/${APP.slug}/saml$`));
  assert.equal(await h.textOf(user.locator('#assumed-role'), 'the assumed role'), `assumed-role/XssAudit/${USER.email}`);
  await assertLiteral(user.getByText(/^Would open:/), RELAY_STATE, "the stand-in's RelayState line");
  assert.equal(await user.locator('a[href^="javascript:"]').count(), 0, 'the RelayState is not a link');
  await assertInert(user, 'the stand-in');
  await h.shot(user, 'xss-05-standin');
  await user.context().close();
});

test('the browser enforces the CSP: an inline script injected into the DOM does not run', async () => {
  const res = await h.visit(admin, `${server.url}/admin/applications`);
  assertSecurityHeaders(res, '/admin/applications');
  const outcome = await admin.evaluate(() => new Promise((resolve) => {
    document.addEventListener('securitypolicyviolation', (e) => resolve(`blocked by ${e.violatedDirective}`), { once: true });
    const s = document.createElement('script');
    s.textContent = 'window.__cspProbe = 1';
    document.body.appendChild(s);
    setTimeout(() => resolve(window.__cspProbe === 1 ? 'ran' : 'no event'), 2000);
  }));
  assert.match(outcome, /^blocked by script-src/, outcome);
  assert.equal(await admin.evaluate(() => typeof window.__cspProbe), 'undefined');
  // A frame of the admin page is refused (frame-ancestors 'none').
  const frameRes = await admin.request.get(`${server.url}/admin/login`);
  assert.equal(frameRes.headers()['x-frame-options'], 'DENY');
  assertSecurityHeaders(frameRes, '/admin/login');
});
