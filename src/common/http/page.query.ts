import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { DecimalInt } from './decimal-int';

/** `?cursor=&limit=` of every keyset-paginated list (see pagination.ts). */
export class PageQuery {
  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page' })
  @IsOptional() @IsString() @MaxLength(512)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional() @DecimalInt() @IsInt() @Min(1) @Max(100)
  limit?: number;
}
