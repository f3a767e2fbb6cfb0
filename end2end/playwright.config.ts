import path from 'node:path';
import { defineConfig } from '@playwright/test';

// Browser tests against a running Sigmic server and the scripted model server it calls (both
// started by .ci/test, or by hand: README.md). Specs are `*.spec.ts`; `support/` holds helpers.
// With SIGMIC_E2E_BENCH=1 the benches (`*.bench.ts`) run instead: they print figures.
// The browser is Debian's Chromium: Playwright never downloads one here
// (install with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).

const baseURL = process.env.SIGMIC_E2E_URL ?? 'http://127.0.0.1:3000';
const executablePath = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: '.',
  testMatch: process.env.SIGMIC_E2E_BENCH ? '**/*.bench.ts' : '**/*.spec.ts',
  outputDir: path.join(__dirname, 'test-results'),
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: path.join(__dirname, 'playwright-report') }]],
  use: {
    baseURL,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        viewport: { width: 1280, height: 800 },
        launchOptions: {
          executablePath,
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      },
    },
  ],
});
