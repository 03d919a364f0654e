import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Request } from 'express';
import { ADMIN_FAILURE_WINDOW_SEC, AdminLoginThrottle } from '../../common/auth/admin-login-throttle';
import { safeEqual } from '../../common/auth/safe-compare';
import { AppConfig } from '../../config/app.config';

export type LoginCheck = { ok: true } | { ok: false; reason: 'invalid' | 'not_configured' | 'rate_limited' };

/**
 * Checks the login form against ADMIN_USERNAME / ADMIN_PASSWORD (both compared in
 * constant time, both always). Failures are counted with the other admin logins
 * (AdminLoginThrottle: per address and in all). The password is never logged; the
 * username is, quoted and cut short, to tell a typo from a guessing run.
 */
@Injectable()
export class ConsoleLogin {
  private readonly logger = new Logger('Console');

  constructor(
    private readonly throttle: AdminLoginThrottle,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  async check(req: Request, username: string, password: string): Promise<LoginCheck> {
    const ip = req.ip ?? 'unknown';
    const creds = this.config.get('auth', { infer: true });
    const configured = Boolean(creds.adminUsername && creds.adminPassword);
    const userOk = safeEqual(username, creds.adminUsername ?? '');
    const passOk = safeEqual(password, creds.adminPassword ?? '');
    const ok = configured && userOk && passOk;
    // The outcome is only acted on once the limits let it through: the check and the count
    // of a failure are one atomic step, so concurrent guesses cannot all pass the check.
    const verdict = await this.throttle.attempt(ip, ok, { clearOnSuccess: true });
    if (verdict.refusal) {
      this.logger.warn(`Console login refused for ${ip}: too many failed admin logins ${verdict.refusal === 'address' ? 'from this address' : 'from all addresses'} in the last ${ADMIN_FAILURE_WINDOW_SEC / 60} min`);
      return { ok: false, reason: 'rate_limited' };
    }
    if (ok) {
      this.logger.log(`Console login: ${JSON.stringify(username.slice(0, 64))} from ${ip}`);
      return { ok: true };
    }
    this.logger.warn(`Console login failed (${configured ? 'wrong username or password' : 'ADMIN_USERNAME/ADMIN_PASSWORD not set'}) for ${JSON.stringify(username.slice(0, 64))} from ${ip} (${verdict.failures} in the window)`);
    return { ok: false, reason: configured ? 'invalid' : 'not_configured' };
  }
}
