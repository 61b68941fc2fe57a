/**
 * Input validation shared by every VectorStore adapter: which metadata fields are filterable,
 * how their types are inferred and checked for conflicts, how a `MetadataFilter` is normalised
 * into conditions an adapter compiles to its own query language, and the checks on chunks and
 * search parameters every adapter applies before talking to its backend.
 */
import { ValidationError } from '../errors/index.js';
import type { ChunkRecord, MetadataFilter, MetadataScalar, SearchParams } from './types.js';

/** Value type of a filterable field. ISO-8601 dates are strings. */
export type FilterFieldType = 'string' | 'number' | 'boolean';

/** What a collection knows about one filterable field. */
export interface FilterField {
  type: FilterFieldType;
  /** Whether range conditions apply (numbers; strings holding ISO-8601 dates where the backend can compare them). */
  ranges: boolean;
}

/** Keys a metadata field must match to be filterable; other keys are stored but only returned, never filtered. */
export const FILTERABLE_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Chunk fields that are always filterable (strings). They shadow metadata keys of the same name. */
export const BUILTIN_FILTER_FIELDS: readonly string[] = ['documentId', 'source'];

/** Most values one `{ in: [...] }` condition may list. */
export const MAX_IN_VALUES = 1024;

/** Range bounds, all numbers or all ISO-8601 strings. */
export interface RangeBounds {
  gt?: number | string;
  gte?: number | string;
  lt?: number | string;
  lte?: number | string;
}

/** One validated condition; a filter is the AND of its conditions. */
export type FilterCondition =
  | { field: string; type: FilterFieldType; op: 'eq'; value: MetadataScalar }
  | { field: string; type: FilterFieldType; op: 'in'; values: MetadataScalar[] }
  | { field: string; type: 'number' | 'string'; op: 'range'; bounds: RangeBounds };

const RANGE_KEYS = ['gt', 'gte', 'lt', 'lte'] as const;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** True for an ISO-8601 date or date-time string such as `2024-05-01` or `2024-05-01T12:00:00Z`. */
export function isIsoDate(value: string): boolean {
  return ISO_DATE.test(value) && !Number.isNaN(Date.parse(value));
}

/** The filter type of a metadata value, or undefined when it is not a filterable scalar (objects, arrays, null, NaN). */
export function scalarTypeOf(value: unknown): FilterFieldType | undefined {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number' && Number.isFinite(value)) return 'number';
  return undefined;
}

/** The error for a metadata field whose type differs from the one the collection already holds. */
export function metadataTypeConflict(field: string, existingType: string, newType: string): ValidationError {
  return new ValidationError(
    `Metadata field '${field}' is ${newType} here but ${existingType} in this collection; use one type per field or rename it`,
    { code: 'METADATA_TYPE_CONFLICT', details: { field, existingType, newType } },
  );
}

/**
 * Filterable metadata fields of a batch of chunks and their types. Keys that do not match
 * {@link FILTERABLE_KEY_PATTERN}, built-in names and non-scalar values are skipped.
 * Throws METADATA_TYPE_CONFLICT when two chunks disagree on a field's type.
 */
export function collectMetadataFieldTypes(chunks: readonly Pick<ChunkRecord, 'metadata'>[]): Map<string, FilterFieldType> {
  const types = new Map<string, FilterFieldType>();
  for (const chunk of chunks) {
    for (const [key, value] of Object.entries(chunk.metadata)) {
      if (!FILTERABLE_KEY_PATTERN.test(key) || BUILTIN_FILTER_FIELDS.includes(key)) continue;
      const type = scalarTypeOf(value);
      if (type === undefined) continue;
      const seen = types.get(key);
      if (seen !== undefined && seen !== type) throw metadataTypeConflict(key, seen, type);
      types.set(key, type);
    }
  }
  return types;
}

/** The filterable scalar value of `key` in `metadata`, or undefined. */
export function filterableValue(metadata: Record<string, unknown>, key: string): MetadataScalar | undefined {
  const value = metadata[key];
  return scalarTypeOf(value) === undefined ? undefined : (value as MetadataScalar);
}

function invalid(field: string, message: string): ValidationError {
  return new ValidationError(`Invalid filter on '${field}': ${message}`, { code: 'INVALID_FILTER', details: { field } });
}

function checkValue(field: string, spec: FilterField, value: unknown): MetadataScalar {
  const type = scalarTypeOf(value);
  if (type === undefined) throw invalid(field, 'values must be strings, finite numbers or booleans');
  if (type !== spec.type) throw invalid(field, `the field holds ${spec.type} values, got ${type}`);
  return value as MetadataScalar;
}

function checkRange(field: string, spec: FilterField, raw: Record<string, unknown>): RangeBounds {
  if (spec.type === 'boolean') throw invalid(field, 'ranges (gt/gte/lt/lte) do not apply to boolean fields');
  const extra = Object.keys(raw).filter((key) => !(RANGE_KEYS as readonly string[]).includes(key));
  if (extra.length > 0) throw invalid(field, `unknown operator(s) ${extra.join(', ')}; use a value, { in: [...] } or gt/gte/lt/lte`);
  const bounds: RangeBounds = {};
  for (const key of RANGE_KEYS) {
    const bound = raw[key];
    if (bound === undefined) continue;
    if (spec.type === 'number') {
      if (typeof bound !== 'number' || !Number.isFinite(bound)) throw invalid(field, `'${key}' must be a finite number`);
    } else if (typeof bound !== 'string' || !isIsoDate(bound)) {
      throw invalid(field, `'${key}' must be an ISO-8601 date string such as 2024-05-01 or 2024-05-01T00:00:00Z`);
    }
    bounds[key] = bound;
  }
  if (Object.keys(bounds).length === 0) throw invalid(field, 'a range needs at least one of gt, gte, lt, lte');
  if (!spec.ranges) throw invalid(field, 'ranges apply only to numbers and ISO-8601 dates; this field holds other strings');
  return bounds;
}

/**
 * Validates `filter` against the collection's filterable `fields` and returns its conditions (AND).
 * Throws ValidationError UNKNOWN_FILTER_FIELD for a field the collection has never stored (the message
 * lists the filterable fields) and INVALID_FILTER for malformed conditions, a type mismatch or a range
 * on a boolean or non-date string.
 */
export function normalizeFilter(filter: MetadataFilter | undefined, fields: ReadonlyMap<string, FilterField>): FilterCondition[] {
  if (filter === undefined) return [];
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    throw new ValidationError('A filter must be an object of field conditions', { code: 'INVALID_FILTER' });
  }
  const conditions: FilterCondition[] = [];
  for (const [field, raw] of Object.entries(filter as Record<string, unknown>)) {
    const spec = fields.get(field);
    if (spec === undefined) {
      const filterable = [...fields.keys()].sort();
      throw new ValidationError(
        `Unknown filter field '${field}'; filterable fields in this collection: ${filterable.join(', ')}`,
        { code: 'UNKNOWN_FILTER_FIELD', details: { field, filterableFields: filterable } },
      );
    }
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
      const object = raw as Record<string, unknown>;
      if ('in' in object) {
        if (Object.keys(object).length !== 1) throw invalid(field, '{ in: [...] } cannot be combined with other operators');
        const list = object.in;
        if (!Array.isArray(list) || list.length === 0) throw invalid(field, '{ in: [...] } needs a non-empty array');
        if (list.length > MAX_IN_VALUES) throw invalid(field, `{ in: [...] } accepts at most ${MAX_IN_VALUES} values`);
        conditions.push({ field, type: spec.type, op: 'in', values: list.map((value: unknown) => checkValue(field, spec, value)) });
      } else {
        const bounds = checkRange(field, spec, object);
        conditions.push({ field, type: spec.type as 'number' | 'string', op: 'range', bounds });
      }
    } else {
      conditions.push({ field, type: spec.type, op: 'eq', value: checkValue(field, spec, raw) });
    }
  }
  return conditions;
}

/** Largest `topK` a search accepts. */
export const MAX_TOP_K = 200;

function assertVector(vector: unknown, dimensions: number, what: string): void {
  if (!(vector instanceof Float32Array) || vector.length !== dimensions) {
    throw new ValidationError(`${what} must be a Float32Array of ${dimensions} dimensions`, { code: 'DIMENSION_MISMATCH', details: { dimensions } });
  }
  if (!vector.every(Number.isFinite)) throw new ValidationError(`${what} holds a non-finite number`, { code: 'INVALID_VECTOR' });
}

/** Checks a replaceDocument batch: one document, unique ids, vectors of the store's dimensions. */
export function assertWritableChunks(documentId: string, chunks: readonly ChunkRecord[], dimensions: number): void {
  if (typeof documentId !== 'string' || documentId.length === 0) throw new ValidationError('documentId must be a non-empty string');
  const ids = new Set<string>();
  for (const chunk of chunks) {
    if (chunk.documentId !== documentId) {
      throw new ValidationError(`Chunk '${chunk.id}' belongs to document '${chunk.documentId}', not '${documentId}'`);
    }
    if (ids.has(chunk.id)) throw new ValidationError(`Chunk id '${chunk.id}' appears twice`, { details: { id: chunk.id } });
    ids.add(chunk.id);
    assertVector(chunk.vector, dimensions, `Vector of chunk '${chunk.id}'`);
  }
}

/** Checks search parameters: mode inputs present, topK in 1..200, query vector of the store's dimensions. */
export function assertSearchParams(params: SearchParams, dimensions: number): void {
  if (!Number.isInteger(params.topK) || params.topK < 1 || params.topK > MAX_TOP_K) {
    throw new ValidationError(`topK must be an integer from 1 to ${MAX_TOP_K}`, { details: { topK: params.topK } });
  }
  if (params.mode !== 'dense' && params.mode !== 'keyword' && params.mode !== 'hybrid') {
    throw new ValidationError(`mode must be dense, keyword or hybrid`, { details: { mode: params.mode } });
  }
  if (params.mode !== 'keyword') assertVector(params.vector, dimensions, `A ${params.mode} search vector`);
  if (params.mode !== 'dense' && (typeof params.text !== 'string' || params.text.trim() === '')) {
    throw new ValidationError(`A ${params.mode} search needs non-empty text`);
  }
}
