import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { PDFParse } from 'pdf-parse';
import { AppError, PayloadTooLargeError, UnprocessableDocumentError } from '../../errors/index.js';
import type { DocumentParser, ParsedDocument, ParseInput } from '../types.js';
import { assembleDocument, assertWithinCharLimit, DEFAULT_MAX_CHARS, normaliseProse, type SectionDraft } from './sections.js';

/** Options of {@link PdfParser}. */
export interface PdfParserOptions {
  /** Extraction stops with PayloadTooLargeError past this many characters (decompression bombs). Default 50,000,000. */
  maxChars?: number;
  /** Documents with more pages are refused with PayloadTooLargeError before extraction. Default 20,000. */
  maxPages?: number;
  /**
   * Pages extracted per pdf.js call. The event loop gets a turn between calls (pdf.js runs on the main
   * thread under Node), and extraction stops at most this many pages past `maxChars`. Default 4.
   */
  pagesPerBatch?: number;
}

/** A page number: arabic, or lowercase roman up to xxxix as front matter uses (so that words like "mild" survive). */
const PAGE_NUMBER = String.raw`(?:\d{1,5}|(?=[ivx])x{0,3}(?:ix|iv|v?i{0,3}))`;
/** A first or last line that is only a page number, with its line break. */
const PAGE_NUMBER_LINE = new RegExp(String.raw`^${PAGE_NUMBER}(?:\n|$)|\n${PAGE_NUMBER}$`, 'g');

/**
 * Tidies one page of pdf.js text: cell tabs become spaces, spacing is normalised, table-of-contents
 * dot leaders shrink to "...", a lone page number on the first or last line goes, and words hyphenated
 * across a line break are joined ("gram-\nmar" → "grammar"), except where the page itself spells the
 * word with a hyphen ("self-\ncontained" stays "self-contained").
 */
export function normalisePageText(raw: string): string {
  const text = normaliseProse(raw.replace(/\u00ad\n?/g, '').replace(/[ \t]?(?:\.[ \t]?){4,}/g, ' ... '))
    .replace(PAGE_NUMBER_LINE, '')
    .trim();
  // Checking the page's own spelling costs a scan per hyphen; skip it on absurdly large pages.
  const checkSpelling = text.length < 200_000;
  // The lookbehind anchors matches at word starts, keeping the scan linear on long runs of letters.
  return text.replace(/(?<!\p{L})(\p{L}+)-\n(\p{Ll}\p{L}*)/gu, (_match, left: string, right: string) =>
    checkSpelling && text.includes(`${left}-${right}`) && !text.includes(`${left}${right}`) ? `${left}-${right}` : `${left}${right}`,
  );
}

/** Parses PDFs with pdf.js (through pdf-parse): one section per page, `page` 1-based. No OCR. */
export class PdfParser implements DocumentParser {
  readonly contentTypes = ['application/pdf'] as const;
  private readonly maxChars: number;
  private readonly maxPages: number;
  private readonly pagesPerBatch: number;

  constructor(options: PdfParserOptions = {}) {
    this.maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
    this.maxPages = options.maxPages ?? 20_000;
    this.pagesPerBatch = options.pagesPerBatch ?? 4;
  }

  async parse(input: ParseInput): Promise<ParsedDocument> {
    // A file URL makes pdf.js stream the file from disk instead of us holding a second copy of its bytes.
    const pdf = new PDFParse({ url: pathToFileURL(input.filePath), stopAtErrors: false, isEvalSupported: false });
    try {
      const info = await pdf.getInfo();
      if (info.total > this.maxPages) {
        throw new PayloadTooLargeError(
          `'${input.fileName}' has ${info.total} pages; at most ${this.maxPages} are accepted. Split it into smaller documents`,
          { details: { file: input.fileName, pages: info.total, maxPages: this.maxPages } },
        );
      }
      const drafts: SectionDraft[] = [];
      let chars = 0;
      for (let first = 1; first <= info.total; first += this.pagesPerBatch) {
        const last = Math.min(info.total, first + this.pagesPerBatch - 1);
        // A first..last range rather than `partial` (pdf-parse tests `partial.includes(n)` for every page of every call).
        await yieldToEventLoop();
        const result = await pdf.getText({ first, last });
        for (const page of result.pages) {
          chars += page.text.length;
          assertWithinCharLimit(chars, this.maxChars, input.fileName);
          drafts.push({ text: normalisePageText(page.text), page: page.num });
        }
      }
      if (drafts.every((draft) => draft.text === '')) {
        throw new UnprocessableDocumentError(
          'NO_EXTRACTABLE_TEXT',
          'The PDF has no extractable text layer (it is probably scanned); this service does not run OCR yet',
          { details: { file: input.fileName, pages: info.total } },
        );
      }
      const title = typeof info.info?.Title === 'string' ? info.info.Title : undefined;
      return assembleDocument(drafts, title, input.fileName);
    } catch (error) {
      throw toParseError(error, input.fileName);
    } finally {
      await pdf.destroy().catch(() => undefined);
    }
  }
}

/** Why pdf.js gave up, by error name: pdf-parse re-wraps load errors, but page errors come straight from pdf.js. */
const FAILURES: Record<string, { reason: string; message: string; retryable?: boolean }> = {
  PasswordException: { reason: 'encrypted', message: 'is password-protected; upload an unencrypted copy' },
  InvalidPDFException: { reason: 'corrupt', message: 'is not a readable PDF (it is corrupt or truncated)' },
  FormatError: { reason: 'corrupt', message: 'is not a readable PDF (its structure is malformed)' },
  ResponseException: { reason: 'missing', message: 'could not be read from storage', retryable: true },
};

/** Maps pdf.js failures to UnprocessableDocumentError (code UNREADABLE_DOCUMENT) saying why, keeping the cause. */
function toParseError(error: unknown, fileName: string): AppError {
  if (error instanceof AppError) return error;
  const failure = (error instanceof Error ? FAILURES[error.name] : undefined) ?? { reason: 'unknown', message: 'could not be read as a PDF' };
  return new UnprocessableDocumentError('UNREADABLE_DOCUMENT', `'${fileName}' ${failure.message}`, {
    details: { file: fileName, reason: failure.reason },
    cause: error,
    retryable: failure.retryable ?? false,
  });
}
