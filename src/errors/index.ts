/** Who is at fault: the caller (`user`), this service (`system`) or something we depend on (`upstream`). */
export type ErrorCategory = 'user' | 'system' | 'upstream';

/** Options shared by every application error. */
export interface AppErrorOptions {
  /** Structured, JSON-safe context a caller can act on (field names, limits). */
  details?: Record<string, unknown>;
  /** The underlying error, kept for logs; never serialised to callers. */
  cause?: unknown;
  /** Whether retrying the same operation later may succeed. Defaults by category. */
  retryable?: boolean;
}

/**
 * The one base error of the service. `code` is a stable UPPER_SNAKE identifier callers may branch on;
 * the HTTP layer maps `code`/`category` to a status, the worker maps `isRetryable` to BullMQ's retry policy.
 */
export class AppError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly details: Record<string, unknown> | undefined;
  readonly isRetryable: boolean;

  constructor(code: string, category: ErrorCategory, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.category = category;
    this.details = options.details;
    this.isRetryable = options.retryable ?? category !== 'user';
  }
}

/** The request or document is malformed; the message says what to fix. */
export class ValidationError extends AppError {
  constructor(message: string, options: AppErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'VALIDATION_ERROR', 'user', message, options);
  }
}

/** A named resource (job, document, collection) does not exist. */
export class NotFoundError extends AppError {
  constructor(resource: string, id: string, options: AppErrorOptions = {}) {
    super(`${resource.toUpperCase()}_NOT_FOUND`, 'user', `${resource} '${id}' was not found`, {
      ...options,
      details: { [`${resource}Id`]: id, ...options.details },
    });
  }
}

/** The uploaded content type cannot be parsed. */
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('UNSUPPORTED_MEDIA_TYPE', 'user', message, options);
  }
}

/** A body, file or field is larger than the configured limit. */
export class PayloadTooLargeError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('PAYLOAD_TOO_LARGE', 'user', message, options);
  }
}

/** The document was readable but holds nothing we can index (e.g. a scanned PDF without a text layer). */
export class UnprocessableDocumentError extends AppError {
  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(code, 'user', message, options);
  }
}

/** Missing or invalid credentials. */
export class UnauthorizedError extends AppError {
  constructor(message = 'Missing or invalid API key: send "Authorization: Bearer <key>"', options: AppErrorOptions = {}) {
    super('UNAUTHORIZED', 'user', message, options);
  }
}

/** Valid credentials without the needed scope or collection grant. */
export class ForbiddenError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('FORBIDDEN', 'user', message, options);
  }
}

/** The caller or the whole service is over a limit; `retryAfterSeconds` becomes the Retry-After header. */
export class RateLimitedError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(code: 'RATE_LIMITED' | 'OVERLOADED', message: string, retryAfterSeconds: number, options: AppErrorOptions = {}) {
    super(code, code === 'RATE_LIMITED' ? 'user' : 'system', message, { retryable: true, ...options });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A stage did not finish within its configured budget. */
export class StageTimeoutError extends AppError {
  constructor(stage: string, timeoutMs: number, options: AppErrorOptions = {}) {
    super('STAGE_TIMEOUT', 'system', `${stage} did not finish within ${timeoutMs} ms`, {
      retryable: true,
      ...options,
      details: { stage, timeoutMs, ...options.details },
    });
  }
}

/** A dependency (vector store, Redis, LLM, model files) failed or is unreachable. */
export class UpstreamError extends AppError {
  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(code, 'upstream', message, options);
  }
}

/** Wraps anything thrown that is not an AppError, keeping it as `cause`. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('INTERNAL_ERROR', 'system', `Internal error: ${message}`, { cause: error });
}
