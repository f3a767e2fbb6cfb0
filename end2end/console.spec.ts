import fs from 'node:fs';
import path from 'node:path';
import { test, expect, type Locator, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { requests, script } from './support/model';

// The Console's main path, as a person walks it (issue 2):
// sign up → the default project → an API key used over HTTP → invite a member → the member
// registers through the link → "No Project Access" → the admin grants the project → the member
// sees it. Selectors are the ones the Console promises (labels, button names, data-testid).

const SCREENS = path.join(__dirname, 'test-results', 'screens');
const PASSWORD = 'correct horse battery staple';

/** The hydrate bundle sets `data-hydrated="true"` on <body> once the page is interactive. */
async function hydrated(page: Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
}

async function open(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await hydrated(page);
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS, `${name}.png`), fullPage: true });
}

/** Text of an element, or the value when it is a form field (a key or link shown in an input). */
async function textOf(locator: Locator): Promise<string> {
  return locator.evaluate((el) =>
    el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement
      ? el.value
      : (el.textContent ?? ''),
  );
}

/** The innermost element holding all the given parts: one form, whatever its markup. */
function around(page: Page, ...parts: Locator[]): Locator {
  let scope = page.locator('*');
  for (const part of parts) scope = scope.filter({ has: part });
  return scope.last();
}

/** The path of the project page the browser is on: /p/{projectId}… */
function projectIdOf(page: Page): string {
  const match = new URL(page.url()).pathname.match(/^\/p\/([^/]+)/);
  if (!match) throw new Error(`not on a project page: ${page.url()}`);
  return decodeURIComponent(match[1]);
}

function watchErrors(page: Page, into: string[], who: string): void {
  page.on('pageerror', (err) => into.push(`${who}: ${err.message}`));
  // The pages run under a Content-Security-Policy: anything it blocks is a bug.
  page.on('console', (msg) => {
    if (msg.type() === 'error' && msg.text().includes('Content Security Policy')) {
      into.push(`${who}: ${msg.text()}`);
    }
  });
}

test('sign up, API key, invitation, project access', async ({ page, browser, request, baseURL }) => {
  const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const admin = {
    email: `admin-${stamp}@example.com`,
    username: `admin-${stamp}`,
    name: `Ada ${stamp}`,
  };
  const member = {
    email: `member-${stamp}@example.com`,
    username: `member-${stamp}`,
    name: `Max ${stamp}`,
  };
  const orgName = `${admin.name}'s organization`;
  const keyName = `ci key ${stamp}`;
  const pageErrors: string[] = [];
  watchErrors(page, pageErrors, 'admin');
  page.on('dialog', (dialog) => void dialog.accept());

  let projectId = '';
  let apiKey = '';
  let invitePath = '';

  await test.step('the admin signs up and lands on the default project', async () => {
    await open(page, '/signup');
    await shot(page, '01-signup');
    await page.getByLabel(/^Email\b/).fill(admin.email);
    await page.getByLabel(/^Username\b/).fill(admin.username);
    await page.getByLabel(/^Name\b/).fill(admin.name);
    await page.getByLabel(/^Password\b/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();

    await page.waitForURL(/\/p\/[^/?#]+/);
    await hydrated(page);
    projectId = projectIdOf(page);
    await expect(page.getByTestId('project-switcher')).toContainText('Default');
    await expect(page.getByTestId('org-name')).toContainText(orgName);
    await expect(page.getByTestId('user-name')).toContainText(admin.username);
    // The project opens on its Chat; its settings are one link away.
    await expect(page.getByRole('textbox', { name: 'Message' })).toBeVisible();
    await shot(page, '02-default-project');
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.waitForURL(`**/p/${projectId}/settings/members`);
    await hydrated(page);
    await expect(page.getByRole('link', { name: 'Members', exact: true })).toBeVisible();
    await expect(page.getByRole('link', { name: 'API Keys', exact: true })).toBeVisible();

    // The session cookie works for the REST surface too.
    const me = await page.request.get('/api/v1/me');
    expect(me.status()).toBe(200);
    const body = await me.json();
    expect(body.success).toBe(true);
    expect(body.data.type).toBe('user');
    expect(body.data.user.username).toBe(admin.username);
    expect(body.data.role).toBe('admin');
    expect(body.data.organization.name).toBe(orgName);
    expect(body.data.projects.map((p: { id: string }) => p.id)).toEqual([projectId]);
  });

  await test.step('the admin creates an API key, shown once', async () => {
    await page.getByRole('link', { name: 'API Keys', exact: true }).click();
    await page.waitForURL(`**/p/${projectId}/settings/api-keys`);
    await hydrated(page);
    await page.getByLabel(/^Key name\b/).fill(keyName);
    await page.getByRole('button', { name: 'Create key' }).click();

    const shown = page.getByTestId('new-api-key');
    await expect.poll(() => textOf(shown)).toMatch(/sigmic_[0-9a-f]{64}/);
    apiKey = (await textOf(shown)).match(/sigmic_[0-9a-f]{64}/)?.[0] ?? '';
    await expect(page.getByRole('row').filter({ hasText: keyName })).toBeVisible();
    await shot(page, '03-api-key-created');
  });

  await test.step('the key works over HTTP, as Bearer and as X-API-Key', async () => {
    const bearer = await request.get('/api/v1/me', {
      headers: { Authorization: `Bearer ${apiKey}` },
    });
    expect(bearer.status()).toBe(200);
    const me = (await bearer.json()).data;
    expect(me.type).toBe('apiKey');
    expect(me.apiKey.name).toBe(keyName);
    expect(apiKey.startsWith(me.apiKey.prefix)).toBe(true);
    expect(me.organization.name).toBe(orgName);
    expect(me.role).toBeNull();
    expect(me.projects).toHaveLength(1);
    expect(me.projects[0]).toMatchObject({ id: projectId, name: 'Default', role: 'member' });

    const header = await request.get('/api/v1/projects', { headers: { 'X-API-Key': apiKey } });
    expect(header.status()).toBe(200);
    const projects = (await header.json()).data as { id: string; name: string }[];
    expect(projects.map((p) => p.id)).toEqual([projectId]);

    // Organization management is for people, not keys.
    const org = await request.get('/api/v1/organization', { headers: { 'X-API-Key': apiKey } });
    expect(org.status()).toBe(403);
    expect((await org.json()).error.code).toBe('FORBIDDEN');

    const anonymous = await request.get('/api/v1/me');
    expect(anonymous.status()).toBe(401);
    expect((await anonymous.json()).error.code).toBe('AUTH_REQUIRED');

    const unknown = await request.get('/api/v1/me', {
      headers: { Authorization: `Bearer sigmic_${'0'.repeat(64)}` },
    });
    expect(unknown.status()).toBe(401);
    expect((await unknown.json()).error.code).toBe('INVALID_API_KEY');
  });

  await test.step('the admin invites a member and copies the link', async () => {
    await page.getByRole('link', { name: 'Organization', exact: true }).click();
    await page.waitForURL('**/org');
    await hydrated(page);
    const email = page.getByLabel(/^Invite email\b/);
    const send = page.getByRole('button', { name: 'Send invitation' });
    const form = around(page, email, send);
    await form.getByLabel(/^Invite email\b/).fill(member.email);
    await form.getByLabel(/^Role\b/).selectOption('member');
    await form.getByRole('button', { name: 'Send invitation' }).click();

    const shown = page.getByTestId('invitation-link');
    await expect.poll(() => textOf(shown)).toMatch(/\/signup\?invite=\S+/);
    const link = new URL(((await textOf(shown)).match(/\S*\/signup\?invite=\S+/) ?? [''])[0]);
    invitePath = `${link.pathname}${link.search}`;
    await shot(page, '04-invitation');

    const token = link.searchParams.get('invite') ?? '';
    const invitation = await request.get(`/api/v1/invitations/${encodeURIComponent(token)}`);
    expect(invitation.status()).toBe(200);
    const data = (await invitation.json()).data;
    expect(data.email).toBe(member.email);
    expect(data.organizationName).toBe(orgName);
    expect(data.role).toBe('member');
  });

  const memberContext = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } });
  const memberPage = await memberContext.newPage();
  watchErrors(memberPage, pageErrors, 'member');
  try {
    await test.step('the member registers through the link and has no project yet', async () => {
      await open(memberPage, invitePath);
      const email = memberPage.getByLabel(/^Email\b/);
      await expect(email).toHaveValue(member.email);
      await expect(email).not.toBeEditable();
      await expect(memberPage.getByText(orgName).first()).toBeVisible();
      await shot(memberPage, '05-invited-signup');

      await memberPage.getByLabel(/^Username\b/).fill(member.username);
      await memberPage.getByLabel(/^Name\b/).fill(member.name);
      await memberPage.getByLabel(/^Password\b/).fill(PASSWORD);
      await memberPage.getByRole('button', { name: 'Create account' }).click();

      await expect(memberPage.getByRole('heading', { name: 'No Project Access' })).toBeVisible();
      await hydrated(memberPage);
      await expect(memberPage.getByTestId('org-name')).toContainText(orgName);
      await shot(memberPage, '06-no-project-access');

      const me = (await (await memberPage.request.get('/api/v1/me')).json()).data;
      expect(me.type).toBe('user');
      expect(me.role).toBe('member');
      expect(me.organization.name).toBe(orgName);
      expect(me.projects).toEqual([]);

      // The link was single-use.
      const reused = await request.get(`/api/v1/invitations/${encodeURIComponent(new URL(invitePath, baseURL).searchParams.get('invite') ?? '')}`);
      expect(reused.status()).toBe(404);
    });

    await test.step('the admin adds the member to the project', async () => {
      await open(page, `/p/${projectId}/settings/members`);
      const person = page.getByLabel(/^Person\b/);
      const add = page.getByRole('button', { name: 'Add member' });
      const form = around(page, person, add);
      await form.getByLabel(/^Person\b/).selectOption({ label: member.username });
      await form.getByLabel(/^Role\b/).selectOption('member');
      await form.getByRole('button', { name: 'Add member' }).click();
      await expect(page.getByRole('row').filter({ hasText: member.username })).toBeVisible();
      await shot(page, '07-member-added');
    });

    await test.step('the member reloads and sees the project', async () => {
      if (new URL(memberPage.url()).pathname === '/') {
        await memberPage.reload();
      } else {
        await memberPage.goto('/');
      }
      await memberPage.waitForURL(new RegExp(`/p/${projectId}(?:[/?#]|$)`));
      await hydrated(memberPage);
      await expect(memberPage.getByTestId('project-switcher')).toContainText('Default');
      await expect(memberPage.getByTestId('user-name')).toContainText(member.username);
      await expect(memberPage.getByRole('heading', { name: 'No Project Access' })).toHaveCount(0);
      await shot(memberPage, '08-member-sees-project');

      const me = (await (await memberPage.request.get('/api/v1/me')).json()).data;
      expect(me.projects).toEqual([
        expect.objectContaining({ id: projectId, name: 'Default', role: 'member' }),
      ]);
    });

    await test.step('the member logs out and back in', async () => {
      await memberPage.getByRole('button', { name: 'Log out' }).click();
      await memberPage.waitForURL('**/login**');
      await hydrated(memberPage);
      expect((await memberPage.request.get('/api/v1/me')).status()).toBe(401);

      await memberPage.getByLabel(/^Email\b/).fill(member.email);
      await memberPage.getByLabel(/^Password\b/).fill(PASSWORD);
      await memberPage.getByRole('button', { name: 'Log in' }).click();
      await memberPage.waitForURL(new RegExp(`/p/${projectId}(?:[/?#]|$)`));
      await hydrated(memberPage);
      await expect(memberPage.getByTestId('project-switcher')).toContainText('Default');
    });
  } finally {
    await memberContext.close();
  }

  await test.step('the admin revokes the key and it stops working', async () => {
    await open(page, `/p/${projectId}/settings/api-keys`);
    const row = page.getByRole('row').filter({ hasText: keyName });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await expect(page.getByRole('row').filter({ hasText: keyName })).toHaveCount(0);
    await shot(page, '09-key-revoked');

    const revoked = await request.get('/api/v1/me', { headers: { 'X-API-Key': apiKey } });
    expect(revoked.status()).toBe(401);
    expect((await revoked.json()).error.code).toBe('INVALID_API_KEY');
  });

  expect(pageErrors, 'uncaught errors in the pages (a hydration panic shows here)').toEqual([]);
});

test('network policy: an admin limits the project to a few domains', async ({ page }) => {
  const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const errors: string[] = [];
  watchErrors(page, errors, 'admin');
  const signup = await page.request.post('/api/v1/auth/signup', {
    data: { email: `net-${stamp}@example.com`, username: `net-${stamp}`, password: PASSWORD },
  });
  expect(signup.status(), await signup.text()).toBeLessThan(300);
  const me = (await (await page.request.get('/api/v1/me')).json()).data;
  const projectId: string = me.projects[0].id;

  await open(page, `/p/${projectId}/settings/network`);
  await expect(page.getByRole('radio', { name: /^Internet/ })).toBeChecked();
  await page.getByRole('radio', { name: /^Only these domains/ }).check();
  const domains = page.getByRole('textbox', { name: 'Allowed domains' });

  // A URL is not a domain: the form says which entry is wrong, and nothing changes.
  await domains.fill('pypi.org\nhttps://example.com/');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText('`https://example.com/` is not a domain name', { exact: false })).toBeVisible();
  let settings = (await (await page.request.get(`/api/v1/projects/${projectId}/settings`)).json()).data;
  expect(settings.network.mode).toBe('internet');

  await domains.fill('pypi.org\n*.githubusercontent.com');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  settings = (await (await page.request.get(`/api/v1/projects/${projectId}/settings`)).json()).data;
  expect(settings.network).toEqual({ mode: 'allowList', allowedDomains: ['pypi.org', '*.githubusercontent.com'] });

  await open(page, `/p/${projectId}/settings/network`);
  await expect(page.getByRole('radio', { name: /^Only these domains/ })).toBeChecked();
  await expect(domains).toHaveValue('pypi.org\n*.githubusercontent.com');
  await shot(page, 'network-policy');
  expect(errors).toEqual([]);
});

test('MCP servers: add by form, paste a config, test the connection, and a chat calls its tool', async ({ page }) => {
  const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const errors: string[] = [];
  watchErrors(page, errors, 'admin');
  const signup = await page.request.post('/api/v1/auth/signup', {
    data: { email: `mcp-${stamp}@example.com`, username: `mcp-${stamp}`, password: PASSWORD },
  });
  expect(signup.status(), await signup.text()).toBeLessThan(300);
  const me = (await (await page.request.get('/api/v1/me')).json()).data;
  const projectId: string = me.projects[0].id;

  await open(page, `/p/${projectId}/settings/mcp`);
  await expect(page.getByText('No MCP servers yet', { exact: false })).toBeVisible();
  // As Claude Desktop writes it: a local server, run inside the task's sandbox.
  const config = {
    mcpServers: {
      everything: { command: 'mcp-server-everything', args: ['stdio'], includeTools: ['get-sum', 'echo'] },
    },
  };
  // One server by the form: a wrong URL is named under its field, then a local server.
  const form = page.getByTestId('mcp-add-form');
  await form.getByLabel('Name').fill('sums');
  await form.getByLabel('URL').fill('ftp://nowhere');
  await form.getByRole('button', { name: 'Add server' }).click();
  await expect(form.locator('#url-error')).toContainText('http:// or https://');
  await form.getByLabel('Type').selectOption('stdio');
  await expect(form.getByLabel('URL')).toBeHidden();
  await form.getByLabel('Command').fill('mcp-server-everything');
  await form.getByLabel('Arguments').fill('stdio');
  await form.getByLabel('Only these tools').fill('get-sum');
  await form.getByRole('button', { name: 'Add server' }).click();
  await expect(page.getByTestId('mcp-server-sums')).toContainText('mcp-server-everything stdio');

  await page.getByRole('button', { name: 'Paste JSON' }).click();
  const box = page.getByRole('textbox', { name: 'Add servers: paste JSON' });
  await box.fill('{"mcpServers": {"broken": {"type": "http", "url": "ftp://nowhere"}}}');
  await page.getByRole('button', { name: 'Add' }).click();
  await expect(page.getByText('http:// or https://', { exact: false })).toBeVisible();
  await box.fill(JSON.stringify(config));
  await page.getByRole('button', { name: 'Add' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Added 1.' })).toBeVisible();
  const card = page.getByTestId('mcp-server-everything');
  await expect(card).toContainText('mcp-server-everything stdio');

  await card.getByRole('button', { name: 'Test connection' }).click();
  const result = page.getByTestId('mcp-test-result');
  await expect(result).toContainText('get-sum', { timeout: 30_000 });
  await expect(result).toContainText('Returns the sum of two numbers');
  await expect(page.getByTestId('mcp-server-everything').getByTestId('mcp-status')).toHaveText('Connected · 2 tools');
  await shot(page, 'mcp-servers');

  const key = `mcp-${stamp}`;
  await script(key, [
    { calls: [{ name: 'mcp__everything__get-sum', args: { a: 2, b: 3 } }] },
    { text: 'The sum is 5.' },
  ]);
  await open(page, `/p/${projectId}`);
  const message = page.getByRole('textbox', { name: 'Message' });
  await message.fill(`Add two and three ${key}`);
  await message.press('Enter');
  await page.waitForURL(/\/p\/[^/]+\/c\/[^/]+$/);
  await expect(page.getByRole('article', { name: 'Sigmic' }).last()).toContainText('The sum is 5.', { timeout: 60_000 });
  await expect(
    page.getByRole('list', { name: 'Tool calls' }).locator('li.tool-call').filter({ hasText: 'mcp__everything__get-sum' }),
  ).toBeVisible();
  const taskId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
  const history = await (await page.request.get(`/api/v1/tasks/${taskId}/history`)).json();
  expect(JSON.stringify(history)).toContain('The sum of 2 and 3 is 5');
  expect(errors).toEqual([]);
});

test('tool policy: a rule asks above a threshold, the audit shows both calls, a member only reads', async ({ page, browser, baseURL }) => {
  const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const errors: string[] = [];
  watchErrors(page, errors, 'admin');
  const admin = `pol-${stamp}`;
  const signup = await page.request.post('/api/v1/auth/signup', {
    data: { email: `${admin}@example.com`, username: admin, password: PASSWORD },
  });
  expect(signup.status(), await signup.text()).toBeLessThan(300);
  const me = (await (await page.request.get('/api/v1/me')).json()).data;
  const projectId: string = me.projects[0].id;
  // A local MCP server whose tool takes numbers.
  const added = await page.request.post(`/api/v1/projects/${projectId}/mcp-servers`, {
    data: { name: 'everything', command: 'mcp-server-everything', args: ['stdio'], includeTools: ['get-sum'] },
  });
  expect(added.status(), await added.text()).toBe(200);

  await open(page, `/p/${projectId}/settings/policies`);
  const form = page.getByTestId('policy-form');
  await form.getByLabel('Tool or pattern').fill('mcp__everything__get-sum');
  await form.getByLabel('Decision').selectOption('ask');
  await form.getByLabel('Only when (CEL, optional)').fill('args.a >');
  await form.getByRole('button', { name: 'Add rule' }).click();
  await expect(form.locator('#condition-error')).toContainText('line 1, column');
  await form.getByLabel('Only when (CEL, optional)').fill('args.a > 100');
  await form.getByLabel('Note').fill('big sums need a person');
  await form.getByRole('button', { name: 'Add rule' }).click();
  const rules = page.getByTestId('policy-rules');
  await expect(rules).toContainText('args.a > 100');
  // Saved, the form is empty for the next rule.
  await expect(form.getByLabel('Tool or pattern')).toHaveValue('');
  await expect(form.getByLabel('Only when (CEL, optional)')).toHaveValue('');

  // "Try it" says what a call would meet.
  await page.getByLabel('Tool', { exact: true }).fill('mcp__everything__get-sum');
  await page.getByLabel('Arguments (JSON)').fill('{"a": 250, "b": 1}');
  await page.getByRole('button', { name: 'Check' }).click();
  await expect(page.getByTestId('policy-check')).toContainText('ask');
  await shot(page, 'policies');

  // 250 waits for approval; 50 runs.
  const big = `big-${stamp}`;
  await script(big, [
    { calls: [{ name: 'mcp__everything__get-sum', args: { a: 250, b: 1 } }] },
    { text: 'The big sum is 251.' },
  ]);
  await open(page, `/p/${projectId}`);
  const message = page.getByRole('textbox', { name: 'Message' });
  await message.fill(`Add a big one ${big}`);
  await message.press('Enter');
  await page.waitForURL(/\/p\/[^/]+\/c\/[^/]+$/);
  const approval = page.getByRole('group', { name: 'Approve mcp__everything__get-sum?' });
  await expect(approval).toBeVisible({ timeout: 60_000 });
  await expect(approval.getByRole('link', { name: 'Allow in this project…' })).toBeVisible();
  await approval.getByRole('button', { name: 'Approve once' }).click();
  await expect(page.getByRole('article', { name: 'Sigmic' }).last()).toContainText('The big sum is 251.', { timeout: 60_000 });

  const small = `small-${stamp}`;
  await script(small, [
    { calls: [{ name: 'mcp__everything__get-sum', args: { a: 50, b: 1 } }] },
    { text: 'The small sum is 51.' },
  ]);
  await open(page, `/p/${projectId}`);
  await page.getByRole('textbox', { name: 'Message' }).fill(`Add a small one ${small}`);
  await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  await page.waitForURL(/\/p\/[^/]+\/c\/[^/]+$/);
  await expect(page.getByRole('article', { name: 'Sigmic' }).last()).toContainText('The small sum is 51.', { timeout: 60_000 });

  await open(page, `/p/${projectId}/settings/audit`);
  const entries = page.getByTestId('audit-entries');
  await expect(entries.locator('tbody tr')).toHaveCount(2);
  await expect(entries.locator('tbody tr').filter({ hasText: '"a":250' })).toContainText(`approved ${admin} (user)`);
  await expect(entries.locator('tbody tr').filter({ hasText: '"a":50' })).toContainText('allow');
  await page.getByLabel('Decision').selectOption('ask');
  await expect(entries.locator('tbody tr')).toHaveCount(1);
  await shot(page, 'audit');

  // A project member sees the rules and cannot change them.
  const invitation = await page.request.post('/api/v1/organization/invitations', {
    data: { email: `member-${stamp}@example.com`, role: 'member' },
  });
  expect(invitation.status(), await invitation.text()).toBe(200);
  const invited = (await invitation.json()).data;
  const token = new URL(invited.link, baseURL).searchParams.get('invite');
  const memberContext = await browser.newContext({ baseURL });
  const memberPage = await memberContext.newPage();
  watchErrors(memberPage, errors, 'member');
  const joined = await memberPage.request.post('/api/v1/auth/signup', {
    data: { email: `member-${stamp}@example.com`, username: `member-${stamp}`, password: PASSWORD, invitationToken: token },
  });
  expect(joined.status(), await joined.text()).toBeLessThan(300);
  const memberId = (await (await memberPage.request.get('/api/v1/me')).json()).data.user.id;
  const granted = await page.request.post(`/api/v1/projects/${projectId}/members`, {
    data: { userId: memberId, role: 'member' },
  });
  expect(granted.status(), await granted.text()).toBe(200);
  await open(memberPage, `/p/${projectId}/settings/policies`);
  await expect(memberPage.getByTestId('policy-rules')).toContainText('args.a > 100');
  await expect(memberPage.getByTestId('policy-form')).toHaveCount(0);
  await expect(memberPage.getByText('Only project admins can change the rules.')).toBeVisible();
  await expect(memberPage.getByRole('button', { name: /Delete the rule/ })).toHaveCount(0);
  await memberContext.close();
  expect(errors).toEqual([]);
});

/** A ZIP of `files` (path → text; paths under `scripts/` executable), built by Python's zipfile. */
function zipOf(files: Record<string, string>): Buffer {
  const program = [
    'import io, json, sys, zipfile',
    'files = json.load(sys.stdin)',
    'out = io.BytesIO()',
    'with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:',
    '    for name, text in files.items():',
    '        info = zipfile.ZipInfo(name)',
    '        info.external_attr = (0o100755 if "/scripts/" in name else 0o100644) << 16',
    '        z.writestr(info, text)',
    'sys.stdout.buffer.write(out.getvalue())',
  ].join('\n');
  return execFileSync('python3', ['-c', program], { input: JSON.stringify(files) });
}

test('skills and subagents: upload a skill, turn on the coder, and a chat uses both', async ({ page }) => {
  const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const errors: string[] = [];
  watchErrors(page, errors, 'admin');
  const signup = await page.request.post('/api/v1/auth/signup', {
    data: { email: `skills-${stamp}@example.com`, username: `skills-${stamp}`, password: PASSWORD },
  });
  expect(signup.status(), await signup.text()).toBeLessThan(300);
  const projectId: string = (await (await page.request.get('/api/v1/me')).json()).data.projects[0].id;

  // A skill folder as a ZIP: SKILL.md and a script.
  await open(page, `/p/${projectId}/settings/skills`);
  const zip = zipOf({
    'csv-stats/SKILL.md':
      '---\nname: csv-stats\ndescription: Counts the rows of a CSV file.\n---\n\nRun scripts/count.py with the file.\n',
    'csv-stats/scripts/count.py':
      '#!/usr/bin/env python3\nimport csv, sys\nprint("rows:", len(list(csv.reader(open(sys.argv[1])))) - 1)\n',
  });
  // A broken archive first: refused, with the reason under the input.
  await page.getByLabel('Skill ZIP').setInputFiles({ name: 'broken.zip', mimeType: 'application/zip', buffer: Buffer.from('not a zip') });
  await page.getByRole('button', { name: 'Upload skill' }).click();
  await expect(page.getByText('not a readable zip archive')).toBeVisible();
  await page.getByLabel('Skill ZIP').setInputFiles({ name: 'csv-stats.zip', mimeType: 'application/zip', buffer: zip });
  await page.getByRole('button', { name: 'Upload skill' }).click();
  const skill = page.getByTestId('skill-csv-stats');
  await expect(skill).toBeVisible();
  await expect(skill.getByTestId('skill-version')).toContainText('version 1');
  await expect(skill).toContainText('scripts/count.py');
  await shot(page, 'skills');

  // The coder subagent, on; it stays on after a reload.
  await open(page, `/p/${projectId}/settings/subagents`);
  await page.getByLabel('Coder').check();
  await expect(page.getByLabel('Coder')).toBeChecked();
  await open(page, `/p/${projectId}/settings/subagents`);
  await expect(page.getByLabel('Coder')).toBeChecked();
  await expect(page.getByLabel('Researcher')).not.toBeChecked();

  // A chat: the agent delegates to the coder, which runs the skill's script.
  const main = `skillchat-${stamp}`;
  const sub = `skillsub-${stamp}`;
  await script(main, [
    { calls: [{ name: 'coder', args: { objective: `${sub}: count the rows of orders.csv with the csv-stats skill` } }] },
    { text: 'orders.csv has 3 rows, counted by the coder.' },
  ]);
  await script(sub, [
    {
      text: 'Counting with the skill.',
      calls: [
        {
          name: 'run_shell_command',
          args: { command: "printf 'id\\n1\\n2\\n3\\n' > orders.csv && /skills/csv-stats/scripts/count.py orders.csv" },
        },
      ],
    },
    { text: 'It has 3 rows.' },
  ]);
  await open(page, `/p/${projectId}`);
  const message = page.getByRole('textbox', { name: 'Message' });
  await message.fill(`How many orders? ${main}`);
  await message.press('Enter');
  await page.waitForURL(/\/p\/[^/]+\/c\/[^/]+$/);
  const answer = page.getByRole('article', { name: 'Sigmic' }).last();
  await expect(answer).toContainText('orders.csv has 3 rows, counted by the coder.', { timeout: 60_000 });
  // The subagent's steps fold away once it has ended: open them.
  await page.locator('details summary').filter({ has: page.getByText('Coder', { exact: true }) }).click();
  const progress = page.getByRole('list', { name: 'Coder progress' });
  await expect(progress).toContainText('run_shell_command');
  await expect(progress).toContainText('It has 3 rows.');
  const ran = (await requests(sub))[1];
  expect(JSON.stringify(ran.body)).toContain('rows: 3');
  await shot(page, 'subagent-chat');
  expect(errors).toEqual([]);
});
