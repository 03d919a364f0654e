import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AUTH_KIND } from './public.decorator';
import { REQUIRED_ROLE, RoleRequirement } from './require-role.decorator';

/** Every *.controller.ts under src/. */
function controllerFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return controllerFiles(path);
    return name.endsWith('.controller.ts') ? [path] : [];
  });
}

const SRC = join(__dirname, '../..');

/** `METHOD /path` → the route's decision: a role (with `!` when owner-scoped keys are refused) or another protection. */
function routeDecisions(): Map<string, string> {
  const decisions = new Map<string, string>();
  for (const file of controllerFiles(SRC)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exports = require(file) as Record<string, unknown>;
    for (const cls of Object.values(exports)) {
      if (typeof cls !== 'function' || Reflect.getMetadata(PATH_METADATA, cls) === undefined) continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, cls));
      const proto = (cls as { prototype: Record<string, unknown> }).prototype;
      for (const key of Object.getOwnPropertyNames(proto)) {
        const handler = proto[key];
        if (typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const path = ['', base, String(Reflect.getMetadata(PATH_METADATA, handler))].join('/').replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
        const route = `${method} ${path}`;
        const kind = (Reflect.getMetadata(AUTH_KIND, handler) ?? Reflect.getMetadata(AUTH_KIND, cls)) as string | undefined;
        const role = (Reflect.getMetadata(REQUIRED_ROLE, handler) ?? Reflect.getMetadata(REQUIRED_ROLE, cls)) as RoleRequirement | undefined;
        const decision = kind ? `by ${kind}` : role ? `${role.role}${role.everyOwner ? '!' : ''}` : `UNDECLARED (${relative(SRC, file)})`;
        if (decisions.has(route)) throw new Error(`${route} is declared twice`);
        decisions.set(route, decision);
      }
    }
  }
  return decisions;
}

describe('API key roles per route', () => {
  const decisions = routeDecisions();

  it('every controller route declares @RequireRole or @AuthenticatedBy (default deny)', () => {
    expect(decisions.size).toBeGreaterThan(40);
    expect([...decisions].filter(([, d]) => d.startsWith('UNDECLARED')).map(([r, d]) => `${r}: ${d}`)).toEqual([]);
  });

  // The table docs/api.md describes: a change of a route's role shows up here.
  it('gives each route the role docs/api.md documents', () => {
    expect(Object.fromEntries([...decisions].sort(([a], [b]) => a.localeCompare(b)))).toEqual({
      'GET /console': 'by console',
      'GET /console/assets/:name': 'by console',
      'GET /console/login': 'by console',
      'GET /console/sessions/:id': 'by console',
      'POST /console/login': 'by console',
      'POST /console/logout': 'by console',
      'DELETE /oauth/zoom/connections/:id': 'admin',
      'DELETE /sessions/:id': 'admin',
      'DELETE /sessions/:id/hold': 'admin',
      'DELETE /stream-workers/:target/drain': 'admin!',
      'DELETE /webhook-endpoints/:id': 'admin!',
      'DELETE /zoom-rooms/dispatches/:id': 'control',
      'GET /artifacts/:id': 'read',
      'GET /erasures': 'admin',
      'GET /erasures/:id': 'admin',
      'GET /artifacts/:id/content': 'read',
      'GET /deletions': 'read',
      'GET /deletions/:id': 'read',
      'GET /health/live': 'by probe',
      'GET /health/ready': 'by probe',
      'GET /metrics': 'read!',
      'GET /oauth/zoom/authorize': 'admin',
      'GET /oauth/zoom/callback': 'by oauth-state',
      'GET /oauth/zoom/connections': 'read',
      'GET /oauth/zoom/connections/:id': 'read',
      'GET /sessions': 'read',
      'GET /sessions/:id': 'read',
      'GET /sessions/:id/artifacts': 'read',
      'GET /sessions/:id/events': 'read',
      'GET /sessions/:id/live': 'by live-ticket',
      'GET /sessions/:id/participants': 'read',
      'GET /sessions/:id/recording': 'read',
      'GET /sessions/:id/rtms': 'read',
      'GET /sessions/:id/transcript': 'read',
      'GET /stream-workers': 'admin!',
      'GET /webhook-endpoints': 'admin!',
      'GET /webhook-endpoints/:id': 'admin!',
      'GET /webhook-endpoints/:id/events': 'admin!',
      'GET /webhook-endpoints/:id/messages': 'admin!',
      'GET /webhook-messages/:id': 'admin!',
      'GET /webhook-messages/:id/attempts': 'admin!',
      'GET /zoom-rooms': 'read',
      'GET /zoom-rooms/dispatches': 'read',
      'GET /zoom-rooms/dispatches/:id': 'read',
      'PATCH /webhook-endpoints/:id': 'admin!',
      'POST /erasures': 'admin',
      'POST /live/tickets': 'read',
      'POST /sessions': 'control',
      'POST /sessions/:id/hold': 'admin',
      'POST /sessions/:id/recording': 'control',
      'POST /sessions/:id/rtms/pause': 'control',
      'POST /sessions/:id/rtms/resume': 'control',
      'POST /sessions/:id/rtms/start': 'control',
      'POST /sessions/:id/rtms/stop': 'control',
      'POST /stream-workers/:target/drain': 'admin!',
      'POST /webhook-endpoints': 'admin!',
      'POST /webhook-endpoints/:id/recover': 'admin!',
      'POST /webhook-endpoints/:id/rotate-secret': 'admin!',
      'POST /webhook-endpoints/:id/test': 'admin!',
      'POST /webhook-messages/:id/resend': 'admin!',
      'POST /zoom-rooms/dispatches': 'control',
      'POST /zoom-rooms/dispatches/:id/retry': 'control',
    });
  });
});
