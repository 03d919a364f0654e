import { Body, Controller, Post } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiCaller, Caller } from '../../../common/auth/api-caller';
import { RequireRole } from '../../../common/auth/require-role.decorator';
import { SessionNotFoundError, SessionsService } from '../../sessions';
import { CreateLiveTicketDto } from './dto/create-ticket.dto';
import { LiveTickets } from './live-tickets.service';

@ApiTags('live')
@ApiSecurity('api-key')
@RequireRole('read')
@Controller('live')
export class LiveTicketsController {
  constructor(
    private readonly tickets: LiveTickets,
    private readonly sessions: SessionsService,
  ) {}

  @Post('tickets')
  @ApiOperation({ summary: 'A single-use ticket for a browser to open the live WebSocket or SSE stream (?ticket=)' })
  async create(@Caller() caller: ApiCaller, @Body() dto: CreateLiveTicketDto) {
    const sessionIds = dto.session_ids ? [...new Set(dto.session_ids.map((s) => s.toLowerCase()))] : null;
    if (sessionIds) {
      const existing = await this.sessions.existingIds(sessionIds, caller.owner);
      const missing = sessionIds.find((s) => !existing.has(s));
      if (missing) throw new SessionNotFoundError(missing);
    }
    // The ticket carries the key's owner tag: what it opens is checked like the key itself.
    const { ticket, expiresAt } = await this.tickets.issue(caller, sessionIds);
    return { ticket, expires_at: expiresAt.toISOString() };
  }
}
