import { test, expect, type Page } from '@playwright/test';
import { script } from './support/model';

// A figure, not a test: how long the browser takes to show a 2,000-message conversation, and
// whether streaming into it stays smooth. Benches are not part of the test run; run it on
// purpose (it seeds 1,000 exchanges first): SIGMIC_E2E_BENCH=1 npx playwright test
// It prints its figures; it asserts only that everything was shown.

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

  // Times in the page, from the start of navigation: when the page became interactive, and
  // when the 2,000th message was in the document and laid out.
  await page.addInitScript((n: number) => {
    const w = window as unknown as { __t: Record<string, number> };
    w.__t = {};
    const mark = () => {
      if (!w.__t.hydrated && document.body?.dataset.hydrated === 'true') w.__t.hydrated = performance.now();
      if (!w.__t.shown && document.querySelectorAll('article.chat-entry').length >= n) {
        w.__t.shown = performance.now();
        return;
      }
      requestAnimationFrame(mark);
    };
    requestAnimationFrame(mark);
  }, EXCHANGES * 2);
  const runs: { hydrated: number; shown: number }[] = [];
  for (let run = 0; run < 5; run++) {
    await page.goto(`/p/${projectId}/c/${id}`);
    await page.waitForFunction(() => (window as unknown as { __t: { shown?: number } }).__t.shown, null, {
      timeout: 120_000,
    });
    runs.push(await page.evaluate(() => (window as unknown as { __t: { hydrated: number; shown: number } }).__t));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const shown = med(runs.map((r) => r.shown));
  const hydratedAt = med(runs.map((r) => r.hydrated));

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

  console.log(
    `2,000-message conversation: all shown ${shown.toFixed(0)} ms after navigation, median of 5 ` +
      `(page interactive at ${hydratedAt.toFixed(0)} ms; so ${(shown - hydratedAt).toFixed(0)} ms to receive and render ` +
      `the messages; runs ${runs.map((r) => r.shown.toFixed(0)).join(', ')} ms)`,
  );
  console.log(
    `streaming 40 pieces into it: ${long.length} long tasks` +
      (long.length ? ` (longest ${Math.max(...long).toFixed(0)} ms)` : ''),
  );
});
