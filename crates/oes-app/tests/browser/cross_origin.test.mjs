// A frontend on another origin than the API, in Debian's headless Chromium:
//   node cross_origin.test.mjs <api_base> <page_origin> <foreign_origin> <email> <password> <exam_id> [--allow-third-party-cookies]
// Serves a small page on <page_origin> (an allowed origin) and the same page on <foreign_origin>
// (an unlisted one), both from this process. On the allowed page it signs up, asks for the
// emailed verification token (prints {"need":"verifyToken"} and reads one line from stdin),
// verifies, logs in, and with the session cookie alone (never the token in login's JSON) loads
// the live exams, starts <exam_id> and loads its paper, all with fetch(..., {credentials:
// 'include'}) across origins. On the foreign page the same calls must all fail. Prints one JSON
// line with what it saw; the Rust test (tests/app/cross_origin/browser.rs) asserts on it.
//
// This Chromium blocks third-party cookies by default (the cookie of an API on another site is
// refused with the reason "UserPreferences"); --allow-third-party-cookies sets the profile's
// preference that a user who allows them has.
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [apiBase, pageOrigin, foreignOrigin, email, password, examId, option] = process.argv.slice(2);
if (!examId) {
  console.error('usage: node cross_origin.test.mjs <api_base> <page_origin> <foreign_origin> <email> <password> <exam_id>');
  process.exit(2);
}

const TIMEOUT = 20000;
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

// The page: nothing but a fetch helper that reports what the page could read.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>OES cross-origin page</title></head>
<body><p>cross-origin test page</p>
<script>
window.call = async (method, path, body) => {
  const init = { method, credentials: 'include', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    const res = await fetch(${JSON.stringify(apiBase)} + path, init);
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { json = null; }
    return { status: res.status, body: json, requestId: res.headers.get('x-request-id') };
  } catch (err) {
    return { error: String(err) };
  }
};
</script></body></html>`;

function serve(origin) {
  const url = new URL(origin);
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(url.port), '127.0.0.1', () => resolve(server));
  });
}

const servers = [];
const profile = mkdtempSync(join(tmpdir(), 'oes-cross-origin-chromium-'));
if (option === '--allow-third-party-cookies') {
  mkdirSync(join(profile, 'Default'));
  writeFileSync(join(profile, 'Default', 'Preferences'),
    JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }));
}
const result = { pageErrors: [] };
let context;
try {
  servers.push(await serve(pageOrigin), await serve(foreignOrigin));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (err) => result.pageErrors.push(String(err)));
  await page.goto(pageOrigin + '/');
  const call = (p, method, path, body) => p.evaluate(
    ([m, u, b]) => window.call(m, u, b === null ? undefined : b), [method, path, body ?? null]);

  result.signup = await call(page, 'POST', '/api/auth/signup',
    { fullName: 'Asha Rao', email, password });
  console.log(JSON.stringify({ need: 'verifyToken' }));
  const next = await stdinLines.next();
  const token = (next.value || '').trim();
  result.verify = await call(page, 'POST', `/api/auth/verify-email/${token}`, {});
  result.login = await call(page, 'POST', '/api/auth/login', { email, password });
  // The token in login's JSON is dropped: from here on only the cookie signs the page in.
  if (result.login.body) delete result.login.body.accessToken;

  const cookies = await context.cookies(apiBase);
  const session = cookies.find((c) => c.name === 'accessToken');
  result.sessionCookie = session
    ? { httpOnly: session.httpOnly, sameSite: session.sameSite, secure: session.secure, domain: session.domain }
    : null;
  result.scriptSeesSessionCookie = await page.evaluate(() => document.cookie.includes('accessToken'));

  result.me = await call(page, 'GET', '/api/profile/me');
  result.live = await call(page, 'GET', '/api/exam/live');
  result.start = await call(page, 'POST', `/api/exam-attempt/${examId}/start`);
  result.paper = await call(page, 'GET', `/api/exam-attempt/${examId}/attempt`);

  // The unlisted origin, in the same browser with the same cookie jar, gets nothing: reads
  // fail, a preflighted write never goes out, and a simple POST (no preflight; the cookie goes
  // along) is refused by the server and unreadable.
  const foreign = await context.newPage();
  foreign.setDefaultTimeout(TIMEOUT);
  await foreign.goto(foreignOrigin + '/');
  result.foreign = {
    health: await call(foreign, 'GET', '/api/health'),
    live: await call(foreign, 'GET', '/api/exam/live'),
    paper: await call(foreign, 'GET', `/api/exam-attempt/${examId}/attempt`),
    profileWrite: await call(foreign, 'PUT', '/api/profile/me', {
      fullName: 'Mallory', course: 'BTECH', department: 'CST', year: 'TWO', semester: 'S3',
      enrollmentNumber: 'EN-MALLORY1',
    }),
    logout: await call(foreign, 'POST', '/api/auth/logout'),
    submit: await call(foreign, 'POST', `/api/exam-attempt/${examId}/submit`),
  };

  // The session survived all of it; then the page signs out and the cookie is gone.
  result.meAfterForeign = await call(page, 'GET', '/api/profile/me');
  result.logout = await call(page, 'POST', '/api/auth/logout');
  result.cookieAfterLogout = (await context.cookies(apiBase)).some((c) => c.name === 'accessToken');
  result.meAfterLogout = await call(page, 'GET', '/api/profile/me');
  result.ok = true;
} catch (err) {
  result.ok = false;
  result.error = String(err && err.stack ? err.stack : err);
} finally {
  if (context) await context.close().catch(() => {});
  for (const s of servers) s.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
