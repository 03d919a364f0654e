import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { Request, Response } from 'express';
import { DomainError } from './domain-error';
import { defaultCodeFor, DOMAIN_ERROR_HTTP_STATUS, ErrorBody } from './error-codes';
import { isRecord } from '../types/is-record';

interface BodyParserError {
  type?: string;
  status?: number;
  statusCode?: number;
}

/** Translates any thrown value into the uniform ErrorBody. */
export function toErrorBody(exception: unknown, requestId?: string): ErrorBody {
  if (exception instanceof DomainError) {
    const statusCode = DOMAIN_ERROR_HTTP_STATUS[exception.code] ?? 500;
    return { statusCode, error: exception.code, message: exception.message, requestId, ...(exception.details !== undefined ? { details: exception.details } : {}) };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    let code = defaultCodeFor(status);
    let message = exception.message;
    let details: unknown;
    if (isRecord(response)) {
      if (typeof response.code === 'string') code = response.code;
      if (Array.isArray(response.message)) {
        // ValidationPipe: one message per failed constraint.
        details = response.message;
        message = 'Request validation failed';
        if (typeof response.code !== 'string') code = 'validation_failed';
      } else if (typeof response.message === 'string') {
        message = response.message;
      }
      if (response.details !== undefined) details = response.details;
    } else if (typeof response === 'string') {
      message = response;
    }
    return { statusCode: status, error: code, message, requestId, ...(details !== undefined ? { details } : {}) };
  }

  // body-parser errors carry `type` and a 4xx `status`.
  if (isRecord(exception)) {
    const e = exception as BodyParserError;
    if (e.type === 'entity.parse.failed') {
      return { statusCode: 400, error: 'malformed_json', message: 'Request body is not valid JSON', requestId };
    }
    if (e.type === 'entity.too.large') {
      return { statusCode: 413, error: 'payload_too_large', message: 'Request body exceeds the size limit', requestId };
    }
    const status = e.status ?? e.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return { statusCode: status, error: defaultCodeFor(status), message: 'Request could not be read', requestId };
    }
  }
  return { statusCode: 500, error: 'internal_error', message: 'Internal server error', requestId };
}

/** One JSON error shape for every 4xx/5xx, with the request id; 5xx are logged with stack. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const body = toErrorBody(exception, typeof req.id === 'string' ? req.id : undefined);
    const line = `${req.method} ${req.path} -> ${body.statusCode} ${body.error}: ${body.message}`;
    if (body.statusCode >= 500) {
      this.logger.error(line, exception instanceof Error ? exception.stack : undefined);
    } else {
      this.logger.warn(line);
    }
    if (res.headersSent) return;
    res.status(body.statusCode).json(body);
  }
}
