import { test, expect, type Page } from '@playwright/test';
import { script } from './support/model';

// A figure, not a test: how long the browser takes to show a 2,000-message conversation, and
// whether streaming into it stays smooth. Run it on purpose (it seeds 1,000 exchanges first):
//   SIGMIC_E2E_BENCH=1 npx playwright test render-bench
// It prints its figures; it asserts only that everything was shown.

test.skip(!process.env.SIGMIC_E2E_BENCH, 'set SIGMIC_E2E_BENCH=1 to run the render benchmark');
test.setTimeout(15 * 60_000);

const EXCHANGES = 1000;

function answer(i: number): string {
  switch (i % 4) {
    case 0:
      return `Step ${i}: done. The **result** is in \`out-${i}.txt\`.`;
    case 1:
      return `Here is the code for step ${i}:\n\n\`\`\`rust\nfn step_${i}() -> u32 {\n    ${i}\n}\n\`\`\``;
    case 2:
      return `| step | value |\n|---|---|\n| ${i} | ${i * 2} |\n| ${i + 1} | ${i * 2 + 2} |`;
    default:
      return `Notes for ${i}:\n\n- first point\n- second point with a [link](https://example.com/${i})\n- third`;
  }
}

async function waitDone(page: Page, id: string): Promise<void> {
  for (;;) {
    const t = (await (await page.request.get(`/api/v1/tasks/${id}`)).json()).data;
    if (!['pending', 'running', 'awaiting_approval'].includes(t.status)) return;
    await page.waitForTimeout(15);
  }
}

test('render a 2,000-message conversation', async ({ page }) => {
  const s = `${Date.now().toString(36)}`;
  const res = await page.request.post('/api/v1/auth/signup', {
    data: { email: `bench-${s}@example.com`, username: `bench-${s}`, password: 'correct horse battery staple' },
  });
  expect(res.status()).toBeLessThan(300);
  const me = (await (await page.request.get('/api/v1/me')).json()).data;
  const projectId = me.projects[0].id;
  const key = `bench-${s}`;
  await script(key, Array.from({ length: EXCHANGES }, (_, i) => ({ text: answer(i) })));

  const seedStart = Date.now();
  const created = await page.request.post(`/api/v1/tasks?projectId=${projectId}`, { data: { message: `Start ${key}` } });
  const id = (await created.json()).data.id;
  await waitDone(page, id);
  for (let i = 1; i < EXCHANGES; i++) {
    const r = await page.request.post(`/api/v1/tasks/${id}/messages`, { data: { message: `Next step ${i}` } });
    expect(r.status()).toBeLessThan(300);
    await waitDone(page, id);
  }
  console.log(`seeded ${EXCHANGES * 2} messages in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

  const runs: number[] = [];
  const hydration: number[] = [];
  for (let run = 0; run < 5; run++) {
    const t0 = Date.now();
    await page.goto(`/p/${projectId}/c/${id}`);
    await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
    hydration.push(Date.now() - t0);
    await page.waitForFunction(
      (n) => document.querySelectorAll('article.chat-entry').length >= n,
      EXCHANGES * 2,
      { polling: 'raf', timeout: 120_000 },
    );
    // One more frame: the list is laid out and painted.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    runs.push(Date.now() - t0);
  }
  runs.sort((a, b) => a - b);
  hydration.sort((a, b) => a - b);

  // Streaming into the long conversation: long tasks (> 50 ms) on the main thread while an
  // answer streams in 40 pieces.
  await script(key, [{ chunks: Array.from({ length: 40 }, (_, i) => `piece${i} `), chunkDelayMs: 50 }]);
  await page.evaluate(() => {
    const w = window as unknown as { __long: number[] };
    w.__long = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__long.push(e.duration);
    }).observe({ type: 'longtask', buffered: false });
  });
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill('One more, streamed');
  await box.press('Enter');
  await expect(page.getByRole('article', { name: 'Sigmic' }).last()).toContainText('piece39', { timeout: 60_000 });
  const long = await page.evaluate(() => (window as unknown as { __long: number[] }).__long);

  const median = runs[Math.floor(runs.length / 2)];
  console.log(
    `2,000-message conversation: shown in ${median} ms median (runs ${runs.join(', ')} ms; ` +
      `hydrated after ${hydration[Math.floor(hydration.length / 2)]} ms median)`,
  );
  console.log(
    `streaming 40 pieces into it: ${long.length} long tasks` +
      (long.length ? ` (longest ${Math.max(...long).toFixed(0)} ms)` : ''),
  );
});
