// The live API (docs/live.md) for the console: the browser sends the console cookie on the
// WebSocket upgrade and the SSE request (same origin). Both reconnect with backoff and
// resume text from the last entry id received, so no event is missed across a drop.

import { api, toLogin } from './api.js';

/** The live API's close code for a connection whose login ended (sign-out, idle expiry). */
const LOGIN_ENDED = 4401;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

/**
 * A refused upgrade or stream tells the page nothing (the browser hides the status): the
 * REST API does. api() goes to the login page when the login has ended.
 */
function checkLogin() {
  api('/sessions?limit=1').catch(() => undefined);
}

export function subscribeLive({ sessions, media, onMessage, onState }) {
  let ws = null;
  let lastId = null;
  let delay = FIRST_DELAY_MS;
  let stopped = false;
  let timer = null;

  const connect = () => {
    if (stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/live`);
    ws = socket;
    let opened = false;
    socket.addEventListener('open', () => {
      opened = true;
      const sub = { type: 'subscribe', id: 'console', sessions, media };
      if (lastId) sub.resume_from = lastId;
      socket.send(JSON.stringify(sub));
    });
    socket.addEventListener('message', (ev) => {
      if (typeof ev.data !== 'string') return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === 'subscribed') {
        delay = FIRST_DELAY_MS;
        onState('live');
      } else if (msg.type === 'error') {
        // Redis or Postgres unreachable for a moment: the subscription was refused, the
        // connection stays. Closing it reconnects (with backoff) and subscribes again.
        if (msg.code === 'live_unavailable') socket.close();
        else onState('error', msg.message);
      } else if (msg.id && msg.sub === 'console') {
        lastId = msg.id;
        onMessage(msg);
      }
    });
    socket.addEventListener('close', (ev) => {
      if (stopped) return;
      if (ev.code === LOGIN_ENDED) return toLogin();
      if (!opened) checkLogin();
      onState('reconnecting');
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    });
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (ws) ws.close();
  };
}

/**
 * A session's live text over SSE (`url`: the stream's path and query), one listener per
 * event type. EventSource reconnects by itself when a stream drops, sending
 * Last-Event-ID — but gives up for good when an attempt is answered with an error status
 * (401 once the login ended, 503 while Redis is down): then this opens a new one with
 * backoff, from the last id received (`last_event_id`), once `beforeReopen` (awaited)
 * says to go on.
 */
export function followText({ url, listeners, onState, beforeReopen = async () => true }) {
  let source = null;
  let lastId = null;
  let delay = FIRST_DELAY_MS;
  let stopped = false;
  let timer = null;

  const open = () => {
    if (stopped) return;
    const sep = url.includes('?') ? '&' : '?';
    const es = new EventSource(lastId ? `${url}${sep}last_event_id=${encodeURIComponent(lastId)}` : url);
    source = es;
    es.addEventListener('open', () => {
      delay = FIRST_DELAY_MS;
      onState('live');
    });
    es.addEventListener('error', () => {
      if (stopped || source !== es) return;
      onState('reconnecting');
      if (es.readyState !== EventSource.CLOSED) return; // it retries by itself
      es.close();
      timer = setTimeout(reopen, delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    });
    for (const [type, listener] of Object.entries(listeners)) {
      es.addEventListener(type, (ev) => {
        if (ev.lastEventId) lastId = ev.lastEventId;
        listener(ev);
      });
    }
  };
  const reopen = async () => {
    if (stopped) return;
    let goOn = true;
    try {
      goOn = await beforeReopen();
    } catch {
      /* try again anyway */
    }
    if (goOn) open();
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (source) source.close();
  };
}
