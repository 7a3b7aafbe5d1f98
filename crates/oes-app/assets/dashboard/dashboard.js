// The queue dashboard: signs an admin in, then polls the monitoring API and redraws.
// Text from the server (job ids, failure reasons) is only ever set with textContent.
'use strict';

const TOKEN_KEY = 'oes.dashboard.token';
const POLL_MS = 2000;
let timer = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) {
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

class SignedOut extends Error {}

async function api(method, path) {
  const res = await fetch('/api' + path, {
    method,
    headers: { Authorization: 'Bearer ' + token(), Accept: 'application/json' },
    credentials: 'omit',
  });
  if (res.status === 401 || res.status === 403) throw new SignedOut();
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || ('HTTP ' + res.status));
  return body;
}

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (timer) clearTimeout(timer);
  timer = null;
  $('dashboard').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('status').textContent = '';
  $('notice').textContent = '';
}

function showDashboard() {
  $('login').hidden = true;
  $('dashboard').hidden = false;
  $('logout').hidden = false;
  refresh();
}

async function login(event) {
  event.preventDefault();
  $('login-button').disabled = true;
  $('login-error').textContent = '';
  try {
    const res = await fetch('/api/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      credentials: 'omit',
      body: JSON.stringify({ email: $('email').value, password: $('password').value }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok || !body.accessToken) {
      $('login-error').textContent = body.message || 'Sign-in failed';
      return;
    }
    if (!body.user || body.user.role !== 'ADMIN') {
      $('login-error').textContent = 'This account is not an admin';
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, body.accessToken);
    $('password').value = '';
    showDashboard();
  } catch (e) {
    $('login-error').textContent = 'Sign-in failed: ' + e.message;
  } finally {
    $('login-button').disabled = false;
  }
}

async function logout() {
  try { await api('POST', '/auth/logout'); } catch (_) { /* signed out either way */ }
  showLogin('');
}

const COUNTS = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'paused'];

function drawQueues(overview) {
  $('mode').textContent = '(' + overview.mode + ')';
  const tbody = $('queues').querySelector('tbody');
  tbody.replaceChildren(...overview.queues.map((q) => {
    const row = el('tr', { 'data-queue': q.name }, el('td', {}, q.name));
    for (const state of COUNTS) {
      const n = q.counts[state];
      const cls = 'num count-' + state + (state === 'failed' ? ' failed-count' + (n > 0 ? ' nonzero' : '') : '');
      row.append(el('td', { class: cls, 'data-state': state }, n));
    }
    const w = q.worker;
    row.append(el('td', { class: 'num' }, w ? `${w.completed} / ${w.failed} / ${w.retried}` : '—'));
    return row;
  }));
}

function retryButton(label, path, queue, id) {
  const button = el('button', { type: 'button', class: id ? 'retry' : 'retry-all' }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await api('POST', path);
      $('notice').textContent = id ? `Job ${id} queued again` : `Failed jobs of ${queue} queued again`;
    } catch (e) {
      if (e instanceof SignedOut) return showLogin('Your session ended; sign in again');
      $('notice').textContent = 'Retry failed: ' + e.message;
    }
    refresh();
  });
  return button;
}

function drawFailed(pages) {
  const sections = pages.map(({ queue, page }) => {
    const section = el('div', { class: 'queue-failed', 'data-queue': queue });
    const title = el('h3', {}, `${queue} — ${page.total} failed `);
    if (page.total > 0) {
      title.append(retryButton('Retry all', `/admin/queues/${encodeURIComponent(queue)}/retry`, queue));
    }
    section.append(title);
    if (page.jobs.length === 0) {
      section.append(el('p', { class: 'empty' }, 'No failed jobs.'));
      return section;
    }
    const table = el('table', {}, el('thead', {}, el('tr', {},
      el('th', {}, 'Job'), el('th', {}, 'Name'), el('th', {}, 'Reason'),
      el('th', {}, 'Attempts'), el('th', {}, 'Failed at'), el('th', {}, ''))));
    const tbody = el('tbody');
    for (const job of page.jobs) {
      const when = job.finishedOn ? new Date(job.finishedOn).toLocaleString() : '';
      const path = `/admin/queues/${encodeURIComponent(queue)}/jobs/${encodeURIComponent(job.id)}/retry`;
      tbody.append(el('tr', { class: 'failed-job', 'data-queue': queue, 'data-id': job.id },
        el('td', {}, job.id), el('td', {}, job.name),
        el('td', { class: 'reason' }, job.failedReason || ''),
        el('td', { class: 'num' }, job.attemptsMade), el('td', {}, when),
        el('td', {}, retryButton('Retry', path, queue, job.id))));
    }
    table.append(tbody);
    section.append(table);
    return section;
  });
  $('failed').replaceChildren(...sections);
}

function pct(rate) { return rate == null ? '—' : (rate * 100).toFixed(1) + ' %'; }

function drawList(target, entries) {
  $(target).replaceChildren(...entries.flatMap(([k, v, id]) =>
    [el('dt', {}, k), el('dd', id ? { id } : {}, v == null ? '—' : v)]));
}

function drawCache(c) {
  drawList('cache', [
    ['Tiers', c.tiers], ['Hit rate', pct(c.hitRate), 'cache-hit-rate'],
    ['L1 hit rate', pct(c.l1HitRate), 'cache-l1-hit-rate'], ['L2 hit rate', pct(c.l2HitRate), 'cache-l2-hit-rate'],
    ['Hits (L1 / L2)', `${c.l1Hits} / ${c.l2Hits}`], ['Misses', c.misses], ['Loads', c.loads],
    ['Load errors', c.loadErrors], ['Redis errors / timeouts', `${c.redisErrors} / ${c.redisTimeouts}`],
  ]);
}

function drawRedis(r) {
  const entries = [['Mode', r.mode, 'redis-mode']];
  const server = (label, s) => {
    if (!s) return;
    if (!s.reachable) { entries.push([label, 'unreachable']); return; }
    entries.push([label + ' version', s.version], [label + ' memory', s.usedMemoryHuman],
      [label + ' maxmemory-policy', s.maxmemoryPolicy]);
  };
  server('Queues', r.queues);
  server('Cache', r.cache);
  drawList('redis', entries);
  $('warnings').replaceChildren(...r.warnings.map((w) => el('p', { class: 'warning' }, w)));
}

async function refreshQueues() {
  const overview = await api('GET', '/admin/queues');
  const pages = await Promise.all(overview.queues.map(async (q) => ({
    queue: q.name,
    page: await api('GET', `/admin/queues/${encodeURIComponent(q.name)}/failed?page=1&limit=20`),
  })));
  drawQueues(overview);
  drawFailed(pages);
}

// Each panel refreshes on its own, so an unreachable queue backend still leaves the cache and
// Redis panels (which explain why) up to date.
async function refresh() {
  if (timer) clearTimeout(timer);
  timer = null;
  if (!token()) return showLogin('');
  const outcomes = await Promise.allSettled([
    refreshQueues(),
    api('GET', '/admin/cache').then(drawCache),
    api('GET', '/admin/redis').then(drawRedis),
  ]);
  const failures = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason);
  if (failures.some((e) => e instanceof SignedOut)) {
    return showLogin('Your session ended; sign in again');
  }
  document.body.dataset.refreshedAt = String(Date.now());
  $('status').textContent = failures.length > 0
    ? 'Refresh failed: ' + failures.map((e) => e.message).join('; ')
    : 'Updated ' + new Date().toLocaleTimeString();
  timer = setTimeout(refresh, POLL_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  if (token()) showDashboard(); else showLogin('');
});
