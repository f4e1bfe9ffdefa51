// Browser test of /dashboard: the real binary, Debian's headless chromium
// driven by playwright-core (no browser download), a learner created through
// the API, the charts' counts, the conversations panel, a live update through
// SSE, and screenshots.
//
//   node --test tests/browser/dashboard.test.mjs
//
// Environment: ERRATA_BIN (default build/errata), ERRATA_ASSETS_DIR (default:
// the binary's own, <dir of binary>/share/errata), BROWSER_DEPS_DIR (where
// tests/browser/npm-ci.sh installed playwright-core; default this folder),
// ERRATA_TEST_OUTPUT (screenshots; default <dir of binary>/test-output),
// CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE_DIR = path.resolve(HERE, '..', '..');
const BIN = process.env.ERRATA_BIN || path.join(SOURCE_DIR, 'build', 'errata');
const DEPS = process.env.BROWSER_DEPS_DIR || HERE;
const OUT_DIR = process.env.ERRATA_TEST_OUTPUT || path.join(path.dirname(BIN), 'test-output');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Without the background-networking flags chromium stalls on a machine with
// no network.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = 30000;

const { chromium } = createRequire(path.join(DEPS, 'package.json'))('playwright-core');

// ---------- the server ----------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const cleanups = [];

async function startServer(extraArgs = []) {
  assert.ok(fs.existsSync(BIN), `errata binary not found at ${BIN} (set ERRATA_BIN)`);
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'errata-browser-data-'));
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'warn', ...extraArgs];
  const proc = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
  const base = `http://127.0.0.1:${port}`;
  const srv = { base, proc, dataDir, stderr: () => stderr };
  cleanups.push(async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, 10000); proc.once('exit', () => { clearTimeout(t); r(); }); });
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 20000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`errata exited with ${proc.exitCode}:\n${stderr}`);
    try { if ((await fetch(`${base}/readyz`)).ok) return srv; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`errata did not become ready on ${base}:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function call(srv, method, p, body) {
  const res = await fetch(srv.base + p, {
    method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json, text };
}

async function post(srv, p, body) {
  const r = await call(srv, 'POST', p, body);
  assert.equal(r.status, 201, `POST ${p} -> ${r.status} ${r.text}`);
  return r.json;
}

// Posts one utterance with `errors` and adds the resolved points to `counts`
// ({subcategory_id: n}) and `byCategory` ({category: n}).
async function postErrors(srv, user, conv, errors, counts, byCategory) {
  const r = await post(srv, '/v1/utterances', {
    conversation_id: conv, user_id: user, content: 'She go to school yesterday and buyed a apple.', errors,
  });
  assert.equal(r.errors.length, errors.length, JSON.stringify(r));
  for (const e of r.errors) {
    counts[e.subcategory_id] = (counts[e.subcategory_id] || 0) + 1;
    byCategory[e.category] = (byCategory[e.category] || 0) + 1;
  }
}

// ---------- the browser ----------

async function launch() {
  assert.ok(fs.existsSync(CHROMIUM), `chromium not found at ${CHROMIUM} (apt-get install chromium; scripts/bootstrap.sh does)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'errata-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 }, timeout: 60000,
  });
  cleanups.push(async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))));

let srv;
let context;

before(async () => {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  srv = await startServer();
  context = await launch();
});

after(async () => {
  for (const f of cleanups.reverse()) await f().catch((e) => console.error('cleanup:', e));
});

// ---------- tests ----------

test('the dashboard and its assets are served with the right types, and nothing else', async () => {
  const page = await call(srv, 'GET', '/dashboard');
  assert.equal(page.status, 200, page.text);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.text, /<title>errata dashboard<\/title>/);
  for (const [file, type] of [['app.js', /^application\/javascript/], ['style.css', /^text\/css/],
    ['chart.umd.min.js', /^application\/javascript/]]) {
    const r = await call(srv, 'GET', `/dashboard/assets/${file}`);
    assert.equal(r.status, 200, `${file}: ${r.status}`);
    assert.match(r.headers.get('content-type'), type, file);
  }
  for (const bad of ['..%2F..%2Fetc%2Fpasswd', '.hidden.js', 'index.html', 'chart.js-LICENSE.md', 'nope.js']) {
    const r = await call(srv, 'GET', `/dashboard/assets/${bad}`);
    assert.equal(r.status, 404, `${bad} -> ${r.status}`);
  }
});

test('without built assets /dashboard answers 503 with a clear message', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'errata-no-assets-'));
  cleanups.push(async () => fs.rmSync(empty, { recursive: true, force: true }));
  const bare = await startServer(['--assets-dir', empty]);
  const r = await call(bare, 'GET', '/dashboard');
  assert.equal(r.status, 503, r.text);
  assert.match(r.json.detail, /dashboard assets were not built/);
});

test('find a learner, see their profile, trend and practice, and watch it change live', async () => {
  // Two learners with close names; the test's learner has errors.
  await post(srv, '/v1/users', { username: 'Marisol Oyelaran', email: 'marisol.o@example.com' });
  const user = (await post(srv, '/v1/users', { username: 'Marisela Okonkwo', email: 'marisela.okonkwo@example.com' })).user_id;
  const conv = (await post(srv, '/v1/conversations', { user_id: user })).conversation_id;
  const counts = {};
  const byCategory = {};
  await postErrors(srv, user, conv, [
    { category: 'Grammar', subcategory: 'Subject-Verb Agreement' },
    { category: 'Grammar', subcategory: 'Verb Tense', span: { start: 4, end: 6 }, original: 'go', correction: 'went' },
    { category: 'Vocabulary', subcategory: 'Word Choice' },
  ], counts, byCategory);
  await postErrors(srv, user, conv, [
    { category: 'Grammar', subcategory: 'Subject-Verb Agreement' },
    { category: 'Grammar', subcategory: 'subject verb agreement' },
    { code: 'R:SPELL' },
  ], counts, byCategory);
  assert.equal(counts['subject-verb-agreement'], 3, JSON.stringify(counts));

  // Older conversations, without errors (the counts above stay as they are):
  // one two hours ago whose one utterance looks like HTML, and 20 empty ones,
  // 3 to 22 days ago. With `conv` that is 22: one page of 20 and one of 2.
  const hoursAgo = (h) => new Date(Date.now() - h * 3600e3).toISOString();
  const older = (await post(srv, '/v1/conversations', { user_id: user, started_at: hoursAgo(2) })).conversation_id;
  const markup = 'I like <b>cats</b> & <i>dogs</i>.';
  await post(srv, '/v1/utterances', { conversation_id: older, user_id: user, content: markup, created_at: hoursAgo(1.9) });
  const empty = [];
  for (let d = 3; d < 23; d++) {
    empty.push((await post(srv, '/v1/conversations', { user_id: user, started_at: hoursAgo(24 * d) })).conversation_id);
  }
  const convs = { conv, older, markup, order: [conv, older, ...empty] };

  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  try {
    await run(page, user, convs, counts, byCategory, problems);
  } catch (e) {
    // Show what the page looked like when it failed.
    const shot = path.join(OUT_DIR, 'dashboard-failure.png');
    await page.screenshot({ path: shot, fullPage: true }).then(() => console.log(`screenshot: ${shot}`), () => {});
    throw e;
  } finally {
    await page.close();
  }
});

// A learner with errors, for the tests of the live connection below.
async function learnerWithErrors(name) {
  const user = (await post(srv, '/v1/users', { username: name, email: `${name.replace(/\W/g, '.')}@example.com` })).user_id;
  const conv = (await post(srv, '/v1/conversations', { user_id: user })).conversation_id;
  const counts = {};
  await postErrors(srv, user, conv, [{ code: 'R:SPELL' }, { code: 'R:PREP' }], counts, {});
  return { user, conv, counts };
}

// Opens the learner's page (with `route` set up first) and gives it to `fn`;
// a screenshot if it fails, and no script errors either way.
async function withLearnerPage(user, route, fn) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  try {
    await route(page);
    await page.goto(`${srv.base}/dashboard#user=${user}`);
    await fn(page);
    assert.deepEqual(problems, [], 'no script errors in the page');
  } catch (e) {
    const shot = path.join(OUT_DIR, 'dashboard-live-failure.png');
    await page.screenshot({ path: shot, fullPage: true }).then(() => console.log(`screenshot: ${shot}`), () => {});
    throw e;
  } finally {
    await page.close();
  }
}

const liveText = (page) => page.locator('#live-text').textContent();
const gate = () => { let open; const opened = new Promise((r) => { open = r; }); return { open, opened }; };

test('after a stream answered other than 200 the page reconnects by itself', async () => {
  // The browser gives up on an EventSource for good after a non-200 (a 503
  // while the store is down); the page used to say "Disconnected" for good.
  const { user } = await learnerWithErrors('Teodora Reconnect');
  let streams = 0;
  await withLearnerPage(user, (page) => page.route('**/v1/users/*/stream', (route) => {
    streams += 1;
    if (streams > 1) return route.continue();
    return route.fulfill({ status: 503, contentType: 'application/json', headers: { 'Retry-After': '1' },
      body: '{"error":{"code":"unavailable","message":"the store is down"}}' });
  }), async (page) => {
    await page.waitForSelector('#live[data-state="live"]', { timeout: WAIT_MS }).catch(async (e) => {
      throw new Error(`live state "${await liveText(page)}" after ${streams} stream requests: ${e.message}`);
    });
    assert.equal(streams, 2, 'one reconnection of its own');
  });
});

test('a learner erased while the stream was down is shown as erased', async () => {
  // The stream's `erased` event never came: its reconnection got the 404 of
  // a learner who is gone, and the page must find out why.
  const { user } = await learnerWithErrors('Ines Gone');
  const held = gate();
  await withLearnerPage(user, (page) => page.route('**/v1/users/*/stream', async (route) => {
    await held.opened;
    return route.fulfill({ status: 404, contentType: 'application/json',
      body: '{"error":{"code":"not_found","message":"User not found"}}' });
  }), async (page) => {
    await page.waitForSelector('#profile-table tbody tr', { state: 'attached', timeout: WAIT_MS });
    const erased = await call(srv, 'DELETE', `/v1/users/${user}`);
    assert.equal(erased.status, 200, erased.text);
    held.open();
    await page.waitForFunction(() => document.getElementById('live-text').textContent === 'Learner erased',
      null, { timeout: WAIT_MS }).catch(async (e) => {
      throw new Error(`live state "${await liveText(page)}": ${e.message}`);
    });
    assert.equal(await page.locator('#error').textContent(), 'This learner was erased: their records are gone.');
  });
});

test('a profile event during the first read of the profile is not undone by its answer', async () => {
  // errors/top is answered as it was before new errors, and that answer
  // arrives after their `profile` event: the chart must keep the event's.
  const { user, conv, counts } = await learnerWithErrors('Odile Overlap');
  const held = gate();
  await withLearnerPage(user, (page) => page.route('**/v1/users/*/errors/top*', async (route) => {
    const old = await route.fetch();  // the profile before the new errors
    await held.opened;
    return route.fulfill({ response: old });
  }), async (page) => {
    await page.waitForSelector('#live[data-state="live"]', { timeout: WAIT_MS });
    await postErrors(srv, user, conv, [{ code: 'R:SPELL' }, { code: 'R:SPELL' }], counts, {});
    await page.waitForFunction(() => document.getElementById('live-text').textContent.startsWith('Live · updated'),
      null, { timeout: WAIT_MS });
    held.open();
    const want = sorted(counts);
    await page.waitForFunction((w) => {
      const c = window.errataDashboard.profileCounts();
      return JSON.stringify(Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)))) === w;
    }, want, { timeout: WAIT_MS }).catch(async (e) => {
      throw new Error(`profile chart shows ${JSON.stringify(await page.evaluate(() => window.errataDashboard.profileCounts()))}, want ${want}: ${e.message}`);
    });
    // It stays so once every answer is in (the trend and practice follow).
    await page.waitForTimeout(1000);
    assert.equal(sorted(await page.evaluate(() => window.errataDashboard.profileCounts())), want);
  });
});

// The conversations panel's rows, in page order.
const conversationRows = (page) => page.$$eval('#conversations li.conversation', (lis) => lis.map((li) => ({
  id: li.dataset.conversationId,
  count: li.querySelector('.count').textContent,
  started: li.querySelector('.started time').getAttribute('datetime'),
  expanded: li.querySelector('button.conv-toggle').getAttribute('aria-expanded'),
})));

// What an open conversation shows: each utterance's text and its errors.
const openedConversation = (page, id) => page.$$eval(`#conversation-${id} li.utterance`, (lis) => lis.map((li) => ({
  content: li.querySelector('.content').textContent,
  elements: li.querySelector('.content').children.length,
  errors: [...li.querySelectorAll('.corrections > li')].map((e) => ({
    subcategory: e.querySelector('.tag').textContent,
    original: e.querySelector('.original')?.textContent ?? null,
    correction: e.querySelector('.correction')?.textContent ?? null,
  })),
})));

async function run(page, user, convs, counts, byCategory, problems) {
  const { conv } = convs;
  await page.goto(`${srv.base}/dashboard`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });

  // Search with a typo in the name, pick the learner with the keyboard only.
  const q = page.getByLabel('Email or name');
  await q.focus();
  await q.pressSequentially('Marisela Okonkow');
  const hit = page.locator(`#results button[data-user-id="${user}"]`);
  await hit.waitFor({ timeout: WAIT_MS });
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.userId), user,
    'ArrowDown moves to the best match, which is the test learner');
  await page.keyboard.press('Enter');

  // The profile chart shows exactly the counts the API recorded.
  const want = sorted(counts);
  await page.waitForFunction((w) => {
    const c = window.errataDashboard.profileCounts();
    return JSON.stringify(Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)))) === w;
  }, want, { timeout: WAIT_MS }).catch(async (e) => {
    throw new Error(`profile chart shows ${JSON.stringify(await page.evaluate(() => window.errataDashboard.profileCounts()))}, want ${want}: ${e.message}`);
  });
  assert.equal(await page.locator('#learner-h').textContent(), 'Marisela Okonkwo');
  assert.equal(await page.locator('#total').textContent(), '6');
  // The accessible table says the same.
  const rows = await page.$$eval('#profile-table tbody tr', (trs) => Object.fromEntries(
    trs.map((tr) => [tr.dataset.subcategoryId, Number(tr.querySelector('.count').textContent)])));
  assert.equal(sorted(rows), want);

  // The trend chart: today's bar holds every error, by category.
  const today = async () => page.evaluate(() => {
    const t = window.errataDashboard.trendCounts();
    const days = Object.keys(t).sort();
    return { days, last: t[days[days.length - 1]] || {}, dates: window.Chart.getChart('trend-chart').data.dates };
  });
  await page.waitForFunction((n) => {
    const t = window.errataDashboard.trendCounts();
    return Object.values(t).flatMap((d) => Object.values(d)).reduce((a, b) => a + b, 0) === n;
  }, 6, { timeout: WAIT_MS });
  let trend = await today();
  assert.equal(trend.dates.length, 30, 'one bar per day for 30 days');
  assert.equal(trend.days.length, 1, `errors on one day only: ${JSON.stringify(trend)}`);
  assert.equal(trend.days[0], trend.dates[trend.dates.length - 1], 'they are on the last (today\'s) bar');
  assert.equal(sorted(trend.last), sorted(byCategory));

  // Practice: items, each with its reason.
  await page.waitForSelector('#practice li.exercise', { timeout: WAIT_MS });
  const items = await page.$$eval('#practice li.exercise', (lis) => lis.map((li) => ({
    sub: li.dataset.subcategoryId, because: li.querySelector('.because')?.textContent || '' })));
  assert.ok(items.length > 0);
  for (const it of items) {
    assert.match(it.because, /^Because: \d+ errors? in /, JSON.stringify(it));
    assert.ok(counts[it.sub], `practice for ${it.sub}, which the learner has errors in`);
  }

  // Conversations: the first page of 20, newest first, with their utterance
  // counts; "Load more" is there because a second page follows.
  await page.waitForFunction(() => document.querySelectorAll('#conversations li.conversation').length === 20,
    null, { timeout: WAIT_MS });
  let listed = await conversationRows(page);
  assert.deepEqual(listed.map((r) => r.id), convs.order.slice(0, 20), 'newest first');
  assert.deepEqual(listed.slice(0, 3).map((r) => r.count), ['2 utterances', '1 utterance', '0 utterances']);
  for (let i = 1; i < listed.length; i++) {
    assert.ok(Date.parse(listed[i - 1].started) > Date.parse(listed[i].started), `started times descend: ${JSON.stringify(listed)}`);
  }
  assert.ok(await page.locator('#conversations-empty').isHidden());
  const more = page.getByRole('button', { name: 'Load more conversations' });
  assert.ok(await more.isVisible(), '"Load more" is shown while a next page exists');
  // Load the last page from the keyboard: the button goes, focus moves to the
  // first row it added.
  await more.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#conversations li.conversation').length === 22,
    null, { timeout: WAIT_MS });
  listed = await conversationRows(page);
  assert.deepEqual(listed.map((r) => r.id), convs.order, 'both pages, newest first, no repeats');
  assert.ok(await more.isHidden(), '"Load more" is gone on the last page');
  assert.equal(await page.evaluate(() => document.activeElement?.closest('li.conversation')?.dataset.conversationId),
    convs.order[20], 'focus moves to the first row loaded');

  // Open the newest conversation from the keyboard: its utterances in order,
  // each error with the learner's words and the correction.
  const toggle = (id) => page.locator(`#conversations li[data-conversation-id="${id}"] button.conv-toggle`);
  await toggle(conv).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.querySelectorAll(`#conversation-${id} li.utterance`).length === 2,
    conv, { timeout: WAIT_MS });
  assert.equal(await toggle(conv).getAttribute('aria-expanded'), 'true');
  let said = await openedConversation(page, conv);
  assert.deepEqual(said.map((u) => u.content), Array(2).fill('She go to school yesterday and buyed a apple.'));
  assert.deepEqual(said.map((u) => u.errors.length), [3, 3]);
  assert.deepEqual(said[0].errors.find((e) => e.subcategory === 'Verb Tense'),
    { subcategory: 'Verb Tense', original: 'go', correction: 'went' });
  assert.ok(await page.locator(`#conversation-${conv}`).getByText('went', { exact: true }).isVisible());
  // The learner's text is text, never markup.
  await toggle(convs.older).click();
  await page.waitForFunction((id) => document.querySelectorAll(`#conversation-${id} li.utterance`).length === 1,
    convs.older, { timeout: WAIT_MS });
  said = await openedConversation(page, convs.older);
  assert.deepEqual(said, [{ content: convs.markup, elements: 0, errors: [] }]);
  await toggle(convs.older).click();
  assert.equal(await toggle(convs.older).getAttribute('aria-expanded'), 'false');
  assert.ok(await page.locator(`#conversation-${convs.older}`).isHidden());

  // Live: post new errors through the API; the page changes without a reload.
  await page.waitForSelector('#live[data-state="live"]', { timeout: WAIT_MS });
  await page.evaluate(() => { window.__sameDocument = true; });
  const before = await page.evaluate(() => Number(document.body.dataset.version));
  await postErrors(srv, user, conv, [
    { category: 'Vocabulary', subcategory: 'Word Choice' },
    { category: 'Vocabulary', subcategory: 'Word Choice' },
    { category: 'Grammar', subcategory: 'Articles & Determiners' },
  ], counts, byCategory);
  const want2 = sorted(counts);
  await page.waitForFunction((w) => {
    const c = window.errataDashboard.profileCounts();
    return JSON.stringify(Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)))) === w;
  }, want2, { timeout: WAIT_MS }).catch(async (e) => {
    throw new Error(`after the live update the profile chart shows ${JSON.stringify(await page.evaluate(() => window.errataDashboard.profileCounts()))}, want ${want2}: ${e.message}`);
  });
  await page.waitForFunction((n) => {
    const t = window.errataDashboard.trendCounts();
    return Object.values(t).flatMap((d) => Object.values(d)).reduce((a, b) => a + b, 0) === n;
  }, 9, { timeout: WAIT_MS });
  trend = await today();
  assert.equal(sorted(trend.last), sorted(byCategory));
  assert.equal(await page.locator('#total').textContent(), '9');
  assert.ok(await page.evaluate(() => window.__sameDocument === true), 'the page was not reloaded');
  assert.ok(await page.evaluate((b) => Number(document.body.dataset.version) > b, before));
  // The conversations' first page was fetched again: the newest now has three
  // utterances, and being open it shows the third; the second page stays.
  await page.waitForFunction((id) => document.querySelectorAll(`#conversation-${id} li.utterance`).length === 3,
    conv, { timeout: WAIT_MS }).catch(async (e) => {
    throw new Error(`after the live update the conversations show ${JSON.stringify(await conversationRows(page))}, `
      + `want 3 utterances, open, in ${conv}: ${e.message}`);
  });
  listed = await conversationRows(page);
  assert.deepEqual(listed.map((r) => r.id), convs.order);
  assert.deepEqual(listed.slice(0, 2).map((r) => [r.count, r.expanded]), [['3 utterances', 'true'], ['1 utterance', 'false']]);
  said = await openedConversation(page, conv);
  assert.deepEqual(said[2].errors.map((e) => e.subcategory).sort(), ['Articles & Determiners', 'Word Choice', 'Word Choice']);

  // A point errata has no exercise for (not in the taxonomy, and no words to
  // build one on) is named under the practice set, once it ranks among the
  // learner's points (docs/ranking.md, `uncovered`).
  assert.ok(await page.locator('#practice-uncovered').isHidden(), 'every point had exercises');
  const drift = { category: 'Discourse', subcategory: 'Topic Drift' };
  await postErrors(srv, user, conv, [drift, drift, drift, drift], counts, byCategory);
  await page.waitForFunction(() => {
    const p = document.getElementById('practice-uncovered');
    return !p.hidden && p.textContent === 'No exercise yet for: Topic Drift (4 errors)';
  }, null, { timeout: WAIT_MS }).catch(async (e) => {
    const note = await page.locator('#practice-uncovered').evaluate((p) => `hidden ${p.hidden}: ${p.textContent}`);
    throw new Error(`the note of points without exercises: ${note}: ${e.message}`);
  });

  // Screenshots: desktop, then phone width (no sideways scrolling there).
  await page.locator('#profile-table').evaluate((t) => { t.closest('details').open = true; });
  await page.waitForTimeout(400);  // let the charts' short animation finish
  const desktop = path.join(OUT_DIR, 'dashboard.png');
  await page.screenshot({ path: desktop, fullPage: true });
  console.log(`screenshot: ${desktop}`);

  // The charts follow the new width when Chart.js's resize observer fires,
  // which takes longer than a fixed pause on a loaded machine (CI once saw
  // the desktop-width canvases still in place after 400 ms): wait for the
  // page to fit, and fail with the overflow if it never does.
  await page.setViewportSize({ width: 375, height: 812 });
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth,
    null, { timeout: WAIT_MS }).catch(() => {});
  const left = await overflow();
  assert.ok(left <= 0, `no horizontal scrolling at 375 px (overflow ${left}px)`);
  await page.waitForTimeout(400);  // the charts' redraw at the new size
  const phone = path.join(OUT_DIR, 'dashboard-phone.png');
  await page.screenshot({ path: phone, fullPage: true });
  console.log(`screenshot: ${phone}`);

  // Accessibility basics: every form control is labelled, the charts have
  // text alternatives, and the page's own text passes contrast (checked on
  // its computed colours).
  const a11y = await page.evaluate(() => {
    const unlabelled = [...document.querySelectorAll('input, select, textarea')]
      .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')))
      .map((e) => e.id || e.name);
    const charts = [...document.querySelectorAll('canvas')].map((c) => c.getAttribute('aria-label') || '');
    const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bg = (e) => {
      for (; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c;
      }
      return [255, 255, 255];
    };
    const low = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const e = n.parentElement;
      if (!n.textContent.trim() || !e.checkVisibility?.() || e.closest('.sr-only, .skip')) continue;
      const a = lum(rgb(getComputedStyle(e).color));
      const b = lum(bg(e));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < 4.5) low.push(`${n.textContent.trim().slice(0, 30)}: ${ratio.toFixed(2)}`);
    }
    return { unlabelled, charts, low };
  });
  assert.deepEqual(a11y.unlabelled, []);
  for (const label of a11y.charts) assert.ok(label.length > 20, `chart text alternative: ${label}`);
  assert.deepEqual(a11y.low, [], 'text below 4.5:1 contrast');

  // Another learner, without conversations: the panel says so.
  await page.setViewportSize({ width: 1280, height: 900 });
  await q.fill('Marisol Oyelaran');
  await page.keyboard.press('Enter');
  await page.locator('#results button.result', { hasText: 'Marisol Oyelaran' }).first().click();
  await page.locator('#conversations-empty').waitFor({ timeout: WAIT_MS });
  assert.equal(await page.locator('#conversations-empty').textContent(), 'No conversations yet.');
  assert.equal(await page.locator('#conversations li').count(), 0);
  assert.ok(await more.isHidden());

  // The learner viewed is erased: the page says so, and stops listening.
  await page.waitForFunction(() => document.getElementById('live-text').textContent.startsWith('Live'),
    null, { timeout: WAIT_MS });
  const found = await call(srv, 'GET', '/v1/users/search?q=marisol.o@example.com');
  const marisol = found.json.users.find((u) => u.username === 'Marisol Oyelaran').user_id;
  const erased = await call(srv, 'DELETE', `/v1/users/${marisol}`);
  assert.equal(erased.status, 200, erased.text);
  await page.waitForFunction(() => document.getElementById('live-text').textContent === 'Learner erased',
    null, { timeout: WAIT_MS });
  assert.equal(await page.locator('#error').textContent(), 'This learner was erased: their records are gone.');
  assert.ok(await page.locator('#error').isVisible());

  assert.deepEqual(problems, [], 'no script errors in the page');
}
