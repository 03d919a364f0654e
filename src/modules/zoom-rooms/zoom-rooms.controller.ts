import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { uuidParam } from '../../common/http/uuid-param';
import { CreateDispatchDto, ListDispatchesQuery, ListRoomsQuery } from './dto/zoom-rooms.dto';
import { dispatchView } from './room-dispatch.views';
import { RoomDispatchesService } from './room-dispatches.service';
import { ZoomRoomsService } from './zoom-rooms.service';

@ApiTags('zoom-rooms')
@ApiSecurity('api-key')
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
  @HttpCode(202)
  @ApiOperation({ summary: 'Send rooms into a meeting (one dispatch per room; each leaves after leave_after_seconds)' })
  create(@Body() dto: CreateDispatchDto) {
    return this.dispatches.create(dto);
  }

  @Get('dispatches')
  @ApiOperation({ summary: 'Dispatches, newest first (filter by session_id, status)' })
  listDispatches(@Query() query: ListDispatchesQuery) {
    return this.dispatches.list(query);
  }

  @Get('dispatches/:id')
  @ApiOperation({ summary: 'One dispatch with its status and Zoom outcome' })
  async get(@Param('id', uuidParam) id: string) {
    return dispatchView(await this.dispatches.get(id));
  }

  @Post('dispatches/:id/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Re-run the failed step (join or leave) of a failed dispatch' })
  retry(@Param('id', uuidParam) id: string) {
    return this.dispatches.retry(id);
  }

  @Delete('dispatches/:id')
  @HttpCode(202)
  @ApiOperation({ summary: 'The room leaves now (joined) or its pending join is cancelled' })
  cancel(@Param('id', uuidParam) id: string) {
    return this.dispatches.cancel(id);
  }
}
