import { randomUUID } from 'node:crypto';
import { PayloadTooLargeException, BadRequestException, HttpException } from '@nestjs/common';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { jsonDeeperThan, MAX_JSON_DEPTH } from '../json/json-depth';
import { holdsUnstorableText, mayHoldUnstorableText } from '../json/json-text';
import { findReservedKey, mayHoldReservedKey } from '../json/reserved-keys';

/** Request with the exact bytes received (webhook HMACs are computed over them). */
export interface RawBodyRequest extends Request {
  rawBody?: Buffer;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Gives every request an id before anything can fail (a caller's well-formed
 * x-request-id is kept) and echoes it back; logs and error bodies carry it.
 */
export function requestIdMiddleware(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader('x-request-id', id);
    next();
  };
}

function keepRawBody(req: RawBodyRequest, _res: Response, buf: Buffer): void {
  req.rawBody = buf;
}

/** Keeps the raw bytes and refuses JSON nested deeper than MAX_JSON_DEPTH before it is parsed. */
function keepRawJson(req: RawBodyRequest, res: Response, buf: Buffer): void {
  keepRawBody(req, res, buf);
  if (jsonDeeperThan(buf, MAX_JSON_DEPTH)) throw Object.assign(new Error('JSON nested too deep'), { type: 'entity.too.deep' });
}

/** Maps body-parser failures to HttpExceptions with stable codes for the error filter. */
function wrapParser(parser: RequestHandler): RequestHandler {
  return (req, res, next) =>
    parser(req, res, (err?: unknown) => {
      if (!err) return next();
      next(bodyParserError(err, req));
    });
}

/**
 * A body-parser failure (JSON or form) as an HttpException with a stable code: too large,
 * too deep, not JSON, an encoding or charset it does not take, a body that is not what its
 * Content-Encoding says, or otherwise unreadable.
 */
export function bodyParserError(err: unknown, req: Request): HttpException {
  const e = err as { type?: string; status?: number };
  if (e.type === 'entity.too.large' || e.type === 'parameters.too.many') {
    return new PayloadTooLargeException({ code: 'payload_too_large', message: 'Request body exceeds the size limit' });
  }
  if (e.type === 'entity.too.deep') return new BadRequestException({ code: 'json_too_deep', message: `Request body nests deeper than ${MAX_JSON_DEPTH} levels` });
  if (e.type === 'entity.parse.failed') return new BadRequestException({ code: 'malformed_json', message: 'Request body is not valid JSON' });
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return new HttpException({ code: 'unsupported_media_type', message: 'Unsupported body encoding' }, 415);
  if (e.type === undefined && contentEncoding(req) !== 'identity') {
    // Only the decompression stream fails without a `type` (zlib's "incorrect header
    // check", "unexpected end of file"): the body is not what its Content-Encoding says.
    const encoding = contentEncoding(req);
    return new BadRequestException({ code: 'malformed_compressed_body', message: `Request body is not valid ${encoding} data (Content-Encoding: ${encoding})` });
  }
  return new BadRequestException({ code: 'unreadable_body', message: 'Request body could not be read' });
}

/** The request's Content-Encoding as body-parser reads it (lower case, `identity` when absent). */
function contentEncoding(req: Request): string {
  return (req.headers['content-encoding'] ?? 'identity').toLowerCase();
}

/**
 * The JSON parser with a size limit, keeping the raw bytes. No form (urlencoded)
 * parser: no route takes a form, and one would hand a cross-site form post's fields to
 * Bull Board's routes as if they were its JSON body.
 */
export function bodyParsers(limit: string): RequestHandler[] {
  return [wrapParser(express.json({ limit, verify: keepRawJson }))];
}

/**
 * The API takes JSON bodies only. express.json parses nothing else and leaves `req.body`
 * unset, which the all-optional DTOs then accepted: a `text/plain` JSON body answered 2xx
 * with its fields ignored — a live ticket asked for one session came back unrestricted, a
 * hold lost its reason. A request that carries a body of another type is refused (415)
 * before any route sees it.
 */
export function requireJsonBodies(): RequestHandler {
  return (req, _res, next) => {
    if (!carriesBody(req) || req.is(['application/json', '+json'])) return next();
    next(new HttpException({ code: 'unsupported_media_type', message: 'Request bodies must be application/json' }, 415));
  };
}

function carriesBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length']);
  return Number.isFinite(length) && length > 0;
}

/**
 * API input (body and query) holding a NUL or a lone UTF-16 surrogate is refused (400
 * invalid_text): Postgres stores neither, and the statement it reached failed with a 500.
 * The Zoom webhook route is mounted before this and keeps its own rule (it replaces them:
 * what Zoom sent is stored, json-text.ts).
 */
export function refuseUnstorableText(): RequestHandler {
  return (req: RawBodyRequest, _res, next) => {
    // The raw bytes tell at once whether the parsed body can hold one (the common case: no).
    const bodyRisky = req.rawBody !== undefined && mayHoldUnstorableText(req.rawBody.toString('latin1')) && holdsUnstorableText(req.body);
    if (!bodyRisky && !holdsUnstorableText(req.query)) return next();
    next(new BadRequestException({ code: 'invalid_text', message: 'Text must not contain NUL characters or unpaired UTF-16 surrogates' }));
  };
}

/**
 * API input (body and query) holding a key named `__proto__`, `constructor`, `prototype`
 * or another member of Object.prototype, at any depth, is refused (400 reserved_key,
 * naming it): ValidationPipe and class-transformer drop such keys, so `metadata` lost
 * them without a word. Like refuseUnstorableText, mounted after the Zoom webhook route.
 */
export function refuseReservedKeys(): RequestHandler {
  return (req: RawBodyRequest, _res, next) => {
    // The raw bytes tell at once whether the parsed body can hold one (the common case: no).
    const inBody = req.rawBody === undefined || mayHoldReservedKey(req.rawBody) ? findReservedKey(req.body) : null;
    const inQuery = inBody ? null : findReservedKey(req.query);
    const hit = inBody ? { in: 'body', ...inBody } : inQuery ? { in: 'query', ...inQuery } : null;
    if (!hit) return next();
    const message = `Reserved key "${hit.key}" at ${hit.path} (${hit.in}): keys named __proto__, constructor, prototype or after another member of Object.prototype are refused`;
    next(new BadRequestException({ code: 'reserved_key', message, details: hit }));
  };
}
