import { BadRequestException, Controller, ForbiddenException, Get, Param, Query, Req, Res, UnauthorizedException } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthenticatedBy } from '../../../common/auth/public.decorator';
import { InvalidApiKeyError } from '../../../common/auth/api-key.guard';
import { LiveErrorCode } from '../../../common/errors/error-codes';
import { uuidParam } from '../../../common/http/uuid-param';
import { SessionsService } from '../../sessions';
import { isEntryId, LIVE_TEXT_MEDIA, LiveCloseCode, LiveTextMedia } from '../live-protocol';
import { LiveAuth } from './live-auth';
import { LiveClient } from './live-client';
import { LiveFanout } from './live-fanout.service';
import { LiveMetrics } from './live-metrics';
import { LiveSettings } from './live-settings';
import { SseTransport } from './sse-transport';

/** The subscription id of an SSE stream's one subscription (echoed as `sub` in its data). */
export const SSE_SUBSCRIPTION_ID = 'sse';

/** Which text media an SSE stream carries (`?types=`, default all). */
export function parseSseTypes(types: string | undefined): LiveTextMedia[] | null {
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
  @ApiQuery({ name: 'types', required: false, description: 'Comma-separated: events, transcript, chat (default all)' })
  @ApiQuery({ name: 'ticket', required: false })
  @ApiQuery({ name: 'last_event_id', required: false, description: 'Resume after this entry id (the Last-Event-ID header wins)' })
  async stream(
    @Param('id', uuidParam) sessionId: string,
    @Query('types') types: string | undefined,
    @Query('ticket') ticket: string | undefined,
    @Query('last_event_id') lastEventIdQuery: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const principal = await this.auth.authenticate(req, typeof ticket === 'string' ? ticket : null, `${req.protocol}://${req.host}`);
    if (!principal) {
      throw ticket && !req.headers['x-api-key'] && !req.headers.authorization
        ? new UnauthorizedException({ code: LiveErrorCode.InvalidTicket, message: 'The ticket is unknown, expired or used' })
        : new InvalidApiKeyError();
    }
    const media = parseSseTypes(types);
    if (!media) throw new BadRequestException({ code: LiveErrorCode.InvalidLiveTypes, message: `types must be a comma-separated list of ${LIVE_TEXT_MEDIA.join(', ')} (binary media need the WebSocket)` });
    if (principal.sessionIds && !principal.sessionIds.has(sessionId.toLowerCase())) {
      throw new ForbiddenException({ code: LiveErrorCode.SessionNotAllowed, message: 'The ticket does not allow this session' });
    }
    const header = req.headers['last-event-id'];
    const lastEventId = (typeof header === 'string' && header !== '' ? header : undefined) ?? lastEventIdQuery;
    if (lastEventId !== undefined && !isEntryId(lastEventId)) throw new BadRequestException({ code: 'bad_request', message: 'Last-Event-ID must be an entry id received from this stream' });
    // Another owner's session answers 404, as if it did not exist.
    await this.sessions.get(sessionId, principal.owner);

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.setHeader('Connection', 'keep-alive');
    res.flushHeaders();

    const client = new LiveClient(new SseTransport(res), principal, this.settings.config.clientBufferBytes, this.metrics, (c) => this.fanout.remove(c));
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
