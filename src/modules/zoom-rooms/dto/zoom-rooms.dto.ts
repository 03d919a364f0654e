import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { DecimalInt } from '../../../common/http/decimal-int';
import { RoomDispatchStatus } from '../entities/room-dispatch.entity';
import { ZOOM_ROOM_ID_MESSAGE, ZOOM_ROOM_ID_PATTERN } from '../contract';
import { ROOM_STATUSES, RoomStatus } from '../zoom-rooms.service';

/** Zoom's status names in any case ("available" → "Available", as the sample sends). */
const canonicalStatus = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? (ROOM_STATUSES.find((s) => s.toLowerCase() === value.toLowerCase()) ?? value) : value;

export class ListRoomsQuery {
  @ApiPropertyOptional({ enum: ROOM_STATUSES })
  @IsOptional() @Transform(canonicalStatus) @IsIn(ROOM_STATUSES)
  status?: RoomStatus;
}

export class CreateDispatchDto {
  @ApiProperty({ description: 'Numeric Zoom meeting number the rooms join', example: '86429575325' })
  @IsString() @Matches(/^\d{6,20}$/, { message: 'meeting_number must be the numeric Zoom meeting number' })
  meeting_number: string;

  @ApiPropertyOptional({ description: 'Meeting passcode (stored encrypted, never returned or logged)' })
  @IsOptional() @IsString() @MaxLength(64)
  passcode?: string;

  @ApiPropertyOptional({ description: 'Rooms to send (default: every room whose status is Available)', type: [String] })
  @IsOptional() @IsArray() @ArrayNotEmpty() @ArrayMaxSize(300) @ArrayUnique()
  @IsString({ each: true }) @Matches(ZOOM_ROOM_ID_PATTERN, { each: true, message: ZOOM_ROOM_ID_MESSAGE })
  room_ids?: string[];

  @ApiPropertyOptional({ description: 'Each room leaves after this many seconds; 0 = stays until DELETE (default 30)', minimum: 0, maximum: 86400 })
  @IsOptional() @IsInt() @Min(0) @Max(86400)
  leave_after_seconds?: number;

  @ApiPropertyOptional({ description: 'Session these dispatches belong to' })
  @IsOptional() @IsUUID()
  session_id?: string;
}

export class ListDispatchesQuery {
  @ApiPropertyOptional() @IsOptional() @IsUUID()
  session_id?: string;

  @ApiPropertyOptional({ enum: RoomDispatchStatus }) @IsOptional() @IsIn(Object.values(RoomDispatchStatus))
  status?: RoomDispatchStatus;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional() @DecimalInt() @IsInt() @Min(1) @Max(500)
  limit?: number;
}
