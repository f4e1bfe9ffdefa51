// errata dashboard: find a learner, show their error profile, 30-day trend,
// practice set and conversations, and keep them current through the learner's
// SSE stream.
// Plain ES module; Chart.js (UMD build, window.Chart) is loaded before it.
// Only the public /v1 API is used. For tests, the state of each chart is also
// on window.errataDashboard and on data- attributes of the chart boxes.

const Chart = window.Chart;
const $ = (id) => document.getElementById(id);

// Colours per category, in taxonomy order; each has at least 3:1 contrast
// against the white card, as bars need (WCAG 1.4.11).
const PALETTE = ['#1f5fbf', '#c2410c', '#15803d', '#7e22ce', '#a16207', '#0e7490', '#be185d', '#4b5563'];
const TREND_DAYS = 30;
const PRACTICE_N = 10;
const CONVERSATIONS_N = 20;
const REDUCED_MOTION = window.matchMedia('(prefers-reduced-motion: reduce)').matches;

const state = {
  categories: [],          // category names, taxonomy order
  user: null,              // {user_id, username, email, created_at}
  points: new Map(),       // subcategory_id -> point (as errors/top returns it)
  total: 0,
  timeline: null,
  exercises: [],
  uncovered: [],           // points the practice set has nothing for
  conversations: [],       // summaries shown, newest first (as the list route returns them)
  convNext: null,          // cursor of the page after them; null when all are shown
  source: null,            // EventSource
  retryMs: 0,              // the wait before the next reconnection of our own
  retryTimer: 0,
  eventsDuring: new Set(), // per errors/top read in flight: the profile events since it began
  version: 0,              // bumps on every render of live data
  loadSeq: 0,
};
window.errataDashboard = { state, profileCounts, trendCounts };

// ---------- helpers ----------

async function api(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const msg = body?.error?.message || body?.detail || `${res.status} ${res.statusText}`;
    const err = new Error(typeof msg === 'string' ? msg : JSON.stringify(msg));
    err.status = res.status;
    throw err;
  }
  return body;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function debounce(fn, ms) {
  let t = 0;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

function colour(category) {
  let i = state.categories.indexOf(category);
  if (i < 0) { state.categories.push(category); i = state.categories.length - 1; }
  return PALETTE[i % PALETTE.length];
}

function fmtDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

function fmtDateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined,
    { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function fmtTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso || '' : d.toLocaleTimeString();
}

function pct(x) {
  return typeof x === 'number' ? `${Math.round(x * 100)}%` : '–';
}

function showError(msg) {
  const p = $('error');
  p.textContent = msg || '';
  p.hidden = !msg;
}

// ---------- search ----------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
let searchSeq = 0;

async function search(q) {
  q = q.trim();
  const seq = ++searchSeq;
  const list = $('results');
  const status = $('search-status');
  if (!q) { list.replaceChildren(); status.textContent = ''; return; }
  status.textContent = 'Searching…';
  try {
    let users;
    if (UUID.test(q)) {
      users = [await api(`/v1/users/${encodeURIComponent(q)}`)];
    } else {
      users = (await api(`/v1/users/search?q=${encodeURIComponent(q)}&limit=10`)).users || [];
    }
    if (seq !== searchSeq) return;  // a newer search is under way
    list.replaceChildren(...users.map((u) => el('li', {},
      el('button', {
        type: 'button', class: 'result', 'data-user-id': u.user_id,
        'aria-current': state.user?.user_id === u.user_id ? 'true' : null,
        onclick: () => selectUser(u, { focus: true }),
      },
      el('span', { class: 'name', text: u.username }),
      el('span', { class: 'email', text: u.email || 'no email' })))));
    status.textContent = users.length === 0 ? `No learner matches “${q}”.`
      : `${users.length} learner${users.length === 1 ? '' : 's'} found.`;
  } catch (e) {
    if (seq !== searchSeq) return;
    list.replaceChildren();
    status.textContent = e.status === 404 ? `No learner matches “${q}”.` : `Search failed: ${e.message}`;
  }
}

function resultButtons() {
  return [...$('results').querySelectorAll('button.result')];
}

function setUpSearch() {
  const input = $('q');
  const later = debounce(() => search(input.value), 250);
  input.addEventListener('input', later);
  $('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); search(input.value); });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') {
      const b = resultButtons();
      if (b.length) { ev.preventDefault(); b[0].focus(); }
    } else if (ev.key === 'Escape') {
      input.value = ''; search('');
    }
  });
  $('results').addEventListener('keydown', (ev) => {
    const b = resultButtons();
    const i = b.indexOf(document.activeElement);
    if (i < 0) return;
    let next = null;
    if (ev.key === 'ArrowDown') next = b[Math.min(i + 1, b.length - 1)];
    else if (ev.key === 'ArrowUp') next = i === 0 ? input : b[i - 1];
    else if (ev.key === 'Home') next = b[0];
    else if (ev.key === 'End') next = b[b.length - 1];
    else if (ev.key === 'Escape') next = input;
    if (next) { ev.preventDefault(); next.focus(); }
  });
}

// ---------- selecting a learner ----------

async function selectUser(u, { focus = false } = {}) {
  const seq = ++state.loadSeq;
  state.user = u;
  state.points = new Map();
  state.total = 0;
  state.timeline = null;
  state.exercises = [];
  state.uncovered = [];
  state.conversations = [];
  state.convNext = null;
  $('conversations').replaceChildren();
  $('conversations-empty').hidden = true;
  $('conversations-more').hidden = true;
  $('conversations-status').textContent = '';
  for (const b of resultButtons()) {
    if (b.dataset.userId === u.user_id) b.setAttribute('aria-current', 'true');
    else b.removeAttribute('aria-current');
  }
  if (location.hash !== `#user=${u.user_id}`) history.replaceState(null, '', `#user=${u.user_id}`);
  $('learner').hidden = false;
  $('learner-h').textContent = u.username;
  $('who').textContent = [u.email, `joined ${fmtDate(u.created_at)}`].filter(Boolean).join(' · ');
  document.title = `${u.username} · errata dashboard`;
  showError('');
  connect(u.user_id);
  if (focus) {
    // Move keyboard and screen-reader users to what they just opened.
    $('learner-h').setAttribute('tabindex', '-1');
    $('learner-h').focus();
  }
  await reload(seq);
}

// Fetches everything for the selected learner. `seq` guards against a
// learner switch while the requests are in flight.
async function reload(seq = state.loadSeq) {
  const id = state.user?.user_id;
  if (!id) return;
  refreshConversations(seq);
  const during = [];
  state.eventsDuring.add(during);
  try {
    const [top, timeline, practice] = await Promise.all([
      api(`/v1/users/${id}/errors/top?n=100`),
      api(`/v1/users/${id}/errors/timeline?days=${TREND_DAYS}`),
      api(`/v1/users/${id}/exercises?n=${PRACTICE_N}`),
    ]);
    if (seq !== state.loadSeq) return;
    state.points = new Map((top.errors || []).map((p) => [p.subcategory_id, p]));
    state.total = [...state.points.values()].reduce((s, p) => s + (p.frequency || 0), 0);
    // A profile event that came while errors/top was read may be newer than
    // its answer, which would undo it: the events are applied again, in
    // order. Each carries its points' whole state, so the newest wins.
    for (const data of during) applyProfileEvent(data);
    state.timeline = timeline;
    state.exercises = practice.exercises || [];
    state.uncovered = practice.uncovered || [];
    render();
  } catch (e) {
    if (seq === state.loadSeq) showError(`Could not load this learner: ${e.message}`);
  } finally {
    state.eventsDuring.delete(during);
  }
}

// Only the timeline, the practice set and the first page of conversations:
// after a live event, whose points already updated the profile.
async function refreshDerived(seq = state.loadSeq) {
  const id = state.user?.user_id;
  if (!id) return;
  refreshConversations(seq);
  try {
    const [timeline, practice] = await Promise.all([
      api(`/v1/users/${id}/errors/timeline?days=${TREND_DAYS}`),
      api(`/v1/users/${id}/exercises?n=${PRACTICE_N}`),
    ]);
    if (seq !== state.loadSeq) return;
    state.timeline = timeline;
    state.exercises = practice.exercises || [];
    state.uncovered = practice.uncovered || [];
    renderTrend();
    renderPractice();
    bump();
  } catch (e) {
    if (seq === state.loadSeq) showError(`Could not refresh: ${e.message}`);
  }
}
const refreshSoon = debounce(() => refreshDerived(), 200);

// ---------- live ----------

function setLive(s, text) {
  $('live').dataset.state = s;
  $('live-text').textContent = text;
}

// Our own reconnections, after the browser gave up: 1 s, doubling to 30 s.
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;

// `again`: a reconnection of ours, which catches up once open.
function connect(userId, { again = false } = {}) {
  clearTimeout(state.retryTimer);
  if (state.source) state.source.close();
  if (!again) state.retryMs = 0;
  setLive('connecting', 'Connecting…');
  const src = new EventSource(`/v1/users/${userId}/stream`);
  state.source = src;
  let opened = again;
  src.onopen = () => {
    if (state.source !== src) return;
    state.retryMs = 0;
    setLive('live', 'Live');
    // After a reconnection, catch up on anything missed.
    if (opened) reload();
    opened = true;
  };
  src.onerror = () => {
    if (state.source !== src) return;
    if (src.readyState === EventSource.CLOSED) recover(src, userId);
    else setLive('connecting', 'Reconnecting…');
  };
  // The learner was erased (DELETE /v1/users/{id}): the stream ends for good.
  src.addEventListener('erased', () => {
    if (state.source === src) showErased(src);
  });
  src.addEventListener('profile', (ev) => {
    if (state.source !== src) return;
    let data;
    try { data = JSON.parse(ev.data); } catch { return; }
    if (data.user_id !== state.user?.user_id) return;
    applyProfileEvent(data);
    for (const during of state.eventsDuring) during.push(data);
    renderProfile();
    bump();
    const now = new Date().toLocaleTimeString();
    setLive('live', `Live · updated ${now}`);
    refreshSoon();
  });
}

function applyProfileEvent(data) {
  for (const p of data.changed || []) state.points.set(p.subcategory_id, p);
  if (typeof data.total_errors === 'number') state.total = data.total_errors;
}

function showErased(src) {
  src.close();
  state.source = null;
  setLive('off', 'Learner erased');
  showError('This learner was erased: their records are gone.');
}

// The browser gives up on a stream for good once a reconnection is answered
// other than 200 (a 503 while the store is down, a 404 for a learner erased
// meanwhile, whose `erased` event never came). Whether the learner is still
// there tells which: gone, the page says so; otherwise it reconnects itself,
// waiting longer each time.
async function recover(src, userId) {
  setLive('connecting', 'Reconnecting…');
  let gone = false;
  try { await api(`/v1/users/${userId}`); } catch (e) { gone = e.status === 404; }
  if (state.source !== src) return;  // another learner meanwhile
  if (gone) return showErased(src);
  state.retryMs = Math.min(RETRY_MAX_MS, state.retryMs ? state.retryMs * 2 : RETRY_FIRST_MS);
  setLive('connecting', `Reconnecting in ${Math.round(state.retryMs / 1000)} s…`);
  state.retryTimer = setTimeout(() => {
    if (state.source === src) connect(userId, { again: true });
  }, state.retryMs);
}

// ---------- rendering ----------

function bump() {
  state.version += 1;
  document.body.dataset.version = String(state.version);
}

function render() {
  renderProfile();
  renderTrend();
  renderPractice();
  bump();
}

// The points in display order: by category (taxonomy order), then by count.
function orderedPoints() {
  const order = (c) => { const i = state.categories.indexOf(c); return i < 0 ? 1e9 : i; };
  return [...state.points.values()]
    .filter((p) => p.frequency > 0)
    .sort((a, b) => order(a.category) - order(b.category) || a.category.localeCompare(b.category)
      || b.frequency - a.frequency || a.subcategory.localeCompare(b.subcategory));
}

// {subcategory_id: count} as the profile chart shows it.
function profileCounts() {
  const chart = Chart.getChart('profile-chart');
  const out = {};
  if (!chart) return out;
  const ids = chart.data.ids || [];
  chart.data.datasets.forEach((ds) => ds.data.forEach((v, i) => { if (v != null) out[ids[i]] = v; }));
  return out;
}

// {date: {category: count}} as the trend chart shows it (non-zero only).
function trendCounts() {
  const chart = Chart.getChart('trend-chart');
  const out = {};
  if (!chart) return out;
  const dates = chart.data.dates || [];
  for (const ds of chart.data.datasets) {
    ds.data.forEach((v, i) => { if (v) (out[dates[i]] ||= {})[ds.label] = v; });
  }
  return out;
}

const baseOptions = () => ({
  responsive: true,
  maintainAspectRatio: false,
  animation: REDUCED_MOTION ? false : { duration: 250 },
  plugins: { legend: { position: 'bottom', labels: { boxWidth: 14, boxHeight: 14 } } },
});

function renderProfile() {
  const points = orderedPoints();
  $('total').textContent = String(state.total);
  $('total').dataset.total = String(state.total);
  const cats = [...new Set(points.map((p) => p.category))];
  const labels = points.map((p) => p.subcategory);
  const datasets = cats.map((c) => ({
    label: c,
    data: points.map((p) => (p.category === c ? p.frequency : null)),
    backgroundColor: colour(c),
    borderWidth: 0,
    barThickness: 'flex',
    maxBarThickness: 22,
  }));
  const box = $('profile-box');
  box.hidden = points.length === 0;
  $('profile-empty').hidden = points.length !== 0;
  box.style.height = `${Math.max(140, points.length * 30 + 70)}px`;
  const counts = Object.fromEntries(points.map((p) => [p.subcategory_id, p.frequency]));
  box.dataset.counts = JSON.stringify(counts);

  let chart = Chart.getChart('profile-chart');
  if (!chart) {
    chart = new Chart($('profile-chart'), {
      type: 'bar',
      data: { labels, datasets },
      options: {
        ...baseOptions(),
        indexAxis: 'y',
        scales: {
          x: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'errors' } },
          y: { stacked: true, ticks: { autoSkip: false } },
        },
        plugins: {
          ...baseOptions().plugins,
          tooltip: { callbacks: { title: (items) => `${items[0].dataset.label} · ${items[0].label}` } },
        },
      },
    });
  } else {
    chart.data.labels = labels;
    chart.data.datasets = datasets;
  }
  chart.data.ids = points.map((p) => p.subcategory_id);
  chart.update();
  $('profile-chart').setAttribute('aria-label', points.length === 0 ? 'No errors recorded yet'
    : `Bar chart of errors by subcategory: ${points.map((p) => `${p.subcategory} ${p.frequency}`).join(', ')}. The table below has the same data.`);

  const tbody = $('profile-table').tBodies[0];
  tbody.replaceChildren(...points.map((p) => el('tr', { 'data-subcategory-id': p.subcategory_id },
    el('td', { text: p.category }),
    el('th', { scope: 'row', text: p.subcategory }),
    el('td', { class: 'num count', text: String(p.frequency) }),
    el('td', { class: 'num', text: pct(p.mastery) }))));
}

function renderTrend() {
  const t = state.timeline;
  if (!t) return;
  const series = t.series || [];
  const dates = series.map((d) => d.date);
  const used = (t.categories || []).filter((c) => series.some((d) => (d.counts?.[c] || 0) > 0));
  const cats = used.length ? used : (t.categories || []).slice(0, 1);
  const labels = dates.map((d) => {
    const [y, m, day] = d.split('-').map(Number);
    return new Date(Date.UTC(y, m - 1, day)).toLocaleDateString(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });
  });
  const datasets = cats.map((c) => ({
    label: c,
    data: series.map((d) => d.counts?.[c] || 0),
    backgroundColor: colour(c),
    borderWidth: 0,
  }));
  const box = $('trend-box');
  box.dataset.counts = JSON.stringify(Object.fromEntries(series
    .filter((d) => Object.values(d.counts || {}).some((v) => v > 0))
    .map((d) => [d.date, Object.fromEntries(Object.entries(d.counts).filter(([, v]) => v > 0))])));

  let chart = Chart.getChart('trend-chart');
  if (!chart) {
    chart = new Chart($('trend-chart'), {
      type: 'bar',
      data: { labels, datasets },
      options: {
        ...baseOptions(),
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 8 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'errors' } },
        },
      },
    });
  } else {
    chart.data.labels = labels;
    chart.data.datasets = datasets;
  }
  chart.data.dates = dates;
  chart.update();
  const total = series.reduce((s, d) => s + Object.values(d.counts || {}).reduce((a, b) => a + b, 0), 0);
  $('trend-chart').setAttribute('aria-label',
    `Stacked bar chart of errors per day by category since ${t.from}: ${total} errors in ${TREND_DAYS} days. The table below lists the days with errors.`);

  const table = $('trend-table');
  table.tHead.replaceChildren(el('tr', {}, el('th', { scope: 'col', text: 'Day' }),
    ...cats.map((c) => el('th', { scope: 'col', class: 'num', text: c })),
    el('th', { scope: 'col', class: 'num', text: 'Total' })));
  const rows = series.filter((d) => cats.some((c) => (d.counts?.[c] || 0) > 0)).reverse();
  table.tBodies[0].replaceChildren(...(rows.length ? rows.map((d) => el('tr', { 'data-date': d.date },
    el('th', { scope: 'row', text: d.date }),
    ...cats.map((c) => el('td', { class: 'num', text: String(d.counts?.[c] || 0) })),
    el('td', { class: 'num', text: String(cats.reduce((s, c) => s + (d.counts?.[c] || 0), 0)) })))
    : [el('tr', {}, el('td', { colspan: String(cats.length + 2), text: 'No errors in the last 30 days.' }))]));
}

const TYPE_NAMES = {
  multiple_choice: 'Multiple choice', fill_blank: 'Fill in the blank', sentence_correction: 'Correct the sentence',
  sentence_transformation: 'Transform the sentence', minimal_pair: 'Minimal pair', read_aloud: 'Read aloud',
  speaking_prompt: 'Speaking',
};

function renderPractice() {
  const list = $('practice');
  const xs = state.exercises;
  $('practice-empty').hidden = xs.length !== 0;
  list.replaceChildren(...xs.map((x) => {
    const b = x.because || {};
    const because = el('p', { class: 'because' },
      el('strong', { text: 'Because: ' }),
      `${b.count} error${b.count === 1 ? '' : 's'} in `,
      el('span', { class: 'tag', style: null, 'data-category': b.category, text: b.subcategory }),
      ` (${b.category}), last on ${fmtDate(b.last_seen)}; mastery ${pct(b.mastery)}.`);
    const tag = el('span', { class: 'chip', text: TYPE_NAMES[x.type] || x.type });
    const level = x.level ? el('span', { class: 'chip', text: x.level }) : null;
    const own = x.source === 'own_words' ? el('span', { class: 'chip own', text: 'from their own words' }) : null;
    const options = (x.options || []).length
      ? el('ul', { class: 'options', 'aria-label': 'Options' }, x.options.map((o) => el('li', { text: o })))
      : null;
    const answer = (x.answers || []).length || x.explanation
      ? el('details', { class: 'answer' }, el('summary', { text: 'Answer' }),
        (x.answers || []).length ? el('p', {}, el('strong', { text: 'Answer: ' }), x.answers.join(' / ')) : null,
        x.explanation ? el('p', { text: x.explanation }) : null)
      : null;
    return el('li', { class: 'exercise', 'data-exercise-id': x.exercise_id, 'data-subcategory-id': b.subcategory_id },
      el('div', { class: 'chips' }, tag, level, own),
      el('p', { class: 'prompt', text: x.prompt }),
      options, because, answer);
  }));
  for (const t of list.querySelectorAll('.tag')) t.style.borderColor = colour(t.dataset.category);
  // The points errata has no exercise for (docs/ranking.md, `uncovered`).
  const un = state.uncovered;
  const note = $('practice-uncovered');
  note.hidden = un.length === 0;
  note.replaceChildren(el('strong', { text: 'No exercise yet for: ' }),
    ...un.flatMap((p, i) => [i ? ', ' : '',
      el('span', { class: 'tag', 'data-category': p.category, text: p.subcategory }),
      ` (${p.count} error${p.count === 1 ? '' : 's'})`]));
  for (const t of note.querySelectorAll('.tag')) t.style.borderColor = colour(t.dataset.category);
}

// ---------- conversations ----------

// The first page of the learner's conversations again (on select, after a live
// event or a reconnection), or with `more` the page after the ones shown. A
// refreshed first page that overlaps the rows shown is merged into them (new
// conversations only come at the top), so pages loaded with "Load more" and
// open conversations stay; otherwise it replaces them.
async function loadConversations({ more = false, seq = state.loadSeq } = {}) {
  const id = state.user?.user_id;
  if (!id || (more && !state.convNext)) return;
  const from = state.convNext;
  const after = more ? `&after=${encodeURIComponent(from)}` : '';
  const page = await api(`/v1/users/${id}/conversations?limit=${CONVERSATIONS_N}${after}`);
  if (seq !== state.loadSeq) return;
  const got = page.conversations || [];
  if (more) {
    if (state.convNext !== from) return;  // the list was replaced meanwhile
    state.conversations.push(...got);
    state.convNext = page.next || null;
  } else {
    const last = got[got.length - 1];
    if (page.next && state.conversations.some((c) => c.conversation_id === last.conversation_id)) {
      const ids = new Set(got.map((c) => c.conversation_id));
      state.conversations = [...got, ...state.conversations.filter((c) => !ids.has(c.conversation_id))];
    } else {
      state.conversations = got;
      state.convNext = page.next || null;
    }
  }
  renderConversations();
  bump();
}

async function refreshConversations(seq = state.loadSeq) {
  try {
    await loadConversations({ seq });
  } catch (e) {
    if (seq === state.loadSeq) showError(`Could not load the conversations: ${e.message}`);
  }
}

async function loadMoreConversations() {
  const seq = state.loadSeq;
  const btn = $('conversations-more');
  const list = $('conversations');
  const status = $('conversations-status');
  const before = list.children.length;
  btn.disabled = true;
  status.textContent = 'Loading…';
  try {
    await loadConversations({ more: true, seq });
    if (seq !== state.loadSeq) return;
    const added = list.children.length - before;
    status.textContent = `${added} more conversation${added === 1 ? '' : 's'} loaded; ${list.children.length} shown.`;
    // The button is gone after the last page: keep keyboard users in the list.
    if (btn.hidden) list.children[before]?.querySelector('.conv-toggle')?.focus();
  } catch (e) {
    if (seq === state.loadSeq) status.textContent = `Could not load more conversations: ${e.message}`;
  } finally {
    btn.disabled = false;
  }
}

// Rows are kept by conversation id and moved only when out of place, so an
// open conversation stays open and a focused row keeps the focus.
function renderConversations() {
  const list = $('conversations');
  const xs = state.conversations;
  $('conversations-empty').hidden = xs.length !== 0;
  $('conversations-more').hidden = !state.convNext;
  let at = list.firstElementChild;
  for (const c of xs) {
    const li = conversationRow(c);
    if (li === at) at = at.nextElementSibling;
    else list.insertBefore(li, at);
  }
  while (at) {
    const next = at.nextElementSibling;
    at.remove();
    at = next;
  }
}

// The row of one conversation (the existing one, updated, if it is shown): a
// disclosure button with its summary, and the utterances below it once open.
function conversationRow(c) {
  const id = c.conversation_id;
  let li = $('conversations').querySelector(`li[data-conversation-id="${CSS.escape(id)}"]`);
  if (!li) {
    const body = el('div', { id: `conversation-${id}`, class: 'conversation-body', hidden: true });
    li = el('li', { class: 'conversation', 'data-conversation-id': id },
      el('button', {
        type: 'button', class: 'conv-toggle', 'aria-expanded': 'false', 'aria-controls': body.id,
        onclick: () => toggleConversation(li),
      }),
      body);
  }
  const n = c.utterances || 0;
  li.dataset.utterances = String(n);
  li.querySelector('.conv-toggle').replaceChildren(
    el('span', { class: 'chevron', 'aria-hidden': 'true' }),
    el('span', { class: 'started' }, 'Started ', el('time', { datetime: c.started_at, text: fmtDateTime(c.started_at) })),
    el('span', { class: 'count', text: `${n} utterance${n === 1 ? '' : 's'}` }),
    el('span', { class: 'last' }, c.last_utterance_at
      ? ['last activity ', el('time', { datetime: c.last_utterance_at, text: fmtDateTime(c.last_utterance_at) })]
      : 'no activity yet'));
  // An open conversation that has grown is fetched again.
  if (isOpen(li) && li.dataset.loaded !== li.dataset.utterances) loadConversation(li);
  return li;
}

function isOpen(li) {
  return li.querySelector('.conv-toggle').getAttribute('aria-expanded') === 'true';
}

function toggleConversation(li) {
  const open = !isOpen(li);
  li.querySelector('.conv-toggle').setAttribute('aria-expanded', String(open));
  li.querySelector('.conversation-body').hidden = !open;
  if (open && li.dataset.loaded !== li.dataset.utterances) loadConversation(li);
}

async function loadConversation(li) {
  const seq = state.loadSeq;
  const req = String(Number(li.dataset.req || 0) + 1);  // only the latest request renders
  li.dataset.req = req;
  const body = li.querySelector('.conversation-body');
  if (!body.firstChild) body.append(el('p', { class: 'status', text: 'Loading…' }));
  li.setAttribute('aria-busy', 'true');
  try {
    const conv = await api(`/v1/conversations/${encodeURIComponent(li.dataset.conversationId)}`);
    if (seq !== state.loadSeq || li.dataset.req !== req) return;
    const us = conv.utterances || [];
    body.replaceChildren(renderUtterances(us));
    li.dataset.loaded = String(us.length);
    bump();
  } catch (e) {
    if (seq !== state.loadSeq || li.dataset.req !== req) return;
    delete li.dataset.loaded;
    body.replaceChildren(el('p', { class: 'status', text: `Could not load this conversation: ${e.message}` }));
  } finally {
    if (li.dataset.req === req) li.removeAttribute('aria-busy');
  }
}

// The utterances in order, each with its errors: what the learner said, and
// the correction. Content is the learner's own text: always set as text.
function renderUtterances(us) {
  if (us.length === 0) return el('p', { class: 'empty', text: 'No utterances in this conversation.' });
  const list = el('ol', { class: 'utterances' }, us.map((u) => {
    const errors = u.errors || [];
    return el('li', { class: 'utterance', 'data-utterance-id': u.utterance_id },
      el('p', { class: 'said' }, el('time', { datetime: u.created_at, text: fmtTime(u.created_at) }),
        ` · ${errors.length} error${errors.length === 1 ? '' : 's'}`),
      u.content === null || u.content === undefined
        ? el('p', { class: 'content empty', text: 'No text recorded.' })
        : el('p', { class: 'content', text: u.content }),
      errors.length ? el('ul', { class: 'corrections', 'aria-label': 'Errors' }, errors.map(renderCorrection)) : null);
  }));
  for (const t of list.querySelectorAll('.tag')) t.style.borderColor = colour(t.dataset.category);
  return list;
}

function renderCorrection(e) {
  const has = (v) => v !== null && v !== undefined && v !== '';
  return el('li', { class: 'error-item', 'data-subcategory-id': e.subcategory_id },
    el('span', { class: 'tag', 'data-category': e.category, text: e.subcategory }),
    ` (${e.category})`,
    has(e.original) || has(e.correction) ? ': ' : null,
    has(e.original) ? [el('span', { class: 'sr-only', text: 'said ' }), el('span', { class: 'original', text: e.original })] : null,
    has(e.correction) ? [
      el('span', { class: 'arrow', 'aria-hidden': 'true', text: ' → ' }),
      el('span', { class: 'sr-only', text: has(e.original) ? ', corrected to ' : 'corrected to ' }),
      el('span', { class: 'correction', text: e.correction })] : null,
    has(e.explanation) ? el('span', { class: 'explanation', text: ` – ${e.explanation}` }) : null);
}

// ---------- start ----------

async function start() {
  if (!Chart) {
    showError('The chart library did not load (/dashboard/assets/chart.umd.min.js).');
    return;
  }
  Chart.defaults.color = '#374151';
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 13;
  setUpSearch();
  $('conversations-more').addEventListener('click', loadMoreConversations);
  try {
    const tax = await api('/v1/taxonomy');
    state.categories = (tax.categories || []).map((c) => c.name);
  } catch { /* colours are then assigned as categories appear */ }
  const m = /^#user=([0-9a-f-]{36})$/i.exec(location.hash);
  if (m) {
    try { await selectUser(await api(`/v1/users/${m[1]}`)); } catch (e) { showError(`Learner ${m[1]}: ${e.message}`); }
  } else {
    $('q').focus();
  }
  document.body.dataset.ready = 'true';
}

start();
