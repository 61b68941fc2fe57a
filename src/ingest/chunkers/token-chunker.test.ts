import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TokenCounter } from '../../retrieve/types.js';
import { detectContentType, parserFor } from '../parsers/index.js';
import type { ParsedDocument, TextChunk } from '../types.js';
import { TokenChunker } from './token-chunker.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const FIXTURES = path.join(ROOT, 'fixtures/documents');
const MODEL_ID = 'Xenova/all-MiniLM-L6-v2';

/** The embedding model's real tokenizer, counting whole texts (not word by word) so the chunker's shortcut is checked. */
let realCounter: TokenCounter;
beforeAll(async () => {
  env.allowRemoteModels = false;
  env.localModelPath = process.env.MODELS_DIR ?? path.join(ROOT, 'models');
  const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(MODEL_ID);
  realCounter = { countTokens: (text) => tokenizer.encode(text, { add_special_tokens: false }).length };
});

function documentText(document: ParsedDocument): string {
  return document.sections.map((section) => section.text).join('\n\n');
}

function sectionDocument(...texts: string[]): ParsedDocument {
  let offset = 0;
  return {
    sections: texts.map((text, index) => {
      const section = { text, charStart: offset, page: index + 1 };
      offset += text.length + 2;
      return section;
    }),
  };
}

/** Every property the pipeline relies on, checked with `counter`. */
function expectValidChunks(document: ParsedDocument, chunks: TextChunk[], counter: TokenCounter, limit: number): void {
  const text = documentText(document);
  expect(chunks.length).toBeGreaterThan(0);
  chunks.forEach((chunk, index) => {
    expect(chunk.chunkIndex).toBe(index);
    expect(text.slice(chunk.charStart, chunk.charEnd)).toBe(chunk.text);
    expect(chunk.text.trim()).toBe(chunk.text);
    expect(counter.countTokens(chunk.text)).toBeLessThanOrEqual(limit);
    const section = document.sections.find((candidate) => candidate.charStart <= chunk.charStart && chunk.charStart < candidate.charStart + candidate.text.length);
    expect(section, `chunk ${index} lies in a section`).toBeDefined();
    expect(chunk.charEnd).toBeLessThanOrEqual((section?.charStart ?? 0) + (section?.text.length ?? 0));
    expect(chunk.page).toBe(section?.page);
    expect(chunk.headingPath).toEqual(section?.headingPath);
  });
}

/** Deterministic prose with varied words, long enough to need word-level splits. */
function prose(sentences: number, seed = 7): string {
  const words = ['the', 'shipment', 'carrier', 'depot', 'parcel', 'tracking', 'webhook', 'retries', 'exponential', 'backoff',
    'authentication', 'token', 'expires', 'pagination', 'cursor', 'idempotency', 'key', 'rate', 'limit', 'customs', 'déclaration', '2024-05-01', 'C++', 'e.g.'];
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  return Array.from({ length: sentences }, () => {
    const length = 6 + (next() % 12);
    const sentence = Array.from({ length }, () => words[next() % words.length]).join(' ');
    return `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`;
  }).join(' ');
}

describe('TokenChunker', () => {
  const fixtures = ['employee-handbook.pdf', 'shipment-api-guide.md', 'security-incident-process.html', 'oncall-runbook.txt', 'travel-expense-policy.docx']
    .filter((name) => existsSync(path.join(FIXTURES, name)));

  it.each(fixtures)('chunks %s within the limit in real tokens, with exact offsets, never across sections', async (name) => {
    const filePath = path.join(FIXTURES, name);
    const contentType = detectContentType({ fileName: name, head: readFileSync(filePath).subarray(0, 8192) });
    const document = await parserFor(contentType).parse({ filePath, fileName: name, contentType });
    const chunker = new TokenChunker({ tokenCounter: realCounter, chunkSizeTokens: 64, overlapTokens: 16 });
    const chunks = await chunker.chunk({ document });
    expectValidChunks(document, chunks, realCounter, 64);
    expect(chunks.length).toBeGreaterThanOrEqual(document.sections.length);
  });

  it('overlaps consecutive chunks of a long paragraph by at most overlapTokens', async () => {
    const document = sectionDocument(prose(80));
    const chunks = await new TokenChunker({ tokenCounter: realCounter, chunkSizeTokens: 50, overlapTokens: 12 }).chunk({ document });
    expectValidChunks(document, chunks, realCounter, 50);
    expect(chunks.length).toBeGreaterThan(10);
    const text = documentText(document);
    for (let index = 1; index < chunks.length; index += 1) {
      const previous = chunks[index - 1] as TextChunk;
      const current = chunks[index] as TextChunk;
      expect(current.charStart).toBeGreaterThan(previous.charStart);
      expect(current.charStart).toBeLessThan(previous.charEnd);
      const shared = realCounter.countTokens(text.slice(current.charStart, previous.charEnd));
      expect(shared).toBeGreaterThan(0);
      expect(shared).toBeLessThanOrEqual(12);
    }
    // Chunks fill up: all but the last are close to the limit.
    for (const chunk of chunks.slice(0, -1)) expect(realCounter.countTokens(chunk.text)).toBeGreaterThan(35);
  });

  it('never merges two sections into one chunk, and skips empty ones', async () => {
    const document = sectionDocument('First page, short.', '   ', 'Second page, also short.');
    document.sections[0]!.headingPath = ['A'];
    const chunks = await new TokenChunker({ tokenCounter: realCounter, chunkSizeTokens: 200, overlapTokens: 30 }).chunk({ document });
    expect(chunks.map((chunk) => [chunk.chunkIndex, chunk.text, chunk.page, chunk.headingPath])).toEqual([
      [0, 'First page, short.', 1, ['A']],
      [1, 'Second page, also short.', 3, undefined],
    ]);
  });

  it('splits text without spaces (CJK, long identifiers) within the limit', async () => {
    const cjk = '東京都の物流センターでは毎日多くの荷物が処理されます。'.repeat(40);
    const identifier = Array.from({ length: 300 }, (_, i) => `segment${i}`).join('_');
    const document = sectionDocument(cjk, identifier);
    const chunks = await new TokenChunker({ tokenCounter: realCounter, chunkSizeTokens: 32, overlapTokens: 4 }).chunk({ document });
    expectValidChunks(document, chunks, realCounter, 32);
  });

  it('bounds chunks of a blob that the tokenizer sees as one [UNK] token', async () => {
    const blob = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 256)).toString('hex');
    expect(realCounter.countTokens(blob)).toBe(1);
    const document = sectionDocument(`Attachment follows: ${blob} end of attachment.`);
    const chunks = await new TokenChunker({ tokenCounter: realCounter, chunkSizeTokens: 32, overlapTokens: 4 }).chunk({ document });
    expectValidChunks(document, chunks, realCounter, 32);
    for (const chunk of chunks) expect(chunk.text.length).toBeLessThanOrEqual(32 * 24);
  });

  it('keeps the limit with a tokenizer whose counts are not additive over words', async () => {
    // Counts every character, spaces included: the word-sum estimate undercounts, the safety net must re-split.
    const characterCounter: TokenCounter = { countTokens: (text) => text.length };
    const document = sectionDocument(prose(30), 'line one\nline two\n\nparagraph two with words');
    const chunks = await new TokenChunker({ tokenCounter: characterCounter, chunkSizeTokens: 40, overlapTokens: 8 }).chunk({ document });
    expectValidChunks(document, chunks, characterCounter, 40);
  });

  it('refuses an overlap as large as the chunk', () => {
    expect(() => new TokenChunker({ tokenCounter: realCounter, chunkSizeTokens: 10, overlapTokens: 10 })).toThrow(/overlapTokens/);
  });
});
