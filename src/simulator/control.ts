/** The /_sim control API, so a person (or a non-JS test) can script the simulator with curl. */
import type { IncomingMessage, ServerResponse } from 'http';
import { isRecord, parseJson, sendJson } from './http-util';
import type { ZoomSimulator } from './simulator';
import type { MeetingScript } from './types';

function streamSummary(sim: ZoomSimulator, id: string) {
  const s = sim.stream(id);
  if (!s) return undefined;
  return { streamId: s.streamId, meetingId: s.meetingId, meetingUuid: s.meetingUuid, operatorId: s.operatorId, serverUrls: s.serverUrls, sessionId: s.sessionId, state: s.state, paused: s.paused };
}

export async function handleControl(sim: ZoomSimulator, req: IncomingMessage, res: ServerResponse, url: URL, body: string): Promise<number> {
  const method = req.method ?? 'GET';
  const p = url.pathname.replace(/\/+$/, '');
  const j = body ? parseJson(body) : {};
  const args: Record<string, unknown> = isRecord(j) ? j : {};
  const ok = (v: unknown, status = 200) => {
    sendJson(res, status, v);
    return status;
  };
  const bad = (status: number, message: string) => ok({ error: message }, status);
  let m: RegExpExecArray | null;
  try {
    if (p === '/_sim' || p === '/_sim/state') {
      return ok({
        httpBaseUrl: sim.httpBaseUrl,
        apiBaseUrl: sim.apiBaseUrl,
        eventWsUrl: sim.eventWsUrl,
        signalingUrl: sim.signalingUrl,
        webhookTarget: sim.webhookTarget,
        urlValidation: sim.urlValidation,
        meetings: [...sim.meetings.values()].map((x) => ({ id: x.id, uuid: x.uuid, topic: x.topic, passcode: x.passcode, ended: x.ended, participants: x.participants.length })),
        streams: [...sim.rtms.streams.keys()].map((id) => streamSummary(sim, id)),
        rooms: [...sim.rooms.values()],
        oauth: sim.stats,
        eventWs: sim.eventWsStats,
      });
    }
    if (p === '/_sim/meetings' && method === 'POST') {
      const mt = sim.createMeeting(args as MeetingScript);
      return ok({ id: mt.id, uuid: mt.uuid, topic: mt.topic, passcode: mt.passcode, hostUserId: mt.hostUserId, participants: mt.participants }, 201);
    }
    if ((m = /^\/_sim\/meetings\/([^/]+)\/rtms\/start$/.exec(p)) && method === 'POST') {
      const s = await sim.startRtms(m[1], { operatorId: typeof args.operatorId === 'string' ? args.operatorId : undefined });
      return ok(streamSummary(sim, s.streamId), 201);
    }
    if ((m = /^\/_sim\/meetings\/([^/]+)\/end$/.exec(p)) && method === 'POST') {
      sim.endMeeting(m[1]);
      return ok({ ended: true });
    }
    if ((m = /^\/_sim\/meetings\/([^/]+)\/participants$/.exec(p)) && method === 'POST') {
      const part = sim.addParticipant(m[1], { userId: Number(args.userId), name: String(args.name ?? 'Guest'), camera: args.camera !== false });
      return ok(part, 201);
    }
    if ((m = /^\/_sim\/streams\/([^/]+)\/(stop|pause|resume)$/.exec(p)) && method === 'POST') {
      if (m[2] === 'stop') await sim.stopRtms(m[1], typeof args.stopReason === 'number' ? args.stopReason : undefined);
      else if (m[2] === 'pause') sim.pauseRtms(m[1]);
      else sim.resumeRtms(m[1]);
      return ok(streamSummary(sim, m[1]));
    }
    if ((m = /^\/_sim\/streams\/([^/]+)\/record$/.exec(p))) return ok(sim.record(m[1]));
    if ((m = /^\/_sim\/streams\/([^/]+)$/.exec(p))) return ok(streamSummary(sim, m[1]) ?? { error: 'unknown stream' }, sim.stream(m[1]) ? 200 : 404);
    if (p === '/_sim/streams') return ok([...sim.rtms.streams.keys()].map((id) => streamSummary(sim, id)));
    if (p === '/_sim/webhook-target' && method === 'POST') {
      sim.setWebhookTarget(typeof args.url === 'string' ? args.url : null);
      return ok({ webhookTarget: sim.webhookTarget, urlValidation: sim.urlValidation });
    }
    if (p === '/_sim/url-validation' && method === 'GET') return ok(sim.urlValidation);
    if (p === '/_sim/webhooks' && method === 'POST') {
      if (typeof args.event !== 'string') return bad(400, 'event required');
      const sent = sim.sendWebhook(args.event, isRecord(args.payload) ? args.payload : {});
      return ok({ body: sent }, 202);
    }
    if (p === '/_sim/webhooks' && method === 'GET') return ok(sim.webhookLog);
    if (p === '/_sim/validate-url' && method === 'POST') return ok(await sim.validateUrl(typeof args.plainToken === 'string' ? args.plainToken : undefined));
    if (p === '/_sim/rest-log') return ok(sim.restLog);
    if (p === '/_sim/rooms' && method === 'POST') return ok(sim.addRoom({ id: typeof args.id === 'string' ? args.id : undefined, name: String(args.name ?? 'Sim Room'), status: args.status as never }), 201);
    if (p === '/_sim/tokens/expire' && method === 'POST') {
      sim.expireAccessTokens();
      return ok({ expired: true });
    }
    if ((m = /^\/_sim\/faults\/([a-zA-Z0-9]+)$/.exec(p)) && method === 'POST') {
      const f = sim.faults;
      const sid = typeof args.streamId === 'string' ? args.streamId : '';
      const rx = (v: unknown) => (typeof v === 'string' ? v : undefined);
      switch (m[1]) {
        case 'dropSignaling':
          f.dropSignaling(sid, { webhook: args.webhook !== false });
          break;
        case 'dropMedia':
          f.dropMedia(sid, { path: rx(args.path) as never, notify: rx(args.notify) as never });
          break;
        case 'stopKeepAlives':
          f.stopKeepAlives(sid, (rx(args.socket) ?? 'both') as never);
          break;
        case 'resumeKeepAlives':
          f.resumeKeepAlives(sid, (rx(args.socket) ?? 'both') as never);
          break;
        case 'failover':
          return ok({ serverUrls: f.failover(sid) });
        case 'malformedMedia':
          f.malformedMedia(sid, (rx(args.kind) ?? 'bad-json') as never, { path: rx(args.path) as never, socket: rx(args.socket) as never });
          break;
        case 'duplicateWebhooks':
          f.duplicateWebhooks(Number(args.copies ?? 2), Number(args.count ?? 1));
          break;
        case 'delayWebhooks':
          f.delayWebhooks(Number(args.delayMs ?? 5000), Number(args.count ?? 1));
          break;
        case 'restError':
          f.restError({ status: Number(args.status ?? 500), match: rx(args.match), method: rx(args.method), count: Number(args.count ?? 1), retryAfterSec: args.retryAfterSec === undefined ? undefined : Number(args.retryAfterSec) });
          break;
        case 'slowRest':
          f.slowRest({ delayMs: Number(args.delayMs ?? 1000), match: rx(args.match), method: rx(args.method), count: Number(args.count ?? 1) });
          break;
        case 'rtmsControlError':
          f.rtmsControlError(Number(args.meetingId), { status: Number(args.status ?? 400), code: Number(args.code ?? 2308), message: rx(args.message) }, Number(args.count ?? 1));
          break;
        case 'dropEventWs':
          return ok({ dropped: f.dropEventWs({ abrupt: args.abrupt === true }) });
        case 'clear':
          f.clear();
          break;
        default:
          return bad(404, `unknown fault ${m[1]}`);
      }
      return ok({ ok: true });
    }
  } catch (e) {
    return bad(400, (e as Error).message);
  }
  return bad(404, 'unknown control route');
}
