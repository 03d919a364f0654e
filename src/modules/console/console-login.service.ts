import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Request } from 'express';
import Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { safeEqual } from '../../common/auth/safe-compare';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { AppConfig } from '../../config/app.config';

/** Failed logins one address may make in a window before it must wait. */
export const LOGIN_MAX_FAILURES = 10;
export const LOGIN_FAILURE_WINDOW_SEC = 15 * 60;

export type LoginCheck = { ok: true } | { ok: false; reason: 'invalid' | 'not_configured' | 'rate_limited' };

/**
 * Checks the login form against ADMIN_USERNAME / ADMIN_PASSWORD (both compared in
 * constant time, both always), and counts failures per client address in Redis so every
 * API process shares the limit. The password is never logged; the username is, quoted
 * and cut short, to tell a typo from a guessing run.
 */
@Injectable()
export class ConsoleLogin {
  private readonly logger = new Logger('Console');
  private readonly prefix: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly config: ConfigService<AppConfig, true>,
  ) {
    this.prefix = config.get('queues', { infer: true }).prefix;
  }

  async check(req: Request, username: string, password: string): Promise<LoginCheck> {
    const key = this.failureKey(req.ip ?? 'unknown');
    const failures = Number((await this.redis.get(key)) ?? 0);
    if (failures >= LOGIN_MAX_FAILURES) {
      this.logger.warn(`Console login refused for ${req.ip ?? 'unknown'}: ${failures} failed attempts in the last ${LOGIN_FAILURE_WINDOW_SEC / 60} min`);
      return { ok: false, reason: 'rate_limited' };
    }
    const creds = this.config.get('auth', { infer: true });
    const configured = Boolean(creds.adminUsername && creds.adminPassword);
    const userOk = safeEqual(username, creds.adminUsername ?? '');
    const passOk = safeEqual(password, creds.adminPassword ?? '');
    if (configured && userOk && passOk) {
      await this.redis.del(key);
      this.logger.log(`Console login: ${JSON.stringify(username.slice(0, 64))} from ${req.ip ?? 'unknown'}`);
      return { ok: true };
    }
    // The window starts at the first failure (SET NX) and is not extended by later ones.
    const count = await this.redis.multi().set(key, '0', 'EX', LOGIN_FAILURE_WINDOW_SEC, 'NX').incr(key).exec();
    const now = Number(count?.[1]?.[1] ?? failures + 1);
    this.logger.warn(`Console login failed (${configured ? 'wrong username or password' : 'ADMIN_USERNAME/ADMIN_PASSWORD not set'}) for ${JSON.stringify(username.slice(0, 64))} from ${req.ip ?? 'unknown'} (${now} in the window)`);
    return { ok: false, reason: configured ? 'invalid' : 'not_configured' };
  }

  private failureKey(ip: string): string {
    return `${this.prefix}:console:login-failures:${createHash('sha256').update(ip).digest('hex').slice(0, 32)}`;
  }
}
