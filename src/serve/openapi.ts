import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../config.js';
import { renderDocsPage } from './docs-page.js';
import {
  answerRequestSchema,
  answerResponseSchema,
  collectionParam,
  deleteDocumentResponse,
  documentIdSchema,
  documentInfoSchema,
  errorSchema,
  feedbackRequestSchema,
  feedbackResponseSchema,
  healthResponse,
  ingestResponseSchema,
  jobListQuery,
  jobListResponse,
  jobStatusSchema,
  readyResponse,
  searchRequestSchema,
  searchResponseSchema,
  textDocumentRequest,
} from './schemas.js';

/** The OpenAPI 3.1 document type as generated. */
export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** Version of the /v1 contract; bump the minor for additive changes (see docs/operations.md "Versioning"). */
export const API_VERSION = '1.0.0';

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request: the message names each bad field (`details.issues`).',
  401: 'Missing or invalid API key (`Authorization: Bearer <key>`).',
  403: 'The API key lacks the scope or the collection grant this route needs.',
  404: 'The resource does not exist.',
  413: 'A body, file, field or metadata object is larger than the configured limit.',
  415: 'Unsupported Content-Type or file type.',
  429: 'Rate limit exceeded; retry after `Retry-After` seconds.',
  500: 'Internal error; the request id in `X-Request-Id` finds it in the logs.',
  502: 'A dependency (vector store, Redis, LLM) failed.',
  503: 'Overloaded (model or ingestion queue full) or a dependency is unavailable; retry after `Retry-After` seconds.',
  504: 'A retrieval stage did not finish within its timeout.',
};

const requestIdHeader = { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } };
const retryAfterHeader = { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } };

function errors(...statuses: number[]): Record<string, ResponseConfig> {
  const out: Record<string, ResponseConfig> = {};
  for (const status of [...statuses, 500]) {
    out[String(status)] = {
      description: STATUS_TEXT[status] ?? 'Error',
      headers: status === 429 || status === 503 ? { ...requestIdHeader, ...retryAfterHeader } : requestIdHeader,
      content: { 'application/json': { schema: errorSchema } },
    };
  }
  return out;
}

function json(description: string, schema: z.ZodType): ResponseConfig {
  return { description, headers: requestIdHeader, content: { 'application/json': { schema } } };
}

/** Protected operations: which scopes open them (any one) and the bearer scheme. */
function secured(scopes: string[]): Pick<RouteConfig, 'security'> & { 'x-scopes': string[] } {
  return { security: [{ bearerAuth: [] }], 'x-scopes': scopes };
}
const PUBLIC = { security: [] };

/** One Server-Sent Event of a streamed answer, as fuzzers and SSE-aware clients read the stream (heartbeat comments aside). */
const answerEventSchema = z
  .object({
    event: z.enum(['token', 'done', 'error']),
    data: z.string().openapi({ description: 'JSON: `{"text"}` for token, the AnswerResponse for done, the Error body for error.' }),
  })
  .openapi('AnswerEvent');

const collectionPath = z.object({ collection: collectionParam });
const documentPath = z.object({ collection: collectionParam, documentId: documentIdSchema.openapi({ param: { name: 'documentId', in: 'path' } }) });
const jobPath = z.object({ jobId: z.string().min(1).max(128).openapi({ param: { name: 'jobId', in: 'path' }, example: '0b5e3a8e-2f7c-4d1e-9a63-8f1d2c3b4a59' }) });

/** Builds the registry of every route the service serves, from the same zod schemas the routes validate with. */
export function createOpenApiRegistry(config: Readonly<Config>): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key from API_KEYS. Without configured keys the service runs open on loopback only.',
  });
  registry.registerComponent('headers', 'RequestId', {
    description: 'Request id (the caller’s X-Request-Id when safe, else a new UUID); quote it in feedback and bug reports.',
    schema: { type: 'string' },
  });
  registry.registerComponent('headers', 'RetryAfter', { description: 'Seconds to wait before retrying.', schema: { type: 'string', pattern: '^[0-9]+$' } });
  const searchRequest = searchRequestSchema({ maxQueryChars: config.server.maxQueryChars });

  registry.registerPath({ method: 'get', path: '/healthz', tags: ['operations'], summary: 'Liveness: the process is up', ...PUBLIC, responses: { 200: json('Alive.', healthResponse), ...errors() } });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    tags: ['operations'],
    summary: 'Readiness: models loaded, store (and Redis, when configured) reachable',
    ...PUBLIC,
    responses: { 200: json('Ready.', readyResponse), 503: json('Not ready; `checks` says which dependency failed.', readyResponse), ...errors() },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    tags: ['operations'],
    summary: 'Prometheus metrics',
    description: 'Needs the admin scope when API keys are configured; 404 when METRICS_ENABLED=false.',
    ...secured(['admin']),
    responses: { 200: { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: z.string() } } }, ...errors(401, 403, 404, 429) },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    tags: ['operations'],
    summary: 'This OpenAPI 3.1 document',
    ...PUBLIC,
    responses: { 200: { description: 'The document.', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } }, ...errors() },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs',
    tags: ['operations'],
    summary: 'Human-readable API reference (HTML)',
    ...PUBLIC,
    responses: { 200: { description: 'An HTML page rendered from this document.', content: { 'text/html': { schema: z.string() } } }, ...errors() },
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/collections/{collection}/documents',
    tags: ['documents'],
    summary: 'Upload files or inline text for ingestion',
    description:
      'Each file (or the text) becomes one asynchronous ingestion job; poll GET /v1/jobs/{jobId}. The whole request is refused if any file is empty or of an unsupported type. Re-uploading a document id replaces its chunks.',
    ...secured(['ingest']),
    request: {
      params: collectionPath,
      body: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: z
              .object({
                file: z.array(z.string().openapi({ type: 'string', format: 'binary' })).min(1).max(config.server.maxFilesPerRequest).openapi({ description: 'PDF, DOCX, HTML, Markdown or plain UTF-8 text.' }),
                documentId: documentIdSchema.optional().openapi({ description: 'Only with a single file; defaults to the file name.' }),
                metadata: z.string().max(config.server.maxMetadataBytes).optional().openapi({ description: 'A JSON object (string), e.g. {"team":"hr"}.' }),
              })
              .openapi('MultipartUpload'),
            encoding: { file: { contentType: 'application/octet-stream' } },
          },
          'application/json': { schema: textDocumentRequest },
        },
      },
    },
    responses: { 202: json('Accepted: one job per file.', ingestResponseSchema), ...errors(400, 401, 403, 413, 415, 429, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/collections/{collection}/documents/{documentId}',
    tags: ['documents'],
    summary: 'A document’s summary',
    ...secured(['query', 'ingest']),
    request: { params: documentPath },
    responses: { 200: json('The document.', documentInfoSchema), ...errors(400, 401, 403, 404, 429, 502, 503) },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/collections/{collection}/documents/{documentId}',
    tags: ['documents'],
    summary: 'Delete every chunk of a document',
    description:
      'Also cancels the document’s jobs enqueued before the DELETE (queued or running): they index nothing and complete with ' +
      '`skipped.code` DOCUMENT_DELETED. Jobs enqueued afterwards index it again. 404 when there was neither a chunk nor such a job; ' +
      '503 OVERLOADED (with Retry-After) if a running job did not stop in time: it still will not index, and repeating the DELETE removes the chunks.',
    ...secured(['ingest']),
    request: { params: documentPath },
    responses: { 200: json('Deleted.', deleteDocumentResponse), ...errors(400, 401, 403, 404, 429, 502, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/collections/{collection}/search',
    tags: ['search'],
    summary: 'Hybrid, dense or keyword search in one collection, optionally reranked',
    ...secured(['query']),
    request: { params: collectionPath, body: { required: true, content: { 'application/json': { schema: searchRequest } } } },
    responses: { 200: json('Hits in order, with per-stage timings.', searchResponseSchema), ...errors(400, 401, 403, 413, 415, 429, 502, 503, 504) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/collections/{collection}/answer',
    tags: ['search'],
    summary: 'A cited answer from the collection (JSON, or Server-Sent Events with "stream": true)',
    description:
      'Retrieves passages like /search, then answers with an LLM (LLM_BASE_URL) or extractively. With `stream: true` the response is ' +
      '`text/event-stream`: `token` events (`{"text"}`), then one `done` event carrying the AnswerResponse, or an `error` event carrying the Error body.',
    ...secured(['query']),
    request: { params: collectionPath, body: { required: true, content: { 'application/json': { schema: answerRequestSchema({ maxQueryChars: config.server.maxQueryChars }) } } } },
    responses: {
      200: {
        description: 'The answer with its citations; an event stream when `stream` is true.',
        headers: requestIdHeader,
        content: { 'application/json': { schema: answerResponseSchema }, 'text/event-stream': { schema: answerEventSchema } },
      },
      ...errors(400, 401, 403, 413, 415, 429, 502, 503, 504),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/jobs',
    tags: ['jobs'],
    summary: 'Recent ingestion jobs, newest first',
    description: 'A key limited to some collections sees only their jobs.',
    ...secured(['ingest']),
    request: { query: jobListQuery },
    responses: { 200: json('Jobs.', jobListResponse), ...errors(400, 401, 403, 429, 502, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{jobId}',
    tags: ['jobs'],
    summary: 'One ingestion job’s state and progress',
    ...secured(['ingest']),
    request: { params: jobPath },
    responses: { 200: json('The job.', jobStatusSchema), ...errors(400, 401, 403, 404, 429, 502, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{jobId}/retry',
    tags: ['jobs'],
    summary: 'Re-queue a failed job',
    ...secured(['ingest', 'admin']),
    request: { params: jobPath },
    responses: { 202: json('Re-queued.', jobStatusSchema), ...errors(400, 401, 403, 404, 429, 502, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/feedback',
    tags: ['feedback'],
    summary: 'Rate a response by its request id',
    description: 'Stored durably (append-only JSONL under DATA_DIR, or a Redis stream with REDIS_URL) and counted in rag_feedback_total.',
    ...secured(['query']),
    request: { body: { required: true, content: { 'application/json': { schema: feedbackRequestSchema } } } },
    responses: { 201: json('Stored.', feedbackResponseSchema), ...errors(400, 401, 403, 413, 415, 429, 502, 503) },
  });
  return registry;
}

/** Generates the OpenAPI 3.1 document for this configuration (limits such as MAX_QUERY_CHARS appear in it). */
export function buildOpenApiDocument(config: Readonly<Config>): OpenApiDocument {
  const generator = new OpenApiGeneratorV31(createOpenApiRegistry(config).definitions);
  return generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'RAG retrieval service',
      version: API_VERSION,
      description:
        'Ingest documents into isolated collections, search them (hybrid, dense, keyword; optional rerank) and rate results. ' +
        'Every error has the shape `{ "error": { "code", "message", "details"? } }`; `code` is stable and safe to branch on. ' +
        'Inside /v1 only additive changes are made (new optional request fields, new response fields, new endpoints, new error codes); anything else ships as /v2.',
    },
    tags: [{ name: 'search' }, { name: 'documents' }, { name: 'jobs' }, { name: 'feedback' }, { name: 'operations' }],
  });
}

/** Methods the document lists for a concrete path (HEAD with GET), for 405 answers with an Allow header; empty when no path matches. */
export function methodsForPath(document: OpenApiDocument): (path: string) => string[] {
  const templates = Object.entries(document.paths ?? {}).map(([template, item]) => {
    const pattern = template.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+');
    const methods = Object.keys(item as object).map((method) => method.toUpperCase());
    return { regex: new RegExp(`^${pattern}$`), methods: methods.includes('GET') ? [...methods, 'HEAD'] : methods };
  });
  return (path) => [...new Set(templates.filter((t) => t.regex.test(path)).flatMap((t) => t.methods))];
}

/** GET /openapi.json and GET /docs, serving one document generated at startup. */
export function openApiRoutes(document: OpenApiDocument): Router {
  const router = Router();
  const body = JSON.stringify(document);
  const page = renderDocsPage(document);
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(body);
  });
  router.get('/docs', (_req, res) => {
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    res.type('text/html').send(page);
  });
  return router;
}
