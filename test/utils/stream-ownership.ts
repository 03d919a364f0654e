import { query } from './db';
import type { E2eContext } from './e2e-context';

/**
 * Who holds a stream, seen from both sides: its row (owning worker, status) and the
 * simulator (live sockets, successful media handshakes). Shared by the takeover tests.
 */
export function streamOwnership(ctx: E2eContext) {
  return {
    owner: async (id: string) =>
      (await query<{ owner_worker_id: string | null; status: string }>(ctx.hub.app, `SELECT owner_worker_id, status FROM rtms_streams WHERE rtms_stream_id = $1`, [id]))[0],
    /** owner_worker_id is `host:pid:random`. */
    ownerPid: (workerId: string | null | undefined) => (workerId ? Number(workerId.split(':')[1]) : null),
    /** Exactly one live signaling and one live media socket in the simulator. */
    liveConnected: (id: string) => {
      const r = ctx.sim.record(id);
      return r.live.signaling === 1 && Object.values(r.live.media).reduce((a, b) => a + b, 0) === 1;
    },
    handshakesOk: (id: string) => ctx.sim.record(id).handshakes.filter((h) => h.socket === 'media' && h.statusCode === 0).length,
  };
}
