import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import multer from 'multer';
import { z } from 'zod';
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../errors/index.js';
import type { HandlerDeps } from './handlers/deps.js';
import { deleteDocument, getDocument, ingestFiles, ingestText, type UploadedFile } from './handlers/documents.js';
import { readiness } from './handlers/health.js';
import { getJob, listJobs, retryJob } from './handlers/jobs.js';
import { abortOnDisconnect, answer, eventStreamSink, streamAnswer } from './handlers/answer.js';
import { search } from './handlers/search.js';
import { collectionParam, documentIdSchema, jobListQuery, metadataSchema, searchRequestSchema, textDocumentRequest } from './schemas.js';
import { answerRequestSchema } from './schemas.js';
import { validate } from './validate.js';
import { submitFeedback } from './handlers/feedback.js';
import { ApiKeyAuthenticator, canAccessCollection, createAccessGuard, principalOf } from './middleware/auth.js';
import { TokenBucketRateLimiter } from './middleware/rate-limit.js';
import { feedbackRequestSchema } from './schemas.js';
import { AppError, NotFoundError } from '../errors/index.js';

type AsyncRoute = (req: Request, res: Response) => Promise<void>;

/** Lets Express see rejected promises. */
function route(handler: AsyncRoute): RequestHandler {
  return (req, res, next) => {
    handler(req, res).catch(next);
  };
}

const jobIdParam = z.string().min(1).max(128);

/** The /v1 routes and the health probes: validate, call a handler, serialise. */
export function createRoutes(deps: HandlerDeps): Router {
  const { server } = deps.config;
  const router = Router();
  // Per route: authenticate (401), scope and collection grant (403), per-key rate limit (429) — before any body is read.
  const guard = createAccessGuard({
    authenticator: new ApiKeyAuthenticator({ keys: deps.config.auth.keys, defaultRateLimitPerMinute: deps.config.auth.rateLimitPerMinute }),
    rateLimiter: new TokenBucketRateLimiter(),
  });
  const json = express.json({ limit: server.maxJsonBytes, strict: true, type: ['application/json', 'application/*+json'] });
  mkdirSync(deps.config.uploadDir, { recursive: true });
  const upload = multer({
    storage: multer.diskStorage({ destination: deps.config.uploadDir, filename: (_req, _file, done) => done(null, `${randomUUID()}.upload`) }),
    limits: { fileSize: server.maxUploadBytes, files: server.maxFilesPerRequest, fields: 16, fieldSize: server.maxMetadataBytes, parts: server.maxFilesPerRequest + 16 },
    defParamCharset: 'utf8',
  }).array('file', server.maxFilesPerRequest);

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get(
    '/readyz',
    route(async (_req, res) => {
      const result = await readiness(deps);
      res.status(result.status === 'ready' ? 200 : 503).json(result);
    }),
  );
  router.get(
    '/metrics',
    guard({ scopes: ['admin'] }),
    route(async (_req, res) => {
      if (!deps.config.metricsEnabled) throw new AppError('METRICS_NOT_FOUND', 'user', 'Metrics are disabled (METRICS_ENABLED=false)');
      res.type(deps.metrics.contentType).send(await deps.metrics.render());
    }),
  );

  router.post(
    '/v1/collections/:collection/documents',
    guard({ scopes: ['ingest'], collectionParam: 'collection' }),
    route(async (req, res) => {
      const collection = validate(collectionParam, req.params.collection, 'collection');
      const requestId = res.locals.requestId as string;
      if (req.is('multipart/form-data')) {
        await new Promise<void>((resolve, reject) => upload(req, res, (error: unknown) => (error ? reject(error) : resolve())));
        const files: UploadedFile[] = ((req.files as Express.Multer.File[] | undefined) ?? []).map((file) => ({
          path: file.path,
          originalName: file.originalname,
          declaredType: file.mimetype,
          size: file.size,
        }));
        const fields = req.body as Record<string, unknown>;
        const output = await ingestFiles(deps, {
          collection,
          files,
          documentId: fields.documentId === undefined ? undefined : validate(documentIdSchema, fields.documentId, 'documentId'),
          metadata: parseMetadataField(fields.metadata, server.maxMetadataBytes),
          requestId,
        }).catch((error: unknown) => {
          throw error;
        });
        res.status(202).json(output);
        return;
      }
      if (req.is('application/json') || req.is('application/*+json')) {
        await new Promise<void>((resolve, reject) => json(req, res, (error: unknown) => (error ? reject(error) : resolve())));
        if (req.body === undefined || (typeof req.body === 'object' && req.body !== null && Object.keys(req.body as object).length === 0)) {
          throw new ValidationError('The JSON body is empty: send { "text": "...", "source"?, "documentId"?, "metadata"? }', { code: 'EMPTY_BODY' });
        }
        const body = validate(textDocumentRequest, req.body, 'request body');
        checkMetadataSize(body.metadata, server.maxMetadataBytes);
        res.status(202).json(await ingestText(deps, { collection, ...body, metadata: body.metadata ?? {}, requestId }));
        return;
      }
      if (!req.headers['content-type']) {
        throw new ValidationError('The request has no body: send multipart/form-data with a "file" field, or JSON { "text": ... }', { code: 'EMPTY_BODY' });
      }
      throw new UnsupportedMediaTypeError(`Content-Type '${req.headers['content-type']}' is not accepted: use multipart/form-data (field "file") or application/json`);
    }),
  );

  router.get(
    '/v1/collections/:collection/documents/:documentId',
    guard({ scopes: ['query', 'ingest'], collectionParam: 'collection' }),
    route(async (req, res) => {
      const collection = validate(collectionParam, req.params.collection, 'collection');
      const documentId = validate(documentIdSchema, req.params.documentId, 'documentId');
      res.json(await getDocument(deps, { collection, documentId }));
    }),
  );

  router.delete(
    '/v1/collections/:collection/documents/:documentId',
    guard({ scopes: ['ingest'], collectionParam: 'collection' }),
    route(async (req, res) => {
      const collection = validate(collectionParam, req.params.collection, 'collection');
      const documentId = validate(documentIdSchema, req.params.documentId, 'documentId');
      res.json(await deleteDocument(deps, { collection, documentId }));
    }),
  );

  const searchSchema = searchRequestSchema({ maxQueryChars: server.maxQueryChars });
  router.post(
    '/v1/collections/:collection/search',
    guard({ scopes: ['query'], collectionParam: 'collection' }),
    json,
    route(async (req, res) => {
      const collection = validate(collectionParam, req.params.collection, 'collection');
      requireJson(req);
      const body = validate(searchSchema, req.body, 'search request');
      res.json(await search(deps, { collection, ...body }));
    }),
  );

  const answerSchema = answerRequestSchema({ maxQueryChars: server.maxQueryChars });
  router.post(
    '/v1/collections/:collection/answer',
    guard({ scopes: ['query'], collectionParam: 'collection' }),
    json,
    route(async (req, res) => {
      const collection = validate(collectionParam, req.params.collection, 'collection');
      requireJson(req);
      const { stream, ...body } = validate(answerSchema, req.body, 'answer request');
      const signal = abortOnDisconnect(res);
      if (stream) {
        await streamAnswer(deps, { collection, ...body }, eventStreamSink(res), { signal });
        return;
      }
      res.json(await answer(deps, { collection, ...body }, { signal }));
    }),
  );

  // Jobs of collections a key is not granted are invisible to it (404, never 403: ids must not leak across tenants).
  router.get(
    '/v1/jobs',
    guard({ scopes: ['ingest'] }),
    route(async (req, res) => {
      const principal = principalOf(res);
      const { jobs } = await listJobs(deps, { ...validate(jobListQuery, req.query, 'query string'), granted: principal.collections });
      // The queue already filtered by grant; checked again so a queue bug cannot leak another tenant's jobs.
      res.json({ jobs: jobs.filter((job) => canAccessCollection(principal, job.collection)) });
    }),
  );
  router.get(
    '/v1/jobs/:jobId',
    guard({ scopes: ['ingest'] }),
    route(async (req, res) => {
      const jobId = validate(jobIdParam, req.params.jobId, 'jobId');
      const job = await getJob(deps, { jobId });
      if (!canAccessCollection(principalOf(res), job.collection)) throw new NotFoundError('job', jobId);
      res.json(job);
    }),
  );
  router.post(
    '/v1/jobs/:jobId/retry',
    guard({ scopes: ['ingest', 'admin'] }),
    route(async (req, res) => {
      const jobId = validate(jobIdParam, req.params.jobId, 'jobId');
      if (!canAccessCollection(principalOf(res), (await getJob(deps, { jobId })).collection)) throw new NotFoundError('job', jobId);
      res.status(202).json(await retryJob(deps, { jobId }));
    }),
  );

  router.post(
    '/v1/feedback',
    guard({ scopes: ['query'] }),
    json,
    route(async (req, res) => {
      requireJson(req);
      const body = validate(feedbackRequestSchema, req.body, 'feedback');
      res.status(201).json(await submitFeedback(deps, { ...body, keyName: principalOf(res).name }));
    }),
  );
  return router;
}

/** JSON routes refuse other bodies with 415 rather than reading them as empty. */
export function requireJson(req: Request): void {
  if (!req.is('application/json') && !req.is('application/*+json')) {
    throw new UnsupportedMediaTypeError('Send the request body as application/json');
  }
  if (req.body === undefined || req.body === null) {
    throw new ValidationError('The JSON body is empty', { code: 'EMPTY_BODY' });
  }
}

function parseMetadataField(raw: unknown, maxBytes: number): Record<string, unknown> {
  if (raw === undefined || raw === '') return {};
  if (typeof raw !== 'string') throw new ValidationError('metadata must be sent once, as a JSON object string', { code: 'INVALID_METADATA' });
  if (Buffer.byteLength(raw) > maxBytes) throw new PayloadTooLargeError(`metadata is larger than MAX_METADATA_BYTES (${maxBytes} bytes)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ValidationError('metadata is not valid JSON: send a JSON object such as {"team":"hr"}', { code: 'INVALID_METADATA' });
  }
  return validate(metadataSchema, parsed, 'metadata');
}

function checkMetadataSize(metadata: Record<string, unknown> | undefined, maxBytes: number): void {
  if (metadata !== undefined && Buffer.byteLength(JSON.stringify(metadata)) > maxBytes) {
    throw new PayloadTooLargeError(`metadata is larger than MAX_METADATA_BYTES (${maxBytes} bytes)`);
  }
}
