import { ConfigService } from '@nestjs/config';
import { consoleFingerprint, newConsoleSecret } from '../../../common/auth/console-session';
import type { ConsoleSessions } from '../../../common/auth/console-sessions.service';
import { parseApiKeys } from '../../../config/api-keys';
import { AppConfig } from '../../../config/app.config';
import { LiveAuth } from './live-auth';
import type { LiveTickets } from './live-tickets.service';

const KEY = 'k'.repeat(40);
const HUB = 'http://hub:3000';

describe('LiveAuth with the session console cookie', () => {
  const id = newConsoleSecret();
  // peek, not find: a live connection does not renew the login.
  const sessions = { peek: async (sid: string) => (sid === id ? { id, username: 'ops', csrf: 'x', created_at: '' } : null) } as unknown as ConsoleSessions;
  const tickets = { redeem: async () => null } as unknown as LiveTickets;
  const config = { get: () => ({ apiKeys: parseApiKeys(KEY) }) } as unknown as ConfigService<AppConfig, true>;
  const auth = new LiveAuth(config, tickets, sessions);
  const cookie = `rtms_console=${id}`;

  it('accepts the cookie from the hub origin (or without Origin) as an unscoped principal', async () => {
    const principal = { keyFingerprint: consoleFingerprint(id), sessionIds: null, owner: null, stillValid: expect.any(Function) };
    expect(await auth.authenticate({ headers: { cookie, origin: HUB } }, null, HUB)).toEqual(principal);
    expect(await auth.authenticate({ headers: { cookie } }, null, HUB)).toEqual(principal);
  });

  it('refuses it from another origin, another site, or for an unknown session', async () => {
    expect(await auth.authenticate({ headers: { cookie, origin: 'http://evil.example' } }, null, HUB)).toBeNull();
    expect(await auth.authenticate({ headers: { cookie, 'sec-fetch-site': 'same-site' } }, null, HUB)).toBeNull();
    expect(await auth.authenticate({ headers: { cookie: `rtms_console=${newConsoleSecret()}` } }, null, HUB)).toBeNull();
  });

  it('lets a key or a ticket decide when one is sent', async () => {
    expect(await auth.authenticate({ headers: { cookie, 'x-api-key': 'wrong' } }, null, HUB)).toBeNull();
    expect(await auth.authenticate({ headers: { cookie } }, 'spent-ticket', HUB)).toBeNull();
    expect(await auth.authenticate({ headers: { cookie, 'x-api-key': KEY, origin: 'http://evil.example' } }, null, HUB)).toMatchObject({ owner: null });
  });
});
