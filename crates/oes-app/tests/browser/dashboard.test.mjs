// Drives the queue dashboard in Debian's headless Chromium:
//   node dashboard.test.mjs <base_url> <admin_email> <password> <screenshot_path>
// Signs in, waits for a failed email job, screenshots the page, presses Retry and waits until
// the job has left the failed list and the completed count rose. Prints one JSON line with what
// it saw; the Rust test (tests/app/ops/dashboard_browser.rs) asserts on it. Exits non-zero on error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [baseUrl, email, password, screenshotPath] = process.argv.slice(2);
if (!screenshotPath) {
  console.error('usage: node dashboard.test.mjs <base_url> <email> <password> <screenshot_path>');
  process.exit(2);
}

const TIMEOUT = 20000;
const profile = mkdtempSync(join(tmpdir(), 'oes-dashboard-chromium-'));
const result = { consoleErrors: [], pageErrors: [], externalRequests: [], errorResponses: [] };
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  // Failed HTTP answers are listed by URL below; other console errors (script errors, content
  // security policy violations) are collected here.
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      result.consoleErrors.push(msg.text());
    }
  });
  page.on('response', (res) => {
    if (res.status() >= 400) {
      result.errorResponses.push(`${res.request().method()} ${res.url().slice(baseUrl.length)} ${res.status()}`);
    }
  });
  page.on('pageerror', (err) => result.pageErrors.push(String(err)));
  page.on('request', (req) => {
    if (!req.url().startsWith(baseUrl)) result.externalRequests.push(req.url());
  });

  await page.goto(baseUrl + '/admin/queues');
  await page.locator('#login').waitFor({ state: 'visible' });
  result.loginShown = true;

  // A wrong password keeps the form up with a message.
  await page.fill('#email', email);
  await page.fill('#password', password + '-wrong');
  await page.click('#login-button');
  await page.locator('#login-error').filter({ hasText: /./ }).waitFor();
  result.wrongPasswordMessage = await page.textContent('#login-error');

  await page.fill('#password', password);
  await page.click('#login-button');
  await page.locator('#dashboard').waitFor({ state: 'visible' });
  result.loggedIn = true;
  result.tokenInSessionStorage = await page.evaluate(
    () => (sessionStorage.getItem('oes.dashboard.token') || '').length > 0);

  const failedRow = page.locator('tr.failed-job[data-queue="email"]').first();
  await failedRow.waitFor({ state: 'visible' });
  const jobId = await failedRow.getAttribute('data-id');
  const emailRow = page.locator('#queues tr[data-queue="email"]');
  result.failedJob = {
    id: jobId,
    reason: (await failedRow.locator('.reason').textContent()).trim(),
    failedCount: Number(await emailRow.locator('td[data-state="failed"]').textContent()),
  };
  result.queuesShown = await page.locator('#queues tbody tr').evaluateAll(
    (rows) => rows.map((r) => r.dataset.queue));
  result.cacheHitRateShown = (await page.textContent('#cache-hit-rate')).trim();
  result.redisMode = (await page.textContent('#redis-mode')).trim();
  await page.screenshot({ path: screenshotPath, fullPage: true });
  result.screenshot = screenshotPath;

  await failedRow.locator('button.retry').click();
  await page.locator(`tr.failed-job[data-id="${jobId}"]`).waitFor({ state: 'detached' });
  await page.waitForFunction(() => {
    const row = document.querySelector('#queues tr[data-queue="email"]');
    return row && Number(row.querySelector('td[data-state="completed"]').textContent) >= 1;
  }, null, { timeout: TIMEOUT });
  result.afterRetry = {
    completedCount: Number(await emailRow.locator('td[data-state="completed"]').textContent()),
    failedCount: Number(await emailRow.locator('td[data-state="failed"]').textContent()),
    notice: (await page.textContent('#notice')).trim(),
  };

  // The page keeps refreshing by itself.
  const before = await page.evaluate(() => document.body.dataset.refreshedAt);
  await page.waitForFunction(
    (b) => document.body.dataset.refreshedAt !== b, before, { timeout: TIMEOUT });
  result.refreshesItself = true;

  await page.click('#logout');
  await page.locator('#login').waitFor({ state: 'visible' });
  result.loggedOut = await page.evaluate(() => sessionStorage.getItem('oes.dashboard.token') === null);
  result.ok = true;
} catch (err) {
  result.ok = false;
  result.error = String(err && err.stack ? err.stack : err);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
