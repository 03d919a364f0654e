import { pipeline } from 'node:stream/promises';
import { Controller, Get, Headers, HttpException, HttpStatus, Logger, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ListArtifactsQuery, TranscriptQuery } from '../dto/artifacts.query';
import { ArtifactsService, artifactView } from './artifacts.service';
import { parseRange } from './http-range';
import { toTxt, toVtt } from './transcript-format';
import { errorMessage } from '../../../common/errors/error-message';
import { uuidParam } from '../../../common/http/uuid-param';
import { contentDisposition } from '../../../common/http/content-disposition';
import { ApiCaller, Caller } from '../../../common/auth/api-caller';
import { RequireRole } from '../../../common/auth/require-role.decorator';


@ApiTags('artifacts')
@ApiSecurity('api-key')
@RequireRole('read')
@Controller()
export class ArtifactsController {
  private readonly logger = new Logger(ArtifactsController.name);

  constructor(private readonly artifacts: ArtifactsService) {}

  @Get('sessions/:id/artifacts')
  @ApiOperation({ summary: "List a session's captured media (filter by kind, user, time; cursor-paginated, oldest first)" })
  list(@Param('id', uuidParam) id: string, @Query() query: ListArtifactsQuery, @Caller() caller: ApiCaller) {
    return this.artifacts.list(id, query, caller.owner);
  }

  @Get('artifacts/:id')
  @ApiOperation({ summary: 'One artifact (metadata)' })
  async get(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return artifactView(await this.artifacts.get(id, caller.owner));
  }

  @Get('artifacts/:id/content')
  @ApiOperation({ summary: 'Download the bytes of an artifact (HTTP Range supported: 206 / 416)' })
  async content(
    @Param('id', uuidParam) id: string,
    @Headers('range') rangeHeader: string | undefined,
    @Headers('if-range') ifRange: string | undefined,
    @Caller() caller: ApiCaller,
    @Res() res: Response,
  ): Promise<void> {
    const a = await this.artifacts.get(id, caller.owner);
    // If-Range names the version the client has (our ETag; we send no Last-Modified, so a
    // date never matches): another one (a recording composed again under the same key)
    // gets the whole object, not its bytes spliced onto the old ones (RFC 9110 §13.1.5).
    const wantsRange = rangeHeader !== undefined && (ifRange === undefined || ifRange.trim() === `"${a.sha256}"`);
    const range = parseRange(wantsRange ? rangeHeader : undefined, a.bytes);
    if (range.kind === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${a.bytes}`);
      throw new HttpException({ code: 'range_not_satisfiable', message: `Range ${JSON.stringify(rangeHeader)} cannot be served from ${a.bytes} bytes` }, HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE);
    }
    const obj = await this.artifacts.open(a, range.kind === 'range' ? range.range : undefined);
    res.setHeader('Content-Type', a.contentType);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', `"${a.sha256}"`);
    res.setHeader('Content-Length', String(obj.length));
    res.setHeader('Content-Disposition', contentDisposition('inline', a.storageKey.split('/').pop() || 'artifact', 'artifact'));
    if (range.kind === 'range') {
      res.status(HttpStatus.PARTIAL_CONTENT);
      res.setHeader('Content-Range', `bytes ${range.range.start}-${range.range.end}/${a.bytes}`);
    } else {
      res.status(HttpStatus.OK);
    }
    if (res.req.method === 'HEAD') {
      // Express routes HEAD here too: the headers are the answer; reading the object (all of
      // it, from S3) only to throw the bytes away is not.
      obj.stream.destroy();
      res.end();
      return;
    }
    try {
      await pipeline(obj.stream, res);
    } catch (err) {
      this.logger.warn(`Download of artifact ${id} ended early: ${errorMessage(err)}`);
    }
  }

  @Get('sessions/:id/transcript')
  @ApiOperation({ summary: 'The session transcript as JSON, WebVTT or plain text' })
  async transcript(@Param('id', uuidParam) id: string, @Query() q: TranscriptQuery, @Caller() caller: ApiCaller, @Res() res: Response): Promise<void> {
    const lines = await this.artifacts.transcript(id, caller.owner);
    const format = q.format ?? 'json';
    if (format === 'vtt') {
      res.type('text/vtt; charset=utf-8').send(toVtt(lines));
    } else if (format === 'txt') {
      res.type('text/plain; charset=utf-8').send(toTxt(lines));
    } else {
      res.json({
        session_id: id,
        data: lines.map((l) => ({ user_id: l.userId, user_name: l.userName, text: l.text, start_ms: l.startMs, end_ms: l.endMs, start_at: new Date(l.startMs).toISOString(), language: l.language })),
      });
    }
  }
}
