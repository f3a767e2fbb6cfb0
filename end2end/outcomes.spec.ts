import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { script } from './support/model';

// How a task ended shows in the Chat UI however the page meets it (issue 15): live, after a
// reload, reopened from the conversation list, and when the task failed before the page's
// stream was open. The server's only provider is the scripted model server (OpenAI); a
// project whose model needs Gemini gets MODEL_NOT_CONFIGURED in its run's first moment.

const PASSWORD = 'correct horse battery staple';

function stamp(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 46656).toString(36)}`;
}

async function hydrated(page: Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
}

async function signUp(request: APIRequestContext): Promise<string> {
  const s = stamp();
  const username = `ending-${s}`;
  const res = await request.post('/api/v1/auth/signup', {
    data: { email: `${username}@example.com`, username, name: `Ending ${s}`, password: PASSWORD },
  });
  expect(res.status(), await res.text()).toBeLessThan(300);
  const me = (await (await request.get('/api/v1/me')).json()).data;
  return me.projects[0].id;
}

async function setModel(request: APIRequestContext, projectId: string, model: string | null): Promise<void> {
  const res = await request.put(`/api/v1/projects/${projectId}/settings`, { data: { model } });
  expect(res.status(), await res.text()).toBeLessThan(300);
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text().split('\n').slice(0, 3).join(' | '));
  });
  return errors;
}

test('a task that fails at once shows its error live, after a reload and reopened; a follow-up clears it', async ({ page }) => {
  const errors = watchErrors(page);
  const projectId = await signUp(page.request);
  await setModel(page.request, projectId, 'gemini/gemini-2.5-pro');
  const key = `ending-${stamp()}`;
  const question = `What is the capital of France? ${key}`;

  await page.goto(`/p/${projectId}`);
  await hydrated(page);
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(question);
  await box.press('Enter');
  await page.waitForURL(/\/c\/[^/]+$/);
  const taskId = page.url().split('/c/')[1];

  // The run failed before the page opened its stream: the stream's history says so.
  const ended = page.getByTestId('run-ended');
  await expect(ended).toHaveAttribute('role', 'alert');
  await expect(ended).toHaveAttribute('data-kind', 'failed');
  const task = (await (await page.request.get(`/api/v1/tasks/${taskId}`)).json()).data;
  expect(task.status).toBe('failed');
  expect(task.error).toBeTruthy();
  await expect(ended).toContainText(task.error);
  await expect(page.getByRole('article', { name: 'You' })).toContainText(question);
  await expect(page.getByTestId('run-status')).toHaveText('');

  // After a reload.
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole('article', { name: 'You' })).toContainText(question);
  await expect(page.getByRole('alert').filter({ hasText: task.error })).toBeVisible();

  // Reopened from the conversation list, after another page of the app.
  await page.goto(`/p/${projectId}`);
  await hydrated(page);
  await expect(page.getByTestId('run-ended')).toHaveCount(0);
  const list = page.getByRole('navigation', { name: 'Conversations' });
  await list.getByRole('link').filter({ hasText: key }).click();
  await page.waitForURL(new RegExp(`/c/${taskId}$`));
  await expect(page.getByRole('alert').filter({ hasText: task.error })).toBeVisible();

  // With a model that answers, a follow-up runs again: the old notice goes as the run
  // starts, and the answer gets its quiet usage line.
  await setModel(page.request, projectId, null);
  await script(key, [{ chunks: ['Paris', '.'], chunkDelayMs: 100, usage: [1200, 34] }]);
  await box.fill('Try again, please.');
  await box.press('Enter');
  await expect(page.getByTestId('run-ended')).toHaveCount(0);
  await expect(page.getByRole('article', { name: 'Sigmic' }).last()).toContainText('Paris.');
  await expect(page.getByTestId('run-usage')).toContainText('1,234 tokens');
  await expect(page.getByTestId('run-ended')).toHaveCount(0);

  // The line stays after a reload, from the finished task's history.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('run-usage')).toContainText('1,234 tokens');
  await expect(page.getByTestId('run-ended')).toHaveCount(0);
  expect(errors).toEqual([]);
});
