import path from 'node:path';
import { UnsupportedMediaTypeError } from '../../errors/index.js';
import type { DocumentParser } from '../types.js';
import { DocxParser, type DocxParserOptions } from './docx-parser.js';
import { HtmlParser } from './html-parser.js';
import { MarkdownParser } from './markdown-parser.js';
import { PdfParser, type PdfParserOptions } from './pdf-parser.js';
import { TextParser } from './text-parser.js';

/** Canonical media type of Word documents. */
export const DOCX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

/** Media types the service can parse, as `detectContentType` returns them (for the API docs). */
export const SUPPORTED_CONTENT_TYPES = ['application/pdf', 'text/html', 'text/markdown', 'text/plain', DOCX_CONTENT_TYPE] as const;

/** A media type the service can parse. */
export type SupportedContentType = (typeof SUPPORTED_CONTENT_TYPES)[number];

const TYPE_BY_EXTENSION: Readonly<Record<string, SupportedContentType>> = {
  '.pdf': 'application/pdf',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.xhtml': 'text/html',
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.txt': 'text/plain',
  '.text': 'text/plain',
  '.rst': 'text/plain',
  '.csv': 'text/plain',
  '.json': 'text/plain',
  '.log': 'text/plain',
  '.docx': DOCX_CONTENT_TYPE,
};

/** File extensions accepted, with the leading dot (for the CLI and the API docs). */
export const SUPPORTED_EXTENSIONS: readonly string[] = Object.keys(TYPE_BY_EXTENSION);

const TYPE_BY_DECLARED: Readonly<Record<string, SupportedContentType>> = {
  'application/pdf': 'application/pdf',
  'application/x-pdf': 'application/pdf',
  'text/html': 'text/html',
  'application/xhtml+xml': 'text/html',
  'text/markdown': 'text/markdown',
  'text/x-markdown': 'text/markdown',
  'text/plain': 'text/plain',
  'text/csv': 'text/plain',
  'text/x-rst': 'text/plain',
  'application/json': 'text/plain',
  [DOCX_CONTENT_TYPE]: DOCX_CONTENT_TYPE,
};

/** Formats recognised by their first bytes that we cannot parse, named in the error. */
const UNSUPPORTED_SIGNATURES: readonly { name: string; bytes: readonly number[] }[] = [
  { name: 'a PNG image', bytes: [0x89, 0x50, 0x4e, 0x47] },
  { name: 'a JPEG image', bytes: [0xff, 0xd8, 0xff] },
  { name: 'a GIF image', bytes: [0x47, 0x49, 0x46, 0x38] },
  { name: 'a Windows executable', bytes: [0x4d, 0x5a] },
  { name: 'an ELF executable', bytes: [0x7f, 0x45, 0x4c, 0x46] },
  { name: 'a gzip archive', bytes: [0x1f, 0x8b] },
  { name: 'a 7-Zip archive', bytes: [0x37, 0x7a, 0xbc, 0xaf] },
  { name: 'a RAR archive', bytes: [0x52, 0x61, 0x72, 0x21] },
  { name: 'a legacy Office file (.doc/.xls/.ppt; save it as .docx)', bytes: [0xd0, 0xcf, 0x11, 0xe0] },
  { name: 'a UTF-16 text file (convert it to UTF-8)', bytes: [0xff, 0xfe] },
  { name: 'a UTF-16 text file (convert it to UTF-8)', bytes: [0xfe, 0xff] },
];

const PDF_MAGIC = Buffer.from('%PDF-');
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

function startsWith(head: Buffer, bytes: readonly number[] | Buffer): boolean {
  if (head.length < bytes.length) return false;
  for (let index = 0; index < bytes.length; index += 1) if (head[index] !== bytes[index]) return false;
  return true;
}

function unsupported(fileName: string, reason: string): never {
  throw new UnsupportedMediaTypeError(
    `Cannot ingest '${fileName}': ${reason}. Supported are PDF, HTML, Markdown, Word (.docx) and UTF-8 text files ` +
      `(${SUPPORTED_EXTENSIONS.join(' ')}), media types ${SUPPORTED_CONTENT_TYPES.join(', ')}`,
    { details: { file: fileName, reason, supportedContentTypes: [...SUPPORTED_CONTENT_TYPES], supportedExtensions: [...SUPPORTED_EXTENSIONS] } },
  );
}

/** True when the bytes look like text: no NUL bytes (binary formats are full of them, UTF-8 text never has them). */
function looksLikeText(head: Buffer): boolean {
  return head.length > 0 && !head.includes(0);
}

/**
 * Decides how to parse an upload. Magic bytes are trusted first (%PDF-, a zip holding word/ for DOCX),
 * then the file extension, then the declared media type. Returns a canonical media type from
 * SUPPORTED_CONTENT_TYPES or throws UnsupportedMediaTypeError naming what is supported.
 * `head` is the first bytes of the file (a few KiB: the DOCX check looks for "word/" among the first entry names).
 */
export function detectContentType(params: { fileName: string; declaredType?: string | undefined; head: Buffer }): SupportedContentType {
  const { fileName, head } = params;
  if (startsWith(head, PDF_MAGIC)) return 'application/pdf';
  const extension = path.extname(fileName).toLowerCase();
  const byExtension = TYPE_BY_EXTENSION[extension];
  const declared = params.declaredType?.split(';')[0]?.trim().toLowerCase() ?? '';
  const byDeclared = TYPE_BY_DECLARED[declared];

  if (startsWith(head, ZIP_MAGIC)) {
    if (head.includes('word/') || byExtension === DOCX_CONTENT_TYPE) return DOCX_CONTENT_TYPE;
    return unsupported(fileName, 'it is a zip archive without a Word document inside');
  }
  for (const signature of UNSUPPORTED_SIGNATURES) {
    if (startsWith(head, signature.bytes)) return unsupported(fileName, `it is ${signature.name}`);
  }
  const claimed = byExtension ?? byDeclared;
  if (claimed === 'application/pdf') {
    // pdf.js tolerates a little junk before the header; anything else calling itself .pdf is not one.
    if (head.subarray(0, 1024).includes(PDF_MAGIC)) return 'application/pdf';
    return unsupported(fileName, 'it is named or declared a PDF but has no %PDF- header');
  }
  if (claimed === DOCX_CONTENT_TYPE) return unsupported(fileName, 'it is named or declared a .docx but is not a zip archive');
  if (!looksLikeText(head)) return unsupported(fileName, extension ? `it is a binary ${extension} file` : 'it is a binary file');
  if (claimed) return claimed;
  if (extension === '') {
    // No name and no useful declared type: sniff, as browsers do, between an HTML page and plain text.
    if (/^\s*<(?:!doctype html|html)[\s>]/i.test(head.subarray(0, 512).toString('latin1'))) return 'text/html';
    return 'text/plain';
  }
  return unsupported(fileName, `'${extension}' files are not supported`);
}

/** Limits applied by the parsers of compressed formats. */
export interface ParserRegistryOptions {
  pdf?: PdfParserOptions;
  docx?: DocxParserOptions;
}

/** Finds the parser for a media type. */
export interface ParserRegistry {
  readonly contentTypes: readonly SupportedContentType[];
  /** The parser for `contentType` (parameters like "; charset=utf-8" are ignored); throws UnsupportedMediaTypeError. */
  parserFor(contentType: string): DocumentParser;
}

/** Builds one parser per supported media type. */
export function createParserRegistry(options: ParserRegistryOptions = {}): ParserRegistry {
  const parsers: DocumentParser[] = [
    new PdfParser(options.pdf),
    new HtmlParser(),
    new MarkdownParser(),
    new TextParser(),
    new DocxParser(options.docx),
  ];
  const byType = new Map<string, DocumentParser>();
  for (const parser of parsers) for (const type of parser.contentTypes) byType.set(type, parser);
  return {
    contentTypes: SUPPORTED_CONTENT_TYPES,
    parserFor(contentType: string): DocumentParser {
      const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
      const parser = byType.get(TYPE_BY_DECLARED[type] ?? type);
      if (!parser) {
        throw new UnsupportedMediaTypeError(`No parser for media type '${contentType}'; supported: ${SUPPORTED_CONTENT_TYPES.join(', ')}`, {
          details: { contentType, supportedContentTypes: [...SUPPORTED_CONTENT_TYPES] },
        });
      }
      return parser;
    },
  };
}

const defaultRegistry = createParserRegistry();

/** The parser for a media type, with default limits; throws UnsupportedMediaTypeError. */
export function parserFor(contentType: string): DocumentParser {
  return defaultRegistry.parserFor(contentType);
}
