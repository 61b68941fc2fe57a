import { PayloadTooLargeError, UnprocessableDocumentError } from '../../errors/index.js';
import type { ParsedDocument, ParsedSection } from '../types.js';

/** Separator between section texts in the document text; `charStart`s depend on it. */
export const SECTION_JOINER = '\n\n';

/** Default ceiling on extracted characters per document (decompression-bomb guard). */
export const DEFAULT_MAX_CHARS = 50_000_000;

/** A section before offsets are assigned. */
export interface SectionDraft {
  text: string;
  page?: number | undefined;
  headingPath?: string[] | undefined;
}

/**
 * Assigns `charStart`s consistent with joining section texts by "\n\n", dropping empty sections.
 * Throws UnprocessableDocumentError (code EMPTY_DOCUMENT) when nothing is left.
 */
export function assembleDocument(drafts: Iterable<SectionDraft>, title: string | undefined, fileName: string): ParsedDocument {
  const sections: ParsedSection[] = [];
  let offset = 0;
  for (const draft of drafts) {
    if (draft.text === '') continue;
    const section: ParsedSection = { text: draft.text, charStart: offset };
    if (draft.page !== undefined) section.page = draft.page;
    if (draft.headingPath !== undefined && draft.headingPath.length > 0) section.headingPath = draft.headingPath;
    sections.push(section);
    offset += draft.text.length + SECTION_JOINER.length;
  }
  if (sections.length === 0) {
    throw new UnprocessableDocumentError('EMPTY_DOCUMENT', `'${fileName}' contains no text to index`, { details: { file: fileName } });
  }
  const cleanTitle = title?.replace(/\s+/g, ' ').trim();
  return cleanTitle ? { sections, title: cleanTitle } : { sections };
}

/** Throws PayloadTooLargeError once extracted text passes `maxChars`, before more memory is spent on it. */
export function assertWithinCharLimit(chars: number, maxChars: number, fileName: string): void {
  if (chars > maxChars) {
    throw new PayloadTooLargeError(
      `'${fileName}' expands to more than ${maxChars} characters of text; split it into smaller documents`,
      { details: { file: fileName, maxChars } },
    );
  }
}

// Horizontal whitespace, including no-break and typographic spaces, but not newlines.
const HORIZONTAL_SPACE = /[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+/g;
// C0/C1 control characters other than tab and newline, plus zero-width characters that split words invisibly.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f\u200b\u200c\u2060\ufeff]|\u200d/g;
// Line and page separators that count as line breaks.
const LINE_BREAKS = /\r\n?|[\f\u2028\u2029]/g;

/** Removes control and zero-width characters (not tabs or newlines): they break tokenisation and display. */
export function stripControlCharacters(text: string): string {
  return text.replace(CONTROL_CHARS, '');
}

/**
 * Normalises prose: unified newlines, no control characters, runs of spaces collapsed, lines trimmed,
 * at most one blank line in a row, no leading or trailing blank lines.
 */
export function normaliseProse(text: string): string {
  return text
    .replace(LINE_BREAKS, '\n')
    .replace(CONTROL_CHARS, '')
    .replace(HORIZONTAL_SPACE, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Normalises text whose layout matters (plain text files, code): unified newlines, no control characters,
 * trailing spaces removed, at most one blank line in a row. Indentation is kept.
 */
export function normalisePreformatted(text: string): string {
  return text
    .replace(LINE_BREAKS, '\n')
    .replace(CONTROL_CHARS, '')
    // One pass per run of spaces (no backtracking): a run is dropped only when a line break or the end follows it.
    .replace(/[ \t\u00a0]+(\n|$)?/g, (run: string, end: string | undefined) => end ?? run)
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+/, '')
    .trimEnd();
}
