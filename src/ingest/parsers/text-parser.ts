import { readFile } from 'node:fs/promises';
import { UnprocessableDocumentError, ValidationError } from '../../errors/index.js';
import type { DocumentParser, ParsedDocument, ParseInput } from '../types.js';
import { assembleDocument, normalisePreformatted, type SectionDraft } from './sections.js';

/** Options of {@link TextParser}. */
export interface TextParserOptions {
  /** Texts longer than this many characters are split into sections at blank lines. Default 200,000. */
  maxSectionChars?: number;
}

/**
 * Reads a file as UTF-8, rejecting invalid bytes with ValidationError (code INVALID_ENCODING).
 * The BOM, if any, is dropped. Shared by the text-based parsers.
 */
export async function readUtf8File(filePath: string, fileName: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(filePath);
  } catch (error) {
    throw new UnprocessableDocumentError('UNREADABLE_DOCUMENT', `'${fileName}' could not be read from storage`, { cause: error, retryable: true });
  }
  try {
    // fatal: throw on malformed bytes instead of inserting U+FFFD; the default ignoreBOM=false strips a BOM.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new ValidationError(`'${fileName}' is not valid UTF-8 text; convert it to UTF-8 and upload it again`, {
      code: 'INVALID_ENCODING',
      details: { file: fileName },
      cause: error,
    });
  }
}

/**
 * Splits `text` at blank lines ("\n\n") into pieces of at most about `maxChars`, so that joining the
 * pieces with "\n\n" gives `text` back exactly. A piece without a blank line in reach stays whole.
 */
export function splitAtBlankLines(text: string, maxChars: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (text.length - start > maxChars) {
    let cut = text.lastIndexOf('\n\n', start + maxChars);
    if (cut <= start) cut = text.indexOf('\n\n', start + maxChars);
    if (cut === -1) break;
    pieces.push(text.slice(start, cut));
    start = cut + 2;
  }
  pieces.push(text.slice(start));
  return pieces;
}

/** Parses plain UTF-8 text (also used for .rst, .csv, .json and .log files). */
export class TextParser implements DocumentParser {
  readonly contentTypes = ['text/plain'] as const;
  private readonly maxSectionChars: number;

  constructor(options: TextParserOptions = {}) {
    this.maxSectionChars = options.maxSectionChars ?? 200_000;
  }

  async parse(input: ParseInput): Promise<ParsedDocument> {
    const text = normalisePreformatted(await readUtf8File(input.filePath, input.fileName));
    const sections: SectionDraft[] = splitAtBlankLines(text, this.maxSectionChars).map((piece) => ({ text: piece }));
    return assembleDocument(sections, undefined, input.fileName);
  }
}
