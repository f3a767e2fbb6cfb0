import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { script } from './support/model';

// The Chat UI (issue 5), against a release server whose model provider is the scripted model
// server (the test kit's model server, tests/kit/src/model.rs, started by .ci/test). Each test scripts the model's turns for a
// key written in its first message, so tests never share answers.

const SCREENS = path.join(__dirname, 'test-results', 'screens');
const PASSWORD = 'correct horse battery staple';

async function hydrated(page: Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS, `chat-${name}.png`) });
}

function stamp(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 46656).toString(36)}`;
}

interface Person {
  username: string;
  projectId: string;
}

/** Signs a new person up through the API; the page's context keeps the session cookie. */
async function signUp(request: APIRequestContext, invite?: string): Promise<Person> {
  const s = stamp();
  const username = `chat-${s}`;
  const res = await request.post('/api/v1/auth/signup', {
    data: {
      email: `${username}@example.com`,
      username,
      name: `Chat ${s}`,
      password: PASSWORD,
      ...(invite ? { invitationToken: invite } : {}),
    },
  });
  expect(res.status(), await res.text()).toBeLessThan(300);
  const me = (await (await request.get('/api/v1/me')).json()).data;
  return { username, projectId: me.projects[0]?.id ?? '' };
}

/** Errors the page raised or logged (a panic in the WASM logs its message first). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text().split('\n').slice(0, 3).join(' | '));
  });
  return errors;
}

async function openChat(page: Page, projectId: string): Promise<void> {
  await page.goto(`/p/${projectId}`);
  await hydrated(page);
}

async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

const assistant = (page: Page) => page.getByRole('article', { name: 'Sigmic' });
const mine = (page: Page) => page.getByRole('article', { name: 'You' });
const toolRow = (page: Page, tool: string) =>
  page.getByRole('list', { name: 'Tool calls' }).locator('li.tool-call').filter({ hasText: tool });

test('a multi-step task: tools, thoughts, Markdown, and a downloadable artifact', async ({ page }) => {
  const errors = watchErrors(page);
  const me = await signUp(page.request);
  const key = `report-${stamp()}`;
  await script(key, [
    {
      thought: '**Planning the report**\nA CSV first, then a check.',
      chunks: ['I will write ', 'the report.'],
      calls: [{ name: 'write_file', args: { path: 'report.csv', content: 'name,score\nada,3\nmax,5\n' } }],
    },
    { calls: [{ name: 'run_shell_command', args: { command: 'wc -l report.csv' } }] },
    {
      chunks: [
        'Done. The report has **two** rows:\n\n',
        '| name | score |\n|---|---|\n| ada | 3 |\n| max | 5 |\n\n',
        '```python\nprint("scores")\n```\n\nSee [the docs](https://example.com/docs).',
      ],
      chunkDelayMs: 40,
    },
  ]);

  await openChat(page, me.projectId);
  await shot(page, '01-new-chat');
  await send(page, `Write a score report ${key}`);
  await page.waitForURL(/\/p\/[^/]+\/c\/[^/]+$/);

  await expect(assistant(page).last()).toContainText('See the docs', { timeout: 30_000 });
  await expect(page.getByTestId('run-status')).toHaveText('');
  await expect(mine(page)).toHaveCount(1);
  await expect(mine(page).first()).toContainText(`Write a score report ${key}`);

  // The thought is there, quietly; each call is one compact row that expands.
  await expect(page.getByText('Thought: Planning the report')).toBeVisible();
  const write = toolRow(page, 'write_file');
  await expect(write).toHaveAttribute('data-status', 'done');
  await expect(write).toContainText('report.csv');
  await expect(toolRow(page, 'run_shell_command')).toHaveAttribute('data-status', 'done');
  await toolRow(page, 'run_shell_command').locator('summary').click();
  await expect(toolRow(page, 'run_shell_command').locator('pre').last()).toContainText('3 report.csv');

  // Markdown: a table, highlighted code, a link that opens safely in a new tab.
  const answer = assistant(page).last();
  await expect(answer.locator('table td').first()).toHaveText('ada');
  await expect(answer.locator('pre code.hljs')).toHaveCount(1);
  const link = answer.getByRole('link', { name: 'the docs' });
  await expect(link).toHaveAttribute('href', 'https://example.com/docs');
  await expect(link).toHaveAttribute('target', '_blank');
  await expect(link).toHaveAttribute('rel', /noopener/);

  // The conversation is listed, titled from its first message.
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toContainText('Write a score report');
  await shot(page, '02-multi-step-done');

  // The workspace's files: listed, previewed as a table, downloaded.
  await page.getByRole('button', { name: 'Files', exact: true }).click();
  const files = page.getByRole('complementary', { name: 'Files' });
  await expect(files.getByTestId('artifact-list')).toContainText('report.csv');
  await files.getByRole('button', { name: 'Preview report.csv' }).click();
  await expect(files.getByTestId('artifact-preview').locator('td').first()).toHaveText('ada');
  await shot(page, '03-artifact-preview');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    files.getByRole('link', { name: 'Download report.csv' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('report.csv');
  const saved = await download.path();
  expect(fs.readFileSync(saved, 'utf8')).toBe('name,score\nada,3\nmax,5\n');

  // A follow-up continues the finished conversation.
  await script(key, [{ text: 'Still here.' }]);
  await send(page, 'Are you still there?');
  await expect(assistant(page).last()).toContainText('Still here.');
  await expect(mine(page)).toHaveCount(2);
  expect(errors).toEqual([]);
});

test('approvals: approve once, always allow, deny — inline, at once', async ({ page }) => {
  const errors = watchErrors(page);
  const me = await signUp(page.request);
  const key = `approve-${stamp()}`;
  await script(key, [
    { calls: [{ name: 'run_shell_command', args: { command: 'echo one > one.txt' } }] },
    { calls: [{ name: 'run_shell_command', args: { command: 'echo two > two.txt' } }] },
    { calls: [{ name: 'run_shell_command', args: { command: 'echo three > three.txt' } }] },
    { calls: [{ name: 'write_file', args: { path: 'denied.txt', content: 'no' } }] },
    { text: 'Finished with what I was allowed.' },
  ]);
  await openChat(page, me.projectId);
  await page.getByRole('checkbox', { name: 'Ask before each tool call' }).check();
  await send(page, `Make three files ${key}`);
  await page.waitForURL(/\/c\//);

  const approveOnce = page.getByRole('button', { name: 'Approve once' });
  await expect(approveOnce).toHaveCount(1);
  await expect(page.getByTestId('run-status')).toHaveText('Waiting for your approval.');
  await expect(toolRow(page, 'echo one')).toHaveAttribute('data-status', 'needs approval');
  await shot(page, '04-approval');
  await approveOnce.click();
  await expect(toolRow(page, 'echo one')).toHaveAttribute('data-status', 'done');

  // "Always allow" approves this tool for the rest of the task: the third call does not ask.
  await expect(toolRow(page, 'echo two')).toHaveAttribute('data-status', 'needs approval');
  await page.getByRole('button', { name: 'Always allow' }).click();
  await expect(toolRow(page, 'echo three')).toHaveAttribute('data-status', 'done');

  // Another tool asks again; denied, it never runs.
  await expect(toolRow(page, 'write_file')).toHaveAttribute('data-status', 'needs approval');
  await page.getByRole('button', { name: 'Deny' }).click();
  await expect(toolRow(page, 'write_file')).toHaveAttribute('data-status', 'cancelled');
  await expect(assistant(page).last()).toContainText('Finished with what I was allowed.');

  const taskId = page.url().split('/c/')[1];
  const listed = (await (await page.request.get(`/api/v1/tasks/${taskId}/artifacts`)).json()).data;
  const names = listed.map((a: { path: string }) => a.path);
  expect(names).toEqual(expect.arrayContaining(['one.txt', 'two.txt', 'three.txt']));
  expect(names).not.toContain('denied.txt');
  expect(errors).toEqual([]);
});

test('stop: Esc ends a running task and its command', async ({ page }) => {
  const me = await signUp(page.request);
  const key = `stop-${stamp()}`;
  await script(key, [{ calls: [{ name: 'run_shell_command', args: { command: 'sleep 60; echo late > late.txt' } }] }]);
  await openChat(page, me.projectId);
  await send(page, `Wait a minute ${key}`);
  await page.waitForURL(/\/c\//);
  await expect(toolRow(page, 'sleep 60')).toHaveAttribute('data-status', 'running');
  await expect(page.getByRole('button', { name: 'Stop', exact: true })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('run-ended')).toHaveText('Cancelled');
  await expect(toolRow(page, 'sleep 60')).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByRole('button', { name: 'Stop', exact: true })).toHaveCount(0);
  await shot(page, '05-stopped');
  const taskId = page.url().split('/c/')[1];
  const task = (await (await page.request.get(`/api/v1/tasks/${taskId}`)).json()).data;
  expect(task.status).toBe('cancelled');
});

test('reload mid-answer: the conversation comes back whole and continues, nothing twice', async ({ page }) => {
  const errors = watchErrors(page);
  const me = await signUp(page.request);
  const key = `reload-${stamp()}`;
  const words = Array.from({ length: 60 }, (_, i) => `w${i} `);
  await script(key, [
    { calls: [{ name: 'run_shell_command', args: { command: 'echo ready' } }] },
    { chunks: words, chunkDelayMs: 80 },
  ]);
  await openChat(page, me.projectId);
  await send(page, `Count slowly ${key}`);
  await page.waitForURL(/\/c\//);
  await expect(assistant(page).last()).toContainText('w10 ', { timeout: 30_000 });
  await expect(assistant(page).last()).not.toContainText('w59');

  await page.reload();
  await hydrated(page);
  await shot(page, '06-after-reload');
  const whole = words.join('').trim();
  await expect(assistant(page).last().locator('.markdown')).toHaveText(whole, { timeout: 30_000 });
  await expect(page.getByTestId('run-status')).toHaveText('');
  // One question, one call, one answer: nothing lost, nothing twice.
  await expect(mine(page)).toHaveCount(1);
  await expect(page.locator('li.tool-call')).toHaveCount(1);
  await expect(assistant(page)).toHaveCount(2);
  const text = await assistant(page).last().locator('.markdown').innerText();
  for (const w of words) expect(text.match(new RegExp(`\\b${w.trim()}\\b`, 'g'))?.length, w).toBe(1);
  expect(errors).toEqual([]);
});

test('network loss mid-answer: the page reconnects after the last event it showed', async ({ page }) => {
  const errors = watchErrors(page);
  const me = await signUp(page.request);
  const key = `offline-${stamp()}`;
  const words = Array.from({ length: 50 }, (_, i) => `n${i} `);
  await script(key, [{ chunks: words, chunkDelayMs: 80 }]);
  const streams: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/stream')) streams.push(r.url());
  });
  await openChat(page, me.projectId);
  await send(page, `Count offline ${key}`);
  await page.waitForURL(/\/c\//);
  await expect(assistant(page).last()).toContainText('n8 ', { timeout: 30_000 });
  // Pull the cable: the kernel aborts the browser's connections to the server (an offline
  // emulation would leave an open stream alone).
  const server = new URL(process.env.SIGMIC_E2E_URL ?? 'http://127.0.0.1:3000');
  execFileSync('ss', ['-K', 'dst', server.hostname, 'dport', '=', server.port || '80'], { stdio: 'ignore' });
  const whole = words.join('').trim();
  await expect(assistant(page).last().locator('.markdown')).toHaveText(whole, { timeout: 30_000 });
  // The second connection resumed after a sequence number instead of replaying everything.
  expect(streams.length).toBeGreaterThanOrEqual(2);
  expect(streams.slice(1).every((u) => /[?&]after=\d+/.test(u))).toBe(true);
  const text = await assistant(page).last().locator('.markdown').innerText();
  for (const w of words) expect(text.match(new RegExp(`\\b${w.trim()}\\b`, 'g'))?.length, w).toBe(1);
  await expect(mine(page)).toHaveCount(1);
  // The browser logs the aborted stream itself; nothing else went wrong.
  expect(errors.filter((e) => !e.includes('ERR_CONNECTION_ABORTED'))).toEqual([]);
});

test('accessible: every control has a name, by axe, on the main chat states', async ({ page }) => {
  const me = await signUp(page.request);
  const key = `a11y-${stamp()}`;
  await script(key, [
    { thought: 'Plan.', text: 'Let me write it.', calls: [{ name: 'write_file', args: { path: 'a.md', content: '# Title\n\nText.' } }] },
    { text: 'Done.' },
  ]);
  const check = async (what: string) => {
    const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
    const found = result.violations.map((v) => `${what}: ${v.id} (${v.nodes.length}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
    expect(found).toEqual([]);
  };
  await openChat(page, me.projectId);
  await check('new chat');
  await page.getByRole('checkbox', { name: 'Ask before each tool call' }).check();
  // Shift+Enter is a new line, not a send.
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill('Write a file');
  await box.press('Shift+Enter');
  await box.pressSequentially(key);
  await expect(page).toHaveURL(new RegExp(`/p/${me.projectId}$`));
  expect(await box.inputValue()).toBe(`Write a file\n${key}`);
  await box.press('Enter');
  await page.waitForURL(/\/c\//);
  await expect(page.getByRole('button', { name: 'Approve once' })).toBeVisible();
  await check('approval');
  await page.getByRole('button', { name: 'Approve once' }).click();
  await expect(assistant(page).last()).toContainText('Done.');
  await page.getByRole('button', { name: 'Files', exact: true }).click();
  await page.getByRole('button', { name: 'Preview a.md' }).click();
  await expect(page.getByTestId('artifact-preview').getByRole('heading', { name: 'Title' })).toBeVisible();
  await check('files and preview');
});

test('files: a ZIP by the picker is extracted, a file by drag and drop is attached', async ({ page }) => {
  const me = await signUp(page.request);
  const key = `zip-${stamp()}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigmic-zip-'));
  const zip = path.join(dir, 'bundle.zip');
  execFileSync('python3', [
    '-c',
    'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z:\n    z.writestr("data/a.txt", "alpha\\n")\n    z.writestr("b.csv", "x,y\\n1,2\\n")',
    zip,
  ]);
  await script(key, [
    { calls: [{ name: 'run_shell_command', args: { command: 'find uploads -type f | sort' } }] },
    { text: 'I see your files.' },
  ]);
  await openChat(page, me.projectId);
  await page.locator('#composer-files').setInputFiles(zip);
  // A second file, dropped on the conversation.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped\n'], 'notes.txt', { type: 'text/plain' }));
    const section = document.querySelector('section[aria-label="New conversation"]');
    section?.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    section?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  const chips = page.getByRole('list', { name: 'Files to send' });
  await expect(chips).toContainText('bundle.zip');
  await expect(chips).toContainText('notes.txt');
  await shot(page, '07-files-attached');
  await send(page, `Look at these ${key}`);
  await page.waitForURL(/\/c\//);
  await expect(assistant(page).last()).toContainText('I see your files.');
  const row = toolRow(page, 'run_shell_command');
  await row.locator('summary').click();
  const output = row.locator('pre').last();
  await expect(output).toContainText('uploads/data/a.txt');
  await expect(output).toContainText('uploads/b.csv');
  await expect(output).toContainText('uploads/notes.txt');
  // The message lists what arrived in the workspace: the ZIP's files, and the dropped one.
  const attached = mine(page).first().getByRole('list', { name: 'Attached files' });
  await expect(attached).toContainText('a.txt');
  await expect(attached).toContainText('notes.txt');
});

test('an org member without a project sees "No Project Access" and nothing else', async ({ page, browser }) => {
  await signUp(page.request);
  const email = `noproj-${stamp()}@example.com`;
  const inv = await page.request.post('/api/v1/organization/invitations', { data: { email, role: 'member' } });
  expect(inv.status(), await inv.text()).toBeLessThan(300);
  const token = new URL((await inv.json()).data.link, 'http://x').searchParams.get('invite') ?? '';

  const context = await browser.newContext();
  const member = await context.newPage();
  const res = await member.request.post('/api/v1/auth/signup', {
    data: { email, username: `noproj-${stamp()}`, password: PASSWORD, invitationToken: token },
  });
  expect(res.status(), await res.text()).toBeLessThan(300);
  await member.goto('/');
  await hydrated(member);
  await expect(member.getByRole('heading', { name: 'No Project Access' })).toBeVisible();
  await expect(member.getByRole('textbox', { name: 'Message' })).toHaveCount(0);
  await expect(member.getByRole('navigation', { name: 'Conversations' })).toHaveCount(0);
  await shot(member, '08-no-project-access');
  await context.close();
});

test('a model cannot inject script: raw HTML and javascript: links arrive as text', async ({ page }) => {
  const errors = watchErrors(page);
  const me = await signUp(page.request);
  const key = `xss-${stamp()}`;
  await script(key, [
    {
      calls: [{ name: 'run_shell_command', args: { command: `printf '<img src=x onerror="window.__pwned=4">'` } }],
    },
    {
      text:
        'Here: <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned=2"> ' +
        'and [click me](javascript:window.__pwned=3) and ![pic](https://203.0.113.9/leak.png)\n\n' +
        '<iframe src="javascript:window.top.__pwned=5"></iframe>',
    },
  ]);
  await openChat(page, me.projectId);
  await send(page, `Say something odd ${key}`);
  await page.waitForURL(/\/c\//);
  const answer = assistant(page).last();
  await expect(answer).toContainText('<script>window.__pwned = 1</script>');
  await expect(answer).toContainText('<img src=x onerror="window.__pwned=2">');
  await expect(answer.locator('script, img, iframe')).toHaveCount(0);
  await expect(answer.getByRole('link', { name: 'click me' })).toHaveCount(0);
  await expect(answer).toContainText('click me');
  // The image is a link to follow, not a request made by showing the answer.
  await expect(answer.getByRole('link', { name: /Image: pic/ })).toHaveAttribute('href', 'https://203.0.113.9/leak.png');
  const row = toolRow(page, 'run_shell_command');
  await row.locator('summary').click();
  await expect(row.locator('pre').last()).toContainText('<img src=x onerror=');
  await expect(page.locator('[data-testid="messages"] img')).toHaveCount(0);
  await page.waitForTimeout(300);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await shot(page, '09-injection-as-text');
  expect(errors).toEqual([]);
});

test('conversations: search, rename, delete, and the phone-sized layout', async ({ page }) => {
  const me = await signUp(page.request);
  const a = `alpha-${stamp()}`;
  const b = `beta-${stamp()}`;
  await script(a, [{ text: 'A.' }]);
  await script(b, [{ text: 'B.' }]);
  for (const key of [a, b]) {
    await openChat(page, me.projectId);
    await send(page, `Topic ${key}`);
    await page.waitForURL(/\/c\//);
    await expect(assistant(page).last()).toContainText(key === a ? 'A.' : 'B.');
  }
  const list = page.getByRole('navigation', { name: 'Conversations' });
  // Newest first.
  await expect(list.getByRole('link').first()).toContainText(b);

  await page.getByRole('searchbox', { name: 'Search conversations' }).fill(a.toUpperCase());
  await expect(list.getByRole('link')).toHaveCount(1);
  await expect(list.getByRole('link').first()).toContainText(a);
  await page.getByRole('searchbox', { name: 'Search conversations' }).fill('');
  await expect(list.getByRole('link')).toHaveCount(2);

  await list.getByRole('button', { name: `Rename Topic ${b}` }).click();
  const title = list.getByRole('textbox', { name: 'Conversation title' });
  await title.fill('Renamed chat');
  await title.press('Enter');
  await expect(list.getByRole('link').first()).toContainText('Renamed chat');
  await expect(page.getByTestId('conversation-title')).toHaveText('Renamed chat');

  await list.getByRole('button', { name: 'Delete Renamed chat' }).click();
  await list.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(list.getByRole('link')).toHaveCount(1);
  await expect(page).toHaveURL(new RegExp(`/p/${me.projectId}$`));

  // A phone: the list is a drawer behind a button; the conversation fills the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await list.getByRole('link').first().click().catch(() => undefined);
  await page.goto(`/p/${me.projectId}`);
  await hydrated(page);
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeHidden();
  await page.getByRole('button', { name: 'Conversations', exact: true }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
  await shot(page, '10-phone-drawer');
  await page.getByRole('button', { name: 'Close conversations' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeHidden();
  await page.getByRole('button', { name: 'Conversations', exact: true }).click();
  await page.getByRole('navigation', { name: 'Conversations' }).getByRole('link').first().click();
  await expect(assistant(page).last()).toContainText('A.');
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeHidden();
  await shot(page, '11-phone-conversation');
});

test.describe('dark theme', () => {
  test.use({ colorScheme: 'dark' });
  test('a conversation in the dark theme', async ({ page }) => {
    const me = await signUp(page.request);
    const key = `dark-${stamp()}`;
    await script(key, [
      { thought: 'Short plan.', calls: [{ name: 'run_shell_command', args: { command: 'uname -s' } }] },
      { text: 'It is **Linux**.\n\n```bash\nuname -s\n```' },
    ]);
    await openChat(page, me.projectId);
    await send(page, `Which OS ${key}`);
    await page.waitForURL(/\/c\//);
    await expect(assistant(page).last()).toContainText('It is Linux.');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).not.toBe('rgb(255, 255, 255)');
    await shot(page, '12-dark');
  });
});
