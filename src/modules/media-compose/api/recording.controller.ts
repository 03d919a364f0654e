import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiCaller, Caller } from '../../../common/auth/api-caller';
import { RequireRole } from '../../../common/auth/require-role.decorator';
import { uuidParam } from '../../../common/http/uuid-param';
import { RecordingRequestsService } from './recording-requests.service';

@ApiTags('recordings')
@ApiSecurity('api-key')
@RequireRole('read')
@Controller('sessions/:id/recording')
export class RecordingController {
  constructor(private readonly requests: RecordingRequestsService) {}

  @Get()
  @ApiOperation({ summary: "The session's composed recording (recording.mp4) and where its composition is" })
  status(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return this.requests.status(id, caller.owner);
  }

  @Post()
  @RequireRole('control')
  @HttpCode(202)
  @ApiOperation({ summary: 'Compose the recording of an ended session again (replaces recording.mp4); 409 while the session has not ended' })
  request(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return this.requests.request(id, caller.owner);
  }
}
