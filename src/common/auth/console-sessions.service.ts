import { Global, Inject, Injectable, Logger, Module, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { AppConfig } from '../../config/app.config';
import { errorMessage } from '../errors/error-message';
import { isRecord } from '../types/is-record';
import { REDIS_CLIENT } from '../redis/redis.module';
import { ConsoleSession, ConsoleSessionRecord, consoleSessionKey, newConsoleSecret } from './console-session';

/**
 * Server-side console sessions in Redis (key: the hash of the id, under the queue
 * prefix), with an idle lifetime: every authenticated request slides the expiry by
 * CONSOLE_SESSION_TTL_SEC. Logging out deletes the key, so a stolen cookie dies with it.
 */
@Injectable()
export class ConsoleSessions {
  private readonly logger = new Logger('Console');
  private readonly prefix: string;
  readonly ttlSec: number;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    this.prefix = config.get('queues', { infer: true }).prefix;
    this.ttlSec = config.get('console', { infer: true }).sessionTtlSec;
  }

  async create(username: string): Promise<ConsoleSession> {
    const id = newConsoleSecret();
    const record: ConsoleSessionRecord = { username, csrf: newConsoleSecret(), created_at: new Date().toISOString() };
    await this.redis.set(consoleSessionKey(this.prefix, id), JSON.stringify(record), 'EX', this.ttlSec);
    return { id, ...record };
  }

  /** The live session with this id (its idle expiry renewed), or null. Without Redis: 503, never a 500 or a silent pass. */
  async find(id: string): Promise<ConsoleSession | null> {
    const key = consoleSessionKey(this.prefix, id);
    let raw: unknown;
    try {
      const [[getErr, value], [expireErr]] = (await this.redis.multi().get(key).expire(key, this.ttlSec).exec()) ?? [[null, null], [null]];
      if (getErr) throw getErr;
      if (expireErr) throw expireErr;
      raw = value;
    } catch (err) {
      this.logger.warn(`Console login could not be checked: ${errorMessage(err)}`);
      throw new ServiceUnavailableException({ code: 'service_unavailable', message: 'Console logins cannot be checked right now (Redis is unreachable): try again' });
    }
    if (typeof raw !== 'string') return null;
    return recordOf(id, raw);
  }

  /**
   * The live session with this id, or null, without renewing its idle expiry: for the
   * live API, whose open connections must not keep a login alive (they re-check it with
   * this). Without Redis: 503, as find.
   */
  async peek(id: string): Promise<ConsoleSession | null> {
    let raw: string | null;
    try {
      raw = await this.redis.get(consoleSessionKey(this.prefix, id));
    } catch (err) {
      this.logger.warn(`Console login could not be checked: ${errorMessage(err)}`);
      throw new ServiceUnavailableException({ code: 'service_unavailable', message: 'Console logins cannot be checked right now (Redis is unreachable): try again' });
    }
    return raw === null ? null : recordOf(id, raw);
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(consoleSessionKey(this.prefix, id));
  }
}

function recordOf(id: string, raw: string): ConsoleSession | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isRecord(parsed) || typeof parsed.username !== 'string' || typeof parsed.csrf !== 'string') return null;
  return { id, username: parsed.username, csrf: parsed.csrf, created_at: typeof parsed.created_at === 'string' ? parsed.created_at : '' };
}

/** Every process can check a console cookie (the API key guard is global); only API processes serve the console. */
@Global()
@Module({ providers: [ConsoleSessions], exports: [ConsoleSessions] })
export class ConsoleSessionsModule {}
