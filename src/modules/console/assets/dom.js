// DOM building without innerHTML: every string from the hub (names, transcript and chat
// text come from Zoom) goes in as text.

/** h('tag#id.class', {attr: value, on: {click}}, ...children): children are nodes or text. */
export function h(spec, attrs = {}, ...children) {
  const [head, ...classes] = spec.split('.');
  const [tag, id] = head.split('#');
  const el = document.createElement(tag);
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function message(kind, ...children) {
  return h(`div.msg.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function fmtClock(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtDuration(fromIso, toIso) {
  if (!fromIso) return '—';
  const ms = (toIso ? new Date(toIso) : new Date()).getTime() - new Date(fromIso).getTime();
  if (!(ms >= 0)) return '—';
  const s = Math.round(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  return hh ? `${hh} h ${mm} min` : mm ? `${mm} min ${ss} s` : `${ss} s`;
}

export function fmtBytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** Bytes a session's streams received (received_counts: *_bytes). */
export function capturedBytes(counts) {
  return Object.entries(counts || {})
    .filter(([k]) => k.endsWith('_bytes'))
    .reduce((n, [, v]) => n + (Number(v) || 0), 0);
}

/** Reconnects of all a session's streams (reconnect_counts per socket). */
export function reconnects(streams) {
  let n = 0;
  for (const s of streams || []) for (const v of Object.values(s.reconnect_counts || {})) n += Number(v) || 0;
  return n;
}

export function statusBadge(status) {
  return h(`span.badge.s-${String(status).replace(/[^a-z_]/g, '')}`, { text: String(status).replace(/_/g, ' ') });
}
