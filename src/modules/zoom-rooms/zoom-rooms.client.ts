import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Counter } from 'prom-client';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AppConfig } from '../../config/app.config';
import { ZoomRequestError, ZoomTransportError } from '../../zoom/zoom-errors';
import { ZoomHttpClient, ZoomResponse } from '../../zoom/http/zoom-http.client';
import { ZoomCallPolicy, ZoomTokenSource } from '../../zoom/call/zoom-call-policy';
import { ZoomS2sTokenService } from '../../zoom/auth/zoom-s2s-token.service';
import { RoomsRateLimitedError, RoomsRateLimiter } from './rooms-rate-limiter';

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
    private readonly policy: ZoomCallPolicy,
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
    for (let throttled = 0; ; throttled++) {
      const result = await this.policy.call({
        operation: 'rooms list',
        token: this.accountToken,
        beforeSend: async () => {
          try {
            await this.limiter.acquire(LIST_MAX_WAIT_MS);
          } catch (err) {
            // The shared schedule is paused past what an API request waits (a 429 with a long
            // Retry-After): Zoom is throttling us, which the API answers as Zoom unavailable.
            if (err instanceof RoomsRateLimitedError) throw new ZoomTransportError('rooms list', err.message, 429, Math.ceil(err.waitMs / 1000));
            throw err;
          }
        },
        send: (token) => this.http.send({ method: 'GET', url, operation: 'rooms list', bearer: token }),
        onUnauthorized: () => this.calls.inc({ call: 'list', outcome: 'unauthorized' }),
      });
      switch (result.outcome) {
        case 'ok':
          this.calls.inc({ call: 'list', outcome: 'ok' });
          return result.response;
        case 'throttled':
          // An API request waits a little for Zoom, sharing the pause with every process.
          if (throttled < LIST_MAX_THROTTLED) {
            this.calls.inc({ call: 'list', outcome: 'throttled' });
            await this.limiter.penalize(result.waitSec * 1000);
            continue;
          }
          this.calls.inc({ call: 'list', outcome: 'retry' });
          throw new ZoomTransportError('rooms list', 'HTTP 429', 429, result.waitSec);
        case 'retry':
          this.calls.inc({ call: 'list', outcome: 'retry' });
          throw result.cause ?? new ZoomTransportError('rooms list', `HTTP ${result.record.zoomStatus}`, result.record.zoomStatus ?? undefined);
        case 'refused':
          this.calls.inc({ call: 'list', outcome: 'refused' });
          throw new ZoomRequestError('rooms list', result.response.status, result.record.zoomCode ?? undefined, result.record.zoomMessage ?? '');
        case 'no_token':
          throw result.cause;
      }
    }
  }

  /** The S2S account token, fetched again once after a 401. */
  private readonly accountToken: ZoomTokenSource = {
    get: () => this.s2s.getAccountToken(),
    refresh: async (rejected) => {
      await this.s2s.invalidate(rejected);
      return this.s2s.getAccountToken();
    },
  };

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
