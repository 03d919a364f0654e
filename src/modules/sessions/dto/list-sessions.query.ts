import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsISO8601, IsOptional, Matches } from 'class-validator';
import { PageQuery } from '../../../common/http/page.query';
import { SessionStatus } from '../entities/session.entity';

export { PageQuery };

export class ListSessionsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: SessionStatus })
  @IsOptional() @IsEnum(SessionStatus)
  status?: SessionStatus;

  @ApiPropertyOptional()
  @IsOptional() @Matches(/^\d{6,20}$/, { message: 'meeting_id must be numeric' })
  meeting_id?: string;

  @ApiPropertyOptional({ description: 'Created at or after (ISO 8601)' })
  @IsOptional() @IsISO8601()
  created_from?: string;

  @ApiPropertyOptional({ description: 'Created before (ISO 8601)' })
  @IsOptional() @IsISO8601()
  created_to?: string;
}
