import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../../logger.js';
import { routeLabel } from './metrics.js';

/** Probes and scrapes that would drown the log at info level. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One structured JSON line per request (pino-http) carrying the X-Request-Id as `reqId`, the route template,
 * status and duration. `req.log` is a child logger with the same `reqId` for handlers that log.
 * Headers and bodies are not logged (they may hold keys or documents).
 */
export function accessLog(logger: Logger): RequestHandler {
  const middleware = pinoHttp({
    logger,
    genReqId: (_req: IncomingMessage, res: ServerResponse) => String(res.getHeader('x-request-id') ?? ''),
    // Binds `reqId` on every line of the request (req.log included), not only inside the serialised `req`.
    quietReqLogger: true,
    customLogLevel: (req, res, error) => {
      if (error || res.statusCode >= 500) return 'error';
      if (QUIET_PATHS.has(req.url?.split('?')[0] ?? '')) return 'debug';
      return 'info';
    },
    customSuccessMessage: (req, res) => `${req.method} ${routeLabel(req as never)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${routeLabel(req as never)} ${res.statusCode}`,
    customSuccessObject: (req, _res, value: Record<string, unknown>) => ({ ...value, route: routeLabel(req as never) }),
    customErrorObject: (req, _res, _error, value: Record<string, unknown>) => ({ ...value, route: routeLabel(req as never) }),
    serializers: {
      req: (req: { method: string; url: string; remoteAddress?: string }) => ({ method: req.method, url: truncate(req.url), remoteAddress: req.remoteAddress }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    wrapSerializers: true,
  });
  return middleware as unknown as RequestHandler;
}

function truncate(url: string): string {
  return url.length > 512 ? `${url.slice(0, 512)}…` : url;
}
