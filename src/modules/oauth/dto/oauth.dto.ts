import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { ConnectionStatus } from '../entities/oauth-connection.entity';

const PRINTABLE = /^[\x21-\x7e]+$/;

export class AuthorizeQuery {
  @ApiPropertyOptional({ description: 'Where to send the browser after a successful callback (must be on OAUTH_REDIRECT_ALLOWLIST)' })
  @IsOptional() @IsString() @MaxLength(2048)
  redirect_after?: string;

  @ApiPropertyOptional({ description: "Your application's id for the end user; stored on the connection" })
  @IsOptional() @IsString() @MaxLength(256) @Matches(PRINTABLE, { message: 'app_user_id must be printable ASCII without spaces' })
  app_user_id?: string;
}

export class ListConnectionsQuery {
  @ApiPropertyOptional()
  @IsOptional() @IsString() @MaxLength(256)
  app_user_id?: string;

  @ApiPropertyOptional({ enum: ConnectionStatus })
  @IsOptional() @IsIn(Object.values(ConnectionStatus))
  status?: ConnectionStatus;
}

export class DisconnectQuery {
  @ApiPropertyOptional({ description: 'Delete the connection even if Zoom cannot be reached to revoke it' })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  force?: boolean;
}
