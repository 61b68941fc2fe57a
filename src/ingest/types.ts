import { z } from 'zod';

/**
 * Ports of the ingestion stage: parse → chunk → (embed, upsert via retrieve ports).
 * Adapters: `parsers/*-parser.ts`, `chunkers/token-chunker.ts`, `queues/in-process-queue.ts`, `queues/bullmq-queue.ts`.
 */

/** A run of parsed text sharing one location (a PDF page, a heading section). */
export interface ParsedSection {
  /** Plain text of the section, whitespace normalised, no markup. */
  text: string;
  /** Offset of `text` in the whole document text (sections joined by "\n\n"). */
  charStart: number;
  /** 1-based page number (PDF only). */
  page?: number | undefined;
  /** Headings enclosing the section, outermost first (Markdown/HTML/DOCX). */
  headingPath?: string[] | undefined;
}

/** A parsed document: ordered sections whose texts, joined by "\n\n", form the document text. */
export interface ParsedDocument {
  sections: ParsedSection[];
  /** Title found in the document (HTML <title>, first H1, PDF info), if any. */
  title?: string | undefined;
}

/** The input of a parser: a file on disk (streamed, never fully copied more than needed). */
export interface ParseInput {
  filePath: string;
  /** Original file name, used for the extension when the content type is vague. */
  fileName: string;
  /** Media type as detected by the caller (see `parsers/index.ts`). */
  contentType: string;
}

/** Turns one format into plain sections. */
export interface DocumentParser {
  /** Media types this parser handles, e.g. `application/pdf`. */
  readonly contentTypes: readonly string[];
  /**
   * Parses the file. Throws UnprocessableDocumentError for unreadable or text-less input
   * (code NO_EXTRACTABLE_TEXT for a PDF without a text layer), never a raw library error.
   */
  parse(input: ParseInput): Promise<ParsedDocument>;
}

/** One chunk of text with where it came from. */
export interface TextChunk {
  text: string;
  chunkIndex: number;
  charStart: number;
  charEnd: number;
  page?: number | undefined;
  headingPath?: string[] | undefined;
}

/** Splits a parsed document into chunks measured in embedding-model tokens. */
export interface Chunker {
  /** Chunks in document order with contiguous `chunkIndex` from 0. Empty sections yield nothing. */
  chunk(params: { document: ParsedDocument }): Promise<TextChunk[]>;
}

/** The payload of one ingestion job, validated when enqueued and again when a worker picks it up. */
export const ingestJobSchema = z.object({
  collection: z.string(),
  documentId: z.string(),
  source: z.string(),
  contentType: z.string(),
  /** The upload, stored under UPLOAD_DIR; deleted when the job completes. */
  filePath: z.string().optional(),
  /** Inline text for JSON uploads. */
  text: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).default({}),
  requestId: z.string().optional(),
  enqueuedAt: z.string(),
});

/** One ingestion job's input. */
export type IngestJob = z.infer<typeof ingestJobSchema>;

/** States of a job as the API reports them. */
export type JobState = 'queued' | 'active' | 'completed' | 'failed';

/** Stage names reported in progress, in order. */
export type IngestStage = 'parse' | 'chunk' | 'embed' | 'upsert' | 'done';

/** Why a completed job wrote nothing; `code` is a stable UPPER_SNAKE identifier (new codes may be added). */
export interface JobSkip {
  /** DOCUMENT_DELETED: the document was deleted after this job was enqueued. */
  code: string;
  message: string;
}

/** The skip of a job enqueued before a DELETE of its document. */
export const DOCUMENT_DELETED_SKIP: JobSkip = Object.freeze({
  code: 'DOCUMENT_DELETED',
  message: 'The document was deleted after this job was enqueued; nothing of this upload is indexed',
});

/** What a completed job produced. */
export interface IngestResult {
  chunks: number;
  /** True when identical content was already stored and nothing was written. */
  unchanged: boolean;
  /** Set when the job completed without indexing its content (then `chunks` is 0). */
  skipped?: JobSkip | undefined;
}

/** A job as `GET /v1/jobs/{id}` reports it. */
export interface JobStatus {
  jobId: string;
  documentId: string;
  collection: string;
  source: string;
  state: JobState;
  /** 0–100. */
  progress: number;
  stage?: IngestStage | undefined;
  chunks?: number | undefined;
  unchanged?: boolean | undefined;
  /** Set on a completed job that indexed nothing, e.g. `DOCUMENT_DELETED`. */
  skipped?: JobSkip | undefined;
  error?: { code: string; message: string } | undefined;
  attempts: number;
  createdAt: string;
  finishedAt?: string | undefined;
}

/** Which uploads under UPLOAD_DIR jobs still need; both queues implement it, the upload sweep (upload-sweeper.ts) reads it. */
export interface UploadReferences {
  /**
   * File names (no directory) of the uploads of every job that may still run: queued, running, or failed and kept
   * for retry. One consistent snapshot: a job moving between states meanwhile is never missed. Throws when the
   * queue cannot be read (then nothing may be removed).
   */
  uploadsInUse(): Promise<Set<string>>;
}

/** Accepts jobs and reports their state; the embedded runner or BullMQ. */
export interface IngestQueue {
  /** Enqueues jobs in order; throws RateLimitedError (code OVERLOADED) when the queue is at MAX_QUEUE_DEPTH. */
  enqueue(params: { jobs: IngestJob[] }): Promise<{ jobId: string; documentId: string }[]>;
  /** The job, or null when unknown. */
  getJob(params: { jobId: string }): Promise<JobStatus | null>;
  /**
   * Most recent jobs first, optionally in one state and only of some collections; `limit` (default 100) counts jobs
   * that match, so jobs of other collections never crowd out the ones asked for. BullMQ looks at most
   * LIST_SCAN_LIMIT jobs of each BullMQ state for matches.
   */
  listJobs(params: { state?: JobState; limit?: number; collections?: readonly string[] | undefined }): Promise<JobStatus[]>;
  /** Re-queues a failed job; throws NotFoundError, or ValidationError (code JOB_NOT_FAILED). */
  retryJob(params: { jobId: string }): Promise<JobStatus>;
  /** Number of jobs waiting or running. */
  depth(): Promise<number>;
  /**
   * Deletes a document against concurrent ingestion: every job of it enqueued before this call indexes nothing
   * (queued ones complete with `skipped.code` DOCUMENT_DELETED, a running one stops at its next progress point),
   * `deleteChunks` (the store delete) runs while no job of the document can write, and jobs enqueued during
   * the call run after it. Waits at most the adapter's `deleteWaitMs` (default 30 s) for a running job to stop,
   * then throws RateLimitedError (OVERLOADED); the cancellation stands, so repeating the call completes it.
   * Returns the chunks removed and the jobs cancelled (queued or running ones, not failed ones).
   */
  deleteDocument(params: { collection: string; documentId: string; deleteChunks: () => Promise<number> }): Promise<{ deletedChunks: number; cancelledJobs: number }>;
  /** Stops accepting jobs and waits (bounded) for running ones. */
  close(): Promise<void>;
}
