import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';

export class RtmsControlBody {
  @ApiPropertyOptional({ description: "Zoom user id of the participant whose RTMS app acts (Zoom's settings.participant_user_id)" })
  @IsOptional() @IsString() @MaxLength(128) @Matches(/^[A-Za-z0-9_.@-]+$/, { message: 'participant_user_id has invalid characters' })
  participant_user_id?: string;

  @ApiPropertyOptional({
    description: 'OAuth connection (GET /oauth/zoom/connections) whose Zoom user makes the call. Default: the Server-to-Server app when configured, else the only active connection.',
  })
  @IsOptional() @IsUUID()
  connection_id?: string;
}
