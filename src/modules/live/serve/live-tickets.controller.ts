import { Body, Controller, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Request } from 'express';
import { apiKeyFrom } from '../../../common/auth/api-key.guard';
import { SessionNotFoundError, SessionsService } from '../../sessions';
import { CreateLiveTicketDto } from './dto/create-ticket.dto';
import { LiveTickets } from './live-tickets.service';

@ApiTags('live')
@ApiSecurity('api-key')
@Controller('live')
export class LiveTicketsController {
  constructor(
    private readonly tickets: LiveTickets,
    private readonly sessions: SessionsService,
  ) {}

  @Post('tickets')
  @ApiOperation({ summary: 'A single-use ticket for a browser to open the live WebSocket or SSE stream (?ticket=)' })
  async create(@Req() req: Request, @Body() dto: CreateLiveTicketDto) {
    const sessionIds = dto.session_ids ? [...new Set(dto.session_ids.map((s) => s.toLowerCase()))] : null;
    if (sessionIds) {
      const existing = await this.sessions.existingIds(sessionIds);
      const missing = sessionIds.find((s) => !existing.has(s));
      if (missing) throw new SessionNotFoundError(missing);
    }
    // The global guard already checked the key; it is here, or the request would not be.
    const { ticket, expiresAt } = await this.tickets.issue(apiKeyFrom(req)!, sessionIds);
    return { ticket, expires_at: expiresAt.toISOString() };
  }
}
