// The sessions list (/console): GET /api/v1/sessions with the filters, each row's
// streams from GET /api/v1/sessions/:id, kept current by the live WebSocket (every
// session's events) and, for running streams, a refresh of their counters.
import { api, ApiError } from './api.js';
import { capturedBytes, fill, fmtBytes, fmtDuration, fmtTime, h, message, reconnects, statusBadge } from './dom.js';
import { subscribeLive } from './live.js';

const PAGE = 25;
const list = document.getElementById('sessions');
const more = document.getElementById('more');
const form = document.getElementById('filters');
const liveState = document.getElementById('live-state');
const rows = new Map(); // session id → <tr>
let cursor = null;
let tbody = null;

const params = new URLSearchParams(location.search);
for (const name of ['status', 'created_from', 'created_to']) {
  const v = params.get(name);
  if (v && form.elements[name]) form.elements[name].value = name === 'status' ? v : toLocalInput(v);
}
const filtered = ['status', 'created_from', 'created_to'].some((n) => params.get(n));

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const next = new URLSearchParams();
  const status = form.elements.status.value;
  if (status) next.set('status', status);
  for (const name of ['created_from', 'created_to']) {
    const v = form.elements[name].value;
    if (v) next.set(name, new Date(v).toISOString());
  }
  location.search = next.toString();
});

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function query() {
  const q = new URLSearchParams({ limit: String(PAGE) });
  for (const name of ['status', 'created_from', 'created_to']) if (params.get(name)) q.set(name, params.get(name));
  if (cursor) q.set('cursor', cursor);
  return q.toString();
}

function row(s, streams) {
  const counts = s.received_counts || {};
  const link = h('a', { href: `/console/sessions/${s.id}` }, s.meeting_id ? `Meeting ${s.meeting_id}` : s.meeting_uuid || s.id);
  const tr = h(
    'tr',
    { dataset: { sessionId: s.id, status: s.status } },
    h('td', { 'data-label': 'Status' }, statusBadge(s.status)),
    h('th', { scope: 'row', 'data-label': 'Meeting' }, link, h('div.sub', { text: s.id })),
    h('td', { 'data-label': 'Started', text: fmtTime(s.started_at) }),
    h('td', { 'data-label': 'Ended', text: fmtTime(s.ended_at) }),
    h('td', { 'data-label': 'Duration', text: fmtDuration(s.started_at, s.ended_at) }),
    h('td.num', { 'data-label': 'Participants', text: String(counts.participants_seen ?? 0) }),
    h('td.num', { 'data-label': 'Captured', text: fmtBytes(capturedBytes(counts)) }),
    h('td.num', { 'data-label': 'Reconnects', text: streams ? String(reconnects(streams)) : '…' }),
  );
  return tr;
}

async function render(s) {
  let streams = null;
  try {
    streams = (await api(`/sessions/${s.id}`)).streams;
  } catch {
    /* the row still shows what the list had */
  }
  const tr = row(s, streams);
  const old = rows.get(s.id);
  rows.set(s.id, tr);
  return { tr, old };
}

function table() {
  tbody = h('tbody');
  const head = ['Status', 'Meeting', 'Started', 'Ended', 'Duration', 'Participants', 'Captured', 'Reconnects'];
  return h(
    'div.table-wrap',
    {},
    h('table.sessions', {}, h('caption.visually-hidden', { text: 'Sessions, newest first' }), h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col', text: t })))), tbody),
  );
}

async function loadPage(first) {
  list.setAttribute('aria-busy', 'true');
  try {
    const page = await api(`/sessions?${query()}`);
    if (first) {
      rows.clear();
      if (page.data.length === 0) {
        fill(
          list,
          filtered
            ? message('empty', 'No sessions match these filters.')
            : message(
                'empty',
                h('strong', { text: 'No sessions yet.' }),
                ' Start one: run ',
                h('code', { text: 'npm run demo' }),
                ' for a simulated meeting, or create a session with ',
                h('code', { text: 'POST /api/v1/sessions' }),
                ' and start RTMS in a Zoom meeting (see the README).',
              ),
        );
        more.hidden = true;
        return;
      }
      fill(list, table());
    }
    const rendered = await Promise.all(page.data.map(render));
    for (const { tr } of rendered) tbody.append(tr);
    cursor = page.next_cursor;
    more.hidden = !cursor;
  } catch (err) {
    fill(list, message('error', err instanceof ApiError ? err.message : 'The sessions could not be loaded.'));
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
}

more.addEventListener('click', () => loadPage(false));

// Live: refresh a row when its session has news; a new session reloads the first page.
const pending = new Set();
let flushTimer = null;
let reloadTimer = null;
function refreshSoon(id) {
  pending.add(id);
  clearTimeout(flushTimer);
  flushTimer = setTimeout(async () => {
    const ids = [...pending];
    pending.clear();
    for (const sid of ids) {
      if (!rows.has(sid)) continue;
      try {
        const s = await api(`/sessions/${sid}`);
        const { tr, old } = await render(s);
        if (old && old.isConnected) old.replaceWith(tr);
      } catch {
        /* a deleted session keeps its last row */
      }
    }
  }, 300);
}

subscribeLive({
  sessions: 'all',
  media: ['events'],
  onMessage(msg) {
    if (rows.has(msg.session_id)) refreshSoon(msg.session_id);
    else if (!filtered && msg.data && msg.data.event === 'session.status_changed') {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => {
        cursor = null;
        loadPage(true);
      }, 300);
    }
  },
  onState(state, detail) {
    liveState.textContent = state === 'live' ? 'Live: updates as streams run.' : state === 'error' ? `Live updates refused: ${detail}` : 'Live updates interrupted; reconnecting…';
    liveState.dataset.state = state;
  },
});

// Counters (bytes, participants) are written every ~10 s while a stream runs: re-read those rows.
setInterval(() => {
  for (const [id, tr] of rows) if (tr.dataset.status === 'streaming' || tr.dataset.status === 'paused') refreshSoon(id);
}, 10000);

loadPage(true);
