import { BadRequestException, ConflictException, HttpException, NotFoundException } from '@nestjs/common';
import { SessionNotFoundError } from '../../modules/sessions';
import { ZoomRequestError } from '../../zoom/zoom-errors';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toErrorBody } from './all-exceptions.filter';
import { DEFAULT_ERROR_CODES, DOMAIN_ERROR_HTTP_STATUS } from './error-codes';

describe('toErrorBody', () => {
  it('uses the code and message a handler gave', () => {
    expect(toErrorBody(new ConflictException({ code: 'illegal_transition', message: 'no' }), 'r1')).toEqual({
      statusCode: 409,
      error: 'illegal_transition',
      message: 'no',
      requestId: 'r1',
    });
  });

  it('answers a domain error with its code, the status the catalogue gives it, and its details', () => {
    expect(toErrorBody(new SessionNotFoundError('s1'), 'r2')).toEqual({ statusCode: 404, error: 'session_not_found', message: 'Session s1 does not exist', requestId: 'r2' });
    expect(toErrorBody(new ZoomRequestError('RTMS start', 400, 2308, 'not enabled'))).toMatchObject({
      statusCode: 502,
      error: 'zoom_request_failed',
      details: { zoomStatus: 400, zoomCode: 2308, zoomMessage: 'not enabled' },
    });
  });

  it('turns ValidationPipe messages into details', () => {
    const body = toErrorBody(new BadRequestException(['a must be a string', 'property b should not exist']));
    expect(body).toMatchObject({ statusCode: 400, error: 'validation_failed', message: 'Request validation failed', details: ['a must be a string', 'property b should not exist'] });
  });

  it('falls back to a code per status', () => {
    expect(toErrorBody(new NotFoundException())).toMatchObject({ statusCode: 404, error: 'not_found' });
    expect(toErrorBody(new HttpException('slow down', 429))).toMatchObject({ statusCode: 429, error: 'too_many_requests', message: 'slow down' });
  });

  it('maps body-parser errors and hides internal errors', () => {
    expect(toErrorBody({ type: 'entity.too.large', status: 413 })).toMatchObject({ statusCode: 413, error: 'payload_too_large' });
    expect(toErrorBody({ type: 'entity.parse.failed', status: 400 })).toMatchObject({ statusCode: 400, error: 'malformed_json' });
    expect(toErrorBody(new Error('connection string postgres://secret@db'))).toEqual({ statusCode: 500, error: 'internal_error', message: 'Internal server error', requestId: undefined });
  });

  it('lists every code the API can answer with in docs/api.md', () => {
    const doc = readFileSync(join(__dirname, '../../../docs/api.md'), 'utf8');
    const codes = [...Object.keys(DOMAIN_ERROR_HTTP_STATUS), ...Object.values(DEFAULT_ERROR_CODES).filter((c) => c !== 'error')];
    expect(codes.filter((code) => !doc.includes(`\`${code}\``))).toEqual([]);
  });
});
