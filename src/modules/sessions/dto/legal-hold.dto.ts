import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

/** POST /sessions/:id/hold. */
export class PlaceLegalHoldDto {
  @ApiPropertyOptional({ description: 'Why the session is held (a case or ticket reference; not shown to apps in events)', maxLength: 512 })
  @IsOptional() @IsString() @MaxLength(512)
  reason?: string;
}
