import { Module } from '@nestjs/common';
import { ZoomRoomsController } from './zoom-rooms.controller';
import { ZoomRoomsModule } from './zoom-rooms.module';

/** The Zoom Rooms routes (API processes only). */
@Module({ imports: [ZoomRoomsModule], controllers: [ZoomRoomsController] })
export class ZoomRoomsApiModule {}
