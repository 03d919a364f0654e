import { Body, Controller, Get, Headers, HttpStatus, Logger, NotFoundException, Param, Post, Query, Req, Res, UnauthorizedException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthenticatedBy } from '../../common/auth/public.decorator';
import { consoleCookieHeader, consoleFingerprint, consoleRequestRefusal, ConsoleSession, readConsoleCookie } from '../../common/auth/console-session';
import { ConsoleSessions } from '../../common/auth/console-sessions.service';
import { safeEqual } from '../../common/auth/safe-compare';
import { ConsoleErrorCode } from '../../common/errors/error-codes';
import { errorMessage } from '../../common/errors/error-message';
import { uuidParam } from '../../common/http/uuid-param';
import { ConsoleAsset, etagMatches, loadConsoleAssets, PUBLIC_ASSETS } from './console-assets';
import { ConsoleLogin } from './console-login.service';
import { CONSOLE_ROUTE, loginPage, sessionPage, sessionsPage } from './console-pages';

/** Where a login may send the browser afterwards: console pages only (never another site). */
const NEXT_PAGE = /^\/console(\/sessions\/[0-9a-fA-F-]{36})?$/;

/** The `Origin` the request was addressed to (trust proxy applied by Express). */
function originOf(req: Request): string {
  return `${req.protocol}://${req.host}`;
}

function html(res: Response, status: number, body: string): void {
  res.status(status).setHeader('Cache-Control', 'no-store');
  res.type('text/html; charset=utf-8').send(body);
}

/**
 * The session console (docs/console.md): a login form, two HTML shells and their static
 * client modules. Pages hold no data: the client reads everything from the public REST
 * and live APIs with the console cookie (ApiKeyGuard / LiveAuth accept it). Without a
 * login, pages redirect (303) to the form and assets answer 401 JSON.
 */
@ApiExcludeController()
@AuthenticatedBy('console')
@Controller('console')
export class ConsoleController {
  private readonly logger = new Logger('Console');
  private readonly assets: Map<string, ConsoleAsset> = loadConsoleAssets();

  constructor(
    private readonly sessions: ConsoleSessions,
    private readonly login: ConsoleLogin,
  ) {}

  @Get()
  async list(@Req() req: Request, @Res() res: Response): Promise<void> {
    const session = await this.pageSession(req, res);
    if (session) html(res, 200, sessionsPage(session));
  }

  @Get('sessions/:id')
  async session(@Param('id', uuidParam) id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const session = await this.pageSession(req, res);
    if (session) html(res, 200, sessionPage(session, id.toLowerCase()));
  }

  @Get('login')
  async loginForm(@Query('next') next: string | undefined, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (await this.current(req)) return void res.redirect(303, safeNext(next));
    html(res, 200, loginPage({ error: null, next: safeNext(next), username: '' }));
  }

  @Post('login')
  async signIn(@Body() body: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const username = typeof body?.username === 'string' ? body.username : '';
    const password = typeof body?.password === 'string' ? body.password : '';
    const next = safeNext(typeof body?.next === 'string' ? body.next : undefined);
    // Login CSRF: another site must not sign a browser in (to its own account or at all).
    const refusal = consoleRequestRefusal({ method: 'GET', headers: req.headers, origin: originOf(req) }, '');
    if (refusal) {
      this.logger.warn(`Console login form refused: ${refusal}`);
      return html(res, HttpStatus.FORBIDDEN, loginPage({ error: 'This sign-in did not come from the console’s own page.', next, username: '' }));
    }
    let result;
    try {
      result = await this.login.check(req, username, password);
    } catch (err) {
      this.logger.warn(`Console login could not be checked: ${errorMessage(err)}`);
      return html(res, HttpStatus.SERVICE_UNAVAILABLE, loginPage({ error: 'Sign-in is unavailable right now (the hub cannot reach Redis). Try again shortly.', next, username: username.slice(0, 256) }));
    }
    if (!result.ok) {
      const status = result.reason === 'rate_limited' ? HttpStatus.TOO_MANY_REQUESTS : HttpStatus.UNAUTHORIZED;
      const error =
        result.reason === 'rate_limited'
          ? 'Too many failed sign-ins from this address. Wait 15 minutes and try again.'
          : result.reason === 'not_configured'
            ? 'The console is disabled until ADMIN_USERNAME and ADMIN_PASSWORD are set.'
            : 'Wrong username or password.';
      res.setHeader('X-Error-Code', result.reason === 'rate_limited' ? ConsoleErrorCode.TooManyLoginAttempts : ConsoleErrorCode.InvalidCredentials);
      return html(res, status, loginPage({ error, next, username: username.slice(0, 256) }));
    }
    let session: ConsoleSession;
    try {
      session = await this.sessions.create(username);
    } catch (err) {
      this.logger.warn(`Console login could not be stored: ${errorMessage(err)}`);
      return html(res, HttpStatus.SERVICE_UNAVAILABLE, loginPage({ error: 'Sign-in is unavailable right now (the hub cannot reach Redis). Try again shortly.', next, username: username.slice(0, 256) }));
    }
    res.setHeader('Set-Cookie', consoleCookieHeader(session.id, { secure: req.secure, maxAgeSec: this.sessions.ttlSec }));
    res.redirect(303, next);
  }

  @Post('logout')
  async signOut(@Body() body: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const session = await this.current(req);
    if (session) {
      // The form cannot send a header: its hidden `csrf` field plays the X-CSRF-Token's part.
      const sent = typeof body?.csrf === 'string' ? body.csrf : '';
      const refusal = consoleRequestRefusal({ method: 'GET', headers: req.headers, origin: originOf(req) }, session.csrf);
      if (refusal || !safeEqual(sent, session.csrf)) {
        this.logger.warn(`Console logout refused for ${consoleFingerprint(session.id)}: ${refusal ?? 'wrong csrf field'}`);
        return html(res, HttpStatus.FORBIDDEN, loginPage({ error: 'Sign-out must come from the console’s own page.', next: CONSOLE_ROUTE, username: '' }));
      }
      await this.sessions.destroy(session.id);
    }
    res.setHeader('Set-Cookie', consoleCookieHeader('', { secure: req.secure, maxAgeSec: 0 }));
    res.redirect(303, `${CONSOLE_ROUTE}/login`);
  }

  @Get('assets/:name')
  async asset(@Param('name') name: string, @Headers('if-none-match') ifNoneMatch: string | undefined, @Req() req: Request, @Res() res: Response): Promise<void> {
    const asset = this.assets.get(name);
    if (!PUBLIC_ASSETS.has(name) && !(await this.current(req))) {
      throw new UnauthorizedException({ code: ConsoleErrorCode.LoginRequired, message: 'Sign in to the console first' });
    }
    if (!asset) throw new NotFoundException({ code: 'not_found', message: 'No such console asset' });
    res.setHeader('ETag', asset.etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (etagMatches(ifNoneMatch, asset.etag)) return void res.status(304).end();
    res.status(200).type(asset.contentType).send(asset.body);
  }

  /** The request's console session, or null. */
  private async current(req: Request): Promise<ConsoleSession | null> {
    const id = readConsoleCookie(req.headers);
    return id === null ? null : this.sessions.find(id);
  }

  /**
   * A page's session; without one the browser is sent to the login form (303) and null is
   * returned. With one, the cookie is sent again with a fresh Max-Age: finding the session
   * just renewed its idle expiry in Redis, and a cookie left to expire a fixed time after
   * sign-in would end a login that is still in use (pages are `no-store`: no cache keeps
   * the header).
   */
  private async pageSession(req: Request, res: Response): Promise<ConsoleSession | null> {
    const session = await this.current(req);
    if (!session) res.redirect(303, `${CONSOLE_ROUTE}/login?next=${encodeURIComponent(req.path)}`);
    else res.setHeader('Set-Cookie', consoleCookieHeader(session.id, { secure: req.secure, maxAgeSec: this.sessions.ttlSec }));
    return session;
  }
}

function safeNext(next: string | undefined): string {
  return next !== undefined && NEXT_PAGE.test(next) ? next : CONSOLE_ROUTE;
}
