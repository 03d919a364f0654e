import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ZoomModule } from '../../zoom/zoom.module';
import { AppEventsModule } from '../app-events';
import { SessionsModule } from '../sessions';
import { RoomDispatchEntity } from './entities/room-dispatch.entity';
import { RoomDispatchRetentionService } from './room-dispatch-retention.service';
import { RoomDispatchRunner } from './room-dispatch.runner';
import { RoomDispatchesService } from './room-dispatches.service';
import { RoomMeetingEndService } from './room-meeting-end.service';
import { RoomDispatchesRepository } from './repositories/room-dispatches.repository';
import { RoomsRateLimiter } from './rooms-rate-limiter';
import { ZoomRoomsClient } from './zoom-rooms.client';
import { ZoomRoomsService } from './zoom-rooms.service';

/** What the API, the workers and the retention module share: the dispatches' repository and retention's part. */
@Module({
  providers: [RoomDispatchesRepository, RoomDispatchRetentionService],
  exports: [RoomDispatchesRepository, RoomDispatchRetentionService],
})
export class ZoomRoomsCoreModule {}

/** Zoom Rooms: listing, dispatches (API side), the join/leave runner and the meeting's end (worker side). No controllers. */
@Module({
  imports: [TypeOrmModule.forFeature([RoomDispatchEntity]), ZoomModule, SessionsModule, AppEventsModule, ZoomRoomsCoreModule],
  providers: [RoomsRateLimiter, ZoomRoomsClient, ZoomRoomsService, RoomDispatchesService, RoomDispatchRunner, RoomMeetingEndService],
  exports: [ZoomRoomsService, RoomDispatchesService, RoomDispatchRunner, RoomMeetingEndService],
})
export class ZoomRoomsModule {}
