import { Interruptions } from './interruptions';

describe('Interruptions', () => {
  it('keeps the most severe pending interruption', async () => {
    const q = new Interruptions();
    q.push({ kind: 'media', cause: 'media_interrupted', detail: 'event 7' });
    q.push({ kind: 'full', cause: 'failover', detail: 'x', serverUrls: 'ws://b' });
    q.push({ kind: 'media', cause: 'socket_closed', detail: 'close' });
    expect(await q.next()).toMatchObject({ kind: 'full', serverUrls: 'ws://b' });
    q.push({ kind: 'stop', stopReason: 6, via: 'webhook' });
    q.push({ kind: 'full', cause: 'socket_closed', detail: 'close' });
    expect(q.terminal()).toMatchObject({ kind: 'stop' });
    q.push({ kind: 'abort', reason: 'shutdown' });
    expect(q.take()).toMatchObject({ kind: 'abort' });
  });

  it('wakes a sleeper early and times out otherwise', async () => {
    const q = new Interruptions();
    expect(await q.sleep(5)).toBeNull();
    setTimeout(() => q.push({ kind: 'stop', stopReason: null, via: 'webhook' }), 5);
    expect(await q.sleep(5000)).toMatchObject({ kind: 'stop' });
  });
});
