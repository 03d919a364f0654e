import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CreateSessionDto } from './dto/create-session.dto';
import { PlaceLegalHoldDto } from './dto/legal-hold.dto';
import { ListSessionsQuery, PageQuery } from './dto/list-sessions.query';
import { ApiCaller, Caller } from '../../common/auth/api-caller';
import { RequireRole } from '../../common/auth/require-role.decorator';
import { uuidParam } from '../../common/http/uuid-param';
import { SessionEventsService } from './session-events.service';
import { sessionView, streamView } from './session.views';
import { SessionsService } from './sessions.service';
import { StreamsService } from './streams.service';

@ApiTags('sessions')
@ApiSecurity('api-key')
@RequireRole('read')
@Controller('sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly streams: StreamsService,
    private readonly sessionEvents: SessionEventsService,
  ) {}

  @Post()
  @RequireRole('control')
  @ApiOperation({ summary: 'Register a meeting to capture, with its capture policy' })
  async create(@Body() dto: CreateSessionDto, @Caller() caller: ApiCaller) {
    return sessionView(await this.sessions.create(dto, caller.owner));
  }

  @Get()
  @ApiOperation({ summary: 'List sessions (newest first, cursor pagination)' })
  list(@Query() query: ListSessionsQuery, @Caller() caller: ApiCaller) {
    return this.sessions.list(query, caller.owner);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A session with its streams' })
  async get(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    const session = await this.sessions.get(id, caller.owner);
    const streams = await this.streams.listForSession(id);
    return { ...sessionView(session), streams: streams.map(streamView) };
  }

  @Get(':id/events')
  @ApiOperation({ summary: "The session's events (newest first)" })
  async events(@Param('id', uuidParam) id: string, @Query() query: PageQuery, @Caller() caller: ApiCaller) {
    await this.sessions.get(id, caller.owner);
    return this.sessionEvents.listEvents(id, query);
  }

  @Get(':id/participants')
  @ApiOperation({ summary: 'Participants seen in the session' })
  participants(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return this.sessions.listParticipants(id, caller.owner);
  }

  @Post(':id/hold')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Place (or update) a legal hold: retention and erasure leave the session alone until it is released' })
  async placeHold(@Param('id', uuidParam) id: string, @Body() dto: PlaceLegalHoldDto, @Caller() caller: ApiCaller) {
    return sessionView(await this.sessions.placeHold(id, { reason: dto.reason ?? null, by: caller.fingerprint }, caller.owner));
  }

  @Delete(':id/hold')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Release a legal hold (no-op when none): retention applies again from the next sweep' })
  async releaseHold(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return sessionView(await this.sessions.releaseHold(id, caller.fingerprint, caller.owner));
  }

  @Delete(':id')
  @RequireRole('admin')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a session, its events and its captured media' })
  async remove(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller): Promise<void> {
    await this.sessions.delete(id, caller.owner, caller.fingerprint);
  }
}
