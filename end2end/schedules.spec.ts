import fs from 'node:fs';
import path from 'node:path';
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { requests, script } from './support/model';

// Scheduled tasks from the Console's Schedules tab: a weekly schedule made with the preset,
// its live preview (in words, and the next five times in its zone), "Run now", the run in the
// schedule's runs and its conversation in the Chat UI, answered by the scripted model
// (end2end/support/model.ts). Then a project secret, whose value the page never shows back.

const SCREENS = path.join(__dirname, 'test-results', 'screens');
const PASSWORD = 'correct horse battery staple';

function stamp(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 46656).toString(36)}`;
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS, `schedules-${name}.png`), fullPage: true });
}

/** The hydrate bundle sets `data-hydrated="true"` on <body> once the page is interactive. */
async function hydrated(page: Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
}

/** A new person with their own organization; answers the default project's id. */
async function signUp(request: APIRequestContext): Promise<string> {
  const s = stamp();
  const res = await request.post('/api/v1/auth/signup', {
    data: { email: `sched-${s}@example.com`, username: `sched-${s}`, name: `Sam ${s}`, password: PASSWORD },
  });
  expect(res.status(), await res.text()).toBeLessThan(300);
  const me = (await (await request.get('/api/v1/me')).json()).data;
  return me.projects[0].id;
}

/** Weekday, hour and minute of an instant on Berlin's clock. */
const berlin = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Europe/Berlin',
  weekday: 'short',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});
function onBerlinClock(instant: string): string {
  const parts = Object.fromEntries(berlin.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  return `${parts.weekday} ${parts.hour}:${parts.minute}`;
}

test('a weekly schedule: live preview, save, Run now, its conversation; a project secret', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const projectId = await signUp(page.request);
  const key = `sched-${stamp()}`;
  const answer = `The weekly report is written (${key}).`;
  await script(key, [{ chunks: ['The weekly report ', `is written (${key}).`] }]);

  await test.step('the Schedules tab is one of the project settings', async () => {
    await page.goto(`/p/${projectId}/settings/members`);
    await hydrated(page);
    await page.getByRole('link', { name: 'Schedules', exact: true }).click();
    await page.waitForURL(`**/p/${projectId}/settings/schedules`);
    await expect(page.getByRole('heading', { name: 'Schedules', exact: true })).toBeVisible();
    await expect(page.getByText('No schedules yet.')).toBeVisible();
  });

  const form = page.getByTestId('schedule-form');
  const cron = form.getByLabel('Cron expression');
  const zone = form.getByLabel('Time zone');

  await test.step('the preview says what is wrong with an expression or a zone, next to it', async () => {
    await cron.fill('61 * * * *');
    await expect(form.locator('#schedule-new-cron-error')).toBeVisible();
    await expect(form.getByTestId('schedule-description')).toHaveCount(0);
    await cron.fill('0 9 * * *');
    await expect(form.locator('#schedule-new-cron-error')).toHaveCount(0);
    await zone.fill('Mars/Olympus_Mons');
    await expect(form.locator('#schedule-new-timezone-error')).toBeVisible();
  });

  await test.step('the weekly preset writes the expression; the preview shows five Mondays in Berlin', async () => {
    await form.getByLabel('Name', { exact: true }).fill('Weekly report');
    await form.getByLabel('Repeats').selectOption('weekly');
    await form.getByLabel('Day of the week').selectOption({ label: 'Monday' });
    await form.getByLabel('Time of day').fill('09:00');
    await expect(cron).toHaveValue('0 9 * * 1');
    await zone.fill('Europe/Berlin');
    await expect(form.locator('#schedule-new-timezone-error')).toHaveCount(0);
    await form.getByLabel('Message').fill(`Write the weekly report for {{date}} (${key})`);

    const description = form.getByTestId('schedule-description');
    await expect(description).toContainText('Monday');
    await expect(description).toContainText('09:00');
    await expect(description).toContainText('(Europe/Berlin)');
    const times = form.getByTestId('schedule-next-runs').locator('li time');
    await expect(times).toHaveCount(5);
    const instants = await times.evaluateAll((els) => els.map((e) => e.getAttribute('datetime') ?? ''));
    let previous = 0;
    for (const [i, instant] of instants.entries()) {
      expect(instant).toMatch(/^\d{4}-\d{2}-\d{2}T09:00:00[+-]\d{2}:\d{2}$/);
      expect(onBerlinClock(instant)).toBe('Mon 09:00');
      // A week apart, in order.
      const at = Date.parse(instant);
      if (previous) expect(Math.round((at - previous) / 3_600_000)).toBeGreaterThanOrEqual(167);
      previous = at;
      const shown = times.nth(i);
      await expect(shown).toContainText(`Mon ${instant.slice(0, 10)} 09:00`);
      // Winter time: Berlin is an hour ahead of UTC in December (and January, February).
      if (['12', '01', '02'].includes(instant.slice(5, 7))) {
        expect(instant.endsWith('+01:00')).toBe(true);
        await expect(shown).toContainText('+01:00');
      }
    }
    await shot(page, '01-preview');
  });

  const row = page.getByTestId('schedule').filter({ hasText: 'Weekly report' });

  await test.step('saved, it is listed with its words, state and next run', async () => {
    await form.getByRole('button', { name: 'Create schedule' }).click();
    await expect(row).toHaveCount(1);
    await expect(row.getByTestId('schedule-when')).toContainText('Monday');
    await expect(row.getByTestId('schedule-when')).toContainText('(Europe/Berlin)');
    await expect(row.getByTestId('schedule-state')).toHaveText('Enabled');
    await expect(row.getByTestId('schedule-next-run')).toContainText(/^Mon \d{4}-\d{2}-\d{2} 09:00/);
    await expect(row.getByTestId('schedule-paused')).toHaveCount(0);
    // The create form is empty again.
    await expect(form.getByLabel('Name', { exact: true })).toHaveValue('');
  });

  await test.step('a file attached to the schedule is listed, for every run', async () => {
    await row.getByLabel('Files for every run').setInputFiles({
      name: 'brief.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('The brief every run reads.'),
    });
    await row.getByRole('button', { name: 'Attach' }).click();
    await expect(row.getByTestId('schedule-files')).toContainText('brief.txt');
  });

  let href = '';
  await test.step('"Run now" starts a run, listed with its task and a link to the conversation', async () => {
    await row.getByRole('button', { name: 'Run now' }).click();
    await expect(row.getByTestId('schedule-run-started')).toContainText('Open conversation');
    const runs = row.getByTestId('schedule-runs').getByTestId('schedule-run');
    await expect(runs).toHaveCount(1);
    await expect(runs.first()).toContainText('Run now');
    await expect(runs.first()).toContainText('Started');
    // The list reads itself again while the task is going.
    await expect(runs.first().getByTestId('schedule-run-status')).toHaveText('Completed', { timeout: 60_000 });
    const link = runs.first().getByTestId('schedule-run-link');
    href = (await link.getAttribute('href')) ?? '';
    expect(href).toMatch(new RegExp(`^/p/${projectId}/c/[^/]+$`));
    expect(await row.getByTestId('schedule-run-started').getByRole('link').getAttribute('href')).toBe(href);
    await shot(page, '02-run');
    await link.click();
  });

  await test.step('the run opens in the Chat UI with the model\'s answer', async () => {
    await page.waitForURL(`**${href}`);
    await hydrated(page);
    await expect(page.getByRole('article', { name: 'Sigmic' }).last()).toContainText(answer, { timeout: 30_000 });
    const mine = page.getByRole('article', { name: 'You' }).first();
    await expect(mine).toContainText(key);
    // The schedule's file came with it.
    await expect(mine.getByRole('list', { name: 'Attached files' })).toContainText('brief.txt');
    // {{date}} was filled in with the run's day in Berlin.
    await expect(mine).not.toContainText('{{date}}');
    const sent = await requests(key);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent[0].firstUserText).toMatch(/Write the weekly report for \d{4}-\d{2}-\d{2} \(/);
    await shot(page, '03-conversation');
  });

  await test.step('a project secret is listed by name; its value is never shown back', async () => {
    const value = `s3cret-${stamp()}-value`;
    await page.goto(`/p/${projectId}/settings/schedules`);
    await hydrated(page);
    const secretForm = page.getByTestId('secret-form');
    await secretForm.getByLabel('Secret name').fill('REPORT_TOKEN');
    const input = secretForm.getByLabel('Value');
    await expect(input).toHaveAttribute('type', 'password');
    await input.fill(value);
    await secretForm.getByRole('button', { name: 'Save secret' }).click();
    const listed = page.getByTestId('project-secret');
    await expect(listed).toHaveCount(1);
    await expect(listed.first()).toContainText('REPORT_TOKEN');
    await expect(input).toHaveValue('');
    await expect(secretForm.getByLabel('Secret name')).toHaveValue('');
    expect(await page.content()).not.toContain(value);
    expect(await page.locator('body').innerText()).not.toContain(value);

    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId('project-secret')).toHaveCount(1);
    expect(await page.content()).not.toContain(value);
    const api = await page.request.get(`/api/v1/projects/${projectId}/secrets`);
    expect(api.status()).toBe(200);
    const body = await api.text();
    expect(body).toContain('REPORT_TOKEN');
    expect(body).not.toContain(value);
    await shot(page, '04-secret');
  });

  expect(errors).toEqual([]);
});
