// demo_flow: the seeded `lanyard demo` in a real browser.
// alice signs in, uses the Amazon AWS tile (IdP-initiated) through
// Lanyard's role chooser (two accounts with labels) to "signed in as
// assumed-role/..." at the stand-in, which no longer shows AWS's own chooser
// and follows the role's deep link; then opens the app's IdP URL without a
// session (AWS's "SP-initiated": sign-in first, then back; her last choice
// listed first), and `?role=` picks directly; bob, in no bound group, gets
// the denial page.
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


const PRODUCTION = 'production (1234 5678 9012)';
const SANDBOX = 'sandbox (2109 8765 4321)';
const SANDBOX_CONSOLE = 'https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1';

/**
 * On Lanyard's chooser: both accounts by label, `first` listed first;
 * returns a function that picks `role` and lands on the stand-in's console
 * (AWS's own chooser is not shown: the response carries that role alone).
 */
async function chooseRole(page, first) {
  await h.waitForPath(page, new RegExp(`^/saml2/${DEMO.appSlug}$`));
  await h.see(page.getByRole('heading', { name: 'Choose a role' }), "Lanyard's role chooser");
  const accounts = await page.getByRole('heading', { level: 2 }).allTextContents();
  assert.deepEqual(accounts, first === SANDBOX ? [SANDBOX, PRODUCTION] : [PRODUCTION, SANDBOX]);
  return async (role) => {
    await page.getByRole('button', { name: role, exact: true }).click();
    await h.waitForPath(page, new RegExp(`^/aws-standin/${DEMO.appSlug}/saml$`));
    await h.see(page.getByRole('heading', { name: 'AWS Management Console (Lanyard stand-in)' }), 'the stand-in console');
    assert.equal(await page.getByRole('heading', { name: 'Select a role' }).count(), 0, "no AWS chooser");
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
  const pick = await chooseRole(page, PRODUCTION);
  await h.shot(page, 'demo-03-role-chooser');
  await pick('ReadOnly');
  assert.equal(await h.textOf(page.locator('#assumed-role'), 'the assumed role'),
    'assumed-role/ReadOnly/alice@example.com');
  // The sandbox role's deep link (eu-west-1) is the RelayState.
  await h.see(page.getByText(SANDBOX_CONSOLE), 'the deep link followed');
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
  // Her last choice (sandbox ReadOnly, the test before) is listed first.
  const pick = await chooseRole(page, SANDBOX);
  await h.see(page.getByText('last used'), 'the last choice marked');
  await pick('Admin');
  assert.equal(await h.textOf(page.locator('#assumed-role'), 'the assumed role'),
    'assumed-role/Admin/alice@example.com');
  await h.see(page.getByText('Account 123456789012'), 'the account of the chosen role');

  // With the session now open, the IdP URL shows the chooser, Admin first.
  await page.goto(`${server.url}/saml2/${DEMO.appSlug}`);
  await chooseRole(page, PRODUCTION);
  // `?role=` picks directly (bookmarkable).
  await page.goto(`${server.url}/saml2/${DEMO.appSlug}?role=210987654321:ReadOnly`);
  await h.waitForPath(page, new RegExp(`^/aws-standin/${DEMO.appSlug}/saml$`));
  assert.equal(await h.textOf(page.locator('#assumed-role'), 'the assumed role'),
    'assumed-role/ReadOnly/alice@example.com');
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
