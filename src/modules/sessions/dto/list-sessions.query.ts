import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsOptional, Matches } from 'class-validator';
import { IsInstant } from '../../../common/http/instant';
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

  @ApiPropertyOptional({ description: 'Created at or after (RFC 3339 date-time or date)' })
  @IsOptional() @IsInstant()
  created_from?: string;

  @ApiPropertyOptional({ description: 'Created before (RFC 3339 date-time or date)' })
  @IsOptional() @IsInstant()
  created_to?: string;
}
