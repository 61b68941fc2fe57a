import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { DOCUMENT_ID_PATTERN } from '../ingest/ids.js';

extendZodWithOpenApi(z);

/**
 * The /v1 contract. These schemas validate requests and responses AND generate the OpenAPI document,
 * so the two cannot drift. Inside /v1 only additive changes are allowed (see README "Versioning").
 */

/** Collection names: what stores accept as table/collection names everywhere. */
export const COLLECTION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
/** Top-level metadata keys: usable as filter fields in every store. */
export const METADATA_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** JSON Schema `propertyNames` for metadata and filter keys (zod-to-openapi does not derive it from record keys). */
const metadataKeyNames = { propertyNames: { pattern: METADATA_KEY_PATTERN.source } };

/** A collection name, wherever one is given. */
const collectionName = z
  .string()
  .regex(COLLECTION_PATTERN, 'collection must be 1-63 characters of letters, digits, "_" or "-", starting with a letter or digit');

export const collectionParam = collectionName.openapi({ param: { name: 'collection', in: 'path' }, example: 'handbook' });

export const documentIdSchema = z
  .string()
  .regex(DOCUMENT_ID_PATTERN, 'documentId must be 1-256 characters of letters, digits and ._:/@- starting with a letter or digit')
  .openapi({ example: 'employee-handbook.pdf' });

export const metadataSchema = z
  .record(z.string().regex(METADATA_KEY_PATTERN, 'metadata keys must match ^[A-Za-z_][A-Za-z0-9_]{0,63}$'), z.unknown())
  .openapi('Metadata', {
    description: 'Free-form JSON object; top-level string/number/boolean fields can be used in filters.',
    example: { team: 'hr', year: 2024 },
    ...metadataKeyNames,
  });

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'VALIDATION_ERROR' }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi('Error');

export const textDocumentRequest = z
  .object({
    text: z.string().min(1, 'text must not be empty'),
    source: z.string().min(1).max(512).optional(),
    documentId: documentIdSchema.optional(),
    metadata: metadataSchema.optional(),
  })
  .strict()
  .openapi('TextDocumentRequest');

export const jobRefSchema = z.object({ jobId: z.string(), documentId: z.string() }).openapi('JobRef');
export const ingestResponseSchema = z.object({ jobs: z.array(jobRefSchema) }).openapi('IngestResponse');

export const jobStateSchema = z.enum(['queued', 'active', 'completed', 'failed']);
export const jobStatusSchema = z
  .object({
    jobId: z.string(),
    documentId: z.string(),
    collection: z.string(),
    source: z.string(),
    state: jobStateSchema,
    progress: z.number().min(0).max(100),
    stage: z.enum(['parse', 'chunk', 'embed', 'upsert', 'done']).optional(),
    chunks: z.number().int().optional(),
    unchanged: z.boolean().optional().openapi({ description: 'True when identical content was already indexed and nothing was written.' }),
    skipped: z
      .object({ code: z.string(), message: z.string() })
      .optional()
      .openapi({
        description:
          'Set on a completed job that indexed nothing (then `chunks` is 0). `code` DOCUMENT_DELETED: the document was deleted after ' +
          'this job was enqueued, so the job did not index it (new codes may be added).',
      }),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    attempts: z.number().int(),
    createdAt: z.string(),
    finishedAt: z.string().optional(),
  })
  .openapi('Job');
export const jobListQuery = z.object({
  state: jobStateSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  collection: collectionName.optional().openapi({ description: "Only this collection's jobs; `limit` then counts only them.", example: 'handbook' }),
});
export const jobListResponse = z.object({ jobs: z.array(jobStatusSchema) }).openapi('JobList');

export const documentInfoSchema = z
  .object({
    documentId: z.string(),
    collection: z.string(),
    source: z.string(),
    contentHash: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    chunkCount: z.number().int(),
  })
  .openapi('Document');
export const deleteDocumentResponse = z
  .object({
    documentId: z.string(),
    deletedChunks: z.number().int(),
    cancelledJobs: z
      .number()
      .int()
      .openapi({ description: 'Queued or running jobs of the document that will not index it: they complete with `skipped.code` DOCUMENT_DELETED.' }),
  })
  .openapi('DeleteDocumentResponse');

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const fieldFilter = z.union([
  scalar,
  z.object({ in: z.array(scalar).min(1).max(1000) }).strict(),
  z
    .object({ gt: z.union([z.number(), z.string()]), gte: z.union([z.number(), z.string()]), lt: z.union([z.number(), z.string()]), lte: z.union([z.number(), z.string()]) })
    .partial()
    .strict()
    .refine((range) => Object.keys(range).length > 0, 'a range filter needs at least one of gt, gte, lt, lte')
    .openapi({ minProperties: 1 }),
]);
export const filterSchema = z
  .record(z.string(), fieldFilter)
  .openapi('Filter', {
    description: 'All conditions must hold. Keys: documentId, source or a metadata field. Values: equality, {"in": [...]}, or a range {"gte": 2020, "lt": "2024-01-01"}.',
    example: { team: 'hr', year: { gte: 2023 } },
    ...metadataKeyNames,
  });

export const searchModeSchema = z.enum(['dense', 'keyword', 'hybrid']);

/** Builds the search request schema for the configured query-length limit. */
export function searchRequestSchema(limits: { maxQueryChars: number }) {
  return z
    .object({
      query: z.string().trim().min(1, 'query must not be empty').max(limits.maxQueryChars, `query must be at most ${limits.maxQueryChars} characters`),
      topK: z.number().int().min(1, 'topK must be between 1 and 100').max(100, 'topK must be between 1 and 100').default(5),
      filter: filterSchema.optional(),
      mode: searchModeSchema.default('hybrid'),
      rerank: z.boolean().default(false),
      candidates: z.number().int().min(1).max(200).optional().openapi({ description: 'Hits reranked when rerank is true (default RERANK_CANDIDATES).' }),
    })
    .strict()
    .openapi('SearchRequest');
}

export const searchResultSchema = z
  .object({
    id: z.string(),
    documentId: z.string(),
    source: z.string(),
    text: z.string(),
    score: z.number(),
    metadata: z.record(z.string(), z.unknown()),
    chunkIndex: z.number().int(),
    page: z.number().int().optional(),
    headingPath: z.array(z.string()).optional(),
  })
  .openapi('SearchResult');

export const timingsSchema = z
  .object({ embedMs: z.number(), searchMs: z.number(), rerankMs: z.number(), totalMs: z.number() })
  .openapi('Timings', { description: 'Server-side milliseconds per retrieval stage.' });

export const rerankOutcomeSchema = z
  .object({
    applied: z.boolean().openapi({ description: 'False when the cross-encoder could not score the hits: they keep their fused order.' }),
    candidates: z.number().int().openapi({ description: 'Hits fetched for reranking.' }),
    fallback: z
      .object({ code: z.string(), message: z.string() })
      .optional()
      .openapi({ description: 'Why reranking was skipped: MODEL_UNAVAILABLE, RERANKER_UNAVAILABLE, RERANKER_FAILED (a reranking worker process died; the next request starts new ones), STAGE_TIMEOUT or OVERLOADED.' }),
  })
  .openapi('RerankOutcome', { description: 'Present when the request asked for reranking.' });

export const searchResponseSchema = z
  .object({ results: z.array(searchResultSchema), timings: timingsSchema, rerank: rerankOutcomeSchema.optional() })
  .openapi('SearchResponse');

/** Builds the answer request schema: the search request with a smaller topK range (passages go into one prompt) and `stream`. */
export function answerRequestSchema(limits: { maxQueryChars: number }) {
  return searchRequestSchema(limits)
    .extend({
      topK: z.number().int().min(1, 'topK must be between 1 and 20').max(20, 'topK must be between 1 and 20').default(5),
      stream: z.boolean().default(false).openapi({ description: 'Answer as Server-Sent Events: `token` events, then `done` (or `error`).' }),
    })
    .strict()
    .openapi('AnswerRequest');
}

export const citationSchema = z
  .object({
    passage: z.number().int().openapi({ description: 'The number the answer cites as [n].' }),
    documentId: z.string(),
    source: z.string(),
    chunkId: z.string(),
    page: z.number().int().optional(),
  })
  .openapi('Citation');

export const answerResponseSchema = z
  .object({
    answer: z.string(),
    citations: z.array(citationSchema),
    citationsInferred: z.boolean().openapi({ description: 'True when the model wrote no [n] marker; citations then list every passage it was given.' }),
    mode: z.enum(['llm', 'extractive']),
    fallback: z
      .object({ code: z.string(), message: z.string() })
      .optional()
      .openapi({ description: 'Why the extractive answerer answered: LLM_NOT_CONFIGURED, LLM_UNAVAILABLE, STAGE_TIMEOUT, LLM_EMPTY_ANSWER or NO_PASSAGES.' }),
    promptVersion: z.string().openapi({ example: 'answer@v1' }),
    timings: timingsSchema.extend({ llmMs: z.number() }).openapi('AnswerTimings'),
    rerank: rerankOutcomeSchema.optional(),
  })
  .openapi('AnswerResponse');

export const healthResponse = z.object({ status: z.literal('ok') }).openapi('Health');
export const readyResponse = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.record(
      z.string(),
      z.object({
        ok: z.boolean(),
        message: z.string().optional(),
        required: z.boolean().openapi({ description: 'False for optional features (the reranker): a failure is reported but the service stays ready.' }),
      }),
    ),
  })
  .openapi('Readiness');

export const feedbackRequestSchema = z
  .object({
    requestId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'requestId must be the X-Request-Id of a response (1-128 characters of letters, digits and ._:-)'),
    rating: z.enum(['up', 'down']),
    comment: z.string().max(2000, 'comment must be at most 2000 characters').optional(),
  })
  .strict()
  .openapi('FeedbackRequest', { example: { requestId: '5f0c7e0e-8a59-4d59-9d0e-6f2b1c2d3e4f', rating: 'down', comment: 'The answer cited the 2019 policy.' } });
export const feedbackResponseSchema = z.object({ feedbackId: z.string(), receivedAt: z.string() }).openapi('FeedbackResponse');
