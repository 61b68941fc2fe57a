/**
 * Ports of the retrieval stage. Adapters live beside this file, one per backend:
 * `embedders/transformers-embedder.ts`, `rerankers/cross-encoder-reranker.ts`,
 * `stores/lancedb-store.ts`, `stores/qdrant-store.ts`.
 */

/** A value a metadata field may hold and be filtered on. Dates are ISO-8601 strings (compared as text). */
export type MetadataScalar = string | number | boolean;

/** Free-form metadata attached by the uploader; only top-level scalar fields are filterable. */
export type Metadata = Record<string, unknown>;

/** Counts tokens the way the embedding model does, so chunk sizes are measured in model tokens. */
export interface TokenCounter {
  /** Number of model tokens in `text`, special tokens excluded. */
  countTokens(text: string): number;
}

/** Turns text into dense vectors. */
export interface Embedder extends TokenCounter {
  /** The model id, e.g. `Xenova/all-MiniLM-L6-v2`. */
  readonly modelId: string;
  /** Length of every returned vector. */
  readonly dimensions: number;
  /** Largest number of texts one `embed` call accepts; callers batch above it. */
  readonly maxBatchSize: number;
  /** Tokens the model reads per text; longer texts are truncated by the model. */
  readonly maxTokens: number;
  /** Loads the model (once) and runs one forward pass so the first real call is fast. */
  warmup(): Promise<void>;
  /**
   * Embeds `texts` (at most `maxBatchSize`) into L2-normalised vectors (mean pooling), one per input, in order.
   * Throws UpstreamError (code MODEL_UNAVAILABLE) when the model cannot be loaded.
   */
  embed(params: { texts: string[] }): Promise<Float32Array[]>;
}

/** Scores (query, passage) pairs with a cross-encoder. */
export interface Reranker {
  /** The model id. */
  readonly modelId: string;
  /** Largest number of passages one `score` call accepts. */
  readonly maxBatchSize: number;
  /** Loads the model (once) and runs one forward pass. */
  warmup(): Promise<void>;
  /** Relevance score per passage, in input order; higher is more relevant. Scale is model-specific. */
  score(params: { query: string; passages: string[] }): Promise<number[]>;
}

/** Search modes: dense vectors, keyword (BM25-style full text) or both fused with reciprocal rank fusion. */
export type SearchMode = 'dense' | 'keyword' | 'hybrid';

/** A filter on one field: equality, membership or a range (numbers, or ISO-8601 date strings). */
export type FieldFilter =
  | MetadataScalar
  | { in: MetadataScalar[] }
  | { gt?: number | string; gte?: number | string; lt?: number | string; lte?: number | string };

/**
 * Filter applied inside the store (never after retrieval). Keys are `documentId`, `source`,
 * or a top-level metadata field; all conditions must hold (AND).
 */
export type MetadataFilter = Record<string, FieldFilter>;

/** One chunk as written to a store. */
export interface ChunkRecord {
  /** Deterministic id (UUID format) derived from documentId and chunkIndex: re-ingestion overwrites, never duplicates. */
  id: string;
  documentId: string;
  /** Original file name, or the `source` given with text. */
  source: string;
  chunkIndex: number;
  text: string;
  /** Character offsets of `text` in the parsed document text. */
  charStart: number;
  charEnd: number;
  /** 1-based PDF page the chunk starts on. */
  page?: number | undefined;
  /** Headings above the chunk, outermost first (Markdown/HTML). */
  headingPath?: string[] | undefined;
  /** sha256 of the uploaded bytes; identical re-uploads are skipped. */
  contentHash: string;
  /** The uploader's metadata, identical on every chunk of a document. */
  metadata: Metadata;
  vector: Float32Array;
}

/** A search hit. `score` is higher-is-better; its scale depends on mode (cosine for dense, RRF for hybrid). */
export interface ScoredChunk {
  id: string;
  documentId: string;
  source: string;
  chunkIndex: number;
  text: string;
  charStart: number;
  charEnd: number;
  page?: number | undefined;
  headingPath?: string[] | undefined;
  metadata: Metadata;
  score: number;
}

/** What a store knows of one document. */
export interface DocumentInfo {
  documentId: string;
  source: string;
  contentHash: string;
  metadata: Metadata;
  chunkCount: number;
}

/** Parameters of a search. */
export interface SearchParams {
  collection: string;
  mode: SearchMode;
  /** Query embedding; required for `dense` and `hybrid`. */
  vector?: Float32Array;
  /** Query text; required for `keyword` and `hybrid`. */
  text?: string;
  /** Number of hits to return (1–200). */
  topK: number;
  filter?: MetadataFilter;
}

/**
 * Stores chunks per collection (collections are isolated: a search never sees another collection).
 * Collections are created on first write; searching a collection that does not exist returns no hits.
 */
export interface VectorStore {
  /** Backend name for logs and /readyz, e.g. `lancedb`. */
  readonly name: string;
  /**
   * Atomically replaces every chunk of `documentId` with `chunks` (all of the same document).
   * After it resolves, searches see only the new chunks; if it throws, the old chunks remain.
   * Throws ValidationError (code METADATA_TYPE_CONFLICT) when a metadata field's type differs from the collection's.
   */
  replaceDocument(params: { collection: string; documentId: string; chunks: ChunkRecord[] }): Promise<void>;
  /** Removes every chunk of the document; returns how many were removed (0 when unknown). */
  deleteDocument(params: { collection: string; documentId: string }): Promise<number>;
  /** Document summary, or null when the collection or document does not exist. */
  getDocument(params: { collection: string; documentId: string }): Promise<DocumentInfo | null>;
  /**
   * Searches one collection. Throws ValidationError (code UNKNOWN_FILTER_FIELD) for a filter on a field
   * the collection has never stored, and (code INVALID_FILTER) for a range on a non-range field.
   */
  search(params: SearchParams): Promise<ScoredChunk[]>;
  /** Resolves when the backend is reachable; throws UpstreamError otherwise. */
  health(): Promise<void>;
  /** Releases connections and file handles. */
  close(): Promise<void>;
}
