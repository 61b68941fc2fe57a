import { createServer, type Server } from 'node:http';
import express, { type Express } from 'express';
import type { Config } from '../config.js';
import { AppError } from '../errors/index.js';
import type { HandlerDeps } from './handlers/deps.js';
import { accessLog } from './middleware/access-log.js';
import { errorHandler } from './middleware/error-handler.js';
import { countRejections, httpMetrics } from './middleware/metrics.js';
import { requestId } from './middleware/request-id.js';
import { buildOpenApiDocument, methodsForPath, openApiRoutes } from './openapi.js';
import { createRoutes } from './routes.js';

/** Builds the Express application around already-constructed dependencies (no I/O here). */
export function createApp(deps: HandlerDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestId());
  app.use(accessLog(deps.logger));
  app.use(httpMetrics(deps.metrics));
  const document = buildOpenApiDocument(deps.config);
  const allowedMethods = methodsForPath(document);
  app.use(openApiRoutes(document));
  app.use(createRoutes(deps));
  app.use((req, res, next) => {
    const allowed = allowedMethods(req.path);
    if (allowed.length > 0) {
      res.setHeader('Allow', allowed.join(', '));
      next(new AppError('METHOD_NOT_ALLOWED', 'user', `${req.method} is not allowed on ${req.path}; use ${allowed.join(', ')}`, { details: { allowed } }));
      return;
    }
    next(new AppError('ROUTE_NOT_FOUND', 'user', `No route ${req.method} ${req.path}; see /openapi.json`));
  });
  app.use(countRejections(deps.metrics));
  app.use(errorHandler(deps.logger));
  return app;
}

/**
 * The HTTP server for `app` with timeouts so slow clients cannot hold sockets forever: the whole request must arrive
 * within REQUEST_TIMEOUT_MS (headers within min(60 s, that)), an idle socket is closed after REQUEST_TIMEOUT_MS,
 * and the deadlines are checked every second rather than Node's default 30 s.
 */
export function createHttpServer(app: Express, server: Pick<Config['server'], 'requestTimeoutMs'>): Server {
  const http = createServer(
    {
      requestTimeout: server.requestTimeoutMs,
      headersTimeout: Math.min(60_000, server.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(1_000, server.requestTimeoutMs),
      keepAliveTimeout: 5_000,
    },
    app,
  );
  http.setTimeout(server.requestTimeoutMs, (socket) => socket.destroy());
  return http;
}
