import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { test, expect, type Page } from '@playwright/test';
import { modelUrl, requests, script } from './support/model';

// A first run (issue 15), from an empty server whose environment names no model provider:
// sign up, see why the agent cannot answer yet, connect an OpenAI-compatible provider (the
// scripted model server) in the Console, test it, pick its model in the project's settings,
// and chat. The server .ci/test starts has a provider in its environment, so this spec starts
// its own: the release binary and site that .ci/test names in SIGMIC_E2E_BIN and
// SIGMIC_E2E_SITE, on a free port with a fresh data dir.

const SCREENS = path.join(__dirname, 'test-results', 'screens');
const PASSWORD = 'correct horse battery staple';
const CONNECTION = 'e2e-local';

let server: ChildProcess | undefined;
let dataDir = '';
let base = '';
let log: string[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** This process's environment without anything that would give the server a model or that it
 * would refuse (it rejects SIGMIC_* settings it does not know, the tests' own among them). */
function bareEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(SIGMIC_|OPENAI_|ANTHROPIC_|GEMINI_|GOOGLE_)/.test(name) || name === 'DATABASE_URL') continue;
    env[name] = value;
  }
  return env;
}

test.beforeAll(async () => {
  const bin = process.env.SIGMIC_E2E_BIN;
  const site = process.env.SIGMIC_E2E_SITE;
  if (!bin || !site) {
    throw new Error('SIGMIC_E2E_BIN and SIGMIC_E2E_SITE are not set: .ci/test names the release binary and its site');
  }
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigmic-first-run-'));
  // The sandbox user must pass through to the data dir inside (mkdtemp makes it 0700).
  fs.chmodSync(dataDir, 0o711);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  log = [];
  server = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', path.join(dataDir, 'data')], {
    cwd: dataDir,
    env: {
      ...bareEnv(),
      SIGMIC_SITE_ROOT: site,
      SIGMIC_AUTH__SIGNUPS_PER_ADDRESS_PER_HOUR: '0',
      // The scripted model server listens on loopback, which organization connections may
      // not reach unless the operator allows it.
      SIGMIC_LLM__ALLOW_PRIVATE_ADDRESSES: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    log.push(chunk.toString());
    if (log.length > 400) log.shift();
  };
  server.stdout?.on('data', keep);
  server.stderr?.on('data', keep);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) {
      throw new Error(`the server exited (${server.exitCode}):\n${log.join('').slice(-4000)}`);
    }
    try {
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the server did not become ready:\n${log.join('').slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server?.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('server.log', { body: log.join('').slice(-20_000), contentType: 'text/plain' });
  }
});

async function open(page: Page, url: string): Promise<void> {
  await page.goto(`${base}${url}`);
  await hydrated(page);
}

async function hydrated(page: Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS, `first-run-${name}.png`), fullPage: true });
}

async function accessible(page: Page, what: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = result.violations.map(
    (v) => `${what}: ${v.id} (${v.nodes.length}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`,
  );
  expect(found).toEqual([]);
}

/** Errors the page raised or logged, and the requests the server failed. A Console form the
 * server refuses answers 500 (a server function's error), which the browser logs too: those are
 * kept apart, by address, for the test to say which it expects. */
function watchErrors(page: Page): { errors: string[]; failed: string[] } {
  const errors: string[] = [];
  const failed: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && !text.includes('the server responded with a status of 500')) {
      errors.push(text.split('\n').slice(0, 3).join(' | '));
    }
  });
  page.on('response', (res) => {
    if (res.status() >= 500) failed.push(new URL(res.url()).pathname);
  });
  return { errors, failed };
}

test('from an empty server: sign up, see the no-model banner, connect a provider, test it, pick its model, and chat', async ({ page }) => {
  const { errors, failed } = watchErrors(page);
  const stamp = Date.now().toString(36);
  const apiKey = `sk-first-run-${stamp}`;
  let projectId = '';

  await test.step('sign up: the new chat says why the agent cannot answer, before anyone types', async () => {
    await open(page, '/signup');
    await page.getByLabel(/^Email\b/).fill(`first-${stamp}@example.com`);
    await page.getByLabel(/^Username\b/).fill(`first-${stamp}`);
    await page.getByLabel(/^Name\b/).fill('First Run');
    await page.getByLabel(/^Password\b/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/\/p\/[^/?#]+$/);
    await hydrated(page);
    projectId = new URL(page.url()).pathname.split('/')[2];

    const banner = page.getByTestId('model-banner');
    await expect(banner).toBeVisible();
    await expect(banner).toHaveAttribute('role', 'status');
    await expect(banner).toContainText('The agent cannot answer yet.');
    // The signer-up is the organization's admin: the fix is a link away.
    await expect(banner.getByRole('link', { name: 'Connect a model provider' })).toHaveAttribute('href', '/org/models');
    await expect(page.getByRole('textbox', { name: 'Message' })).toBeVisible();
    // No provider lists models, so there is nothing to pick.
    await expect(page.getByRole('combobox', { name: 'Model' })).toHaveCount(0);
    await shot(page, '01-banner');
    await accessible(page, 'new chat with the banner');
  });

  await test.step('connect an OpenAI-compatible provider pointed at the scripted model server', async () => {
    await page.getByTestId('model-banner').getByRole('link', { name: 'Connect a model provider' }).click();
    await page.waitForURL(`${base}/org/models`);
    await hydrated(page);
    await expect(page.getByRole('heading', { name: 'Model providers', level: 1 })).toBeVisible();
    await expect(page.getByTestId('no-providers')).toBeVisible();

    const kind = page.getByLabel('Kind');
    await kind.selectOption({ label: 'OpenAI-compatible' });
    await expect(page.locator('#provider-kind-help')).toContainText('Ollama (http://host:11434/v1)');

    // A name projects cannot write is refused under its field, and nothing is stored.
    await page.getByLabel('Name', { exact: true }).fill('Not A Name!');
    await page.getByLabel('Base URL (optional)').fill(`${modelUrl()}/v1`);
    await page.getByLabel('API key').fill(apiKey);
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await expect(page.locator('#name-error')).toContainText('starting with a letter');
    await expect(page.getByTestId('no-providers')).toBeVisible();

    await page.getByLabel('Name', { exact: true }).fill(CONNECTION);
    await page.getByLabel('API key').fill(apiKey);
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    const card = page.getByTestId(`provider-${CONNECTION}`);
    await expect(card).toBeVisible();
    await expect(card).toContainText('OpenAI-compatible');
    await expect(card).toContainText(`${modelUrl()}/v1`);
    await expect(card.getByTestId('provider-status')).toHaveText('Untested');
    // The form is empty again, and the key is shown nowhere.
    await expect(page.getByLabel('API key')).toHaveValue('');
    expect(await page.content()).not.toContain(apiKey);
    await shot(page, '02-connected');
  });

  await test.step('test it: it works and lists its models', async () => {
    const card = page.getByTestId(`provider-${CONNECTION}`);
    await card.getByRole('button', { name: `Test ${CONNECTION}` }).click();
    const outcome = page.getByTestId('provider-test-result');
    await expect(outcome).toContainText('It works');
    await expect(outcome).toContainText('gpt-4o-mini');
    await expect(page.getByTestId(`provider-${CONNECTION}`).getByTestId('provider-status')).toHaveText('Working');
    // Editing never shows the key back.
    await page.getByTestId(`provider-${CONNECTION}`).getByRole('button', { name: `Edit ${CONNECTION}` }).click();
    await expect(page.getByLabel('Replace the API key')).toHaveValue('');
    await expect(page.getByText('Stored encrypted; leave empty to keep it.')).toBeVisible();
    await shot(page, '03-tested');
    await accessible(page, 'model providers');
    expect(await page.content()).not.toContain(apiKey);
  });

  await test.step("pick its model in the project's settings", async () => {
    await open(page, `/p/${projectId}/settings/model`);
    // Until a project picks one, it runs with the organization's first working connection.
    await expect(page.getByTestId('current-model')).toContainText(`${CONNECTION}/`);
    await expect(page.getByTestId('model-problem')).toHaveCount(0);
    const picker = page.getByRole('combobox', { name: 'Model', exact: true });
    await picker.selectOption(`${CONNECTION}/gpt-4o-mini`);
    await page.getByLabel('Let people pick the model for a new conversation').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByText('Saved.')).toBeVisible();
    await expect(page.getByTestId('current-model')).toHaveText(`${CONNECTION}/gpt-4o-mini`);
    await expect(page.getByTestId('model-usable')).toBeVisible();
    await expect(page.getByTestId('model-problem')).toHaveCount(0);
    await expect(page.getByRole('combobox', { name: 'Model', exact: true })).toHaveValue(`${CONNECTION}/gpt-4o-mini`);
    await shot(page, '04-model-picked');
    await accessible(page, 'model tab');
  });

  await test.step('chat: no banner, the menu offers the model, and the model answers', async () => {
    const key = `first-run-${stamp}`;
    await script(key, [{ chunks: ['The capital of France ', 'is **Paris**.'], chunkDelayMs: 20 }]);
    await open(page, `/p/${projectId}`);
    await expect(page.getByTestId('model-banner')).toHaveCount(0);
    const menu = page.getByRole('combobox', { name: 'Model' });
    await expect(menu).toBeVisible();
    await menu.selectOption(`${CONNECTION}/gpt-4o-mini`);
    await shot(page, '05-chat-ready');

    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill(`What is the capital of France? ${key}`);
    await box.press('Enter');
    await page.waitForURL(/\/c\/[^/]+$/);
    await expect(page.getByRole('article', { name: 'Sigmic' }).last()).toContainText('The capital of France is Paris.', {
      timeout: 30_000,
    });
    await expect(page.getByTestId('run-ended')).toHaveCount(0);
    const sent = await requests(key);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent[0].provider).toBe('openai');
    expect(sent[0].model).toBe('gpt-4o-mini');
    await shot(page, '06-answered');
  });

  expect(errors).toEqual([]);
  // The one refused form: the name projects cannot write.
  expect(failed).toEqual([expect.stringContaining('connect_model_provider')]);
});
