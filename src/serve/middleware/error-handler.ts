import type { ErrorRequestHandler } from 'express';
import multer from 'multer';
import { AppError, PayloadTooLargeError, RateLimitedError, UnsupportedMediaTypeError, ValidationError, toAppError } from '../../errors/index.js';
import type { Logger } from '../../logger.js';

const STATUS_BY_CODE: Record<string, number> = {
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  OVERLOADED: 503,
  STAGE_TIMEOUT: 504,
  NO_EXTRACTABLE_TEXT: 422,
  UNREADABLE_DOCUMENT: 422,
  EMPTY_DOCUMENT: 422,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
};

/** HTTP status for an application error: by code first, then by category. */
export function statusFor(error: AppError): number {
  const byCode = STATUS_BY_CODE[error.code];
  if (byCode !== undefined) return byCode;
  if (error.code.endsWith('_NOT_FOUND')) return 404;
  if (error.category === 'user') return 400;
  if (error.category === 'upstream') return error.code.endsWith('_UNAVAILABLE') ? 503 : 502;
  return 500;
}

/** Translates errors raised by Express's body parsers and multer into application errors. */
export function fromFrameworkError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof multer.MulterError) {
    switch (error.code) {
      case 'LIMIT_FILE_SIZE':
        return new PayloadTooLargeError(`A file is larger than MAX_UPLOAD_BYTES`, { details: { field: error.field } });
      case 'LIMIT_FILE_COUNT':
      case 'LIMIT_UNEXPECTED_FILE':
        return error.field === 'file' || error.code === 'LIMIT_FILE_COUNT'
          ? new PayloadTooLargeError('Too many files in one request (see MAX_FILES_PER_REQUEST)', { details: { limit: 'MAX_FILES_PER_REQUEST' } })
          : new ValidationError(`Unexpected file field '${error.field}': send files in the field "file"`, { code: 'UNEXPECTED_FIELD' });
      case 'LIMIT_FIELD_VALUE':
      case 'LIMIT_FIELD_KEY':
      case 'LIMIT_FIELD_COUNT':
      case 'LIMIT_PART_COUNT':
        return new PayloadTooLargeError(`A form field is too large or there are too many fields (${error.code})`);
      default:
        return new ValidationError(`Malformed multipart upload: ${error.message}`, { code: 'INVALID_MULTIPART' });
    }
  }
  const http = error as { type?: string; status?: number; message?: string };
  switch (http.type) {
    case 'entity.parse.failed':
      return new ValidationError(`Malformed JSON body: ${http.message ?? 'could not parse'}`, { code: 'INVALID_JSON' });
    case 'entity.too.large':
      return new PayloadTooLargeError('The request body is larger than MAX_JSON_BYTES');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError(`Unsupported body encoding: ${http.message ?? ''}; send UTF-8 JSON`);
    case 'request.aborted':
      return new ValidationError('The client aborted the request', { code: 'REQUEST_ABORTED' });
  }
  if (http.message?.startsWith('Multipart:') || http.message === 'Unexpected end of form' || http.message === 'Malformed part header') {
    return new ValidationError(`Malformed multipart upload: ${http.message}`, { code: 'INVALID_MULTIPART' });
  }
  if (typeof http.status === 'number' && http.status >= 400 && http.status < 500) {
    return new ValidationError(http.message ?? 'Bad request', { code: 'BAD_REQUEST' });
  }
  return toAppError(error);
}

/** The one error middleware: `{ "error": { code, message, details } }` with the mapped status. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (thrown, req, res, _next) => {
    const error = fromFrameworkError(thrown);
    const status = statusFor(error);
    if (error instanceof RateLimitedError) res.setHeader('Retry-After', String(error.retryAfterSeconds));
    const log = status >= 500 ? logger.error.bind(logger) : logger.info.bind(logger);
    log({ err: error, cause: error.cause, code: error.code, status, requestId: res.getHeader('x-request-id'), path: req.path }, error.message);
    if (res.headersSent) {
      res.end();
      return;
    }
    const message = status >= 500 && error.category === 'system' ? 'Internal error; see the service logs with the request id' : error.message;
    res.status(status).json({ error: { code: error.code, message, ...(error.details ? { details: error.details } : {}) } });
  };
}
