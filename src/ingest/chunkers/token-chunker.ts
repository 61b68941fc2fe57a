import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import { AppError } from '../../errors/index.js';
import type { TokenCounter } from '../../retrieve/types.js';
import type { Chunker, ParsedDocument, ParsedSection, TextChunk } from '../types.js';

/** Options of {@link TokenChunker}. */
export interface TokenChunkerOptions {
  /** Counts tokens as the embedding model does. */
  tokenCounter: TokenCounter;
  /** Largest chunk, in model tokens (special tokens excluded). */
  chunkSizeTokens: number;
  /** Tokens shared by consecutive chunks of a section, at most; smaller than `chunkSizeTokens`. */
  overlapTokens: number;
}

/** Separators tried in order: paragraphs, lines, words, then characters as the last resort. */
const SEPARATORS = ['\n\n', '\n', ' ', ''];
const WHITESPACE_RUN = /\s+/;
/**
 * A word counts as at least one token per this many characters. BERT-style tokenizers turn any word over
 * 100 characters into a single [UNK], so without this floor a base64 blob or minified line would become a
 * one-"token" chunk of unbounded length. Real vocabulary tokens are far shorter, so ordinary text is unaffected.
 */
const MAX_CHARS_PER_TOKEN = 24;
/** Words longer than this are counted directly instead of being remembered. */
const MAX_CACHED_WORD_CHARS = 64;
const MAX_CACHED_WORDS = 200_000;

/**
 * Splits each section separately with LangChain's RecursiveCharacterTextSplitter, measuring length in
 * embedding-model tokens, so a chunk never spans two pages or two heading sections.
 *
 * Speed: the splitter measures every candidate piece (a paragraph, then its lines, then its words), so
 * counting each piece with the tokenizer would re-tokenize the text several times over. Instead a piece's
 * length is the sum of the token counts of its whitespace-separated words, each counted once and
 * remembered — exact for WordPiece/BERT tokenizers (which split at whitespace first) and close for others.
 * Every finished chunk is then counted for real, and a chunk over the limit (possible only with tokenizers
 * that merge across spaces) is split again with a tighter budget, so the limit holds in real tokens.
 */
export class TokenChunker implements Chunker {
  private readonly tokenCounter: TokenCounter;
  private readonly chunkSizeTokens: number;
  private readonly overlapTokens: number;

  constructor(options: TokenChunkerOptions) {
    const { chunkSizeTokens, overlapTokens } = options;
    if (!Number.isInteger(chunkSizeTokens) || chunkSizeTokens < 1) {
      throw new AppError('INVALID_CHUNKING', 'system', `chunkSizeTokens must be a positive integer, got ${chunkSizeTokens}`);
    }
    if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= chunkSizeTokens) {
      throw new AppError('INVALID_CHUNKING', 'system', `overlapTokens must be an integer from 0 to chunkSizeTokens - 1, got ${overlapTokens}`);
    }
    this.tokenCounter = options.tokenCounter;
    this.chunkSizeTokens = chunkSizeTokens;
    this.overlapTokens = overlapTokens;
  }

  async chunk(params: { document: ParsedDocument }): Promise<TextChunk[]> {
    const wordTokens = new Map<string, number>();
    const estimate = (text: string): number => this.estimateTokens(text, wordTokens);
    const chunks: TextChunk[] = [];
    let lastYield = performance.now();
    for (const section of params.document.sections) {
      if (section.text.trim() === '') continue;
      // Splitting is synchronous work; let the HTTP server breathe between sections of a big document.
      if (performance.now() - lastYield > 20) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      for (const piece of await this.splitSection(section.text, this.chunkSizeTokens, estimate)) {
        chunks.push(toChunk(section, piece, chunks.length));
      }
    }
    return chunks;
  }

  /** Chunk texts of one section with their offsets in it, each within `limit` real tokens. */
  private async splitSection(text: string, limit: number, estimate: (text: string) => number): Promise<{ text: string; start: number }[]> {
    const splitter = new RecursiveCharacterTextSplitter({
      chunkSize: limit,
      chunkOverlap: Math.min(this.overlapTokens, limit - 1),
      separators: SEPARATORS,
      keepSeparator: true,
      lengthFunction: estimate,
    });
    const pieces: { text: string; start: number }[] = [];
    let searchFrom = 0;
    for (const piece of await splitter.splitText(text)) {
      // Pieces are trimmed runs of the section, in order; overlap means the next one may start before the previous end.
      let start = text.indexOf(piece, searchFrom);
      if (start === -1) start = text.indexOf(piece);
      if (start === -1) throw new AppError('CHUNK_OFFSET_NOT_FOUND', 'system', 'A chunk is not a substring of its section');
      searchFrom = start + 1;
      // At a budget of 1 the pieces are single characters and cannot be split further.
      if (limit <= 1 || this.tokenCounter.countTokens(piece) <= this.chunkSizeTokens) {
        pieces.push({ text: piece, start });
        continue;
      }
      // The estimate undercounted (a tokenizer merging across spaces): split this piece again, tighter.
      for (const smaller of await this.splitSection(piece, Math.max(1, Math.floor(limit * 0.8)), estimate)) {
        pieces.push({ text: smaller.text, start: start + smaller.start });
      }
    }
    return pieces;
  }

  /** Sum of the token counts of the whitespace-separated words of `text` (see the class comment). */
  private estimateTokens(text: string, wordTokens: Map<string, number>): number {
    let total = 0;
    for (const word of text.split(WHITESPACE_RUN)) {
      if (word === '') continue;
      if (word.length > MAX_CACHED_WORD_CHARS) {
        total += Math.max(this.tokenCounter.countTokens(word), Math.ceil(word.length / MAX_CHARS_PER_TOKEN));
        continue;
      }
      let count = wordTokens.get(word);
      if (count === undefined) {
        count = this.tokenCounter.countTokens(word);
        if (wordTokens.size >= MAX_CACHED_WORDS) wordTokens.clear();
        wordTokens.set(word, count);
      }
      total += count;
    }
    return total;
  }
}

function toChunk(section: ParsedSection, piece: { text: string; start: number }, chunkIndex: number): TextChunk {
  const charStart = section.charStart + piece.start;
  const chunk: TextChunk = { text: piece.text, chunkIndex, charStart, charEnd: charStart + piece.text.length };
  if (section.page !== undefined) chunk.page = section.page;
  if (section.headingPath !== undefined) chunk.headingPath = section.headingPath;
  return chunk;
}
