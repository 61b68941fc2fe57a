import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { UnprocessableDocumentError, ValidationError } from '../errors/index.js';
import type { Logger } from '../logger.js';
import type { ChunkRecord, Embedder, VectorStore } from '../retrieve/types.js';
import { chunkId } from './ids.js';
import type { Chunker, DocumentParser, IngestJob, IngestResult, IngestStage, ParsedDocument, TextChunk } from './types.js';

/** Bumped whenever parsing/chunking/embedding changes in a way that should re-index identical uploads. */
export const PIPELINE_VERSION = 1;

/** Progress callback: `percent` is 0–100 over the whole job. */
export type ProgressListener = (update: { stage: IngestStage; percent: number }) => void | Promise<void>;

/** Everything the pipeline needs, injected. */
export interface IngestPipelineDeps {
  parserFor: (contentType: string) => DocumentParser;
  chunker: Chunker;
  embedder: Embedder;
  store: VectorStore;
  /** Texts per embedder call; capped at the embedder's maxBatchSize. */
  embedBatchSize: number;
  /** Settings folded into the content hash so a settings change re-indexes identical files. */
  fingerprint: Record<string, unknown>;
  logger: Logger;
}

/** Runs one ingestion job: parse → chunk → embed → atomically replace the document's chunks. */
export class IngestPipeline {
  constructor(private readonly deps: IngestPipelineDeps) {}

  /**
   * Ingests `job`. Identical content (same bytes, source, metadata and pipeline settings) already stored
   * is a no-op. Throws AppErrors: user-category ones must not be retried.
   */
  async run(params: { job: IngestJob; onProgress?: ProgressListener }): Promise<IngestResult> {
    const { job } = params;
    const progress = params.onProgress ?? (() => undefined);
    const { store } = this.deps;

    const contentHash = await this.hashJob(job);
    const existing = await store.getDocument({ collection: job.collection, documentId: job.documentId });
    if (existing && existing.contentHash === contentHash && existing.chunkCount > 0) {
      await progress({ stage: 'done', percent: 100 });
      return { chunks: existing.chunkCount, unchanged: true };
    }

    await progress({ stage: 'parse', percent: 5 });
    const document = await this.parse(job);

    await progress({ stage: 'chunk', percent: 20 });
    const chunks = await this.deps.chunker.chunk({ document });
    if (chunks.length === 0) {
      throw new UnprocessableDocumentError('EMPTY_DOCUMENT', `'${job.source}' contains no text to index`);
    }

    await progress({ stage: 'embed', percent: 25 });
    const vectors = await this.embedAll(chunks, async (done) => {
      await progress({ stage: 'embed', percent: 25 + Math.floor((done / chunks.length) * 65) });
    });

    await progress({ stage: 'upsert', percent: 92 });
    const records: ChunkRecord[] = chunks.map((chunk, index) => ({
      id: chunkId(job.documentId, chunk.chunkIndex),
      documentId: job.documentId,
      source: job.source,
      chunkIndex: chunk.chunkIndex,
      text: chunk.text,
      charStart: chunk.charStart,
      charEnd: chunk.charEnd,
      page: chunk.page,
      headingPath: chunk.headingPath,
      contentHash,
      metadata: job.metadata,
      vector: vectors[index] as Float32Array,
    }));
    await store.replaceDocument({ collection: job.collection, documentId: job.documentId, chunks: records });
    await progress({ stage: 'done', percent: 100 });
    this.deps.logger.debug({ documentId: job.documentId, requestId: job.requestId, chunks: records.length }, 'document indexed');
    return { chunks: records.length, unchanged: false };
  }

  private async parse(job: IngestJob): Promise<ParsedDocument> {
    if (job.text !== undefined) {
      return { sections: [{ text: job.text, charStart: 0 }] };
    }
    if (job.filePath === undefined) {
      throw new ValidationError('An ingestion job needs either a file or text');
    }
    const parser = this.deps.parserFor(job.contentType);
    return parser.parse({ filePath: job.filePath, fileName: job.source, contentType: job.contentType });
  }

  /** Embeds chunk texts in batches, prefixing each with its heading path so section context is searchable. */
  private async embedAll(chunks: TextChunk[], onBatch: (done: number) => Promise<void>): Promise<Float32Array[]> {
    const { embedder } = this.deps;
    const batchSize = Math.max(1, Math.min(this.deps.embedBatchSize, embedder.maxBatchSize));
    const vectors: Float32Array[] = [];
    for (let start = 0; start < chunks.length; start += batchSize) {
      const batch = chunks.slice(start, start + batchSize);
      const texts = batch.map((chunk) => embeddingText(chunk));
      vectors.push(...(await embedder.embed({ texts })));
      await onBatch(Math.min(chunks.length, start + batchSize));
    }
    return vectors;
  }

  /** sha256 over the uploaded bytes plus everything else that changes the indexed result. */
  private async hashJob(job: IngestJob): Promise<string> {
    const hash = createHash('sha256');
    if (job.text !== undefined) {
      hash.update(job.text);
    } else if (job.filePath !== undefined) {
      for await (const piece of createReadStream(job.filePath)) hash.update(piece as Buffer);
    }
    hash.update('\u0000');
    hash.update(stableStringify({ source: job.source, metadata: job.metadata, pipeline: PIPELINE_VERSION, ...this.deps.fingerprint }));
    return hash.digest('hex');
  }
}

/** The text given to the embedder for a chunk: its heading path (context) then its own text. */
export function embeddingText(chunk: Pick<TextChunk, 'text' | 'headingPath'>): string {
  return chunk.headingPath && chunk.headingPath.length > 0 ? `${chunk.headingPath.join(' > ')}\n${chunk.text}` : chunk.text;
}

/** JSON with sorted keys, so equal objects always hash equally. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
