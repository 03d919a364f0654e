/*
 * The zoom-rooms module's door: its Nest modules, the processor the worker registers, and
 * retention's part. Room id formats are in contract.ts, the module's other public file.
 */
export { ZoomRoomsCoreModule, ZoomRoomsModule } from './zoom-rooms.module';
export { RoomDispatchRetentionService } from './room-dispatch-retention.service';
export type { FinishedDispatch } from './repositories/room-dispatches.repository';
export { ZoomRoomsApiModule } from './zoom-rooms-api.module';
export { ZoomRoomsProcessor } from './zoom-rooms.processor';
export { ZOOM_ROOM_ID_MESSAGE, ZOOM_ROOM_ID_PATTERN } from './contract';
export { resealDispatchPasscodes } from './dispatch-passcodes.reseal';
