/** Zoom's REST API (/v2) as far as the hub uses it: the current user, meetings, RTMS app status and Zoom Rooms. */
import type * as http from 'http';
import type { RestRule } from './faults';
import { bearer, isRecord, parseJson, sendJson, str } from './http-util';
import { DEFAULT_USER } from './oauth';
import { StopReason } from './protocol';
import type { ZoomSimulator } from './simulator';

/** A forced answer (faults.restError) or the rooms rate limit, shaped like Zoom's. */
export function answerRule(res: http.ServerResponse, rule: RestRule): number {
  const headers: Record<string, string> = {};
  if (rule.status === 429) {
    headers['retry-after'] = String(rule.retryAfterSec ?? 1);
    headers['x-ratelimit-type'] = 'QPS';
  }
  const body = rule.body ?? (rule.status === 429 ? { code: 429, message: "You have reached the maximum per-second rate limit for this API. Try again later." } : { code: rule.status, message: 'Internal Server Error.' });
  sendJson(res, rule.status, body, headers);
  return rule.status;
}

function zerr(res: http.ServerResponse, status: number, code: number, message: string, extra: Record<string, unknown> = {}): number {
  sendJson(res, status, { code, message, ...extra });
  return status;
}

export class ZoomRestApi {
  private readonly roomsWindow = new Map<string, { second: number; count: number }>();

  constructor(private readonly sim: ZoomSimulator) {}

  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string): number {
    const auth = this.sim.oauth.check(bearer(req));
    if (!auth.ok) return zerr(res, 401, auth.body.code, auth.body.message);
    const token = auth.info;
    const p = url.pathname;
    const method = req.method ?? 'GET';
    let m: RegExpExecArray | null;

    if (p === '/v2/users/me' && method === 'GET') {
      const u = this.sim.oauth.authorizingUser ?? DEFAULT_USER;
      const id = token.userId ?? DEFAULT_USER.id;
      sendJson(res, 200, {
        id,
        first_name: id === u.id ? u.first_name : 'Sim',
        last_name: id === u.id ? u.last_name : 'User',
        display_name: id === u.id ? `${u.first_name} ${u.last_name}` : 'Sim User',
        email: id === u.id ? u.email : `${id}@sim.zoom.test`,
        type: 2,
        role_name: 'Owner',
        account_id: token.accountId,
        status: 'active',
      });
      return 200;
    }

    if ((m = /^\/v2\/meetings\/([^/]+)$/.exec(p)) && method === 'GET') {
      const mt = this.sim.meeting(decodeURIComponent(decodeURIComponent(m[1])));
      if (!mt) return zerr(res, 404, 3001, `Meeting does not exist: ${m[1]}.`);
      sendJson(res, 200, { id: mt.id, uuid: mt.uuid, topic: mt.topic, host_id: mt.hostUserId, status: mt.ended ? 'finished' : 'started', password: mt.passcode, type: 2 });
      return 200;
    }

    if ((m = /^\/v2\/live_meetings\/([^/]+)\/rtms_app\/status$/.exec(p))) {
      if (method !== 'PATCH') return zerr(res, 405, 405, 'Method Not Allowed');
      const rawId = m[1];
      if (token.kind === 'client') return zerr(res, 400, 4711, 'Invalid access token, does not contain scopes:[meeting:update:participant_rtms_app_status].');
      const j = parseJson(body);
      if (!isRecord(j)) return zerr(res, 400, 300, 'Request Body should be a valid JSON object.');
      const action = j.action;
      if (action !== 'start' && action !== 'stop' && action !== 'pause' && action !== 'resume')
        return zerr(res, 400, 300, 'Validation Failed.', { errors: [{ field: 'action', message: 'Invalid field.' }] });
      const settings = j.settings;
      if (!isRecord(settings) || typeof settings.client_id !== 'string' || !settings.client_id)
        return zerr(res, 400, 300, 'Validation Failed.', { errors: [{ field: 'settings.client_id', message: 'Invalid field.' }] });
      if (settings.client_id !== this.sim.options.clientId) return zerr(res, 400, 300, `Invalid client_id: ${settings.client_id}.`);
      if (settings.participant_user_id !== undefined && typeof settings.participant_user_id !== 'string')
        return zerr(res, 400, 300, 'Validation Failed.', { errors: [{ field: 'settings.participant_user_id', message: 'Invalid field.' }] });
      // rtms-protocol.md §5: meetingId is the numeric meeting ID (int64), never the UUID.
      const mt = /^\d+$/.test(rawId) ? this.sim.meeting(rawId) : undefined;
      if (!mt) return zerr(res, 404, 3001, `Meeting does not exist: ${rawId}.`);
      const forced = this.sim.faults.takeControlError(mt.id);
      if (forced) return zerr(res, forced.status, forced.code, forced.message);
      if (mt.ended) return zerr(res, 400, 3000, 'Meeting is not in progress.');
      if (token.kind === 'user' && token.userId !== mt.hostUserId && !mt.altHostUserIds.includes(token.userId ?? ''))
        return zerr(res, 400, 2308, 'Only the host or alternative host of the meeting can start RTMS.');
      const live = this.sim.streamsOf(mt.id).filter((s) => !s.terminated);
      const current = live[live.length - 1];
      if (action === 'start') {
        if (!current) {
          const operator = typeof settings.participant_user_id === 'string' ? settings.participant_user_id : (token.userId ?? mt.hostUserId);
          void this.sim.startRtms(mt.id, { operatorId: operator }).catch((e: Error) => this.sim.options.log(e.message));
        }
      } else if (!current) return zerr(res, 400, 300, 'RTMS is not running in this meeting.');
      else if (action === 'stop') this.sim.rtms.terminate(current, StopReason.MANUAL_API_TRIGGERED);
      else if (action === 'pause') {
        if (current.paused) return zerr(res, 400, 300, 'RTMS is already paused.');
        this.sim.rtms.pause(current);
      } else {
        if (!current.paused) return zerr(res, 400, 300, 'RTMS is not paused.');
        this.sim.rtms.resume(current);
      }
      res.writeHead(202);
      res.end();
      return 202;
    }

    if (p === '/v2/rooms' || p.startsWith('/v2/rooms/')) {
      const limit = this.sim.options.roomsRateLimitPerSec;
      if (limit > 0) {
        const sec = Math.floor(Date.now() / 1000);
        const w = this.roomsWindow.get(token.accountId);
        if (!w || w.second !== sec) this.roomsWindow.set(token.accountId, { second: sec, count: 1 });
        else if (++w.count > limit) return answerRule(res, { status: 429, retryAfterSec: 1 });
      }
      // rtms-protocol.md §5: Zoom Rooms take the S2S (account) token, whose room scopes a user
      // or client_credentials token does not have: answered as Zoom answers a missing scope.
      if (token.kind !== 'account') return zerr(res, 400, 4711, `Invalid access token, does not contain scopes:[${method === 'GET' ? 'room:read:admin' : 'room:write:admin'}].`);
      this.sim.releaseRoomsOfEndedMeetings();
      if (p === '/v2/rooms' && method === 'GET') return this.listRooms(res, url);
      if ((m = /^\/v2\/rooms\/([^/]+)\/events$/.exec(p)) && method === 'PATCH') return this.roomEvent(res, decodeURIComponent(m[1]), body);
    }
    return zerr(res, 404, 404, 'Not Found');
  }

  private listRooms(res: http.ServerResponse, url: URL): number {
    const q = url.searchParams;
    const status = q.get('status');
    const pageSize = Math.min(300, Math.max(1, Number(q.get('page_size') ?? 30) || 30));
    let offset = 0;
    const tok = q.get('next_page_token');
    if (tok) {
      const parsed = parseJson(Buffer.from(tok, 'base64url').toString('utf8'));
      if (!isRecord(parsed) || typeof parsed.o !== 'number' || typeof parsed.e !== 'number' || parsed.e < Date.now())
        return zerr(res, 400, 300, 'The next page token is invalid or expired.');
      offset = parsed.o;
    }
    const all = [...this.sim.rooms.values()].filter((r) => !status || r.status.toLowerCase() === status.toLowerCase());
    const page = all.slice(offset, offset + pageSize);
    const next = offset + pageSize < all.length ? Buffer.from(JSON.stringify({ o: offset + pageSize, e: Date.now() + 15 * 60_000 })).toString('base64url') : '';
    sendJson(res, 200, {
      page_size: pageSize,
      next_page_token: next,
      rooms: page.map((r) => ({ id: r.id, room_id: r.room_id, name: r.name, status: r.status, location_id: r.location_id, activation_code: r.activation_code, tag_ids: r.tag_ids })),
    });
    return 200;
  }

  private roomEvent(res: http.ServerResponse, roomId: string, body: string): number {
    const room = this.sim.rooms.get(roomId);
    if (!room) return zerr(res, 404, 1012, `Room does not exist: ${roomId}.`);
    const j = parseJson(body);
    if (!isRecord(j)) return zerr(res, 400, 300, 'Request Body should be a valid JSON object.');
    const params = isRecord(j.params) ? j.params : {};
    if (j.method === 'zoomroom.meeting_join') {
      if (room.status === 'Offline' || room.status === 'UnderConstruction') return zerr(res, 400, 3000, 'Zoom Room is offline.');
      const number = str(params.meeting_number);
      if (!number) return zerr(res, 400, 300, 'Validation Failed.', { errors: [{ field: 'params.meeting_number', message: 'Invalid field.' }] });
      const mt = this.sim.meeting(number.replace(/\s/g, ''));
      if (!mt || mt.ended) return zerr(res, 404, 3001, `Meeting does not exist: ${number}.`);
      if (mt.passcode && str(params.passcode) !== mt.passcode) return zerr(res, 400, 3004, 'Wrong passcode.');
      if (room.status === 'InMeeting') return zerr(res, 400, 3000, 'Zoom Room is already in a meeting.');
      const userId = 16_800_000 + mt.participants.length * 1024 + Math.floor(Math.random() * 1000);
      mt.add({ userId, name: room.name, joinAtMs: mt.now(), camera: true }, room.id);
      room.status = 'InMeeting';
      room.meetingId = mt.id;
      room.participantUserId = userId;
    } else if (j.method === 'zoomroom.meeting_leave') {
      if (room.meetingId !== undefined && room.participantUserId !== undefined) {
        const mt = this.sim.meetings.get(room.meetingId);
        const part = mt?.find(room.participantUserId);
        if (mt && part && part.leaveAtMs === undefined) part.leaveAtMs = mt.now();
      }
      if (room.status === 'InMeeting') room.status = 'Available';
      room.meetingId = undefined;
      room.participantUserId = undefined;
    } else return zerr(res, 400, 300, `Invalid method: ${String(j.method)}.`);
    res.writeHead(202);
    res.end();
    return 202;
  }
}
