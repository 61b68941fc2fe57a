import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { RateLimitedError } from '../../errors/index.js';
import type { ServiceMetrics } from '../../metrics.js';

/** The route template that served the request (`/v1/collections/:collection/search`), or `unmatched`. */
export function routeLabel(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  return typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
}

/**
 * Counts every request and observes its latency by method, route template and status, when the response finishes
 * (or the client goes away). Labels never contain raw paths, so cardinality stays bounded.
 */
export function httpMetrics(metrics: ServiceMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const labels = { method: req.method, route: routeLabel(req), status: res.headersSent || res.writableFinished ? String(res.statusCode) : '499' };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}

/** Counts requests refused by a limit (429 RATE_LIMITED, 503 OVERLOADED), then passes the error on unchanged. */
export function countRejections(metrics: ServiceMetrics): ErrorRequestHandler {
  return (error: unknown, _req, _res, next) => {
    if (error instanceof RateLimitedError) metrics.rejected.inc({ reason: error.code === 'RATE_LIMITED' ? 'rate_limit' : 'overloaded' });
    next(error);
  };
}
