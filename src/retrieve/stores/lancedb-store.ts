import { createHash } from 'node:crypto';
import { access, mkdir } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { createRequire } from 'node:module';
import * as lancedb from '@lancedb/lancedb';
import type { Connection, Table } from '@lancedb/lancedb';
import type * as Arrow from 'apache-arrow';
import { AppError, UpstreamError, ValidationError } from '../../errors/index.js';
import type { Logger } from '../../logger.js';
import {
  assertSearchParams,
  assertWritableChunks,
  BUILTIN_FILTER_FIELDS,
  collectMetadataFieldTypes,
  filterableValue,
  metadataTypeConflict,
  normalizeFilter,
  type FilterCondition,
  type FilterField,
  type FilterFieldType,
} from '../filters.js';
import { fuseHybrid, hybridCandidateCount } from '../fusion.js';
import type { ChunkRecord, DocumentInfo, MetadataScalar, ScoredChunk, SearchParams, VectorStore } from '../types.js';
import { SCALAR_INDEXES, TableMaintenance, VECTOR_INDEX, type MaintainedTable } from './lancedb-maintenance.js';

// LanceDB is CommonJS and checks `instanceof` against its own apache-arrow (e.g. in addColumns);
// the ESM build of apache-arrow has distinct classes, so use the CommonJS instance LanceDB loads.
const require = createRequire(import.meta.url);
const arrow = require('apache-arrow') as typeof Arrow;
patchAllNullBooleanAssembly();

/**
 * apache-arrow 18 writes an all-null Boolean column to IPC with an empty value buffer, which LanceDB's reader
 * rejects ("Need at least 1 bytes for bitmap"); a document without a boolean field the collection has would then
 * fail to write. Write a zeroed buffer of the right length instead (valid IPC; the validity bitmap still says null).
 */
function patchAllNullBooleanAssembly(): void {
  type Assemble = (this: unknown, data: { offset: number; length: number; nullCount: number; values: Uint8Array }) => unknown;
  const { VectorAssembler } = require('apache-arrow/visitor/vectorassembler') as { VectorAssembler: { prototype: { visitBool: Assemble & { patched?: true } } } };
  const original = VectorAssembler.prototype.visitBool;
  if (original.patched) return;
  const patched: Assemble & { patched?: true } = function (data) {
    if (data.length > 0 && data.nullCount >= data.length) {
      return original.call(this, { offset: 0, length: data.length, nullCount: 0, values: new Uint8Array(Math.ceil(data.length / 8)) });
    }
    return original.call(this, data);
  };
  patched.patched = true;
  VectorAssembler.prototype.visitBool = patched;
}

/** Options of {@link LanceDbVectorStore}. */
export interface LanceDbVectorStoreOptions {
  /** Directory of the embedded database; created when missing. */
  dir: string;
  /** Length of every stored and query vector. */
  dimensions: number;
  /** An open connection (tests); otherwise one is opened on `dir`. An injected connection is not closed by `close()`. */
  connection?: Connection;
  /** Row count from which a table gets an ANN index (IVF_FLAT, cosine, √rows partitions), built in the background. Default 5,000. */
  annIndexThresholdRows?: number;
  /** Rows written since the last index refresh that trigger one (full-text and vector indexes). Default 256. */
  indexRefreshRows?: number;
  /** Quiet time after the last write before a refresh of fewer rows runs, in ms. Default 500. */
  indexRefreshIdleMs?: number;
  /**
   * Least time between two refreshes of one table, in ms (and at least 3x the last refresh's duration). Default 15,000.
   * Each refresh rewrites the table's files while the versions it replaces stay for `retainVersionsMs`: keeping this
   * about half of that keeps the copies on disk to about three. Rows not indexed yet are still searched (flat scan).
   */
  indexRefreshMinIntervalMs?: number;
  /** IVF partitions probed per dense search once the ANN index exists (of √rows). Default 20; more trades latency for recall. */
  annNprobes?: number;
  /**
   * How long a version stays readable after a newer one replaced it, in ms: a search (of this process, or of another
   * one: the API reading what a worker writes) may still be reading it. Older versions and their files are deleted
   * by the background refresh. Default 30,000; it must exceed the longest search plus the 0.5 s read-consistency
   * interval, and it bounds the disk used: about the table once more per refresh within it.
   */
  retainVersionsMs?: number;
  /**
   * Age in ms from which a file that no version references (left by a crashed or failed write) is deleted; until
   * then it may belong to a write, compaction or index build another process has not committed yet. Default 600,000.
   */
  orphanFileAgeMs?: number;
  /** Receives background maintenance failures. */
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

/** How stale a read may be with respect to writes of other processes (API reading what workers wrote), in seconds. */
const READ_CONSISTENCY_SECONDS = 0.5;
const TEXT_INDEX = 'text_idx';
const METADATA_PREFIX = 'm_';
const RESULT_COLUMNS = ['id', 'documentId', 'source', 'chunkIndex', 'text', 'charStart', 'charEnd', 'page', 'headingPath', 'metadata'];

interface TableState extends MaintainedTable {
  schema: Arrow.Schema;
  fields: Map<string, FilterField>;
  readVersion: number;
  reader: Promise<Table> | undefined;
}

/**
 * `VectorStore` on embedded LanceDB: one table per collection, filters compiled to LanceDB SQL and run inside the scan,
 * BM25 full-text index on `text`, cosine vectors with an automatic ANN index, hybrid fused by RRF.
 *
 * An embedded LanceDB directory must be written by ONE process (and one store instance): writes are serialised per
 * table in-process and reads see this process's commits only. Run a single API+worker process, or use Qdrant.
 */
export class LanceDbVectorStore implements VectorStore {
  readonly name = 'lancedb';
  private readonly options: Required<Omit<LanceDbVectorStoreOptions, 'connection' | 'logger'>>;
  private readonly logger: Pick<Logger, 'warn' | 'debug'> | undefined;
  private connection: Promise<Connection> | undefined;
  private readonly ownsConnection: boolean;
  private readonly states = new Map<string, Promise<TableState | undefined>>();
  private readonly writes = new KeyedMutex();
  private readonly maintenance: TableMaintenance<TableState>;
  private closed = false;

  constructor(options: LanceDbVectorStoreOptions) {
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) throw new RangeError('dimensions must be a positive integer');
    this.options = {
      dir: options.dir,
      dimensions: options.dimensions,
      annIndexThresholdRows: options.annIndexThresholdRows ?? 5_000,
      indexRefreshRows: options.indexRefreshRows ?? 256,
      indexRefreshIdleMs: options.indexRefreshIdleMs ?? 500,
      indexRefreshMinIntervalMs: options.indexRefreshMinIntervalMs ?? 15_000,
      annNprobes: options.annNprobes ?? 20,
      retainVersionsMs: options.retainVersionsMs ?? 30_000,
      orphanFileAgeMs: options.orphanFileAgeMs ?? 600_000,
    };
    this.logger = options.logger;
    this.maintenance = new TableMaintenance<TableState>({
      settings: this.options,
      logger: this.logger,
      committed: (state, version) => this.published(state, version, 0),
      exclusive: (state, task) => this.writes.run(state.name, task),
    });
    this.ownsConnection = options.connection === undefined;
    if (options.connection) this.connection = Promise.resolve(options.connection);
  }

  async replaceDocument(params: { collection: string; documentId: string; chunks: ChunkRecord[] }): Promise<void> {
    const { collection, documentId, chunks } = params;
    assertWritableChunks(documentId, chunks, this.options.dimensions);
    if (chunks.length === 0) {
      await this.deleteDocument({ collection, documentId });
      return;
    }
    const incoming = collectMetadataFieldTypes(chunks);
    const tableName = tableNameOf(collection);
    await this.guard(() =>
      this.writes.run(tableName, async () => {
        const state = (await this.state(tableName, true)) as TableState;
        await this.evolveSchema(state, incoming);
        const newIds = new Set(chunks.map((chunk) => chunk.id));
        const existing = (await state.table
          .query()
          .where(`${column('documentId')} = ${sqlLiteral(documentId)} OR ${column('id')} IN (${[...newIds].map(sqlLiteral).join(', ')})`)
          .select(['id', 'documentId'])
          .toArray()) as { id: string; documentId: string }[];
        const data = toArrowTable(chunks, state.schema, this.options.dimensions);
        let version: number;
        if (existing.length === 0) {
          version = (await state.table.add(data)).version;
        } else if (existing.every((row) => row.documentId === documentId && newIds.has(row.id))) {
          // Every old chunk is overwritten by id, so a plain upsert is already a complete, single-commit replace.
          version = (await state.table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data)).version;
        } else {
          // Stale chunks must go in the same commit; this path joins the whole table, so it is the slow one.
          const result = await state.table
            .mergeInsert('id')
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .whenNotMatchedBySourceDelete({ where: `${column('documentId')} = ${sqlLiteral(documentId)}` })
            .execute(data);
          version = result.version;
        }
        // Every existing row is either overwritten by id or deleted, and every chunk is written once.
        state.rowCount += chunks.length - existing.length;
        this.published(state, version, chunks.length);
      }),
    );
  }

  async deleteDocument(params: { collection: string; documentId: string }): Promise<number> {
    const tableName = tableNameOf(params.collection);
    return this.guard(() =>
      this.writes.run(tableName, async () => {
        const state = await this.state(tableName, false);
        if (!state) return 0;
        const result = await state.table.delete(`${column('documentId')} = ${sqlLiteral(params.documentId)}`);
        state.rowCount = Math.max(0, state.rowCount - result.numDeletedRows);
        if (result.numDeletedRows > 0) this.published(state, result.version, 0);
        return result.numDeletedRows;
      }),
    );
  }

  async getDocument(params: { collection: string; documentId: string }): Promise<DocumentInfo | null> {
    return this.guard(async () => {
      const state = await this.state(tableNameOf(params.collection), false);
      if (!state) return null;
      const reader = await this.reader(state);
      const where = `${column('documentId')} = ${sqlLiteral(params.documentId)}`;
      const [first] = (await reader.query().where(where).select(['documentId', 'source', 'contentHash', 'metadata']).limit(1).toArray()) as {
        documentId: string; source: string; contentHash: string; metadata: string;
      }[];
      if (!first) return null;
      const chunkCount = await reader.countRows(where);
      return { documentId: first.documentId, source: first.source, contentHash: first.contentHash, metadata: parseJson(first.metadata, {}), chunkCount };
    });
  }

  async search(params: SearchParams): Promise<ScoredChunk[]> {
    assertSearchParams(params, this.options.dimensions);
    return this.guard(async () => {
      const state = await this.state(tableNameOf(params.collection), false);
      if (!state) return [];
      const where = toSqlPredicate(normalizeFilter(params.filter, state.fields));
      const reader = await this.reader(state);
      if (params.mode === 'dense') return this.dense(reader, state, params.vector as Float32Array, params.topK, where);
      if (params.mode === 'keyword') return this.keyword(reader, params.text as string, params.topK, where);
      const candidates = hybridCandidateCount(params.topK);
      const [dense, keyword] = await Promise.all([
        this.dense(reader, state, params.vector as Float32Array, candidates, where),
        this.keyword(reader, params.text as string, candidates, where),
      ]);
      return fuseHybrid(dense, keyword, params.topK).map(({ item, score }) => ({ ...item, score }));
    });
  }

  async health(): Promise<void> {
    if (this.closed) throw new UpstreamError('VECTOR_STORE_UNAVAILABLE', 'LanceDB store is closed');
    await this.guard(async () => {
      const connection = await this.connect();
      if (!connection.isOpen()) throw new Error('connection is closed');
      if (this.ownsConnection) await access(this.options.dir, fsConstants.R_OK | fsConstants.W_OK);
      await connection.tableNames({ limit: 1 });
    });
  }

  /**
   * Runs a collection's background maintenance now and waits for it (tests, tools): index refresh, compaction,
   * deletion of old versions and orphaned files. The store otherwise schedules it after writes. No-op for an unknown collection.
   */
  async maintain(params: { collection: string }): Promise<void> {
    await this.guard(async () => {
      const state = await this.state(tableNameOf(params.collection), false);
      if (state) await this.maintenance.runNow(state);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const states = (await Promise.allSettled([...this.states.values()])).flatMap((result) => (result.status === 'fulfilled' && result.value ? [result.value] : []));
    await this.maintenance.close(states);
    await this.writes.idle();
    for (const state of states) state.table.close();
    this.states.clear();
    if (this.ownsConnection && this.connection) (await this.connection.catch(() => undefined))?.close();
  }

  private async dense(reader: Table, state: TableState, vector: Float32Array, limit: number, where: string | undefined): Promise<ScoredChunk[]> {
    let query = reader.query().nearestTo(vector).distanceType('cosine').limit(limit);
    if (state.hasVectorIndex) query = query.nprobes(this.options.annNprobes);
    if (where) query = query.where(where);
    const rows = (await query.select([...RESULT_COLUMNS, '_distance']).toArray()) as ResultRow[];
    return rows.map((row) => toScoredChunk(row, 1 - (row._distance ?? 1)));
  }

  /**
   * BM25 search. LanceDB 0.37 searches rows not yet in the full-text index by a flat scan, but when the index
   * covers no rows it applies `limit` to that scan in storage order, before ranking (the best match can be cut).
   * So ask for enough rows to include every unindexed match, and rank here.
   */
  private async keyword(reader: Table, text: string, limit: number, where: string | undefined): Promise<ScoredChunk[]> {
    const unindexed = (await reader.indexStats(TEXT_INDEX))?.numUnindexedRows ?? 0;
    let query = reader.query().fullTextSearch(new lancedb.MatchQuery(text, 'text')).limit(limit + unindexed);
    if (where) query = query.where(where);
    const rows = (await query.select([...RESULT_COLUMNS, '_score']).toArray()) as ResultRow[];
    rows.sort((a, b) => (b._score ?? 0) - (a._score ?? 0));
    return rows.slice(0, limit).map((row) => toScoredChunk(row, row._score ?? 0));
  }

  /** Adds one typed column per new filterable metadata field; rejects a field whose type differs from the table's. */
  private async evolveSchema(state: TableState, incoming: Map<string, FilterFieldType>): Promise<void> {
    const added: Arrow.Field[] = [];
    for (const [key, type] of incoming) {
      const existing = state.fields.get(key);
      if (existing) {
        if (existing.type !== type) throw metadataTypeConflict(key, existing.type, type);
        continue;
      }
      added.push(new arrow.Field(METADATA_PREFIX + key, arrowTypeOf(type), true));
    }
    if (added.length === 0) return;
    await state.table.addColumns(added);
    state.schema = await state.table.schema();
    state.fields = filterFieldsOf(state.schema);
    this.published(state, await state.table.version(), 0);
  }

  /** Makes a commit visible to searches and schedules the index refresh it calls for. */
  private published(state: TableState, version: number, rowsWritten: number): void {
    if (version > state.readVersion) {
      state.readVersion = version;
      state.reader = undefined;
    }
    state.unindexedRows += rowsWritten;
    this.maintenance.schedule(state);
  }

  /** A handle pinned to the last published version, so the two legs of a hybrid search read one snapshot. */
  private async reader(state: TableState): Promise<Table> {
    // Another process (a BullMQ worker) may have committed since: the write handle re-reads the latest version
    // at most every READ_CONSISTENCY_SECONDS, and a newer one re-pins the reader.
    const latest = await state.table.version();
    if (latest > state.readVersion) {
      state.readVersion = latest;
      state.reader = undefined;
    }
    if (!state.reader) {
      const version = state.readVersion;
      const opening = this.connect().then((connection) => connection.openTable(state.name, undefined, { version }));
      opening.catch(() => {
        if (state.reader === opening) state.reader = undefined;
      });
      state.reader = opening;
    }
    return state.reader;
  }

  private state(tableName: string, create: boolean): Promise<TableState | undefined> {
    let state = this.states.get(tableName);
    if (!state || create) {
      const previous = state ?? Promise.resolve(undefined);
      state = previous.then(async (existing) => existing ?? (await this.openState(tableName, create)));
      this.states.set(tableName, state);
      // Forget a failed open, and a table that did not exist yet: another process may create it later.
      const forget = () => {
        if (this.states.get(tableName) === state) this.states.delete(tableName);
      };
      state.then((opened) => opened ?? forget(), forget);
    }
    return state;
  }

  private async openState(tableName: string, create: boolean): Promise<TableState | undefined> {
    const connection = await this.connect();
    let table: Table;
    if (await tableExists(connection, tableName)) {
      table = await connection.openTable(tableName);
    } else if (create) {
      table = await connection.createEmptyTable(tableName, baseSchema(this.options.dimensions), { existOk: true });
      await table.createIndex('text', { config: lancedb.Index.fts(), name: TEXT_INDEX });
    } else {
      return undefined;
    }
    const schema = await table.schema();
    const vectorType = schema.fields.find((field) => field.name === 'vector')?.type as Arrow.FixedSizeList | undefined;
    if (vectorType?.listSize !== this.options.dimensions) {
      throw new AppError('VECTOR_DIMENSION_MISMATCH', 'system', `Table '${tableName}' stores ${vectorType?.listSize} dimensions, the embedder gives ${this.options.dimensions}; re-ingest into a new collection`);
    }
    const indices = await table.listIndices();
    const textStats = await table.indexStats(TEXT_INDEX);
    const rowCount = await table.countRows();
    const state: TableState = {
      name: tableName,
      table,
      schema,
      fields: filterFieldsOf(schema),
      rowCount,
      readVersion: await table.version(),
      reader: undefined,
      hasScalarIndexes: SCALAR_INDEXES.every((name) => indices.some((index) => index.name === `${name}_idx`)),
      hasVectorIndex: indices.some((index) => index.name === VECTOR_INDEX),
      vectorIndexRows: rowCount,
      unindexedRows: textStats?.numUnindexedRows ?? 0,
      refreshTimer: undefined,
      refreshing: undefined,
      lastRefreshAt: 0,
      lastRefreshMs: 0,
    };
    this.maintenance.schedule(state);
    return state;
  }

  private connect(): Promise<Connection> {
    if (!this.connection) {
      const connecting = mkdir(this.options.dir, { recursive: true }).then(() => lancedb.connect(this.options.dir, { readConsistencyInterval: READ_CONSISTENCY_SECONDS }));
      connecting.catch(() => {
        if (this.connection === connecting) this.connection = undefined;
      });
      this.connection = connecting;
    }
    return this.connection;
  }

  /** Runs `operation`, turning LanceDB and file-system failures into a retryable UpstreamError. */
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) throw new UpstreamError('VECTOR_STORE_UNAVAILABLE', 'LanceDB store is closed');
    try {
      return await operation();
    } catch (error) {
      if (error instanceof AppError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new UpstreamError('VECTOR_STORE_UNAVAILABLE', `LanceDB operation failed: ${message.split('\n')[0]}`, { cause: error });
    }
  }
}

/** Serialises async work per key (one LanceDB writer per table: concurrent commits would conflict and retry). */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
  }
}

async function tableExists(connection: Connection, name: string): Promise<boolean> {
  let startAfter: string | undefined;
  for (;;) {
    const page = await connection.tableNames(startAfter === undefined ? { limit: 1000 } : { startAfter, limit: 1000 });
    if (page.includes(name)) return true;
    if (page.length < 1000) return false;
    startAfter = page[page.length - 1];
  }
}

interface ResultRow {
  id: string; documentId: string; source: string; chunkIndex: number; text: string; charStart: number; charEnd: number;
  page: number | null; headingPath: string | null; metadata: string; _distance?: number; _score?: number;
}

/** Table name for a collection: readable when the name is safe, otherwise sanitised plus a hash so names never collide. */
export function tableNameOf(collection: string): string {
  if (collection.length === 0) throw new ValidationError('collection must not be empty', { code: 'INVALID_COLLECTION' });
  if (/^[A-Za-z0-9_-]{1,100}$/.test(collection)) return `c_${collection}`;
  const safe = collection.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  return `c_${safe}_${createHash('sha256').update(collection).digest('hex').slice(0, 12)}`;
}

function baseSchema(dimensions: number): Arrow.Schema {
  const utf8 = (name: string, nullable = false) => new arrow.Field(name, new arrow.Utf8(), nullable);
  const int32 = (name: string, nullable = false) => new arrow.Field(name, new arrow.Int32(), nullable);
  return new arrow.Schema([
    utf8('id'), utf8('documentId'), utf8('source'), int32('chunkIndex'), utf8('text'), int32('charStart'), int32('charEnd'),
    int32('page', true), utf8('headingPath', true), utf8('contentHash'), utf8('metadata'),
    new arrow.Field('vector', new arrow.FixedSizeList(dimensions, new arrow.Field('item', new arrow.Float32(), true)), false),
  ]);
}

function arrowTypeOf(type: FilterFieldType): Arrow.DataType {
  if (type === 'number') return new arrow.Float64();
  if (type === 'boolean') return new arrow.Bool();
  return new arrow.Utf8();
}

/** Filterable fields of a table: the built-ins plus every `m_<key>` column, typed by its Arrow type. */
function filterFieldsOf(schema: Arrow.Schema): Map<string, FilterField> {
  const fields = new Map<string, FilterField>(BUILTIN_FILTER_FIELDS.map((name) => [name, { type: 'string', ranges: true }]));
  for (const field of schema.fields) {
    if (!field.name.startsWith(METADATA_PREFIX)) continue;
    const key = field.name.slice(METADATA_PREFIX.length);
    if (arrow.DataType.isFloat(field.type)) fields.set(key, { type: 'number', ranges: true });
    else if (arrow.DataType.isBool(field.type)) fields.set(key, { type: 'boolean', ranges: false });
    else if (arrow.DataType.isUtf8(field.type)) fields.set(key, { type: 'string', ranges: true });
  }
  return fields;
}

/** Column values of one chunk, keyed by column name; metadata columns hold the chunk's value or null. */
function toRow(chunk: ChunkRecord, schema: Arrow.Schema): Record<string, unknown> {
  const row: Record<string, unknown> = {
    id: chunk.id,
    documentId: chunk.documentId,
    source: chunk.source,
    chunkIndex: chunk.chunkIndex,
    text: chunk.text,
    charStart: chunk.charStart,
    charEnd: chunk.charEnd,
    page: chunk.page ?? null,
    headingPath: chunk.headingPath === undefined ? null : JSON.stringify(chunk.headingPath),
    contentHash: chunk.contentHash,
    metadata: JSON.stringify(chunk.metadata),
  };
  for (const field of schema.fields) {
    if (field.name.startsWith(METADATA_PREFIX)) row[field.name] = filterableValue(chunk.metadata, field.name.slice(METADATA_PREFIX.length)) ?? null;
  }
  return row;
}

/**
 * Builds the Arrow batch for `chunks` in the table's schema. Built by hand rather than with makeArrowTable:
 * it copies vectors once, and an all-null Boolean column from apache-arrow's builders has an empty value
 * buffer that LanceDB's IPC reader rejects.
 */
function toArrowTable(chunks: readonly ChunkRecord[], schema: Arrow.Schema, dimensions: number): Arrow.Table {
  const length = chunks.length;
  const rows = chunks.map((chunk) => toRow(chunk, schema));
  const children = schema.fields.map((field): Arrow.Data => {
    if (field.name === 'vector') {
      const flat = new Float32Array(length * dimensions);
      chunks.forEach((chunk, index) => flat.set(chunk.vector, index * dimensions));
      const child = arrow.makeData({ type: new arrow.Float32(), length: flat.length, nullCount: 0, data: flat });
      return arrow.makeData({ type: field.type as Arrow.FixedSizeList, length, nullCount: 0, child });
    }
    const values = rows.map((row) => row[field.name] ?? null);
    const validity = new Uint8Array(Math.ceil(length / 8) || 1);
    let nullCount = 0;
    values.forEach((value, index) => {
      if (value === null) nullCount++;
      else validity[index >> 3]! |= 1 << (index & 7);
    });
    const nullBitmap = nullCount === 0 ? undefined : validity;
    if (arrow.DataType.isUtf8(field.type)) {
      const encoder = new TextEncoder();
      const encoded = values.map((value) => (value === null ? new Uint8Array(0) : encoder.encode(String(value))));
      const valueOffsets = new Int32Array(length + 1);
      encoded.forEach((bytes, index) => (valueOffsets[index + 1] = valueOffsets[index]! + bytes.length));
      const data = new Uint8Array(valueOffsets[length]!);
      encoded.forEach((bytes, index) => data.set(bytes, valueOffsets[index]!));
      return arrow.makeData({ type: new arrow.Utf8(), length, nullCount, nullBitmap, valueOffsets, data });
    }
    if (arrow.DataType.isBool(field.type)) {
      const data = new Uint8Array(Math.ceil(length / 8) || 1);
      values.forEach((value, index) => {
        if (value === true) data[index >> 3]! |= 1 << (index & 7);
      });
      return arrow.makeData({ type: new arrow.Bool(), length, nullCount, nullBitmap, data });
    }
    if (arrow.DataType.isInt(field.type)) {
      const data = Int32Array.from(values, (value) => (value === null ? 0 : Number(value)));
      return arrow.makeData({ type: new arrow.Int32(), length, nullCount, nullBitmap, data });
    }
    if (arrow.DataType.isFloat(field.type)) {
      const data = Float64Array.from(values, (value) => (value === null ? 0 : Number(value)));
      return arrow.makeData({ type: new arrow.Float64(), length, nullCount, nullBitmap, data });
    }
    throw new AppError('UNSUPPORTED_COLUMN', 'system', `Column '${field.name}' has an unsupported type ${String(field.type)}`);
  });
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length, nullCount: 0, children });
  return new arrow.Table([new arrow.RecordBatch(schema, struct)]);
}

function toScoredChunk(row: ResultRow, score: number): ScoredChunk {
  return {
    id: row.id,
    documentId: row.documentId,
    source: row.source,
    chunkIndex: row.chunkIndex,
    text: row.text,
    charStart: row.charStart,
    charEnd: row.charEnd,
    page: row.page ?? undefined,
    headingPath: row.headingPath === null ? undefined : parseJson<string[]>(row.headingPath, []),
    metadata: parseJson(row.metadata, {}),
    score,
  };
}

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** A quoted column reference; names are built-ins or validated metadata keys, so they never contain backticks. */
function column(name: string): string {
  return `\`${name}\``;
}

/** A SQL literal. Strings double their single quotes (LanceDB SQL has no backslash escapes). */
export function sqlLiteral(value: MetadataScalar): string {
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (!Number.isFinite(value)) throw new ValidationError(`Filter number ${value} is not finite`, { code: 'INVALID_FILTER' });
  return String(value);
}

/** Compiles validated conditions to a LanceDB `where` predicate, or undefined when there are none. */
export function toSqlPredicate(conditions: FilterCondition[]): string | undefined {
  const parts = conditions.map((condition) => {
    const target = column(BUILTIN_FILTER_FIELDS.includes(condition.field) ? condition.field : METADATA_PREFIX + condition.field);
    if (condition.op === 'eq') return `${target} = ${sqlLiteral(condition.value)}`;
    if (condition.op === 'in') return `${target} IN (${condition.values.map(sqlLiteral).join(', ')})`;
    const { gt, gte, lt, lte } = condition.bounds;
    const bounds: string[] = [];
    if (gt !== undefined) bounds.push(`${target} > ${sqlLiteral(gt)}`);
    if (gte !== undefined) bounds.push(`${target} >= ${sqlLiteral(gte)}`);
    if (lt !== undefined) bounds.push(`${target} < ${sqlLiteral(lt)}`);
    if (lte !== undefined) bounds.push(`${target} <= ${sqlLiteral(lte)}`);
    return bounds.join(' AND ');
  });
  return parts.length === 0 ? undefined : parts.map((part) => `(${part})`).join(' AND ');
}
