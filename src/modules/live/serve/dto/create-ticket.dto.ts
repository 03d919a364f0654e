import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsOptional, IsUUID } from 'class-validator';

export class CreateLiveTicketDto {
  @ApiPropertyOptional({ type: [String], description: 'Only these sessions may be subscribed with the ticket (default: any)' })
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100) @IsUUID('all', { each: true })
  session_ids?: string[];
}
