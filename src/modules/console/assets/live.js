// The live API's WebSocket (docs/live.md) for the console: the browser sends the console
// cookie on the upgrade (same origin). Reconnects with backoff and resumes text from the
// last entry id it received, so no event is missed across a drop.

export function subscribeLive({ sessions, media, onMessage, onState }) {
  let ws = null;
  let lastId = null;
  let delay = 500;
  let stopped = false;
  let timer = null;

  const connect = () => {
    if (stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${scheme}://${location.host}/api/v1/live`);
    ws.addEventListener('open', () => {
      const sub = { type: 'subscribe', id: 'console', sessions, media };
      if (lastId) sub.resume_from = lastId;
      ws.send(JSON.stringify(sub));
    });
    ws.addEventListener('message', (ev) => {
      if (typeof ev.data !== 'string') return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === 'subscribed') {
        delay = 500;
        onState('live');
      } else if (msg.type === 'error') onState('error', msg.message);
      else if (msg.id && msg.sub === 'console') {
        lastId = msg.id;
        onMessage(msg);
      }
    });
    ws.addEventListener('close', () => {
      if (stopped) return;
      onState('reconnecting');
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    });
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (ws) ws.close();
  };
}
