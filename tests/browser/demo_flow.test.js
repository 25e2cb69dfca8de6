// demo_flow: the seeded `lanyard demo` in a real browser.
// alice signs in, uses the Amazon AWS tile (IdP-initiated) through the
// stand-in's role chooser to "signed in as assumed-role/...", then opens the
// app's IdP URL without a session (AWS's "SP-initiated": sign-in first, then
// back); bob, in no bound group, gets the denial page.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

const { DEMO } = h;
let server;
let browser;

before(async () => {
  server = await h.demoServer('DEMO', { empty: false });
  browser = await h.launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const ADMIN_ROLE = 'arn:aws:iam::123456789012:role/Admin';
const READONLY_ROLE = 'arn:aws:iam::210987654321:role/ReadOnly';

/** On the stand-in's chooser: both entitlements offered, pick `arn`, sign in. */
async function chooseRole(page, arn) {
  await h.waitForPath(page, new RegExp(`^/aws-standin/${DEMO.appSlug}/saml$`));
  await h.see(page.getByRole('heading', { name: 'Select a role' }), "the stand-in's role chooser");
  const radios = page.getByRole('radio');
  assert.equal(await radios.count(), 2, 'two entitlements, two roles');
  await h.see(page.getByRole('radio', { name: ADMIN_ROLE }), `the role ${ADMIN_ROLE}`);
  await h.see(page.getByRole('radio', { name: READONLY_ROLE }), `the role ${READONLY_ROLE}`);
  await page.getByRole('radio', { name: arn }).check();
  return async () => {
    await page.getByRole('button', { name: 'Sign in' }).click();
    await h.see(page.getByRole('heading', { name: 'AWS Management Console (Lanyard stand-in)' }), 'the stand-in console');
  };
}

test('alice signs in and sees the Amazon AWS tile', async () => {
  const page = await h.newPage(browser);
  await h.visit(page, `${server.url}/login`);
  await h.see(page.getByRole('heading', { name: 'Sign in' }), 'the sign-in page');
  await h.shot(page, 'demo-01-login');
  await h.fillUserSignIn(page, 'alice', DEMO.alicePassword);
  await h.waitForPath(page, /^\/portal$/);
  const tile = page.getByRole('link', { name: /Amazon AWS/ });
  await h.see(tile, 'the Amazon AWS tile');
  assert.equal(await tile.count(), 1, 'exactly one tile');
  assert.equal(await tile.getAttribute('href'), `/saml2/${DEMO.appSlug}`);
  await h.see(page.getByText('alice@example.com'), "alice's email in the portal bar");
  await h.shot(page, 'demo-02-portal');
  await page.context().close();
});

test('alice: tile (IdP-initiated) -> role chooser -> signed in as assumed-role/ReadOnly', async () => {
  const page = await h.newPage(browser);
  await h.signInUser(page, server.url, 'alice', DEMO.alicePassword);
  await page.getByRole('link', { name: /Amazon AWS/ }).click();
  const signIn = await chooseRole(page, READONLY_ROLE);
  await h.shot(page, 'demo-03-role-chooser');
  await signIn();
  assert.equal(await h.textOf(page.locator('#assumed-role'), 'the assumed role'),
    'assumed-role/ReadOnly/alice@example.com');
  await h.see(page.getByText('Account 210987654321'), 'the account of the chosen role');
  await h.see(page.getByText('arn:aws:sts::210987654321:assumed-role/ReadOnly/alice@example.com'), 'the STS ARN');
  await h.see(page.getByText('Session duration: 3600 seconds'), 'the SessionDuration attribute');
  await h.shot(page, 'demo-04-standin-signed-in');
  assert.deepEqual(page.pageErrors, []);
  await page.context().close();
});

test('alice: IdP URL without a session (SP-initiated) -> sign-in -> back -> assumed-role/Admin', async () => {
  const page = await h.newPage(browser);
  await page.goto(`${server.url}/saml2/${DEMO.appSlug}`);
  await h.waitForPath(page, /^\/login\?/);
  const next = new URL(page.url()).searchParams.get('next');
  assert.equal(next, `/saml2/${DEMO.appSlug}`, 'the sign-in page returns to the IdP URL');
  await h.fillUserSignIn(page, 'alice@example.com', DEMO.alicePassword);
  const signIn = await chooseRole(page, ADMIN_ROLE);
  await signIn();
  assert.equal(await h.textOf(page.locator('#assumed-role'), 'the assumed role'),
    'assumed-role/Admin/alice@example.com');
  await h.see(page.getByText('Account 123456789012'), 'the account of the chosen role');

  // With the session now open, the IdP URL goes straight to the stand-in.
  await page.goto(`${server.url}/saml2/${DEMO.appSlug}`);
  await chooseRole(page, ADMIN_ROLE);
  await page.context().close();
});

test('bob: a wrong password is refused, then no tiles and the denial page', async () => {
  const page = await h.newPage(browser);
  await h.visit(page, `${server.url}/login`);
  await h.fillUserSignIn(page, 'bob', 'not-the-password');
  assert.equal(await h.textOf(page.getByRole('alert'), 'the sign-in error'), 'Wrong email/username or password.');
  assert.ok(!/\/portal/.test(new URL(page.url()).pathname), 'still not signed in');

  await h.fillUserSignIn(page, 'bob', DEMO.bobPassword);
  await h.waitForPath(page, /^\/portal$/);
  await h.see(page.getByText('No applications are assigned to you yet'), "bob's empty portal");
  assert.equal(await page.getByRole('link', { name: /Amazon AWS/ }).count(), 0, 'no tile for bob');

  const res = await page.goto(`${server.url}/saml2/${DEMO.appSlug}`);
  assert.equal(res.status(), 403);
  await h.see(page.getByRole('heading', { name: 'Access denied' }), 'the denial heading');
  await h.see(page.getByText('You are not authorized to use Amazon AWS.'), 'the denial text');
  await h.see(page.getByText('Ask your administrator for access if you need it.'), 'the denial advice');
  const back = page.getByRole('link', { name: 'Back to your applications' });
  assert.equal(await back.getAttribute('href'), '/portal');
  assert.ok(!page.url().includes('/aws-standin/'), 'nothing was posted to the stand-in');
  await h.shot(page, 'demo-05-denied');
  await page.context().close();
});
