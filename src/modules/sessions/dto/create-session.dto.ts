import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateNested } from 'class-validator';
import { CapturePolicyDto } from './capture-policy.dto';

export class CreateSessionDto {
  @ApiProperty({ enum: ['zoom'], default: 'zoom' })
  @IsIn(['zoom'])
  platform: 'zoom';

  @ApiProperty({ description: 'Numeric Zoom meeting id', example: '86429575325' })
  @IsString()
  @Matches(/^\d{6,20}$/, { message: 'meeting_id must be the numeric Zoom meeting id' })
  meeting_id: string;

  @ApiPropertyOptional({ description: 'Zoom meeting UUID, if known' })
  @IsOptional() @IsString() @MaxLength(256)
  meeting_uuid?: string;

  @ApiPropertyOptional({ type: CapturePolicyDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => CapturePolicyDto)
  capture_policy?: CapturePolicyDto;

  @ApiPropertyOptional({ description: 'Free-form app data (max 16 KB as JSON)' })
  @IsOptional() @IsObject()
  metadata?: Record<string, unknown>;
}
