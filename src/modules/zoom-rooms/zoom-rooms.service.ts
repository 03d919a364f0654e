import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { AppConfig } from '../../config/app.config';
import { ZoomRoom, ZoomRoomsClient } from './zoom-rooms.client';

/** Zoom's room statuses (the API accepts them in any case). */
export const ROOM_STATUSES = ['Offline', 'Available', 'InMeeting', 'UnderConstruction'] as const;
export type RoomStatus = (typeof ROOM_STATUSES)[number];

export interface RoomList {
  data: ZoomRoom[];
  total: number;
  /** True when answered from the short Redis cache. */
  cached: boolean;
  fetched_at: string;
}

/** The account's rooms, with a short cache shared by every API process. */
@Injectable()
export class ZoomRoomsService {
  private readonly prefix: string;

  constructor(
    private readonly client: ZoomRoomsClient,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly config: ConfigService<AppConfig, true>,
  ) {
    this.prefix = `${config.get('queues', { infer: true }).prefix}:zoom-rooms:list:${config.get('zoom', { infer: true }).accountId ?? 'default'}`;
  }

  /** `fresh` skips the cache (dispatching to "all available" must see the current state). */
  async list(status?: RoomStatus, opts: { fresh?: boolean } = {}): Promise<RoomList> {
    const ttl = this.config.get('zoomRooms', { infer: true }).listCacheSec;
    const key = `${this.prefix}:${status ?? 'all'}`;
    if (!opts.fresh && ttl > 0) {
      const hit = await this.redis.get(key);
      if (hit) {
        const cached = JSON.parse(hit) as { rooms: ZoomRoom[]; at: string };
        return { data: cached.rooms, total: cached.rooms.length, cached: true, fetched_at: cached.at };
      }
    }
    const rooms = await this.client.listAll(status);
    const at = new Date().toISOString();
    if (ttl > 0) await this.redis.set(key, JSON.stringify({ rooms, at }), 'EX', ttl);
    return { data: rooms, total: rooms.length, cached: false, fetched_at: at };
  }
}
