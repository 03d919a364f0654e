import { Body, Controller, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiCaller, Caller } from '../../common/auth/api-caller';
import { RequireRole } from '../../common/auth/require-role.decorator';
import { uuidParam } from '../../common/http/uuid-param';
import { RtmsControlBody } from './dto/rtms-control.dto';
import { RtmsAction } from './entities/rtms-control-request.entity';
import { ControlAccepted, RtmsControlService } from './rtms-control.service';

const IDEMPOTENCY_HEADER = { name: 'Idempotency-Key', required: false, description: 'Repeat a request safely: the same key returns the first job' };

@ApiTags('rtms-control')
@ApiSecurity('api-key')
@RequireRole('read')
@Controller('sessions/:id/rtms')
export class RtmsControlController {
  constructor(private readonly control: RtmsControlService) {}

  @Get()
  @ApiOperation({ summary: 'Stream state and the last RTMS control request with its outcome' })
  status(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return this.control.status(id, caller.owner);
  }

  @Post('start')
  @RequireRole('control')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({ summary: 'Ask Zoom to start RTMS in the meeting (durable job; 202 with the job id)' })
  start(@Param('id', uuidParam) id: string, @Body() body: RtmsControlBody, @Caller() caller: ApiCaller, @Headers('idempotency-key') key?: string): Promise<ControlAccepted> {
    return this.act(id, 'start', body, key, caller);
  }

  @Post('stop')
  @RequireRole('control')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({ summary: 'Ask Zoom to stop RTMS' })
  stop(@Param('id', uuidParam) id: string, @Body() body: RtmsControlBody, @Caller() caller: ApiCaller, @Headers('idempotency-key') key?: string): Promise<ControlAccepted> {
    return this.act(id, 'stop', body, key, caller);
  }

  @Post('pause')
  @RequireRole('control')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({ summary: 'Ask Zoom to pause RTMS' })
  pause(@Param('id', uuidParam) id: string, @Body() body: RtmsControlBody, @Caller() caller: ApiCaller, @Headers('idempotency-key') key?: string): Promise<ControlAccepted> {
    return this.act(id, 'pause', body, key, caller);
  }

  @Post('resume')
  @RequireRole('control')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({ summary: 'Ask Zoom to resume a paused RTMS stream' })
  resume(@Param('id', uuidParam) id: string, @Body() body: RtmsControlBody, @Caller() caller: ApiCaller, @Headers('idempotency-key') key?: string): Promise<ControlAccepted> {
    return this.act(id, 'resume', body, key, caller);
  }

  private act(id: string, action: RtmsAction, body: RtmsControlBody | undefined, key: string | undefined, caller: ApiCaller): Promise<ControlAccepted> {
    return this.control.request(id, action, body ?? {}, key, caller.owner);
  }
}
