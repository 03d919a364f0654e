import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsOptional, IsUUID } from 'class-validator';
import { IsInstant } from '../../../common/http/instant';
import { PageQuery } from '../../../common/http/page.query';
import { DeletionReason } from '../entities/deletion-entry.entity';

export class ListDeletionsQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Only deletions of this session' })
  @IsOptional() @IsUUID('all', { message: 'session_id must be a UUID' })
  session_id?: string;

  @ApiPropertyOptional({ enum: DeletionReason })
  @IsOptional() @IsEnum(DeletionReason, { message: `reason must be one of: ${Object.values(DeletionReason).join(', ')}` })
  reason?: DeletionReason;

  @ApiPropertyOptional({ description: 'Created at or after (RFC 3339 date-time or date)' })
  @IsOptional() @IsInstant()
  created_from?: string;

  @ApiPropertyOptional({ description: 'Created before (RFC 3339 date-time or date)' })
  @IsOptional() @IsInstant()
  created_to?: string;
}
