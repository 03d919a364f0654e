import { gzipSync } from 'node:zlib';
import express, { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { toErrorBody } from '../errors/all-exceptions.filter';
import { bodyParsers, refuseReservedKeys, refuseUnstorableText, requestIdMiddleware } from './body-parsers';

/** The API's request path up to the routes, as bootstrap.ts mounts it, and the error filter's answer. */
function app(): express.Express {
  const a = express();
  a.use(requestIdMiddleware());
  a.use(...bodyParsers('100kb'));
  a.use('/api/v1', refuseUnstorableText(), refuseReservedKeys());
  a.all('/api/v1/echo', (req: Request, res: Response) => {
    res.json({ body: req.body as unknown, query: { ...req.query } });
  });
  a.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const body = toErrorBody(err, typeof req.id === 'string' ? req.id : undefined);
    res.status(body.statusCode).json(body);
  });
  return a;
}

/** superagent JSON-encodes a Buffer sent as application/json: this sends its bytes as they are. */
const asIs = (bytes: unknown) => bytes as string;

describe('body parsers', () => {
  const json = Buffer.from(JSON.stringify({ a: 1 }));
  const post = (encoding: string, body: Buffer) =>
    request(app()).post('/api/v1/echo').set('Content-Type', 'application/json').set('Content-Encoding', encoding).send(body).serialize(asIs);

  it('reads a gzip body', async () => {
    expect((await post('gzip', gzipSync(json)).expect(200)).body).toMatchObject({ body: { a: 1 } });
  });

  it.each([
    ['gzip', 'not gzip at all', json],
    ['gzip', 'a truncated gzip stream', gzipSync(json).subarray(0, 12)],
    ['deflate', 'not deflate', json],
    ['br', 'not Brotli', json],
  ])('refuses %s with %s: 400 malformed_compressed_body naming the encoding', async (encoding, _what, body) => {
    const res = await post(encoding, body).expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'malformed_compressed_body', message: `Request body is not valid ${encoding} data (Content-Encoding: ${encoding})` });
  });

  it('still answers an encoding it does not know with 415, and bad JSON inside good gzip with malformed_json', async () => {
    expect((await post('compress', json).expect(415)).body.error).toBe('unsupported_media_type');
    expect((await post('gzip', gzipSync('{nope')).expect(400)).body.error).toBe('malformed_json');
  });
});

describe('refuseReservedKeys', () => {
  const post = (raw: string) => request(app()).post('/api/v1/echo').set('Content-Type', 'application/json').send(raw);

  it.each([
    ['{"metadata":{"__proto__":{"admin":true}}}', '__proto__', 'metadata.__proto__'],
    ['{"metadata":{"constructor":{"prototype":{"x":1}}}}', 'constructor', 'metadata.constructor'],
    ['{"metadata":{"team":{"prototype":1}}}', 'prototype', 'metadata.team.prototype'],
    ['{"metadata":{"toString":"x"}}', 'toString', 'metadata.toString'],
  ])('refuses %s with 400 reserved_key naming the key and where it is', async (raw, key, path) => {
    const res = await post(raw).expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'reserved_key', details: { in: 'body', key, path } });
    expect(res.body.message).toContain(`"${key}" at ${path}`);
  });

  it('refuses a reserved query key, and passes everything else as it came', async () => {
    const res = await request(app()).get('/api/v1/echo?limit=1&constructor=x').expect(400);
    expect(res.body).toMatchObject({ error: 'reserved_key', details: { in: 'query', key: 'constructor', path: 'constructor' } });
    const ok = await post('{"metadata":{"note":"constructor","proto":1,"Prototype":2}}').expect(200);
    expect(ok.body.body).toEqual({ metadata: { note: 'constructor', proto: 1, Prototype: 2 } });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});
