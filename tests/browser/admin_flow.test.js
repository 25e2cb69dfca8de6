// admin_flow: the admin portal from an empty directory (`lanyard demo
// --empty`), in order, on one server and one browser:
//   admin signs in; Users: create a user; Groups: create a group, add the
//   user; SSO Applications: catalog -> Amazon AWS IAM -> create with a
//   chosen IdP URL slug (fixed afterwards); SSO tab (a regional sign-in
//   endpoint registered, the default = the built-in AWS stand-in);
//   Attributes tab (an AWS entitlement for the group, its provider name
//   from the app's default, not typed); User Groups tab (bind the group);
//   Preview; Export Metadata (one app, and from the list: one selected is
//   its XML file, none selected says so); Deactivate SSO asked first
//   (cancelled, then accepted) and Activate, as seen by the user; the user
//   signs in through the tile and reaches "signed in as assumed-role/...";
//   the group page lists the app; a click in the app's row opens it; Delete
//   with the typed count. These are the seed's steps, in its order.
//
// Each step is its own test() sharing state; a step whose prerequisite
// failed is skipped (the failure it depends on is already reported). The
// REST API (with the demo's admin API key) is used only to check what the
// pages stored, never to make anything.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./lib/harness');

let server;
let browser;
let admin; // the admin's page (one context for the whole file)
let userPage; // the directory user's page (a fresh context)

const USER = {
  email: 'carol@example.com',
  username: 'carol',
  first: 'Carol',
  last: 'Tester',
  password: 'carol-e2e-password',
  id: null,
};
const GROUP = { name: 'e2e-aws-operators', description: 'May use the e2e AWS app', id: null };
// A 1x1 PNG (the portal image the admin uploads).
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const APP = {
  label: 'AWS Production (e2e)',
  description: 'Created by the browser suite',
  id: null,
  // Chosen by the admin at creation ("a plaintext string unique to this connector").
  slug: 'aws-prod-e2e',
};
// The provider name is not typed: rows take the app's default, its slug.
const ROLE = { account: '123456789012', role: 'E2EAdmin', provider: APP.slug, label: 'production' };
const ROLE_VALUE = `arn:aws:iam::${ROLE.account}:role/${ROLE.role},arn:aws:iam::${ROLE.account}:saml-provider/${ROLE.provider}`;
const EU_WEST_1 = 'https://eu-west-1.signin.aws.amazon.com/saml';

// What the steps achieved (later steps check their prerequisites here).
const done = {
  admin: false,
  userByUi: false,
  groupByUi: false,
  memberByUi: false,
  app: false,
  sso: false,
  entitlement: false,
  bound: false,
};

function needs(t, ...keys) {
  const missing = keys.filter((k) => !done[k]);
  if (missing.length) {
    t.skip(`needs the earlier step(s): ${missing.join(', ')}`);
    return true;
  }
  return false;
}

before(async () => {
  server = await h.demoServer('ADMIN', { empty: true });
  browser = await h.launchBrowser();
  admin = await h.newPage(browser);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const appUrl = (tab) => `${server.url}/admin/applications/${APP.id}?tab=${tab}`;

async function notice(page, text) {
  const got = await h.textOf(page.getByRole('status'), `the notice "${text}"`);
  assert.equal(got, text);
}

/** The row of the Configured Applications table for our app. */
function appRow(page) {
  return page.getByRole('row').filter({ has: page.getByRole('link', { name: APP.label, exact: true }) });
}

async function openTab(name, tab) {
  await admin.getByRole('navigation').getByRole('link', { name, exact: true }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}\\?tab=${tab}$`));
}

// ---- sign-in -----------------------------------------------------------------

test('admin signs in from an empty directory', async () => {
  // Without a session: the sign-in page, which will come back here.
  await h.visit(admin, `${server.url}/admin/applications`);
  await h.waitForPath(admin, /^\/admin\/login\?next=/);
  await h.signInAdmin(admin, server.url);
  await h.see(admin.getByText('No applications'), 'the empty application list');
  await h.see(admin.getByText('admin@example.com (administrator)'), 'the admin in the header');
  await h.shot(admin, 'admin-01-apps-empty');
  done.admin = true;
});

// ---- users and groups (pages by the Users/Groups contract) ---------------------

test('Users: + Add User creates a user', async (t) => {
  if (needs(t, 'admin')) return;
  await h.visit(admin, `${server.url}/admin/users`);
  await h.shot(admin, 'admin-02-users-list');
  await admin.getByRole('link', { name: '+ Add User' }).click();
  await h.waitForPath(admin, /^\/admin\/users\/new$/);
  await admin.getByLabel('Email', { exact: true }).fill(USER.email);
  await admin.getByLabel('Username', { exact: true }).fill(USER.username);
  await admin.getByLabel('First name', { exact: true }).fill(USER.first);
  await admin.getByLabel('Last name', { exact: true }).fill(USER.last);
  await admin.getByLabel('Password', { exact: true }).fill(USER.password);
  await h.shot(admin, 'admin-03-user-new');
  await admin.getByRole('button', { name: 'Save User' }).click();
  await h.waitForPath(admin, /^\/admin\/users\/\d+(\?.*)?$/);
  USER.id = Number(new URL(admin.url()).pathname.split('/').pop());
  await h.see(admin.getByText('User created'), 'the notice "User created"');
  await h.see(admin.getByText(USER.email).first(), "the user's email");
  done.userByUi = true;

  await h.visit(admin, `${server.url}/admin/users`);
  await h.see(admin.getByText(USER.email), 'the new user in the Users list');
  await h.shot(admin, 'admin-02-users-list');
});

test('Groups: + Add Group creates a group', async (t) => {
  if (needs(t, 'admin')) return;
  await h.visit(admin, `${server.url}/admin/groups`);
  await h.shot(admin, 'admin-05-groups-list');
  await admin.getByRole('link', { name: '+ Add Group' }).click();
  await h.waitForPath(admin, /^\/admin\/groups\/new$/);
  await admin.getByLabel('Name', { exact: true }).fill(GROUP.name);
  await admin.getByLabel('Description', { exact: true }).fill(GROUP.description);
  await h.shot(admin, 'admin-06-group-new');
  await admin.getByRole('button', { name: 'Save Group' }).click();
  await h.waitForPath(admin, /^\/admin\/groups\/\d+(\?.*)?$/);
  GROUP.id = Number(new URL(admin.url()).pathname.split('/').pop());
  await h.see(admin.getByText('Group created'), 'the notice "Group created"');
  done.groupByUi = true;

  await h.visit(admin, `${server.url}/admin/groups`);
  await h.see(admin.getByText(GROUP.name), 'the new group in the Groups list');
  await h.shot(admin, 'admin-05-groups-list');
});

test('Groups: Add member puts the user in the group; the user page shows and edits it', async (t) => {
  if (needs(t, 'userByUi', 'groupByUi')) return;
  await h.visit(admin, `${server.url}/admin/groups/${GROUP.id}`);
  const select = admin.getByLabel('Add member', { exact: true });
  await h.see(select, 'the "Add member" select');
  const option = select.locator('option', { hasText: USER.email });
  assert.equal(await option.count(), 1, `one "Add member" option names ${USER.email}`);
  await select.selectOption(await option.getAttribute('value'));
  await admin.getByRole('button', { name: 'Add Member' }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/groups/${GROUP.id}(\\?.*)?$`));
  const members = await api('GET', `/api/v1/groups/${GROUP.id}/members`);
  assert.deepEqual(members.items.map((u) => u.email), [USER.email], 'the store has the member');
  await h.see(admin.getByRole('row').filter({ hasText: USER.email }), 'the member listed on the group page');
  await h.shot(admin, 'admin-07-group-detail', admin.getByRole('heading', { name: /^Members/ }));

  // The user's page: one checkbox per group, ticked for ours; untick and
  // tick again through "Save Groups".
  const box = () => admin.getByRole('checkbox', { name: GROUP.name, exact: true });
  await h.visit(admin, `${server.url}/admin/users/${USER.id}`);
  await h.see(box(), `the "${GROUP.name}" checkbox on the user page`);
  assert.equal(await box().isChecked(), true, 'the user page shows the membership');
  await box().uncheck();
  await admin.getByRole('button', { name: 'Save Groups' }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/users/${USER.id}(\\?.*)?$`));
  await h.see(box(), 'the group checkbox after saving');
  assert.equal(await box().isChecked(), false, 'unticked and saved');
  assert.equal((await api('GET', `/api/v1/groups/${GROUP.id}/members`)).items.length, 0);
  await box().check();
  await admin.getByRole('button', { name: 'Save Groups' }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/users/${USER.id}(\\?.*)?$`));
  await h.see(box(), 'the group checkbox after saving');
  assert.equal(await box().isChecked(), true, 'ticked and saved');
  assert.equal((await api('GET', `/api/v1/groups/${GROUP.id}/members`)).items.length, 1);
  await h.shot(admin, 'admin-04-user-detail');
  await h.shot(admin, 'admin-04b-user-groups', admin.getByRole('heading', { name: 'Groups', exact: true }));
  done.memberByUi = true;
});

// ---- checks through the REST API ----------------------------------------------

function api(method, pathname, body) {
  return h.api(server, method, pathname, body);
}

// ---- SSO Applications --------------------------------------------------------

test('Applications: catalog search -> Amazon AWS IAM -> Save Application', async (t) => {
  if (needs(t, 'admin')) return;
  await h.visit(admin, `${server.url}/admin/applications`);
  await admin.getByRole('link', { name: '+ Add New Application' }).click();
  await h.waitForPath(admin, /^\/admin\/applications\/new$/);
  await admin.getByLabel('Search the catalog').fill('Amazon AWS IAM');
  await admin.getByRole('button', { name: 'Search' }).click();
  await h.waitForPath(admin, /^\/admin\/applications\/new\?search=Amazon/);
  const row = admin.getByRole('row').filter({ has: admin.getByText('Amazon AWS IAM', { exact: true }) });
  await h.see(row, 'the Amazon AWS IAM catalog row');
  assert.equal(await row.count(), 1);
  await h.shot(admin, 'admin-08-catalog');
  // Select the row, then Next: the form for that template.
  await row.getByRole('radio').check();
  await admin.getByRole('button', { name: 'Next' }).click();
  await h.waitForPath(admin, /^\/admin\/applications\/new\?template=aws-iam$/);
  await h.see(admin.getByText('Template: Amazon AWS IAM'), 'the chosen template');
  await admin.getByLabel('Display Label (required)').fill(APP.label);
  await admin.getByLabel(/^IdP URL slug/).fill(APP.slug);
  await admin.getByLabel('Description').fill(APP.description);
  await admin.getByLabel('Show in User Portal').check();
  // A User Portal image, previewed before it is saved.
  assert.equal(await admin.locator('#image-preview').isVisible(), false, 'no preview before a file is chosen');
  await admin.getByLabel(/^User Portal image/).setInputFiles({
    name: 'logo.png', mimeType: 'image/png', buffer: Buffer.from(PNG_1X1, 'base64'),
  });
  const preview = admin.locator('#image-preview');
  await h.see(preview, 'the image preview');
  assert.match(await preview.getAttribute('src'), /^data:image\/png;base64,/, 'the preview shows the chosen file');
  await h.shot(admin, 'admin-09-app-new');
  await admin.getByRole('button', { name: 'Save Application' }).click();
  await h.see(admin.getByRole('heading', { name: 'Application saved' }), 'the saved page');
  // The AWS IAM template has no placeholders in its defaults: SSO is active at once.
  assert.equal(await h.textOf(admin.getByRole('status'), 'the saved notice'), `${APP.label} was added.`);
  await h.shot(admin, 'admin-10-app-created');
  await admin.getByRole('link', { name: 'Configure Application' }).click();
  await h.waitForPath(admin, /^\/admin\/applications\/\d+\?tab=sso$/);
  APP.id = Number(new URL(admin.url()).pathname.split('/').pop());
  const head = admin.locator('p.muted').filter({ hasText: 'IdP URL' });
  assert.equal(await h.textOf(head.locator('code').first(), 'the slug'), APP.slug, 'the chosen slug');
  assert.equal(await h.textOf(head.locator('code').nth(1), 'the IdP URL'), `${server.url}/saml2/${APP.slug}`);
  // The uploaded image is the app's, served from our origin.
  const image = await api('GET', `/api/v1/applications/${APP.id}`);
  assert.ok(image.image_url, `the app has an image: ${JSON.stringify(image)}`);
  const served = await admin.request.get(`${server.url}/app-images/${APP.id}`);
  assert.equal(served.status(), 200);
  assert.equal(Buffer.compare(await served.body(), Buffer.from(PNG_1X1, 'base64')), 0, 'the stored image is the uploaded file');
  done.app = true;
});

test('Applications: General tab shows what was entered', async (t) => {
  if (needs(t, 'app')) return;
  await h.visit(admin, appUrl('general'));
  assert.equal(await admin.getByLabel('Display Label (required)').inputValue(), APP.label);
  assert.equal(await admin.getByLabel('Description').inputValue(), APP.description);
  assert.equal(await admin.getByLabel('Show in User Portal').isChecked(), true);
  const slug = admin.getByLabel('IdP URL slug');
  assert.equal(await slug.inputValue(), APP.slug);
  assert.equal(await slug.getAttribute('readonly'), '', 'the slug cannot be edited');
  await h.see(admin.getByText('Fixed when the application was created'), 'why the slug is fixed');
  await h.shot(admin, 'admin-11-tab-general');
});

test('Applications: SSO tab, a regional endpoint registered, the default = the AWS stand-in', async (t) => {
  if (needs(t, 'app')) return;
  await h.visit(admin, appUrl('sso'));
  const acs = `${server.url}/aws-standin/${APP.slug}/saml`;
  assert.equal(await admin.getByText('Replace the template placeholders').count(), 0,
    'the AWS IAM template leaves no YOUR_... placeholder in its defaults');
  assert.equal(await admin.getByLabel('IdP Entity ID').inputValue(), `${server.url}/saml2/${APP.slug}`);
  assert.equal(await admin.getByLabel('SP Entity ID').inputValue(), 'urn:amazon:webservices');
  // AWS's endpoints are a choice: the global one is registered and the default.
  assert.equal(await admin.getByLabel('Register global (us-east-1)').isChecked(), true);
  assert.equal(await admin.getByLabel('Default: global (us-east-1)').isChecked(), true);
  assert.equal(await admin.getByLabel('Register eu-west-1').isChecked(), false);
  await admin.getByLabel('Register eu-west-1').check();
  // The demo's AWS stand-in is "another" ACS URL, and the default here.
  await admin.getByLabel(/^Other ACS URLs/).fill(acs);
  await admin.getByLabel('The default is the first of the other ACS URLs').check();
  await admin.getByRole('button', { name: 'Save', exact: true }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}\\?tab=sso&saved=1$`));
  await notice(admin, 'Saved.');
  assert.equal(await admin.getByLabel(/^Other ACS URLs/).inputValue(), acs);
  assert.equal(await admin.getByLabel('Register eu-west-1').isChecked(), true);
  assert.equal(await admin.getByLabel('The default is the first of the other ACS URLs').isChecked(), true);
  const stored = await api('GET', `/api/v1/applications/${APP.id}`);
  assert.deepEqual(stored.sso.acs_urls.map((a) => [a.url, a.is_default]), [
    ['https://signin.aws.amazon.com/saml', false],
    [EU_WEST_1, false],
    [acs, true],
  ]);
  await h.see(admin.getByRole('link', { name: 'Deactivate SSO' }), 'SSO active');
  await h.shot(admin, 'admin-12-tab-sso');
  await h.shot(admin, 'admin-12b-tab-sso-settings', admin.getByRole('heading', { name: 'SSO settings' }));
  done.sso = true;
});

test('Applications: Attributes tab, an AWS entitlement for the group', async (t) => {
  if (needs(t, 'app', 'memberByUi')) return;
  await h.visit(admin, appUrl('sso'));
  await openTab('Attributes', 'attributes');
  await admin.getByLabel('Group, row 1', { exact: true }).selectOption({ label: GROUP.name });
  await admin.getByLabel('Account ID, row 1', { exact: true }).fill(ROLE.account);
  await admin.getByLabel('Role name, row 1', { exact: true }).fill(ROLE.role);
  // Not typed: the app's default provider name (its slug) fills the row.
  assert.equal(await admin.getByLabel(/^SAML provider name in IAM/).inputValue(), APP.slug);
  assert.equal(await admin.getByLabel('SAML provider name, row 1', { exact: true }).inputValue(), '');
  await admin.getByLabel('Account label, row 1', { exact: true }).fill(ROLE.label);
  await admin.getByRole('button', { name: 'Save entitlements' }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}\\?tab=attributes&saved=1$`));
  await notice(admin, 'Saved.');
  await h.see(admin.getByText(`Role value ${ROLE_VALUE}`), 'the Role value of the saved row');
  const group = admin.getByLabel('Group, row 1', { exact: true });
  assert.equal(await group.locator('option:checked').textContent(), GROUP.name);
  // The template's own attribute rows are listed.
  assert.equal(await admin.getByLabel('Attribute name, row 1', { exact: true }).inputValue(),
    'https://aws.amazon.com/SAML/Attributes/SessionDuration');
  await h.shot(admin, 'admin-13-tab-attributes', admin.getByRole('heading', { name: 'AWS entitlements' }));
  done.entitlement = true;
});

test('Applications: User Groups tab binds the group', async (t) => {
  if (needs(t, 'app', 'memberByUi')) return;
  await h.visit(admin, appUrl('sso'));
  await openTab('User Groups', 'groups');
  const box = admin.getByRole('checkbox', { name: GROUP.name, exact: true });
  assert.equal(await box.isChecked(), false, 'not bound yet');
  await box.check();
  await admin.getByRole('button', { name: 'Save', exact: true }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}\\?tab=groups&saved=1$`));
  await notice(admin, 'Saved.');
  assert.equal(await admin.getByRole('checkbox', { name: GROUP.name, exact: true }).isChecked(), true);
  await h.shot(admin, 'admin-14-tab-groups');
  done.bound = true;
});

test('Applications: Preview tab, the user would get the entitlement', async (t) => {
  if (needs(t, 'sso', 'entitlement', 'bound')) return;
  await h.visit(admin, appUrl('sso'));
  await openTab('Preview', 'preview');
  await admin.getByLabel('User (email, username or id)').fill(USER.email);
  await admin.getByRole('button', { name: 'Preview' }).click();
  await h.waitForPath(admin, /[?&]tab=preview&user=/);
  const decision = await h.textOf(admin.getByRole('heading', { name: /^Decision:/ }), 'the decision');
  assert.match(decision, /issue$/, decision);
  await h.see(admin.getByRole('cell', { name: ROLE_VALUE }), 'the Role attribute value');
  await h.see(admin.getByText('No AWS rule is broken.'), 'no AWS rule broken');
  await h.shot(admin, 'admin-15-tab-preview');
});

test('Applications: Export Metadata downloads Lanyard-<slug>-metadata.xml (also from the list with one app selected)', async (t) => {
  if (needs(t, 'app')) return;
  await h.visit(admin, appUrl('sso'));
  const [download] = await Promise.all([
    admin.waitForEvent('download'),
    admin.getByRole('link', { name: 'Export Metadata' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), `Lanyard-${APP.slug}-metadata.xml`);
  const xml = fs.readFileSync(await download.path(), 'utf8');
  assert.match(xml, /<(\w+:)?EntityDescriptor\b/);
  assert.ok(xml.includes(`entityID="${server.url}/saml2/${APP.slug}"`), 'entityID is the IdP URL');
  const cert = /<(?:\w+:)?X509Certificate>([A-Za-z0-9+/=\s]+)<\/(?:\w+:)?X509Certificate>/.exec(xml);
  assert.ok(cert && cert[1].replace(/\s/g, '').length > 500, 'an X509Certificate with a real certificate');
  assert.ok(xml.includes(`Location="${server.url}/saml2/${APP.slug}"`), 'the SSO endpoint');

  // From the list: nothing selected says so; one selected is its XML file,
  // which AWS's "Choose File" step takes as it is.
  await h.visit(admin, `${server.url}/admin/applications`);
  await admin.getByRole('button', { name: 'Export Metadata' }).click();
  await h.waitForPath(admin, /^\/admin\/applications\?none_selected=export$/);
  assert.equal(await h.textOf(admin.getByRole('alert'), 'the select-one message'),
    'Select an application first (tick its row) to export its metadata.');
  await admin.getByRole('checkbox', { name: `Select ${APP.label}` }).check();
  const [one] = await Promise.all([
    admin.waitForEvent('download'),
    admin.getByRole('button', { name: 'Export Metadata' }).click(),
  ]);
  assert.equal(one.suggestedFilename(), `Lanyard-${APP.slug}-metadata.xml`);
  const listed = fs.readFileSync(await one.path(), 'utf8');
  // Parsed as XML by the browser's own parser.
  const parsed = await admin.evaluate((text) => {
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    const error = doc.getElementsByTagName('parsererror')[0];
    return { error: error ? error.textContent : null, root: doc.documentElement.localName,
      entityID: doc.documentElement.getAttribute('entityID') };
  }, listed);
  assert.deepEqual(parsed, { error: null, root: 'EntityDescriptor', entityID: `${server.url}/saml2/${APP.slug}` });
});

test('Applications: Deactivate SSO (list says deactivated, the user is refused), then Activate', async (t) => {
  if (needs(t, 'sso', 'entitlement', 'bound')) return;
  userPage = await h.newPage(browser);
  await h.signInUser(userPage, server.url, USER.email, USER.password);
  await h.see(userPage.getByRole('link', { name: new RegExp(APP.label.replace(/[()]/g, '\\$&')) }), 'the tile while active');

  // Deactivate SSO asks first: Cancel changes nothing.
  await h.visit(admin, appUrl('sso'));
  await admin.getByRole('link', { name: 'Deactivate SSO' }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}/deactivate$`));
  await h.see(admin.getByRole('heading', { name: `Deactivate SSO for “${APP.label}”?` }), 'the question');
  await h.shot(admin, 'admin-15b-deactivate-confirm');
  await admin.getByRole('link', { name: 'Cancel' }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}\\?tab=sso$`));
  assert.equal((await api('GET', `/api/v1/applications/${APP.id}`)).sso_active, true, 'cancelled: still active');
  await admin.getByRole('link', { name: 'Deactivate SSO' }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}/deactivate$`));
  await admin.getByRole('button', { name: 'Deactivate SSO' }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}\\?tab=sso&saved=deactivated$`));
  await notice(admin, 'SSO deactivated.');
  await h.see(admin.getByRole('button', { name: 'Activate SSO' }), 'the Activate SSO button');
  await h.visit(admin, `${server.url}/admin/applications`);
  assert.equal(await h.textOf(appRow(admin).getByRole('cell').last(), 'the status cell'), 'deactivated');

  await userPage.reload();
  await h.see(userPage.getByText('No applications are assigned to you yet'), 'no tile while deactivated');
  const res = await userPage.goto(`${server.url}/saml2/${APP.slug}`);
  assert.equal(res.status(), 403);
  await h.see(userPage.getByRole('heading', { name: 'Single sign-on is deactivated' }), 'the deactivated page');

  await h.visit(admin, appUrl('sso'));
  await admin.getByRole('button', { name: 'Activate SSO' }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}\\?tab=sso&saved=activated$`));
  await notice(admin, 'SSO activated.');
  await h.visit(admin, `${server.url}/admin/applications`);
  assert.equal(await h.textOf(appRow(admin).getByRole('cell').last(), 'the status cell'), 'active');
  await h.shot(admin, 'admin-16-apps-list');
});

test('the user signs in through the tile and reaches assumed-role/... at the stand-in', async (t) => {
  if (needs(t, 'sso', 'entitlement', 'bound')) return;
  if (!userPage) {
    userPage = await h.newPage(browser);
    await h.signInUser(userPage, server.url, USER.email, USER.password);
  }
  await h.visit(userPage, `${server.url}/portal`);
  const tile = userPage.getByRole('link', { name: new RegExp(APP.label.replace(/[()]/g, '\\$&')) });
  await h.see(tile, 'the tile');
  await h.see(tile.getByText(APP.description), 'the description on the tile');
  await h.shot(userPage, 'admin-17-user-portal');
  await tile.click();
  // One entitlement: no chooser, straight to the console.
  await h.waitForPath(userPage, new RegExp(`^/aws-standin/${APP.slug}/saml$`));
  assert.equal(await h.textOf(userPage.locator('#assumed-role'), 'the assumed role'),
    `assumed-role/${ROLE.role}/${USER.email}`);
  await h.see(userPage.getByText(`arn:aws:sts::${ROLE.account}:assumed-role/${ROLE.role}/${USER.email}`), 'the STS ARN');
  await h.shot(userPage, 'admin-18-user-standin');
});

test('Groups: the group page lists the application, ticked', async (t) => {
  if (needs(t, 'groupByUi', 'bound')) return;
  await h.visit(admin, `${server.url}/admin/groups/${GROUP.id}`);
  const box = admin.getByRole('checkbox', { name: APP.label, exact: true });
  await h.see(box, `the "${APP.label}" checkbox in the group's Applications`);
  assert.equal(await box.isChecked(), true);
  await h.see(admin.getByRole('button', { name: 'Save Applications' }), 'Save Applications');
  await h.shot(admin, 'admin-07b-group-applications', admin.getByRole('heading', { name: 'Applications', exact: true }));
});

test('Applications: a click anywhere in the app\'s row opens it', async (t) => {
  if (needs(t, 'app')) return;
  await h.visit(admin, `${server.url}/admin/applications`);
  // The template cell: not a link, yet the row opens the app.
  await appRow(admin).getByRole('cell', { name: 'aws-iam', exact: true }).click();
  await h.waitForPath(admin, new RegExp(`^/admin/applications/${APP.id}$`));
  await h.see(admin.getByRole('heading', { name: APP.label }), 'the app page');
  // The checkbox keeps its own meaning.
  await h.visit(admin, `${server.url}/admin/applications`);
  await admin.getByRole('checkbox', { name: `Select ${APP.label}` }).check();
  await h.waitForPath(admin, /^\/admin\/applications$/);
});

test('Applications: Delete asks for the count, then removes the app', async (t) => {
  if (needs(t, 'app')) return;
  await h.visit(admin, `${server.url}/admin/applications`);
  await admin.getByRole('checkbox', { name: `Select ${APP.label}` }).check();
  await admin.getByRole('button', { name: 'Delete' }).click();
  await h.waitForPath(admin, /^\/admin\/applications\/selection\?/);
  await h.see(admin.getByRole('heading', { name: 'Delete applications' }), 'the delete confirmation');
  await h.see(admin.getByText('You are about to delete 1 application,'), 'the count');
  await h.see(admin.getByRole('listitem').filter({ hasText: APP.slug }), 'the app in the list to delete');
  const count = admin.getByLabel(/^Type the number of applications to delete/);
  await count.fill('2');
  await h.shot(admin, 'admin-19-delete-dialog');
  await admin.getByRole('button', { name: 'Delete Application', exact: true }).click();
  assert.equal(await h.textOf(admin.getByRole('alert'), 'the wrong-count refusal'),
    'you are deleting 1 application: type 1 to confirm (got 2); nothing was deleted');
  assert.equal((await api('GET', `/api/v1/applications/${APP.id}`)).id, APP.id, 'a wrong count deletes nothing');

  await admin.getByLabel(/^Type the number of applications to delete/).fill('1');
  await admin.getByRole('button', { name: 'Delete Application', exact: true }).click();
  await h.waitForPath(admin, /^\/admin\/applications\?deleted=1$/);
  await notice(admin, 'Deleted 1 application.');
  assert.equal(await admin.getByRole('link', { name: APP.label, exact: true }).count(), 0, 'the app is gone from the list');
  await h.see(admin.getByText('No applications'), 'the empty list');
  await h.shot(admin, 'admin-20-apps-after-delete');

  if (userPage) {
    const res = await userPage.goto(`${server.url}/saml2/${APP.slug}`);
    assert.equal(res.status(), 404);
    await h.see(userPage.getByRole('heading', { name: 'Application not found' }), 'the not-found page');
  }
});
