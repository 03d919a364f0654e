// One session (/console/sessions/:id), from the public API: the session and its streams,
// its events (status and speaker timelines), participants, transcript, artifacts (frames,
// share, audio, chat), Zoom Room dispatches and the deletion log. While it streams, the
// SSE live API (/api/v1/sessions/:id/live) adds transcript lines, chat and events.
import { allPages, api, ApiError, artifactProblem } from './api.js';
import { capturedBytes, fill, fmtBytes, fmtClock, fmtDuration, fmtTime, h, message, reconnects, statusBadge } from './dom.js';
import { followText } from './live.js';

const ID = document.body.dataset.sessionId;
const $ = (id) => document.getElementById(id);
const body = (id) => $(id).querySelector('.body');
const RUNNING = new Set(['rtms_start_requested', 'streaming', 'paused']);
let session = null;
let live = null;

const errorText = (err, what) => (err instanceof ApiError ? err.message : `${what} could not be loaded.`);

// ---- summary, health, controls -------------------------------------------------------

function renderSummary(s) {
  const counts = s.received_counts || {};
  const dl = h('dl.facts');
  const fact = (k, v) => dl.append(h('div', {}, h('dt', { text: k }), h('dd', {}, v)));
  fact('Status', statusBadge(s.status));
  fact('Meeting', s.meeting_id || s.meeting_uuid || '—');
  fact('Started', fmtTime(s.started_at));
  fact('Ended', fmtTime(s.ended_at));
  fact('Duration', fmtDuration(s.started_at, s.ended_at));
  fact('Participants seen', String(counts.participants_seen ?? 0));
  fact('Captured', fmtBytes(capturedBytes(counts)));
  fact('Reconnects', String(reconnects(s.streams)));
  if (s.stop_reason_name || s.failure_reason) fact('Reason', s.failure_reason || s.stop_reason_name);
  if (s.legal_hold) fact('Legal hold', `since ${fmtTime(s.legal_hold.placed_at)}${s.legal_hold.reason ? ` — ${s.legal_hold.reason}` : ''}`);
  fill($('summary'), dl);
  $('title').dataset.status = s.status;
  for (const b of $('controls').querySelectorAll('button')) {
    const a = b.dataset.action;
    b.disabled = !((a === 'stop' && RUNNING.has(s.status)) || (a === 'pause' && s.status === 'streaming') || (a === 'resume' && s.status === 'paused'));
  }
}

function renderHealth(s) {
  if (!s.streams || s.streams.length === 0) {
    fill(body('health'), message('empty', s.status === 'created' ? 'No stream yet: RTMS has not started in this meeting.' : 'No stream was recorded for this session.'));
    return;
  }
  const blocks = s.streams.map((st) => {
    const dl = h('dl.facts.stream');
    const fact = (k, v) => dl.append(h('div', {}, h('dt', { text: k }), h('dd', {}, v)));
    fact('Stream', h('code', { text: st.rtms_stream_id }));
    fact('Status', st.status);
    fact('Owning worker', st.owner_worker_id || '—');
    fact('Connected', fmtTime(st.connected_at));
    fact('Last keep-alive', fmtTime(st.last_keepalive_at));
    fact('Reconnects', Object.entries(st.reconnect_counts || {}).map(([k, v]) => `${k}: ${v}`).join(', ') || '0');
    fact('Failovers', String(st.failover_count ?? 0));
    if (st.stop_reason !== null && st.stop_reason !== undefined) fact('Stop reason', String(st.stop_reason));
    if (st.failure_reason) fact('Failure', st.failure_reason);
    return dl;
  });
  fill(body('health'), blocks);
}

async function loadSession() {
  try {
    session = await api(`/sessions/${ID}`);
  } catch (err) {
    if (err instanceof ApiError && (err.code === 'session_not_found' || err.status === 404)) {
      fill($('summary'), message('error', 'No such session: it never existed here or it was deleted. ', h('a', { href: '/console' }, 'Back to the sessions.')));
      for (const el of document.querySelectorAll('.panel, .grid, #controls')) el.hidden = true;
      return false;
    }
    fill($('summary'), message('error', errorText(err, 'The session')));
    return false;
  }
  renderSummary(session);
  renderHealth(session);
  return true;
}

for (const b of $('controls').querySelectorAll('button')) {
  b.addEventListener('click', async () => {
    const action = b.dataset.action;
    const state = $('control-state');
    b.disabled = true;
    state.textContent = `${action[0].toUpperCase()}${action.slice(1)} requested…`;
    try {
      await api(`/sessions/${ID}/rtms/${action}`, { method: 'POST', body: {} });
      state.textContent = `${action[0].toUpperCase()}${action.slice(1)} sent to Zoom; waiting for the stream to change…`;
      pollUntilChanged(session.status);
    } catch (err) {
      state.textContent = `Could not ${action}: ${err.message}`;
      b.disabled = false;
    }
  });
}

function pollUntilChanged(from) {
  let tries = 0;
  const tick = async () => {
    tries++;
    if (!(await loadSession())) return;
    if (session.status !== from) {
      $('control-state').textContent = `Now ${session.status.replace(/_/g, ' ')}.`;
      loadEvents();
      return;
    }
    if (tries < 30) setTimeout(tick, 1000);
  };
  setTimeout(tick, 500);
}

// ---- events: status timeline and speakers ----------------------------------------------

function eventName(e) {
  return e.event_type;
}

/**
 * What a media.lost / dropped / deferred / recovered event counts, and why: `items` is a
 * number of items (the batcher's events) or counts by kind (`{ audio_segment: 2 }`).
 */
function mediaNote(p) {
  const items = p.items;
  const counted =
    typeof items === 'number'
      ? `${items} item${items === 1 ? '' : 's'}`
      : items && typeof items === 'object'
        ? Object.entries(items)
            .map(([kind, n]) => `${n} ${kind.replace(/_/g, ' ')}${n === 1 ? '' : 's'}`)
            .join(', ')
        : '';
  const why = p.reason || p.from || '';
  return [counted, why.replace(/_/g, ' ')].filter(Boolean).join(' · ');
}

function renderTimeline(events) {
  const items = [];
  for (const e of events) {
    const p = e.payload || {};
    const type = eventName(e);
    if (type === 'session.status_changed') items.push({ at: e.created_at, cls: 'status', label: `${(p.previous_status || p.from || '?').replace(/_/g, ' ')} → ${(p.status || p.to || '?').replace(/_/g, ' ')}`, note: p.stop_reason_name || p.failure_reason || p.reason || '' });
    else if (type === 'session.created') items.push({ at: e.created_at, cls: 'status', label: 'created', note: '' });
    else if (type === 'stream.reconnect') items.push({ at: e.created_at, cls: 'warn', label: `reconnect (${p.cause || 'unknown'})`, note: p.detail || '' });
    else if (type === 'stream.failover') items.push({ at: e.created_at, cls: 'warn', label: 'failover', note: 'Zoom moved the stream to other servers' });
    else if (type === 'stream.handed_over') items.push({ at: e.created_at, cls: 'warn', label: 'handed over to another worker', note: '' });
    else if (type === 'media.lost' || type === 'media.dropped') items.push({ at: e.created_at, cls: 'warn', label: type.replace('.', ' '), note: mediaNote(p) });
    else if (type === 'media.deferred') items.push({ at: e.created_at, cls: 'warn', label: 'media deferred', note: `${mediaNote(p)}, left on ${p.spool_host || 'this host'} for the next worker` });
    else if (type === 'media.recovered') items.push({ at: e.created_at, cls: 'status', label: 'media recovered', note: mediaNote(p) });
  }
  if (items.length === 0) return fill(body('timeline'), message('empty', 'No status changes recorded yet.'));
  fill(
    body('timeline'),
    h(
      'ol.timeline',
      {},
      items.map((i) => h(`li.${i.cls}`, {}, h('time', { datetime: i.at, text: fmtClock(i.at) }), ' ', h('strong', { text: i.label }), i.note ? h('span.note', { text: ` ${i.note}` }) : null)),
    ),
  );
}

const speakers = [];
/** A change to the one already speaking (Zoom's raw event and the hub's observation of it) is not a new turn. */
function addSpeaker(s) {
  const last = speakers[speakers.length - 1];
  if (last && String(last.user) === String(s.user) && last.name === s.name) return false;
  speakers.push(s);
  return true;
}
function speakerOf(type, p) {
  if (type !== 'active_speaker.changed' && type !== 'rtms.active_speaker_changed') return null;
  const name = p.user_name ?? p.userName ?? p.name ?? null;
  const user = p.user_id ?? p.userId ?? null;
  return { name: name || (user !== null ? `user ${user}` : 'unknown'), user };
}

function renderSpeakers() {
  if (speakers.length === 0) return fill(body('speakers'), message('empty', 'Nobody has spoken yet (or the capture policy keeps no speaker events).'));
  const list = h('ol.speakers', {});
  speakers.forEach((s, i) => {
    const until = speakers[i + 1]?.at ?? (RUNNING.has(session?.status) ? null : session?.ended_at);
    list.append(h('li', {}, h('time', { datetime: s.at, text: fmtClock(s.at) }), ' ', h('strong', { text: s.name }), h('span.note', { text: until ? ` for ${fmtDuration(s.at, until)}` : ' (speaking)' })));
  });
  fill(body('speakers'), list);
}

async function loadEvents() {
  try {
    const events = (await allPages(`/sessions/${ID}/events`, 2000)).reverse();
    renderTimeline(events);
    speakers.length = 0;
    for (const e of events) {
      const s = speakerOf(eventName(e), e.payload || {});
      if (s) addSpeaker({ ...s, at: e.created_at });
    }
    renderSpeakers();
  } catch (err) {
    fill(body('timeline'), message('error', errorText(err, 'The events')));
    fill(body('speakers'), message('error', errorText(err, 'The events')));
  }
}

// ---- participants --------------------------------------------------------------------

let participants = [];
async function loadParticipants() {
  try {
    participants = (await api(`/sessions/${ID}/participants`)).data;
  } catch (err) {
    fill(body('participants'), message('error', errorText(err, 'The participants')));
    return;
  }
  if (participants.length === 0) return fill(body('participants'), message('empty', 'No participants recorded (none joined yet, or the session keeps no participant data).'));
  fill(
    body('participants'),
    h(
      'ul.people',
      {},
      participants.map((p) => h('li', {}, h('strong', { text: p.user_name || `user ${p.zoom_user_id}` }), h('span.note', { text: ` joined ${fmtClock(p.joined_at)}${p.left_at ? `, left ${fmtClock(p.left_at)}` : ''}` }))),
    ),
  );
}

// ---- transcript ----------------------------------------------------------------------
// Live lines may arrive before the stored transcript has loaded, or be in both: each line
// is keyed (speaker, text, Zoom start time) and shown once.

const transcriptList = h('ol.transcript', { 'aria-label': 'Transcript lines' });
const transcriptSeen = new Set();
let transcriptLoaded = false;
const lineKey = (name, text, atMs) => `${name}\u0000${text}\u0000${atMs}`;

function transcriptLine(name, text, at) {
  return h('li', { dataset: { text: `${name} ${text}`.toLowerCase() } }, h('time', { datetime: at, text: fmtClock(at) }), ' ', h('strong', { text: name }), ': ', h('span', { text }));
}

function applySearch() {
  const q = $('t-search').value.trim().toLowerCase();
  let shown = 0;
  for (const li of transcriptList.children) {
    li.hidden = q !== '' && !li.dataset.text.includes(q);
    if (!li.hidden) shown++;
  }
  const count = $('t-count');
  if (count) count.textContent = q ? `${shown} line${shown === 1 ? '' : 's'} match` : '';
  const empty = $('t-empty');
  if (empty) empty.hidden = transcriptList.children.length > 0;
}

/** Adds a line unless it is already shown; false when it was. */
function addTranscriptLine(name, text, atMs) {
  const key = lineKey(name, text, atMs);
  if (transcriptSeen.has(key)) return false;
  transcriptSeen.add(key);
  transcriptList.append(transcriptLine(name, text, new Date(atMs).toISOString()));
  return true;
}

async function loadTranscript() {
  let stored;
  try {
    stored = (await api(`/sessions/${ID}/transcript`)).data;
  } catch (err) {
    fill(body('transcript'), message('error', errorText(err, 'The transcript')));
    return;
  }
  // Stored lines first, in order; then the live ones they do not hold yet.
  const live = [...transcriptList.children];
  transcriptList.replaceChildren();
  transcriptSeen.clear();
  for (const l of stored) addTranscriptLine(l.user_name || `user ${l.user_id}`, l.text, l.start_ms);
  for (const li of live) {
    const key = li.dataset.key;
    if (key && !transcriptSeen.has(key)) {
      transcriptSeen.add(key);
      transcriptList.append(li);
    }
  }
  transcriptLoaded = true;
  fill(body('transcript'), h('p#t-empty.msg.empty', { text: 'No transcript lines yet.' }), h('p#t-count.note', { role: 'status' }), transcriptList);
  applySearch();
}

/** A line from the live API: shown at once (kept through the stored transcript's load). */
function liveTranscriptLine(name, text, atMs) {
  const key = lineKey(name, text, atMs);
  if (transcriptSeen.has(key)) return;
  transcriptSeen.add(key);
  const li = transcriptLine(name, text, new Date(atMs).toISOString());
  li.dataset.key = key;
  transcriptList.append(li);
  if (transcriptLoaded) applySearch();
}
$('t-search').addEventListener('input', () => applySearch());

// ---- artifacts: frames, share, audio, chat ---------------------------------------------

function usersFrom(arts) {
  const users = new Map();
  for (const p of participants) users.set(String(p.zoom_user_id), p.user_name || `user ${p.zoom_user_id}`);
  for (const a of arts) if (!users.has(String(a.user_id))) users.set(String(a.user_id), a.user_name || (a.user_id === '0' ? 'Everyone (mixed)' : `user ${a.user_id}`));
  return users;
}

/** Replaces a broken <img>/<audio> with what the download route says is wrong. */
async function explainBroken(el, id) {
  const problem = await artifactProblem(id);
  if (problem) el.replaceWith(h('span.broken', { role: 'note', text: problem }));
}

function thumb(a, label) {
  const src = `/api/v1/artifacts/${a.id}/content`;
  const img = h('img', { src, alt: `${label}, ${fmtClock(a.captured_at)}`, loading: 'lazy', width: 160, height: 90 });
  img.addEventListener('error', () => explainBroken(btn, a.id), { once: true });
  const btn = h('button.thumb', { type: 'button', 'aria-label': `Open frame of ${label} at ${fmtClock(a.captured_at)}`, on: { click: () => openViewer(src, `${label} — ${fmtTime(a.captured_at)}`) } }, img, h('span', { text: fmtClock(a.captured_at) }));
  return btn;
}

function openViewer(src, caption) {
  $('viewer-img').src = src;
  $('viewer-img').alt = caption;
  $('viewer-caption').textContent = caption;
  $('viewer').showModal();
}

function audioItem(a, label) {
  const src = `/api/v1/artifacts/${a.id}/content`;
  const audio = h('audio', { controls: true, preload: 'metadata', src, 'aria-label': `Audio of ${label} from ${fmtClock(a.captured_at)}` });
  audio.addEventListener('error', () => explainBroken(audio, a.id), { once: true });
  return h('li', {}, h('span.note', { text: `${fmtClock(a.captured_at)} · ${a.duration_ms ? `${(a.duration_ms / 1000).toFixed(1)} s` : '?'} · ${fmtBytes(a.bytes)} ` }), audio);
}

/** One participant's pages of one kind: first page now, "More" for the next. */
function userGallery(kind, userId, label, item, listTag) {
  const list = h(listTag, {});
  const more = h('button.more', { type: 'button', hidden: true, text: 'More' });
  const box = h('div.user-gallery', { dataset: { userId } }, h('h3', { text: label }), list, more);
  let cursor = null;
  const load = async () => {
    more.disabled = true;
    try {
      const q = new URLSearchParams({ kind, user_id: userId, limit: kind === 'audio_segment' ? '10' : '12' });
      if (cursor) q.set('cursor', cursor);
      const page = await api(`/sessions/${ID}/artifacts?${q}`);
      for (const a of page.data) list.append(item(a, label));
      if (!list.children.length) list.replaceWith(message('empty', 'Nothing captured for this participant.'));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (err) {
      box.append(message('error', errorText(err, 'These files')));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  return { box, load };
}

async function loadKind(panel, kind, item, listTag, emptyText) {
  try {
    const firstPage = await api(`/sessions/${ID}/artifacts?kind=${kind}&limit=200`);
    if (firstPage.data.length === 0) return fill(body(panel), message('empty', emptyText));
    const seen = new Set(firstPage.data.map((a) => String(a.user_id)));
    const users = [...usersFrom(firstPage.data)].filter(([id]) => seen.has(id) || firstPage.next_cursor);
    const galleries = users.map(([id, label]) => userGallery(kind, id, label, item, listTag));
    fill(body(panel), galleries.map((g) => g.box));
    await Promise.all(galleries.map((g) => g.load()));
  } catch (err) {
    fill(body(panel), message('error', errorText(err, 'The captured files')));
  }
}

const chatList = h('ol.chat', { 'aria-label': 'Chat messages' });
const chatSeen = new Set();
function chatLine(name, text, at) {
  return h('li', {}, h('time', { datetime: at, text: fmtClock(at) }), ' ', h('strong', { text: name }), ': ', h('span', { text }));
}
async function loadChat() {
  try {
    const arts = await allPages(`/sessions/${ID}/artifacts?kind=chat`, 500);
    // Stored messages first; then live ones that arrived meanwhile and are not stored yet.
    const live = [...chatList.children];
    const stored = new Set();
    chatList.replaceChildren();
    for (const a of arts) {
      const name = a.user_name || `user ${a.user_id}`;
      const text = a.meta?.text ?? '';
      const key = lineKey(name, text, new Date(a.captured_at).getTime());
      stored.add(key);
      chatSeen.add(key);
      chatList.append(chatLine(name, text, a.captured_at));
    }
    for (const li of live) if (!stored.has(li.dataset.key)) chatList.append(li);
    fill(body('chat'), h('p#c-empty.msg.empty', { text: 'No chat messages.', hidden: chatList.children.length > 0 }), chatList);
  } catch (err) {
    fill(body('chat'), message('error', errorText(err, 'The chat')));
  }
}

async function loadRooms() {
  try {
    const d = (await api(`/zoom-rooms/dispatches?session_id=${ID}`)).data;
    if (d.length === 0) return fill(body('rooms'), message('empty', 'No Zoom Room was dispatched for this session.'));
    fill(
      body('rooms'),
      h(
        'ul.people',
        {},
        d.map((x) => h('li', {}, h('strong', { text: x.room_name || x.room_id }), h('span.note', { text: ` ${x.status}${x.zoom_message ? ` — ${x.zoom_message}` : ''} (joined ${fmtClock(x.joined_at)}, left ${fmtClock(x.left_at)})` }))),
      ),
    );
  } catch (err) {
    fill(body('rooms'), message('error', errorText(err, 'The dispatches')));
  }
}

/** Media deleted by retention, erasure or a revoked stream: said once, above the galleries. */
async function loadDeletions() {
  try {
    const d = (await api(`/deletions?session_id=${ID}&limit=5`)).data;
    if (d.length === 0) return;
    const last = d[0];
    const why = { retention: 'the retention policy', erasure: 'an erasure request', stream_revoked: 'Zoom revoking the stream', session_deleted: 'a delete' }[last.reason] || last.reason;
    $('summary').append(message('warn', `Some captured data was deleted by ${why} on ${fmtTime(last.created_at)} (${(last.categories || []).join(', ')}): it no longer appears below.`));
  } catch {
    /* the deletion log is an extra */
  }
}

// ---- live (SSE) ----------------------------------------------------------------------

function startLive() {
  if (live) return;
  const state = $('live');
  live = followText({
    url: `/api/v1/sessions/${ID}/live?types=events,transcript,chat`,
    onState: (st) => (state.textContent = st === 'live' ? 'Live' : 'Live: reconnecting…'),
    // Before opening a stream again: a login that ended goes to the login page (api()), and
    // a session that ended meanwhile needs no stream.
    beforeReopen: async () => {
      await loadSession();
      if (session && !RUNNING.has(session.status) && session.status !== 'created') {
        stopLive();
        loadEvents();
        return false;
      }
      return true;
    },
    listeners: {
      transcript: (ev) => {
        const m = JSON.parse(ev.data);
        const d = m.data || {};
        liveTranscriptLine(d.user_name || `user ${d.user_id}`, d.text || '', Number(d.start_time || m.ts));
      },
      chat: (ev) => {
        const m = JSON.parse(ev.data);
        const d = m.data || {};
        const name = d.user_name || `user ${d.user_id}`;
        const key = lineKey(name, d.text || '', Number(m.ts));
        if (chatSeen.has(key)) return;
        chatSeen.add(key);
        const li = chatLine(name, d.text || '', new Date(m.ts).toISOString());
        li.dataset.key = key;
        chatList.append(li);
        const empty = $('c-empty');
        if (empty) empty.hidden = true;
      },
      event: (ev) => {
        const m = JSON.parse(ev.data);
        const d = m.data || {};
        const sp = speakerOf(d.event, d);
        if (sp && addSpeaker({ ...sp, at: new Date(m.ts).toISOString() })) renderSpeakers();
        if (d.event === 'participant.joined' || d.event === 'participant.left') loadParticipants();
        if (d.event === 'session.status_changed' || d.event === 'stream.state_changed') {
          loadSession().then((ok) => {
            if (!ok) return;
            loadEvents();
            if (!RUNNING.has(session.status) && session.status !== 'created') stopLive();
          });
        }
      },
    },
  });
}

function stopLive() {
  if (live) live();
  live = null;
  $('live').textContent = '';
}

async function main() {
  $('transcript').querySelector('.toolbar').append(h('span#live.live-state', { role: 'status' }));
  if (!(await loadSession())) return;
  // A session not started yet is followed too: its start arrives as an event.
  if (RUNNING.has(session.status) || session.status === 'created') startLive();
  await loadParticipants();
  await Promise.all([loadEvents(), loadTranscript(), loadChat(), loadRooms(), loadDeletions()]);
  await Promise.all([
    loadKind('frames', 'video_frame', thumb, 'div.thumbs', 'No video frames: nobody had a camera on, or the capture policy stores no video.'),
    loadKind('share', 'share_frame', thumb, 'div.thumbs', 'No screen share was captured.'),
    loadKind('audio', 'audio_segment', audioItem, 'ol.audio', 'No audio segments (yet): segments are written as they complete.'),
  ]);
  // While the stream runs, keep health and counters current (keep-alives, bytes).
  setInterval(async () => {
    if (session && RUNNING.has(session.status)) await loadSession();
  }, 5000);
}

main();
