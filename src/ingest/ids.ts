import { createHash } from 'node:crypto';

/** Deterministic UUID-formatted chunk id: the same document and index always give the same id, in every store. */
export function chunkId(documentId: string, chunkIndex: number): string {
  const hex = createHash('sha256').update(`${documentId}\u0000${chunkIndex}`).digest('hex');
  // Version-5-style layout so stores that require UUIDs (Qdrant) accept it.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

/** Characters allowed in a document id: letters, digits and `._:/@-`, at most 256. */
export const DOCUMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,255}$/;

/**
 * Default document id for an upload without one: the file name (so re-uploading a changed file replaces it),
 * made safe; or, for inline text without a source, a prefix of its content hash.
 */
export function defaultDocumentId(params: { source?: string | undefined; contentHash: string }): string {
  const base = params.source
    ?.normalize('NFKC')
    .replace(/\\/g, '/')
    .split('/')
    .filter((part) => part !== '' && part !== '.' && part !== '..')
    .join('/')
    .replace(/[^A-Za-z0-9._:/@-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 256);
  return base && DOCUMENT_ID_PATTERN.test(base) ? base : `doc-${params.contentHash.slice(0, 24)}`;
}
