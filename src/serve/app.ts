import express, { type Express } from 'express';
import { AppError } from '../errors/index.js';
import type { HandlerDeps } from './handlers/deps.js';
import { errorHandler } from './middleware/error-handler.js';
import { requestId } from './middleware/request-id.js';
import { createRoutes } from './routes.js';

/** Builds the Express application around already-constructed dependencies (no I/O here). */
export function createApp(deps: HandlerDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestId());
  app.use(createRoutes(deps));
  app.use((req, _res, next) => {
    next(new AppError('ROUTE_NOT_FOUND', 'user', `No route ${req.method} ${req.path}; see /openapi.json`));
  });
  app.use(errorHandler(deps.logger));
  return app;
}
