import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import AxeBuilder from '@axe-core/playwright';
import { test, expect, type APIRequestContext, type Browser, type Page } from '@playwright/test';
import { script } from './support/model';

// The embeddable widget (issue 14), as a customer embeds it: a shop served from a second
// origin (its own port), whose backend exchanges the widget app's secret for a visitor's
// token, and whose page carries the two script tags. The widget app is made in the Console's
// Widget tab. The scripted model server answers (end2end/support/model.ts).

const SCREENS = path.join(__dirname, 'test-results', 'screens');
const PASSWORD = 'correct horse battery staple';
const HOSTILE_CSS = '* { all: unset !important; } div { display: none !important; }';

function stamp(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 46656).toString(36)}`;
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS, `widget-${name}.png`) });
}

async function signUp(request: APIRequestContext): Promise<string> {
  const s = stamp();
  const res = await request.post('/api/v1/auth/signup', {
    data: { email: `shop-${s}@example.com`, username: `shop-${s}`, name: `Shop ${s}`, password: PASSWORD },
  });
  expect(res.status(), await res.text()).toBeLessThan(300);
  const me = (await (await request.get('/api/v1/me')).json()).data;
  return me.projects[0].id;
}

/** The customer's site: its page with the two tags, and its backend's token route. */
class Shop {
  server: http.Server;
  port = 0;
  appId = '';
  appSecret = '';
  tokenCalls = 0;

  constructor(private sigmic: string) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.port = (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((done) => this.server.close(() => done()));
  }

  /** `http://127.0.0.1:port`, or the same server under another origin (`localhost`). */
  origin(host = '127.0.0.1'): string {
    return `http://${host}:${this.port}`;
  }

  /** What the shop's backend does: the token exchange, with the app's secret. */
  async token(endUserId: string, expiresIn: string): Promise<string> {
    const res = await fetch(`${this.sigmic}/api/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ appId: this.appId, appSecret: this.appSecret, endUserId, expiresIn }),
    });
    const body = await res.json();
    if (!body.success) throw new Error(`token exchange: ${JSON.stringify(body)}`);
    return body.data.token;
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://shop');
    const user = url.searchParams.get('user') ?? 'visitor-1';
    if (url.pathname === '/token') {
      this.tokenCalls += 1;
      const token = await this.token(user, '1h');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token }));
      return;
    }
    const token = await this.token(user, url.searchParams.get('ttl') ?? '1h');
    const settings = `{token: ${JSON.stringify(token)}, apiUrl: ${JSON.stringify(this.sigmic)},
      preload: ${url.searchParams.get('preload') !== 'false'},
      getToken: () => fetch('/token?user=${encodeURIComponent(user)}').then((r) => r.json()).then((d) => d.token)}`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<style>${url.searchParams.get('hostile') ? HOSTILE_CSS : 'body { font: 16px serif; }'}</style></head>
<body><main><h1>The shop</h1><div><p>Products.</p></div></main>
<script>window.sigmicSettings = ${settings}</script>
<script src="${this.sigmic}/widget.js" async></script>
</body></html>`);
  }
}

const launcher = (page: Page) => page.getByRole('button', { name: 'Open chat' });
const panel = (page: Page) => page.getByRole('dialog');
const host = (page: Page) => page.locator('sigmic-widget');

async function openWidget(page: Page): Promise<void> {
  await launcher(page).click();
  await expect(host(page)).toHaveAttribute('data-state', 'ready', { timeout: 30_000 });
  await expect(panel(page)).toBeVisible();
}

async function send(page: Page, text: string): Promise<void> {
  const box = panel(page).getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await panel(page).getByRole('button', { name: 'Send message' }).click();
}

async function visitor(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true, viewport });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`visitor page error: ${err.message}`));
  return page;
}

test('the widget on another origin: chat, a tool call, an upload, a download, a reload, refused origins, hostile CSS', async ({
  page,
  browser,
  baseURL,
}) => {
  const sigmic = (baseURL ?? '').replace(/\/+$/, '');
  const shop = new Shop(sigmic);
  await shop.start();
  try {
    // The Console's Widget tab makes the app and shows its secret once, with the tags.
    const projectId = await signUp(page.request);
    await page.goto(`/p/${projectId}/settings/widget`);
    await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
    const form = page.getByTestId('widget-create-form');
    await form.getByLabel('Name').fill('Shop assistant');
    await form.getByLabel('Allowed origins').fill(shop.origin());
    await form.getByLabel('Title').fill('Shop helper');
    await form.getByLabel('Greeting').fill('Hello from the shop!');
    await form.getByRole('button', { name: 'Create widget app' }).click();
    const secretBox = page.getByTestId('app-secret');
    await expect(secretBox).toBeVisible();
    shop.appSecret = ((await page.getByTestId('app-secret-value').textContent()) ?? '').trim();
    shop.appId = ((await page.getByTestId('app-secret-app-id').textContent()) ?? '').trim();
    expect(shop.appSecret).toMatch(/^was_[0-9a-f]{64}$/);
    await expect(page.getByTestId('widget-script-tags').first()).toContainText('/widget.js');
    await shot(page, '01-console');

    // The live preview loads the real widget on the Console page itself.
    await page.getByTestId('widget-app').getByRole('button', { name: 'Live preview' }).click();
    await openWidget(page);
    await expect(panel(page)).toContainText('Hello from the shop!');
    await page.getByRole('button', { name: 'Close chat' }).click();
    await expect(panel(page)).toBeHidden();

    // A visitor on the shop, with a token that has run out by the time they open the widget:
    // it asks the shop's backend for a fresh one through getToken, unnoticed.
    const key = `widget-${stamp()}`;
    await script(key, [
      { text: 'Let me write that.', calls: [{ name: 'write_file', args: { path: 'summary.txt', content: 'order 42: shipped\n' } }] },
      { calls: [{ name: 'run_shell_command', args: { command: 'wc -l uploads/order.csv' } }] },
      { chunks: ['Your order **42** ', 'has shipped.'], chunkDelayMs: 30 },
    ]);
    const v = await visitor(browser);
    await v.goto(`${shop.origin()}/?ttl=1s&preload=false`);
    await expect(launcher(v)).toBeVisible();
    await v.waitForTimeout(7_000);
    await openWidget(v);
    const timings = await v.evaluate(() => (window as any).Sigmic.timings);
    console.log(`widget: first click to interactive, cold cache: ${Math.round(timings.readyAt - timings.clickedAt)} ms`);
    expect(shop.tokenCalls).toBeGreaterThanOrEqual(1);
    await expect(panel(v)).toContainText('Hello from the shop!');
    await expect(panel(v)).not.toContainText('session has ended');

    // Chat with a file attached and tool calls; the answer streams as Markdown.
    await panel(v).getByLabel('Choose files to attach').setInputFiles({
      name: 'order.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('id,status\n42,shipped\n'),
    });
    await send(v, `${key}: where is my order?`);
    const answer = panel(v).getByRole('article', { name: 'Assistant' }).last();
    await expect(answer).toContainText('has shipped.', { timeout: 30_000 });
    await expect(answer.locator('strong')).toHaveText('42');
    await expect(panel(v).getByRole('list', { name: 'Tool calls' }).first()).toContainText('write_file');
    await shot(v, '02-answer');

    // The task's file downloads.
    await panel(v).getByRole('button', { name: 'Show files' }).click();
    const [download] = await Promise.all([
      v.waitForEvent('download'),
      panel(v).getByRole('button', { name: 'Download summary.txt' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('summary.txt');
    expect(fs.readFileSync(await download.path(), 'utf8')).toBe('order 42: shipped\n');

    // Accessible inside its Shadow DOM.
    await panel(v).getByRole('button', { name: 'Back to the conversation' }).click();
    const axe = await new AxeBuilder({ page: v })
      .include('sigmic-widget')
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
      .analyze();
    expect(axe.violations.map((x) => `${x.id}: ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);

    // Esc closes it and gives focus back to the launcher.
    await panel(v).getByRole('textbox', { name: 'Message' }).focus();
    await v.keyboard.press('Escape');
    await expect(panel(v)).toBeHidden();
    await expect(launcher(v)).toBeFocused();

    // After a reload the conversation is there.
    await v.reload();
    await openWidget(v);
    await expect(panel(v).getByRole('article', { name: 'Assistant' }).last()).toContainText('has shipped.');
    await expect(panel(v).getByRole('article', { name: 'You' }).first()).toContainText('where is my order?');
    await shot(v, '03-reloaded');

    // The page drives it through window.Sigmic.
    const key2 = `widget-api-${stamp()}`;
    await script(key2, [{ text: 'Hi from the API.' }]);
    const done = v.evaluate(
      () => new Promise<string>((resolve) => (window as any).Sigmic.on('done', (d: any) => resolve(d.finalResponse))),
    );
    await v.getByRole('button', { name: 'New conversation' }).click();
    await v.evaluate((text) => (window as any).Sigmic.send(text), `${key2}: hello`);
    expect(await done).toBe('Hi from the API.');
    await v.context().close();

    // The same page under an origin the app does not list: the widget says it cannot work.
    const other = await visitor(browser);
    await other.goto(`${shop.origin('localhost')}/?user=visitor-2`);
    await launcher(other).click();
    await expect(other.getByTestId('widget-blocked')).toBeVisible({ timeout: 30_000 });
    await expect(other.getByTestId('widget-blocked')).toContainText(`is ${shop.origin('localhost')} among the widget app's allowed origins`);
    await shot(other, '04-refused-origin');
    await other.context().close();

    // A page whose CSS unsets everything and hides every div leaves the widget intact; on a
    // phone it opens full screen.
    const hostile = await visitor(browser, { width: 390, height: 760 });
    await hostile.goto(`${shop.origin()}/?hostile=1&user=visitor-3`);
    await expect(launcher(hostile)).toBeVisible();
    await openWidget(hostile);
    const box = await panel(hostile).boundingBox();
    expect(box && box.width >= 389 && box.height >= 759, JSON.stringify(box)).toBeTruthy();
    await expect(panel(hostile).getByRole('textbox', { name: 'Message' })).toBeVisible();
    await expect(panel(hostile)).toContainText('Hello from the shop!');
    await shot(hostile, '05-hostile-css');
    await hostile.context().close();
  } finally {
    await shop.stop();
  }
});
