/*
 * The zoom-rooms module's door: its Nest modules and the processor the worker registers.
 * Room id formats are in contract.ts, the module's other public file.
 */
export { ZoomRoomsModule } from './zoom-rooms.module';
export { ZoomRoomsApiModule } from './zoom-rooms-api.module';
export { ZoomRoomsProcessor } from './zoom-rooms.processor';
export { ZOOM_ROOM_ID_MESSAGE, ZOOM_ROOM_ID_PATTERN } from './contract';
