import { Global, Inject, Injectable, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { AppConfig } from '../../config/app.config';
import { REDIS_CLIENT } from '../redis/redis.module';

/** Failed admin logins one address may make in a window before it must wait. */
export const ADMIN_MAX_FAILURES_PER_ADDRESS = 10;
/**
 * Failed admin logins from all addresses together in a window before everyone must wait.
 * The address a request comes from can be chosen (X-Forwarded-For from a private network
 * is trusted, an attacker may hold many addresses): this caps the guesses whatever the
 * address. The price is that a guessing run can lock the console and Bull Board for a
 * window; the API keeps working.
 */
export const ADMIN_MAX_FAILURES_TOTAL = 100;
export const ADMIN_FAILURE_WINDOW_SEC = 15 * 60;

export type AdminThrottleRefusal = 'address' | 'account';

/**
 * Counts failed admin logins (the console's form, Bull Board's and the API docs' HTTP
 * Basic: one ADMIN_USERNAME/ADMIN_PASSWORD) per address and in all, in Redis so every
 * process shares the limits. A window starts at its first failure (SET NX) and is not
 * extended by later ones; a success clears its address's count, not the total.
 */
@Injectable()
export class AdminLoginThrottle {
  private readonly prefix: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    this.prefix = `${config.get('queues', { infer: true }).prefix}:admin:login-failures`;
  }

  /** Why a login from `ip` must wait now, or null. */
  async refusal(ip: string): Promise<AdminThrottleRefusal | null> {
    const [byAddress, total] = await this.redis.mget(this.addressKey(ip), this.totalKey());
    if (Number(byAddress ?? 0) >= ADMIN_MAX_FAILURES_PER_ADDRESS) return 'address';
    if (Number(total ?? 0) >= ADMIN_MAX_FAILURES_TOTAL) return 'account';
    return null;
  }

  /** Counts a failure; returns the address's count in its window. */
  async failed(ip: string): Promise<number> {
    const address = this.addressKey(ip);
    const total = this.totalKey();
    const replies = await this.redis
      .multi()
      .set(address, '0', 'EX', ADMIN_FAILURE_WINDOW_SEC, 'NX')
      .incr(address)
      .set(total, '0', 'EX', ADMIN_FAILURE_WINDOW_SEC, 'NX')
      .incr(total)
      .exec();
    return Number(replies?.[1]?.[1] ?? 0);
  }

  async succeeded(ip: string): Promise<void> {
    await this.redis.del(this.addressKey(ip));
  }

  private addressKey(ip: string): string {
    return `${this.prefix}:${createHash('sha256').update(ip).digest('hex').slice(0, 32)}`;
  }

  private totalKey(): string {
    return `${this.prefix}:total`;
  }
}

/** Global: the console's form, Bull Board's middleware (resolved in Bull Board's own module) and the API docs share one. */
@Global()
@Module({ providers: [AdminLoginThrottle], exports: [AdminLoginThrottle] })
export class AdminLoginModule {}
