import { Controller, Delete, Get, HttpCode, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Request, Response } from 'express';
import { ApiCaller, Caller } from '../../common/auth/api-caller';
import { AuthenticatedBy } from '../../common/auth/public.decorator';
import { RequireRole } from '../../common/auth/require-role.decorator';
import { uuidParam } from '../../common/http/uuid-param';
import { AuthorizeQuery, DisconnectQuery, ListConnectionsQuery } from './dto/oauth.dto';
import { connectionView, OAuthConnectionsService } from './oauth-connections.service';
import { OAuthFlowService } from './oauth-flow.service';

/** Reads one query value as a single string (repeated or nested values are ignored). */
function one(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 2048 ? value : undefined;
}

@ApiTags('oauth')
@Controller('oauth/zoom')
export class OAuthController {
  constructor(
    private readonly flow: OAuthFlowService,
    private readonly connections: OAuthConnectionsService,
  ) {}

  @Get('authorize')
  @RequireRole('admin')
  @ApiSecurity('api-key')
  @ApiOperation({ summary: "Start connecting a Zoom user: 302 to Zoom's consent page (state + PKCE S256)" })
  async authorize(@Query() query: AuthorizeQuery, @Caller() caller: ApiCaller, @Res() res: Response): Promise<void> {
    const url = await this.flow.authorize({ caller, appUserId: query.app_user_id, redirectAfter: query.redirect_after });
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, url);
  }

  /** Zoom redirects the browser here; the single-use state authenticates the request. */
  @Get('callback')
  @AuthenticatedBy('oauth-state')
  @ApiOperation({ summary: 'OAuth redirect target: checks the state, exchanges the code, stores the connection' })
  async callback(@Req() req: Request, @Res() res: Response): Promise<void> {
    const result = await this.flow.callback({ code: one(req.query.code), state: one(req.query.state), error: one(req.query.error) });
    res.setHeader('Cache-Control', 'no-store');
    if (result.redirectTo) {
      res.redirect(302, result.redirectTo);
      return;
    }
    res.status(200).json({ status: 'connected', connection: connectionView(result.connection) });
  }

  @Get('connections')
  @RequireRole('read')
  @ApiSecurity('api-key')
  @ApiOperation({ summary: 'Connected Zoom users (no tokens)' })
  async list(@Query() query: ListConnectionsQuery, @Caller() caller: ApiCaller) {
    const rows = await this.connections.list({ appUserId: query.app_user_id, status: query.status, owner: caller.owner ?? undefined });
    return { data: rows.map(connectionView) };
  }

  @Get('connections/:id')
  @RequireRole('read')
  @ApiSecurity('api-key')
  @ApiOperation({ summary: 'One connection (no tokens)' })
  async get(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return connectionView(await this.connections.get(id, caller.owner));
  }

  @Delete('connections/:id')
  @RequireRole('admin')
  @HttpCode(204)
  @ApiSecurity('api-key')
  @ApiOperation({ summary: 'Disconnect: revoke the grant at Zoom, then delete the stored tokens' })
  async remove(@Param('id', uuidParam) id: string, @Query() query: DisconnectQuery, @Caller() caller: ApiCaller): Promise<void> {
    await this.connections.disconnect(id, { force: query.force, owner: caller.owner });
  }
}
