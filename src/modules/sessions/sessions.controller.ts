import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CreateSessionDto } from './dto/create-session.dto';
import { ListSessionsQuery, PageQuery } from './dto/list-sessions.query';
import { uuidParam } from '../../common/http/uuid-param';
import { SessionEventsService } from './session-events.service';
import { sessionView, streamView } from './session.views';
import { SessionsService } from './sessions.service';
import { StreamsService } from './streams.service';

@ApiTags('sessions')
@ApiSecurity('api-key')
@Controller('sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly streams: StreamsService,
    private readonly sessionEvents: SessionEventsService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Register a meeting to capture, with its capture policy' })
  async create(@Body() dto: CreateSessionDto) {
    return sessionView(await this.sessions.create(dto));
  }

  @Get()
  @ApiOperation({ summary: 'List sessions (newest first, cursor pagination)' })
  list(@Query() query: ListSessionsQuery) {
    return this.sessions.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A session with its streams' })
  async get(@Param('id', uuidParam) id: string) {
    const session = await this.sessions.get(id);
    const streams = await this.streams.listForSession(id);
    return { ...sessionView(session), streams: streams.map(streamView) };
  }

  @Get(':id/events')
  @ApiOperation({ summary: "The session's events (newest first)" })
  events(@Param('id', uuidParam) id: string, @Query() query: PageQuery) {
    return this.sessionEvents.listEvents(id, query);
  }

  @Get(':id/participants')
  @ApiOperation({ summary: 'Participants seen in the session' })
  participants(@Param('id', uuidParam) id: string) {
    return this.sessions.listParticipants(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a session, its events and its captured media' })
  async remove(@Param('id', uuidParam) id: string): Promise<void> {
    await this.sessions.delete(id);
  }
}
