import { createHash } from 'node:crypto';
import { randomInt, seededRandom } from './random.js';
import { splitSentences, type PageText } from './python-docs.js';

/**
 * Documents for corpus sizes beyond what the real pages give: real sentences of the Python docs, recombined.
 * Every document is a title (a real heading) and paragraphs that are runs of 2–5 consecutive sentences of one
 * real page, so chunks read like documentation, never like random strings. Sentences are deduplicated across
 * pages, and a document whose text was already produced is dropped.
 */

/** Bumped when the generator changes, so cached corpora built by an older one are not reused. */
export const SYNTHETIC_GENERATOR_VERSION = 1;

/** Deduplicated prose sentences per page (pages without any are left out) and every heading. */
export interface SentencePool {
  pages: { page: string; sentences: string[] }[];
  headings: string[];
  sentenceCount: number;
}

/** Builds the pool: sentences in page order, each kept only where it first appears. */
export function buildSentencePool(pages: readonly PageText[]): SentencePool {
  const seen = new Set<string>();
  const pool: SentencePool = { pages: [], headings: [], sentenceCount: 0 };
  for (const page of pages) {
    const sentences: string[] = [];
    for (const paragraph of page.paragraphs) {
      for (const sentence of splitSentences(paragraph)) {
        if (seen.has(sentence)) continue;
        seen.add(sentence);
        sentences.push(sentence);
      }
    }
    if (sentences.length >= 2) pool.pages.push({ page: page.page, sentences });
    pool.sentenceCount += sentences.length;
    pool.headings.push(...page.headings);
  }
  return pool;
}

/** One generated document, ready for POST /v1/collections/{c}/documents as JSON. */
export interface SyntheticDocument {
  documentId: string;
  source: string;
  text: string;
}

/**
 * An endless, deterministic sequence of documents of about `charsPerDocument` characters.
 * The same pool and seed always give the same documents in the same order.
 */
export function* syntheticDocuments(pool: SentencePool, options: { seed: number; charsPerDocument: number }): Generator<SyntheticDocument> {
  if (pool.pages.length === 0) throw new Error('the sentence pool is empty: no prose was extracted from the pages');
  const random = seededRandom(options.seed);
  const produced = new Set<string>();
  for (let index = 0; ; index++) {
    const title = pool.headings.length > 0 ? (pool.headings[randomInt(random, pool.headings.length)] as string) : 'Notes';
    const paragraphs: string[] = [];
    let length = title.length;
    while (length < options.charsPerDocument) {
      const page = pool.pages[randomInt(random, pool.pages.length)] as SentencePool['pages'][number];
      const run = 2 + randomInt(random, 4);
      const start = randomInt(random, Math.max(1, page.sentences.length - run + 1));
      const paragraph = page.sentences.slice(start, start + run).join(' ');
      paragraphs.push(paragraph);
      length += paragraph.length + 2;
    }
    const text = `${title}\n\n${paragraphs.join('\n\n')}\n`;
    const digest = createHash('sha256').update(text).digest('hex');
    if (produced.has(digest)) continue;
    produced.add(digest);
    const id = String(index).padStart(6, '0');
    yield { documentId: `synthetic/doc-${id}`, source: `synthetic-${id}.txt`, text };
  }
}
