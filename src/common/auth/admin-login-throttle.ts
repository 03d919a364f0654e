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

/** What the limits made of one login attempt. */
export type AdminLoginVerdict =
  /** Over a limit: answer 429 whatever the password was (the attempt is not counted). */
  | { refusal: AdminThrottleRefusal }
  /** Within the limits: answer what the password deserves; `failures`: the address's count in its window. */
  | { refusal: null; failures: number };

/**
 * Checks the limits and counts the attempt in one step (Redis runs a script alone), so
 * that concurrent attempts are judged one after the other: of 200 wrong guesses sent at
 * once, 10 are answered 401 and the rest 429. Read-then-count as two round trips let all
 * 200 through the check before any was counted.
 *
 * KEYS: the address's count, the total. ARGV: 1 if the password was wrong, the two
 * limits, the window in seconds, 1 if a success clears the address's count.
 * A count's window starts with its first failure: the expiry is set only when the key
 * has none, so later failures do not extend it. A refused attempt is not counted: an
 * address over its own limit must not use up everyone's total.
 */
const ATTEMPT = `
local byAddress = tonumber(redis.call('GET', KEYS[1]) or '0')
if byAddress >= tonumber(ARGV[2]) then return {'address', byAddress} end
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
if total >= tonumber(ARGV[3]) then return {'account', byAddress} end
if ARGV[1] == '1' then
  byAddress = redis.call('INCR', KEYS[1])
  if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
  redis.call('INCR', KEYS[2])
  if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
  return {'', byAddress}
end
if ARGV[5] == '1' then redis.call('DEL', KEYS[1]) end
return {'', 0}
`;

/**
 * Counts failed admin logins (the console's form, Bull Board's and the API docs' HTTP
 * Basic: one ADMIN_USERNAME/ADMIN_PASSWORD) per address and in all, in Redis so every
 * process shares the limits. A window starts at its first failure and is not extended by
 * later ones; a console sign-in clears its address's count, not the total.
 *
 * The password is compared first (in memory, constant time) and its outcome then goes
 * through `attempt`, which decides under the limits and counts a failure atomically.
 * Only a failure is counted: Bull Board's browser sends the right Basic credentials with
 * every request, many at once, and must never be refused for that.
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

  /**
   * Judges one login attempt from `ip` whose password was right (`ok`) or not, under the
   * limits: refused (not counted) when a limit is reached, else a failure is counted.
   * `clearOnSuccess`: a success within the limits clears the address's count.
   */
  async attempt(ip: string, ok: boolean, { clearOnSuccess = false }: { clearOnSuccess?: boolean } = {}): Promise<AdminLoginVerdict> {
    const reply = (await this.redis.eval(
      ATTEMPT,
      2,
      this.addressKey(ip),
      this.totalKey(),
      ok ? '0' : '1',
      String(ADMIN_MAX_FAILURES_PER_ADDRESS),
      String(ADMIN_MAX_FAILURES_TOTAL),
      String(ADMIN_FAILURE_WINDOW_SEC),
      clearOnSuccess ? '1' : '0',
    )) as [string, number];
    const [refusal, failures] = reply;
    return refusal === 'address' || refusal === 'account' ? { refusal } : { refusal: null, failures: Number(failures) };
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
