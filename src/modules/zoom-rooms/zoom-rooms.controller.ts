import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiCaller, Caller } from '../../common/auth/api-caller';
import { RequireRole } from '../../common/auth/require-role.decorator';
import { uuidParam } from '../../common/http/uuid-param';
import { CreateDispatchDto, ListDispatchesQuery, ListRoomsQuery } from './dto/zoom-rooms.dto';
import { dispatchView } from './room-dispatch.views';
import { RoomDispatchesService } from './room-dispatches.service';
import { ZoomRoomsService } from './zoom-rooms.service';

@ApiTags('zoom-rooms')
@ApiSecurity('api-key')
@RequireRole('read')
@Controller('zoom-rooms')
export class ZoomRoomsController {
  constructor(
    private readonly rooms: ZoomRoomsService,
    private readonly dispatches: RoomDispatchesService,
  ) {}

  @Get()
  @ApiOperation({ summary: "The account's Zoom Rooms (every page of GET /v2/rooms; cached briefly)" })
  list(@Query() query: ListRoomsQuery) {
    return this.rooms.list(query.status);
  }

  @Post('dispatches')
  @RequireRole('control')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send rooms into a meeting (one dispatch per room; each leaves after leave_after_seconds)' })
  create(@Body() dto: CreateDispatchDto, @Caller() caller: ApiCaller) {
    return this.dispatches.create(dto, 'api', caller.owner);
  }

  @Get('dispatches')
  @ApiOperation({ summary: 'Dispatches, newest first (filter by session_id, status)' })
  listDispatches(@Query() query: ListDispatchesQuery, @Caller() caller: ApiCaller) {
    return this.dispatches.list(query, caller.owner);
  }

  @Get('dispatches/:id')
  @ApiOperation({ summary: 'One dispatch with its status and Zoom outcome' })
  async get(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return dispatchView(await this.dispatches.get(id, caller.owner));
  }

  @Post('dispatches/:id/retry')
  @RequireRole('control')
  @HttpCode(202)
  @ApiOperation({ summary: 'Re-run the failed step (join or leave) of a failed dispatch' })
  retry(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return this.dispatches.retry(id, caller.owner);
  }

  @Delete('dispatches/:id')
  @RequireRole('control')
  @HttpCode(202)
  @ApiOperation({ summary: 'The room leaves now (joined) or its pending join is cancelled' })
  cancel(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return this.dispatches.cancel(id, caller.owner);
  }
}
