import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError, ValidationError } from '../../errors/index.js';
import { defaultDocumentId } from '../../ingest/ids.js';
import { detectContentType } from '../../ingest/parsers/index.js';
import type { IngestJob } from '../../ingest/types.js';
import { assertPdfInflatesWithinBudget } from '../pdf-inflate-guard.js';
import type { HandlerDeps } from './deps.js';

/** One uploaded file as the HTTP layer stored it under UPLOAD_DIR. */
export interface UploadedFile {
  path: string;
  originalName: string;
  declaredType: string | undefined;
  size: number;
}

/** Accepted uploads become one job each. */
export interface IngestOutput {
  jobs: { jobId: string; documentId: string }[];
}

/**
 * Enqueues uploaded files. Every file is checked (non-empty, supported type) before anything is enqueued,
 * so a bad file in a batch rejects the whole request and leaves no jobs behind.
 */
export async function ingestFiles(
  deps: HandlerDeps,
  input: { collection: string; files: UploadedFile[]; documentId?: string | undefined; metadata: Record<string, unknown>; requestId: string },
): Promise<IngestOutput> {
  try {
    if (input.files.length === 0) throw new ValidationError('Send at least one file in the multipart field "file"', { code: 'NO_FILE' });
    if (input.documentId !== undefined && input.files.length > 1) {
      throw new ValidationError('documentId can only be given with a single file', { code: 'DOCUMENT_ID_WITH_MANY_FILES' });
    }
    const jobs: IngestJob[] = [];
    for (const file of input.files) {
      const source = safeSourceName(file.originalName);
      if (file.size === 0) throw new ValidationError(`File '${source}' is empty`, { code: 'EMPTY_FILE', details: { file: source } });
      const head = await readHead(file.path, 8192);
      const contentType = detectContentType({ fileName: source, declaredType: file.declaredType, head });
      // Refuse undecodable text now (400) rather than as a failed job later.
      if (contentType.startsWith('text/')) await assertUtf8File(file.path, source);
      if (contentType === 'application/pdf') await assertPdfInflatesWithinBudget({ filePath: file.path, fileName: source });
      jobs.push({
        collection: input.collection,
        documentId: input.documentId ?? defaultDocumentId({ source, contentHash: await hashFile(file.path) }),
        source,
        contentType,
        filePath: file.path,
        metadata: input.metadata,
        requestId: input.requestId,
        enqueuedAt: new Date().toISOString(),
      });
    }
    return { jobs: await deps.queue.enqueue({ jobs }) };
  } catch (error) {
    await Promise.all(input.files.map((file) => rm(file.path, { force: true })));
    throw error;
  }
}

/** Enqueues inline text. */
export async function ingestText(
  deps: HandlerDeps,
  input: { collection: string; text: string; source?: string | undefined; documentId?: string | undefined; metadata: Record<string, unknown>; requestId: string },
): Promise<IngestOutput> {
  if (input.text.trim() === '') throw new ValidationError('text must contain more than whitespace', { code: 'EMPTY_TEXT' });
  const contentHash = createHash('sha256').update(input.text).digest('hex');
  const source = input.source ?? `text-${contentHash.slice(0, 12)}`;
  const job: IngestJob = {
    collection: input.collection,
    documentId: input.documentId ?? defaultDocumentId({ source: input.source, contentHash }),
    source,
    contentType: 'text/plain',
    text: input.text,
    metadata: input.metadata,
    requestId: input.requestId,
    enqueuedAt: new Date().toISOString(),
  };
  return { jobs: await deps.queue.enqueue({ jobs: [job] }) };
}

/** A document's summary, or 404. */
export async function getDocument(deps: HandlerDeps, input: { collection: string; documentId: string }) {
  const info = await deps.store.getDocument(input);
  if (!info) throw new NotFoundError('document', input.documentId, { details: { collection: input.collection } });
  return { ...info, collection: input.collection };
}

/**
 * Removes every chunk of a document and cancels its queued and running jobs, so none of them indexes it again
 * afterwards (see IngestQueue.deleteDocument); 404 when there was neither a chunk nor a pending job.
 */
export async function deleteDocument(deps: HandlerDeps, input: { collection: string; documentId: string }) {
  const { deletedChunks, cancelledJobs } = await deps.queue.deleteDocument({ ...input, deleteChunks: () => deps.store.deleteDocument(input) });
  if (deletedChunks === 0 && cancelledJobs === 0) throw new NotFoundError('document', input.documentId, { details: { collection: input.collection } });
  return { documentId: input.documentId, deletedChunks, cancelledJobs };
}

/** The file name without any directory part or control characters (never used as a path). */
export function safeSourceName(originalName: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = path.posix.basename(originalName.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? 'upload' : cleaned.slice(0, 255);
}

async function readHead(filePath: string, bytes: number): Promise<Buffer> {
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Streams the file through a fatal UTF-8 decoder; throws ValidationError (code INVALID_ENCODING) at the first bad byte. */
async function assertUtf8File(filePath: string, fileName: string): Promise<void> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const handle = await open(filePath, 'r');
  try {
    for await (const piece of handle.createReadStream()) decoder.decode(piece as Buffer, { stream: true });
    decoder.decode();
  } catch (error) {
    // TextDecoder signals malformed input with a TypeError; anything else is an I/O failure.
    if (!(error instanceof TypeError)) throw error;
    throw new ValidationError(`'${fileName}' is not valid UTF-8 text; convert it to UTF-8 and upload it again`, {
      code: 'INVALID_ENCODING',
      details: { file: fileName },
      cause: error,
    });
  } finally {
    await handle.close();
  }
}

async function hashFile(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(filePath, 'r');
  try {
    for await (const piece of handle.createReadStream()) hash.update(piece as Buffer);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
