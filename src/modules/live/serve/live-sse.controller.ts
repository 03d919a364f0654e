import { BadRequestException, Controller, ForbiddenException, Get, HttpException, Logger, Param, Query, Req, Res, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthenticatedBy } from '../../../common/auth/public.decorator';
import { InvalidApiKeyError } from '../../../common/auth/api-key.guard';
import { LiveErrorCode } from '../../../common/errors/error-codes';
import { errorMessage } from '../../../common/errors/error-message';
import { uuidParam } from '../../../common/http/uuid-param';
import { SessionsService } from '../../sessions';
import { isEntryId, LIVE_TEXT_MEDIA, LiveCloseCode, LiveTextMedia } from '../live-protocol';
import { LiveAuth } from './live-auth';
import { LiveClient, LivePrincipal } from './live-client';
import { LiveFanout } from './live-fanout.service';
import { LiveMetrics } from './live-metrics';
import { LiveSettings } from './live-settings';
import { SseTransport } from './sse-transport';

/** The subscription id of an SSE stream's one subscription (echoed as `sub` in its data). */
export const SSE_SUBSCRIPTION_ID = 'sse';

/**
 * A query parameter given at most once: the string, undefined when absent, or null when
 * it is not one string (a repeated `?x=a&x=b` arrives as an array).
 */
export function singleQueryValue(value: unknown): string | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : null;
}

/** Which text media an SSE stream carries (`?types=`, default all); null when it is not one comma-separated list of them. */
export function parseSseTypes(value: unknown): LiveTextMedia[] | null {
  const types = singleQueryValue(value);
  if (types === null) return null;
  if (types === undefined || types === '') return [...LIVE_TEXT_MEDIA];
  const list = [...new Set(types.split(',').map((t) => t.trim()))];
  return list.every((t): t is LiveTextMedia => (LIVE_TEXT_MEDIA as readonly string[]).includes(t)) ? list : null;
}

/**
 * One session's text (events, transcript, chat) as Server-Sent Events, for browsers'
 * EventSource: the same subscription machinery as the WebSocket, behind an SSE
 * transport. Resumes from Last-Event-ID like any EventSource reconnect.
 */
@ApiTags('live')
@ApiSecurity('api-key')
@Controller('sessions')
export class LiveSseController {
  private readonly logger = new Logger(LiveSseController.name);

  constructor(
    private readonly auth: LiveAuth,
    private readonly sessions: SessionsService,
    private readonly fanout: LiveFanout,
    private readonly settings: LiveSettings,
    private readonly metrics: LiveMetrics,
  ) {}

  @Get(':id/live')
  @AuthenticatedBy('live-ticket')
  @ApiOperation({ summary: "A session's live text as Server-Sent Events (API key, or ?ticket= from POST /live/tickets)" })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'types', required: false, description: 'Comma-separated: events, transcript, chat (default all); given once' })
  @ApiQuery({ name: 'ticket', required: false })
  @ApiQuery({ name: 'last_event_id', required: false, description: 'Resume after this entry id (the Last-Event-ID header wins)' })
  async stream(
    @Param('id', uuidParam) sessionId: string,
    // Query values are whatever the client sent: a repeated parameter is an array.
    @Query('types') typesQuery: unknown,
    @Query('ticket') ticketQuery: unknown,
    @Query('last_event_id') lastEventIdQuery: unknown,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    // The request's shape first: a malformed one is refused before a single-use ticket is spent on it.
    const media = parseSseTypes(typesQuery);
    if (!media) throw new BadRequestException({ code: LiveErrorCode.InvalidLiveTypes, message: `types must be one comma-separated list of ${LIVE_TEXT_MEDIA.join(', ')} (binary media need the WebSocket)` });
    const ticket = singleQueryValue(ticketQuery);
    if (ticket === null) throw new BadRequestException({ code: 'bad_request', message: 'ticket must be given once' });
    const header = req.headers['last-event-id'];
    const lastEventId = typeof header === 'string' && header !== '' ? header : singleQueryValue(lastEventIdQuery);
    if (lastEventId !== undefined && !isEntryId(lastEventId)) throw new BadRequestException({ code: 'bad_request', message: 'Last-Event-ID must be an entry id received from this stream' });

    let principal: LivePrincipal | null;
    try {
      principal = await this.auth.authenticate(req, ticket ?? null, `${req.protocol}://${req.host}`);
    } catch (err) {
      // Redis unreachable while redeeming the ticket: 503, as the WebSocket upgrade answers
      // (not a 500); an HTTP error already chosen (the console cookie's 503) passes as it is.
      if (err instanceof HttpException) throw err;
      this.logger.warn(`Live authentication failed: ${errorMessage(err)}`);
      throw new ServiceUnavailableException({ code: 'service_unavailable', message: 'Could not check the credentials: try again' });
    }
    if (!principal) {
      throw ticket && !req.headers['x-api-key'] && !req.headers.authorization
        ? new UnauthorizedException({ code: LiveErrorCode.InvalidTicket, message: 'The ticket is unknown, expired or used' })
        : new InvalidApiKeyError();
    }
    if (principal.sessionIds && !principal.sessionIds.has(sessionId.toLowerCase())) {
      throw new ForbiddenException({ code: LiveErrorCode.SessionNotAllowed, message: 'The ticket does not allow this session' });
    }
    // Another owner's session answers 404, as if it did not exist.
    await this.sessions.get(sessionId, principal.owner);
    // A peer that left during those awaits had its one 'close' already: a listener added now
    // would never hear it and the client would stay forever. Its socket's state tells.
    if (res.destroyed || !res.socket || res.socket.destroyed) {
      this.logger.debug(`SSE client left before its stream of session ${sessionId} opened (key ${principal.keyFingerprint})`);
      return;
    }

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.setHeader('Connection', 'keep-alive');
    res.flushHeaders();

    const client = new LiveClient(new SseTransport(res), principal, this.settings.config.clientBufferBytes, this.metrics, (c) => this.fanout.remove(c), this.settings.config.pingIntervalMs);
    this.fanout.add(client);
    res.on('close', () => client.ended('client'));
    const subscribed = await this.fanout.subscribe(client, {
      id: SSE_SUBSCRIPTION_ID,
      sessions: [sessionId.toLowerCase()],
      textMedia: media,
      binaryMedia: [],
      participants: null,
      resumeFrom: lastEventId ?? null,
    });
    // The refusal was sent as an `error` event; nothing more will come.
    if (!subscribed) client.close(LiveCloseCode.GoingAway, 'error', 'subscription refused');
  }
}
