import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Counter } from 'prom-client';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AppConfig } from '../../config/app.config';
import { ZoomRequestError, ZoomTransportError } from '../oauth/zoom-errors';
import { retryAfterSeconds, ZoomHttpClient, ZoomResponse, zoomErrorOf } from '../oauth/zoom-http.client';
import { ZoomS2sTokenService } from '../oauth/zoom-s2s-token.service';
import { RoomsRateLimiter } from './rooms-rate-limiter';

/** One room of GET /v2/rooms (activation_code is left out: it enrols a device). */
export interface ZoomRoom {
  id: string;
  room_id: string;
  name: string;
  status: string;
  location_id: string | null;
  tag_ids: string[];
}

export type RoomEventMethod = 'zoomroom.meeting_join' | 'zoomroom.meeting_leave';
export type RoomCall = 'list' | 'join' | 'leave';

/** How long an API request may wait for its rate-limit slot. */
const LIST_MAX_WAIT_MS = 15_000;
/** 429s a list call absorbs before it gives up. */
const LIST_MAX_THROTTLED = 3;
const MAX_RETRY_AFTER_SEC = 300;

/**
 * Zoom Rooms REST calls with the S2S account token, each through the cluster-wide
 * rate limiter. The list call handles its own 401/429 (an API request waits a little);
 * room events return the raw answer so the job runner decides about retries.
 */
@Injectable()
export class ZoomRoomsClient {
  readonly calls: Counter<'call' | 'outcome'>;

  constructor(
    private readonly http: ZoomHttpClient,
    private readonly s2s: ZoomS2sTokenService,
    private readonly limiter: RoomsRateLimiter,
    private readonly config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
  ) {
    this.calls = metrics.counter({
      name: 'rtms_hub_zoom_rooms_calls_total',
      help: 'Calls to the Zoom Rooms API by call (list, join, leave) and outcome (ok, throttled, retry, refused, unauthorized)',
      labelNames: ['call', 'outcome'],
    });
  }

  private get baseUrl(): string {
    return this.config.get('zoom', { infer: true }).apiBaseUrl;
  }

  /** Every room of the account (all pages), optionally only one status. */
  async listAll(status?: string): Promise<ZoomRoom[]> {
    const pageSize = this.config.get('zoomRooms', { infer: true }).pageSize;
    const rooms: ZoomRoom[] = [];
    let next = '';
    for (let page = 0; page < 1000; page++) {
      const url = new URL(`${this.baseUrl}/rooms`);
      if (status) url.searchParams.set('status', status);
      url.searchParams.set('page_size', String(pageSize));
      if (next) url.searchParams.set('next_page_token', next);
      const res = await this.listPage(url.toString());
      const body = (res.json ?? {}) as { rooms?: unknown; next_page_token?: unknown };
      if (Array.isArray(body.rooms)) for (const raw of body.rooms) {
        const room = toRoom(raw);
        if (room) rooms.push(room);
      }
      next = typeof body.next_page_token === 'string' ? body.next_page_token : '';
      if (!next) return rooms;
    }
    throw new ZoomTransportError('rooms list', 'too many pages');
  }

  private async listPage(url: string): Promise<ZoomResponse> {
    let token = await this.s2s.getAccountToken();
    let refreshed = false;
    let throttled = 0;
    for (;;) {
      await this.limiter.acquire(LIST_MAX_WAIT_MS);
      const res = await this.http.send({ method: 'GET', url, operation: 'rooms list', bearer: token });
      if (res.status >= 200 && res.status < 300) {
        this.calls.inc({ call: 'list', outcome: 'ok' });
        return res;
      }
      if (res.status === 401 && !refreshed) {
        refreshed = true;
        this.calls.inc({ call: 'list', outcome: 'unauthorized' });
        await this.s2s.invalidate(token);
        token = await this.s2s.getAccountToken();
        continue;
      }
      if (res.status === 429 && ++throttled <= LIST_MAX_THROTTLED) {
        this.calls.inc({ call: 'list', outcome: 'throttled' });
        await this.limiter.penalize(Math.min(retryAfterSeconds(res.headers) ?? 1, MAX_RETRY_AFTER_SEC) * 1000);
        continue;
      }
      const err = zoomErrorOf(res.json);
      if (res.status === 429 || res.status >= 500) {
        this.calls.inc({ call: 'list', outcome: 'retry' });
        throw new ZoomTransportError('rooms list', `HTTP ${res.status}`, res.status, retryAfterSeconds(res.headers));
      }
      this.calls.inc({ call: 'list', outcome: 'refused' });
      throw new ZoomRequestError('rooms list', res.status, err.code, err.message);
    }
  }

  /** PATCH /rooms/{id}/events (the caller has reserved a rate-limit slot). Throws ZoomTransportError on network errors. */
  sendEvent(roomId: string, method: RoomEventMethod, params: Record<string, string>, token: string): Promise<ZoomResponse> {
    return this.http.send({
      method: 'PATCH',
      url: `${this.baseUrl}/rooms/${encodeURIComponent(roomId)}/events`,
      operation: method === 'zoomroom.meeting_join' ? 'room join' : 'room leave',
      bearer: token,
      json: { method, params },
    });
  }
}

function toRoom(raw: unknown): ZoomRoom | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id.length === 0) return undefined;
  return {
    id: r.id,
    room_id: typeof r.room_id === 'string' ? r.room_id : r.id,
    name: typeof r.name === 'string' ? r.name.slice(0, 256) : '',
    status: typeof r.status === 'string' ? r.status : 'Unknown',
    location_id: typeof r.location_id === 'string' ? r.location_id : null,
    tag_ids: Array.isArray(r.tag_ids) ? r.tag_ids.filter((t): t is string => typeof t === 'string') : [],
  };
}
