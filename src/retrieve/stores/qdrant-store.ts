import { createHash } from 'node:crypto';
import { QdrantClient, type Schemas } from '@qdrant/js-client-rest';
import { z } from 'zod';
import { AppError, UpstreamError, ValidationError } from '../../errors/index.js';
import {
  assertSearchParams,
  assertWritableChunks,
  BUILTIN_FILTER_FIELDS,
  collectMetadataFieldTypes,
  isIsoDate,
  metadataTypeConflict,
  normalizeFilter,
  type FilterCondition,
  type FilterField,
  type FilterFieldType,
} from '../filters.js';
import { fuseHybrid, hybridCandidateCount } from '../fusion.js';
import type { ChunkRecord, DocumentInfo, ScoredChunk, SearchParams, VectorStore } from '../types.js';

/** Options of {@link QdrantVectorStore}. */
export interface QdrantVectorStoreOptions {
  /** Base URL, e.g. `http://localhost:6333`. */
  url: string;
  apiKey?: string | undefined;
  /** Prepended to every collection name so several deployments can share one Qdrant. */
  collectionPrefix: string;
  /** Length of every stored and query vector. */
  dimensions: number;
  /** A client to use instead of one built from `url`/`apiKey` (tests). */
  client?: QdrantClient;
  /** Per-request timeout in ms. Default 30,000. */
  timeoutMs?: number;
}

const DENSE = 'dense';
const SPARSE = 'text';
const METADATA = 'metadata';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A sparse vector as Qdrant takes it: ascending unique indices and their weights. */
export interface SparseVector {
  indices: number[];
  values: number[];
}

/**
 * Term-frequency sparse vector of `text` for BM25-style search: lower-cased Unicode word tokens,
 * each hashed (FNV-1a, 32-bit) to an index. Qdrant's `idf` modifier supplies the IDF side at query time.
 */
export function textToSparseVector(text: string): SparseVector {
  const counts = new Map<number, number>();
  for (const token of text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const index = fnv1a32(token);
    counts.set(index, (counts.get(index) ?? 0) + 1);
  }
  const indices = [...counts.keys()].sort((a, b) => a - b);
  return { indices, values: indices.map((index) => counts.get(index) as number) };
}

function fnv1a32(token: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(token, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const payloadSchema = z.object({
  documentId: z.string(),
  source: z.string(),
  chunkIndex: z.number(),
  text: z.string(),
  charStart: z.number(),
  charEnd: z.number(),
  page: z.number().nullish(),
  headingPath: z.array(z.string()).nullish(),
  contentHash: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});

interface CollectionState {
  /** Payload index type per field path (`documentId`, `metadata.year`). */
  indexes: Map<string, Schemas['PayloadSchemaType']>;
}

/**
 * `VectorStore` on a Qdrant server: one collection per collection (prefixed), a named dense vector (`dense`, cosine)
 * and a sparse vector (`text`, IDF modifier) for keyword search; hybrid search runs both legs in one `queryBatch`
 * call and fuses them with the same weighted RRF as the LanceDB adapter (`fuseHybrid`).
 *
 * `replaceDocument` sends the delete-by-document and the upsert as one ordered `batchUpdate`: a reader never sees old
 * and new chunks together, but between the two operations it may briefly see no chunk of that document. Qdrant applies
 * the operations in order, not as a transaction: were the upsert rejected after the delete, the document would be left
 * without chunks, so the input (ids, dimensions, types) is validated before the call.
 * Payload indexes (and so type-conflict detection) are serialised per collection within this process only.
 */
export class QdrantVectorStore implements VectorStore {
  readonly name = 'qdrant';
  private readonly client: QdrantClient;
  private readonly prefix: string;
  private readonly dimensions: number;
  private readonly states = new Map<string, Promise<CollectionState | undefined>>();
  private readonly schemaLocks = new Map<string, Promise<unknown>>();

  constructor(options: QdrantVectorStoreOptions) {
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) throw new RangeError('dimensions must be a positive integer');
    this.client = options.client ?? new QdrantClient({
      url: options.url,
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
      timeout: options.timeoutMs ?? 30_000,
      checkCompatibility: false,
    });
    this.prefix = options.collectionPrefix;
    this.dimensions = options.dimensions;
  }

  async replaceDocument(params: { collection: string; documentId: string; chunks: ChunkRecord[] }): Promise<void> {
    const { collection, documentId, chunks } = params;
    assertWritableChunks(documentId, chunks, this.dimensions);
    for (const chunk of chunks) {
      if (!UUID.test(chunk.id)) throw new ValidationError(`Chunk id '${chunk.id}' is not a UUID, which Qdrant needs as point id`);
    }
    const types = collectMetadataFieldTypes(chunks);
    const name = this.collectionName(collection);
    await this.call('write', name, async () => {
      await this.ensureCollection(name);
      await this.ensurePayloadIndexes(name, types, chunks);
      const points = chunks.map((chunk): Schemas['PointStruct'] => {
        const sparse = textToSparseVector(chunk.text);
        return {
          id: chunk.id,
          vector: sparse.indices.length > 0 ? { [DENSE]: Array.from(chunk.vector), [SPARSE]: sparse } : { [DENSE]: Array.from(chunk.vector) },
          payload: {
            documentId: chunk.documentId, source: chunk.source, chunkIndex: chunk.chunkIndex, text: chunk.text,
            charStart: chunk.charStart, charEnd: chunk.charEnd, page: chunk.page ?? null, headingPath: chunk.headingPath ?? null,
            contentHash: chunk.contentHash, [METADATA]: chunk.metadata,
          },
        };
      });
      const operations: Schemas['UpdateOperation'][] = [{ delete: { filter: documentFilter(documentId) } }];
      if (points.length > 0) operations.push({ upsert: { points } });
      await this.client.batchUpdate(name, { wait: true, ordering: 'strong', operations });
    });
  }

  async deleteDocument(params: { collection: string; documentId: string }): Promise<number> {
    const name = this.collectionName(params.collection);
    return this.call('delete', name, async () => {
      if (!(await this.collectionState(name))) return 0;
      const filter = documentFilter(params.documentId);
      const { count } = await this.client.count(name, { filter, exact: true });
      if (count > 0) await this.client.delete(name, { wait: true, ordering: 'strong', filter });
      return count;
    }, 0);
  }

  async getDocument(params: { collection: string; documentId: string }): Promise<DocumentInfo | null> {
    const name = this.collectionName(params.collection);
    return this.call('read', name, async () => {
      if (!(await this.collectionState(name))) return null;
      const filter = documentFilter(params.documentId);
      const { points } = await this.client.scroll(name, { filter, limit: 1, with_payload: true, with_vector: false });
      const first = points[0];
      if (!first) return null;
      const payload = parsePayload(first.payload);
      const { count } = await this.client.count(name, { filter, exact: true });
      return { documentId: payload.documentId, source: payload.source, contentHash: payload.contentHash, metadata: payload.metadata, chunkCount: count };
    }, null);
  }

  async search(params: SearchParams): Promise<ScoredChunk[]> {
    assertSearchParams(params, this.dimensions);
    const name = this.collectionName(params.collection);
    return this.call('search', name, async () => {
      const state = await this.collectionState(name);
      if (!state) return [];
      const filter = await this.compileFilter(name, state, params);
      const dense = params.vector ? Array.from(params.vector) : [];
      const sparse = textToSparseVector(params.text ?? '');
      const common = { limit: params.topK, with_payload: true, ...(filter ? { filter } : {}) } as const;
      let response: Schemas['QueryResponse'];
      if (params.mode === 'dense') {
        response = await this.client.query(name, { ...common, query: dense, using: DENSE });
      } else if (params.mode === 'keyword') {
        if (sparse.indices.length === 0) return [];
        response = await this.client.query(name, { ...common, query: sparse, using: SPARSE });
      } else {
        // Both legs in one request, fused here with the same weighted RRF as the LanceDB adapter, so hybrid
        // scores and order mean the same in every store.
        const limit = hybridCandidateCount(params.topK);
        const searches: Schemas['QueryRequest'][] = [{ ...common, limit, query: dense, using: DENSE }];
        if (sparse.indices.length > 0) searches.push({ ...common, limit, query: sparse, using: SPARSE });
        const [denseLeg, keywordLeg] = await this.client.queryBatch(name, { searches });
        const toChunks = (leg: Schemas['QueryResponse'] | undefined) => (leg?.points ?? []).map((point) => toScoredChunk(point));
        return fuseHybrid(toChunks(denseLeg), toChunks(keywordLeg), params.topK).map(({ item, score }) => ({ ...item, score }));
      }
      return response.points.map((point) => toScoredChunk(point));
    }, []);
  }

  async health(): Promise<void> {
    await this.call('health check', undefined, async () => {
      await this.client.getCollections();
    });
  }

  async close(): Promise<void> {
    this.states.clear();
  }

  /** Collection name on the server: the prefix plus the name, sanitised with a hash suffix when it has unsafe characters. */
  collectionName(collection: string): string {
    if (collection.length === 0) throw new ValidationError('collection must not be empty', { code: 'INVALID_COLLECTION' });
    if (/^[A-Za-z0-9_-]{1,100}$/.test(collection)) return this.prefix + collection;
    const safe = collection.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
    return `${this.prefix}${safe}_${createHash('sha256').update(collection).digest('hex').slice(0, 12)}`;
  }

  private async compileFilter(name: string, state: CollectionState, params: SearchParams): Promise<Schemas['Filter'] | undefined> {
    if (params.filter === undefined || Object.keys(params.filter).length === 0) return undefined;
    let current = state;
    // Another process may have added a field since we cached the schema: re-read once before calling it unknown.
    if (Object.keys(params.filter).some((field) => !filterFieldsOf(current).has(field))) current = (await this.collectionState(name, true)) ?? current;
    return toQdrantFilter(normalizeFilter(params.filter, filterFieldsOf(current)), current);
  }

  private collectionState(name: string, refresh = false): Promise<CollectionState | undefined> {
    let state = this.states.get(name);
    if (!state || refresh) {
      state = this.loadState(name);
      this.states.set(name, state);
      state.then((value) => value === undefined && this.states.delete(name), () => this.states.delete(name));
    }
    return state;
  }

  private async loadState(name: string): Promise<CollectionState | undefined> {
    try {
      const info = await this.client.getCollection(name);
      const indexes = new Map<string, Schemas['PayloadSchemaType']>();
      for (const [field, index] of Object.entries(info.payload_schema)) if (index) indexes.set(field, index.data_type);
      return { indexes };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async ensureCollection(name: string): Promise<void> {
    if (await this.collectionState(name)) return;
    try {
      await this.client.createCollection(name, {
        vectors: { [DENSE]: { size: this.dimensions, distance: 'Cosine' } },
        sparse_vectors: { [SPARSE]: { modifier: 'idf' } },
      });
    } catch (error) {
      if (statusOf(error) !== 409) throw error; // created concurrently
    }
    for (const field of BUILTIN_FILTER_FIELDS) {
      await this.client.createPayloadIndex(name, { field_name: field, field_schema: 'keyword', wait: true });
    }
    await this.collectionState(name, true);
  }

  /** Creates payload indexes for metadata fields seen for the first time; rejects fields whose type differs. */
  private async ensurePayloadIndexes(name: string, types: Map<string, FilterFieldType>, chunks: readonly ChunkRecord[]): Promise<void> {
    const previous = this.schemaLocks.get(name) ?? Promise.resolve();
    const run = previous.then(async () => {
      let state = await this.collectionState(name);
      if ([...types.keys()].some((key) => !state?.indexes.has(`${METADATA}.${key}`))) state = await this.collectionState(name, true);
      if (!state) throw new UpstreamError('VECTOR_STORE_UNAVAILABLE', `Qdrant collection '${name}' disappeared during a write`);
      for (const [key, type] of types) {
        const existing = state.indexes.get(`${METADATA}.${key}`);
        if (existing !== undefined && kindOf(existing) !== type) throw metadataTypeConflict(key, kindOf(existing), type);
      }
      for (const [key, type] of types) {
        const path = `${METADATA}.${key}`;
        if (state.indexes.has(path)) continue;
        const allDates = type === 'string' && chunks.every((chunk) => typeof chunk.metadata[key] !== 'string' || isIsoDate(chunk.metadata[key] as string));
        const schema: Schemas['PayloadSchemaType'] = type === 'number' ? 'float' : type === 'boolean' ? 'bool' : allDates ? 'datetime' : 'keyword';
        await this.client.createPayloadIndex(name, { field_name: path, field_schema: schema, wait: true });
        state.indexes.set(path, schema);
      }
    });
    this.schemaLocks.set(name, run.catch(() => undefined));
    await run;
  }

  /** Runs a Qdrant call on collection `name`, mapping a missing collection to `missing` and wrapping client errors. */
  private async call<T>(action: string, name: string | undefined, operation: () => Promise<T>, missing?: T): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof AppError) throw error;
      const status = statusOf(error);
      if (status === 404 && name !== undefined) this.states.delete(name); // dropped behind our back: forget the cached schema
      if (status === 404 && missing !== undefined) return missing;
      const detail = detailOf(error);
      if (status !== undefined && status >= 400 && status < 500 && ![401, 403, 404, 408, 429].includes(status)) {
        throw new ValidationError(`Qdrant rejected the ${action}: ${detail}`, { code: 'VECTOR_STORE_REJECTED', details: { status }, cause: error });
      }
      throw new UpstreamError('VECTOR_STORE_UNAVAILABLE', `Qdrant ${action} failed: ${detail}`, {
        cause: error,
        retryable: status !== 401 && status !== 403,
        details: status === undefined ? {} : { status },
      });
    }
  }
}

function documentFilter(documentId: string): Schemas['Filter'] {
  return { must: [{ key: 'documentId', match: { value: documentId } }] };
}

function kindOf(index: Schemas['PayloadSchemaType']): FilterFieldType {
  if (index === 'float' || index === 'integer') return 'number';
  if (index === 'bool') return 'boolean';
  return 'string';
}

/** Filterable fields of a collection from its payload indexes; ranges apply to numeric and datetime indexes. */
function filterFieldsOf(state: CollectionState): Map<string, FilterField> {
  const fields = new Map<string, FilterField>();
  for (const [path, index] of state.indexes) {
    const key = BUILTIN_FILTER_FIELDS.includes(path) ? path : path.startsWith(`${METADATA}.`) ? path.slice(METADATA.length + 1) : undefined;
    if (key === undefined) continue;
    const type = kindOf(index);
    fields.set(key, { type, ranges: type === 'number' || index === 'datetime' });
  }
  return fields;
}

/** Compiles validated conditions to a Qdrant filter (AND). Numbers match by a closed range: `match` takes integers only. */
export function toQdrantFilter(conditions: FilterCondition[], state?: CollectionState): Schemas['Filter'] | undefined {
  if (conditions.length === 0) return undefined;
  const must = conditions.map((condition): Schemas['Condition'] => {
    const key = BUILTIN_FILTER_FIELDS.includes(condition.field) ? condition.field : `${METADATA}.${condition.field}`;
    const equals = (value: string | number | boolean): Schemas['FieldCondition'] =>
      typeof value === 'number' ? { key, range: { gte: value, lte: value } }
        : typeof value === 'string' && state?.indexes.get(key) === 'datetime' && isIsoDate(value) ? { key, range: { gte: value, lte: value } }
          : { key, match: { value } };
    if (condition.op === 'eq') return equals(condition.value);
    if (condition.op === 'range') return { key, range: { ...condition.bounds } as Schemas['RangeInterface'] };
    if (condition.type === 'string' && state?.indexes.get(key) !== 'datetime') return { key, match: { any: condition.values as string[] } };
    return { should: condition.values.map(equals) };
  });
  return { must };
}

function parsePayload(payload: unknown): z.infer<typeof payloadSchema> {
  const parsed = payloadSchema.safeParse(payload);
  if (!parsed.success) throw new UpstreamError('VECTOR_STORE_UNAVAILABLE', `Qdrant returned a point without the expected payload: ${parsed.error.message}`, { retryable: false });
  return parsed.data;
}

function toScoredChunk(point: Schemas['ScoredPoint']): ScoredChunk {
  const payload = parsePayload(point.payload);
  return {
    id: String(point.id),
    documentId: payload.documentId,
    source: payload.source,
    chunkIndex: payload.chunkIndex,
    text: payload.text,
    charStart: payload.charStart,
    charEnd: payload.charEnd,
    page: payload.page ?? undefined,
    headingPath: payload.headingPath ?? undefined,
    metadata: payload.metadata,
    score: point.score,
  };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function detailOf(error: unknown): string {
  const data = (error as { data?: { status?: { error?: unknown } } } | null)?.data;
  if (typeof data?.status?.error === 'string') return data.status.error;
  return error instanceof Error ? error.message.split('\n')[0] ?? error.name : String(error);
}
