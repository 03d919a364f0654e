import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AppConfig, LiveConfig } from '../../../config/app.config';
import type { RedisTopology } from '../../../config/redis-topology';
import { LiveKeys, liveKeys } from '../live-protocol';

/** What every part of the serving side shares: the config, the Redis key names, and this process's registry name. */
@Injectable()
export class LiveSettings {
  readonly config: LiveConfig;
  readonly keys: LiveKeys;
  readonly redisTopology: RedisTopology;
  /**
   * Names this API process in the media registry. Random per boot: a restarted process
   * never refreshes its predecessor's entries (they expire), and two apps in one
   * process (tests) stay apart.
   */
  readonly processId = `api-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  constructor(config: ConfigService<AppConfig, true>) {
    this.config = config.get('live', { infer: true });
    this.keys = liveKeys(config.get('queues', { infer: true }).prefix);
    this.redisTopology = config.get('redis', { infer: true });
  }
}
