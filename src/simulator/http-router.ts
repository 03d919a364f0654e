/**
 * The simulator's HTTP front door: forced REST answers and delays (faults) and the REST log
 * apply to every Zoom endpoint before the request reaches OAuth, the /_sim control API or the
 * Zoom REST API; /_sim calls stay out of both so scripting a test does not disturb it.
 */
import type * as http from 'http';
import { handleControl } from './control';
import { readBody, sendJson } from './http-util';
import { answerRule, ZoomRestApi } from './rest-api';
import type { ZoomSimulator } from './simulator';
import type { RestCall } from './types';

export class HttpRouter {
  private readonly rest: ZoomRestApi;

  constructor(
    private readonly sim: ZoomSimulator,
    private readonly delay: (ms: number) => Promise<void>,
  ) {
    this.rest = new ZoomRestApi(sim);
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let body = '';
    try {
      body = await readBody(req, 2 * 1024 * 1024);
    } catch {
      sendJson(res, 413, { code: 413, message: 'Request entity too large.' });
      return;
    }
    const call: RestCall = { at: Date.now(), method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: { ...req.headers }, body, status: 0 };
    const isSim = url.pathname.startsWith('/_sim');
    if (!isSim) this.sim.restLog.push(call);
    try {
      if (!isSim) {
        const slow = this.sim.faults.takeSlow(call.method, url.pathname);
        if (slow) await this.delay(slow);
        const rule = this.sim.faults.takeRestRule(call.method, url.pathname);
        if (rule) {
          call.status = answerRule(res, rule);
          return;
        }
      }
      call.status = await this.route(req, res, url, body);
    } catch (e) {
      this.sim.options.log(`request error ${call.method} ${url.pathname}: ${(e as Error).message}`);
      sendJson(res, 500, { code: 500, message: 'Internal server error.' });
      call.status = 500;
    }
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string): Promise<number> {
    const p = url.pathname;
    if (p.startsWith('/oauth/')) {
      const s = await this.sim.oauth.handle(req, res, url, body);
      if (s !== undefined) return s;
    }
    if (p.startsWith('/_sim') && this.sim.options.controlApi) return handleControl(this.sim, req, res, url, body);
    if (p.startsWith('/v2/')) return this.rest.handle(req, res, url, body);
    sendJson(res, 404, { code: 404, message: 'Not Found' });
    return 404;
  }
}
