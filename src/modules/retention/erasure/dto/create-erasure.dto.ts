import { ApiPropertyOptional } from '@nestjs/swagger';
import { Allow } from 'class-validator';

/**
 * `POST /erasures`: exactly one of the three. Types, lengths and "exactly one" are checked
 * by parseErasureSubject (erasure-subject.ts), which answers 400 `invalid_erasure_subject`.
 */
export class CreateErasureDto {
  @ApiPropertyOptional({ description: 'Zoom user id as RTMS reports it (not 0, the mixed audio stream)', maxLength: 64 })
  @Allow()
  zoom_user_id?: unknown;

  @ApiPropertyOptional({ description: "Participant's email (from Zoom's meeting.participant_joined webhook), case-insensitive", maxLength: 320 })
  @Allow()
  user_email?: unknown;

  @ApiPropertyOptional({ description: 'Display name, exact after Unicode NFC normalisation (case-sensitive)', maxLength: 512 })
  @Allow()
  user_name?: unknown;
}
