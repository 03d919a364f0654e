import { ExecutionContext } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { parseApiKeys } from '../../config/api-keys';
import { AppConfig } from '../../config/app.config';
import { DomainError } from '../errors/domain-error';
import { RequestWithCaller } from './api-caller';
import { ApiKeyGuard, authenticateApiKey, readApiKey } from './api-key.guard';
import { RequireRole } from './require-role.decorator';
import { consoleFingerprint, newConsoleSecret } from './console-session';
import type { ConsoleSessions } from './console-sessions.service';

const ADMIN = 'a'.repeat(40);
const READER = 'r'.repeat(40);
const TENANT = 't'.repeat(40);
const KEYS = parseApiKeys(`${ADMIN},dash:read:${READER},tenant:control:${TENANT}:acme`);

class Routes {
  @RequireRole('read') list() {}
  @RequireRole('control') create() {}
  @RequireRole('read', { everyOwner: true }) metrics() {}
  undeclared() {}
}

function run(handler: keyof Routes, headers: Record<string, string>): RequestWithCaller {
  const req: RequestWithCaller & { headers: Record<string, string>; method: string; path: string } = { headers, method: 'GET', path: '/x' };
  const ctx = {
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
  const config = { get: () => ({ apiKeys: KEYS }) } as unknown as ConfigService<AppConfig, true>;
  new ApiKeyGuard(new Reflector(), config).canActivate(ctx);
  return req;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof DomainError ? err.code : String(err);
  }
  return 'passed';
}

describe('ApiKeyGuard', () => {
  it('lets a key through when its role reaches the route, and tells handlers who called', () => {
    expect(run('list', { 'x-api-key': READER }).apiCaller).toEqual({ name: 'dash', role: 'read', owner: null, fingerprint: KEYS[1].fingerprint });
    expect(run('create', { authorization: `Bearer ${TENANT}` }).apiCaller).toMatchObject({ name: 'tenant', owner: 'acme' });
    expect(run('create', { 'x-api-key': ADMIN }).apiCaller).toMatchObject({ role: 'admin', owner: null });
  });

  it('refuses a role below the route (403 insufficient_role), owner-scoped keys on every-owner routes, and undeclared routes to all but unscoped admins', () => {
    expect(codeOf(() => run('create', { 'x-api-key': READER }))).toBe('insufficient_role');
    expect(codeOf(() => run('metrics', { 'x-api-key': TENANT }))).toBe('owner_scoped_key_refused');
    expect(codeOf(() => run('metrics', { 'x-api-key': READER }))).toBe('passed');
    expect(codeOf(() => run('undeclared', { 'x-api-key': TENANT }))).toBe('insufficient_role');
    expect(codeOf(() => run('undeclared', { 'x-api-key': ADMIN }))).toBe('passed');
  });

  it('answers every failed authentication with the same error', () => {
    const tries: Array<Record<string, string>> = [{}, { 'x-api-key': 'nope' }, { authorization: 'Basic abc' }, { authorization: 'Bearer ' }, { 'x-api-key': '' }];
    for (const headers of tries) {
      let error: unknown;
      try {
        run('list', headers);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DomainError);
      expect({ code: (error as DomainError).code, message: (error as DomainError).message }).toEqual({ code: 'invalid_api_key', message: 'Missing or invalid credentials' });
    }
  });

  it('says in the log which check failed, never with the secret', () => {
    const problem = (headers: Record<string, string>) => {
      const result = authenticateApiKey(readApiKey({ headers }), KEYS);
      return result.key ? 'ok' : result.problem;
    };
    expect(problem({})).toBe('no x-api-key or Authorization header');
    expect(problem({ 'x-api-key': '' })).toMatch(/^malformed x-api-key header/);
    expect(problem({ authorization: 'Basic abc' })).toMatch(/^malformed Authorization header/);
    const wrong = 'w'.repeat(40);
    expect(problem({ 'x-api-key': wrong })).toMatch(/^unknown key \(fingerprint [0-9a-f]{16}\)$/);
    expect(problem({ 'x-api-key': wrong })).not.toContain(wrong);
    expect(authenticateApiKey({ key: ADMIN }, [])).toEqual({ problem: 'no API_KEYS are configured' });
  });

  describe('the session console cookie', () => {
    const id = newConsoleSecret();
    const csrf = newConsoleSecret();
    const sessions = { ttlSec: 900, find: async (sid: string) => (sid === id ? { id, username: 'ops', csrf, created_at: '' } : null) } as unknown as ConsoleSessions;

    /** Set-Cookie headers the guard sent, per call of runConsole. */
    let cookiesSent: string[] = [];

    async function runConsole(handler: keyof Routes, method: string, headers: Record<string, string>): Promise<string> {
      const req = { headers, method, path: '/x', protocol: 'http', host: 'hub:3000' } as RequestWithCaller & Record<string, unknown>;
      cookiesSent = [];
      const res = { setHeader: (name: string, value: string) => name.toLowerCase() === 'set-cookie' && cookiesSent.push(value) };
      const ctx = {
        getHandler: () => Routes.prototype[handler],
        getClass: () => Routes,
        switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
      } as unknown as ExecutionContext;
      const config = { get: () => ({ apiKeys: KEYS }) } as unknown as ConfigService<AppConfig, true>;
      try {
        await new ApiKeyGuard(new Reflector(), config, sessions).canActivate(ctx);
      } catch (err) {
        return err instanceof DomainError ? err.code : String(err);
      }
      return JSON.stringify(req.apiCaller);
    }
    const cookie = { cookie: `rtms_console=${id}` };

    it('makes a same-origin request an unscoped admin named after the console user', async () => {
      const caller = { name: 'console:ops', role: 'admin', owner: null, fingerprint: consoleFingerprint(id) };
      expect(await runConsole('undeclared', 'GET', { ...cookie, 'sec-fetch-site': 'same-origin', origin: 'http://hub:3000' })).toBe(JSON.stringify(caller));
      expect(await runConsole('create', 'POST', { ...cookie, 'x-csrf-token': csrf, origin: 'http://hub:3000' })).toBe(JSON.stringify(caller));
    });

    it('sends the cookie again with a fresh Max-Age when it authenticated the request, never when it was refused', async () => {
      await runConsole('list', 'GET', { ...cookie, 'sec-fetch-site': 'same-origin' });
      expect(cookiesSent).toEqual([`rtms_console=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=900`]);
      await runConsole('list', 'GET', { ...cookie, 'sec-fetch-site': 'cross-site' });
      expect(cookiesSent).toEqual([]);
      await runConsole('list', 'GET', { cookie: `rtms_console=${newConsoleSecret()}` });
      expect(cookiesSent).toEqual([]);
    });

    it('refuses other origins and changes without the right CSRF header (403), unknown sessions (401)', async () => {
      expect(await runConsole('list', 'GET', { ...cookie, 'sec-fetch-site': 'cross-site' })).toBe('cross_site_request_refused');
      expect(await runConsole('list', 'GET', { ...cookie, origin: 'http://evil.example' })).toBe('cross_site_request_refused');
      expect(await runConsole('create', 'POST', { ...cookie })).toBe('cross_site_request_refused');
      expect(await runConsole('create', 'POST', { ...cookie, 'x-csrf-token': newConsoleSecret() })).toBe('cross_site_request_refused');
      expect(await runConsole('list', 'GET', { cookie: `rtms_console=${newConsoleSecret()}` })).toBe('invalid_api_key');
    });

    it('lets an API key, when one is sent, decide alone', async () => {
      expect(await runConsole('list', 'GET', { ...cookie, 'x-api-key': 'wrong' })).toBe('invalid_api_key');
      expect(await runConsole('create', 'POST', { ...cookie, 'x-api-key': READER })).toBe('insufficient_role');
    });
  });
});
