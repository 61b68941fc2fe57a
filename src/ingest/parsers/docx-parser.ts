import { open } from 'node:fs/promises';
import mammoth from 'mammoth';
import { AppError, PayloadTooLargeError, UnprocessableDocumentError } from '../../errors/index.js';
import type { DocumentParser, ParsedDocument, ParseInput } from '../types.js';
import { htmlToDocument } from './html-parser.js';
import { assertWithinCharLimit, DEFAULT_MAX_CHARS } from './sections.js';

/** Options of {@link DocxParser}. */
export interface DocxParserOptions {
  /** Refuse archives whose entries would inflate past this many bytes (zip bombs). Default 256 MiB. */
  maxUncompressedBytes?: number;
  /** Refuse documents whose text passes this many characters. Default 50,000,000. */
  maxChars?: number;
}

/** What the zip central directory says about an archive. */
export interface ZipSummary {
  entryNames: string[];
  /** Sum of the declared uncompressed sizes; Infinity when a size needs ZIP64. */
  uncompressedBytes: number;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
const MAX_CENTRAL_DIRECTORY_BYTES = 16 * 1024 * 1024;

/**
 * Reads only the central directory of a zip file (its table of contents at the end), so an archive can be
 * sized up before anything is inflated. Returns null when the file is not a zip.
 */
export async function readZipSummary(filePath: string): Promise<ZipSummary | null> {
  const file = await open(filePath, 'r');
  try {
    const { size } = await file.stat();
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLength);
    await file.read(tail, 0, tailLength, size - tailLength);
    let eocd = -1;
    for (let index = tailLength - 22; index >= 0; index -= 1) {
      if (tail.readUInt32LE(index) === END_OF_CENTRAL_DIRECTORY) {
        eocd = index;
        break;
      }
    }
    if (eocd === -1) return null;
    const directorySize = tail.readUInt32LE(eocd + 12);
    const directoryOffset = tail.readUInt32LE(eocd + 16);
    if (directoryOffset === 0xffffffff || directorySize > MAX_CENTRAL_DIRECTORY_BYTES || directoryOffset + directorySize > size) {
      return { entryNames: [], uncompressedBytes: Number.POSITIVE_INFINITY };
    }
    const directory = Buffer.alloc(directorySize);
    await file.read(directory, 0, directorySize, directoryOffset);
    const summary: ZipSummary = { entryNames: [], uncompressedBytes: 0 };
    for (let index = 0; index + 46 <= directorySize && directory.readUInt32LE(index) === CENTRAL_DIRECTORY_ENTRY;) {
      const uncompressed = directory.readUInt32LE(index + 24);
      const nameLength = directory.readUInt16LE(index + 28);
      const extraLength = directory.readUInt16LE(index + 30);
      const commentLength = directory.readUInt16LE(index + 32);
      summary.uncompressedBytes += uncompressed === 0xffffffff ? Number.POSITIVE_INFINITY : uncompressed;
      summary.entryNames.push(directory.toString('utf8', index + 46, index + 46 + nameLength));
      index += 46 + nameLength + extraLength + commentLength;
    }
    return summary;
  } finally {
    await file.close();
  }
}

/** Parses Word documents (.docx): mammoth turns them into HTML, which the HTML parser splits at headings. */
export class DocxParser implements DocumentParser {
  readonly contentTypes = ['application/vnd.openxmlformats-officedocument.wordprocessingml.document'] as const;
  private readonly maxUncompressedBytes: number;
  private readonly maxChars: number;

  constructor(options: DocxParserOptions = {}) {
    this.maxUncompressedBytes = options.maxUncompressedBytes ?? 256 * 1024 * 1024;
    this.maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  }

  async parse(input: ParseInput): Promise<ParsedDocument> {
    const { fileName } = input;
    let summary: ZipSummary | null;
    try {
      summary = await readZipSummary(input.filePath);
    } catch (error) {
      throw new UnprocessableDocumentError('UNREADABLE_DOCUMENT', `'${fileName}' could not be read from storage`, { cause: error, retryable: true });
    }
    if (summary === null || !summary.entryNames.includes('word/document.xml')) {
      throw new UnprocessableDocumentError('UNREADABLE_DOCUMENT', `'${fileName}' is not a Word document (.docx); it is corrupt or another format`, {
        details: { file: fileName, reason: 'corrupt' },
      });
    }
    if (summary.uncompressedBytes > this.maxUncompressedBytes) {
      throw new PayloadTooLargeError(`'${fileName}' inflates to more than ${this.maxUncompressedBytes} bytes; split it into smaller documents`, {
        details: { file: fileName, maxUncompressedBytes: this.maxUncompressedBytes },
      });
    }
    let html: string;
    try {
      const result = await mammoth.convertToHtml(
        { path: input.filePath },
        {
          // Word's Title paragraph becomes <title>, which the HTML parser takes as the document title and keeps as text.
          styleMap: ["p[style-name='Title'] => title:fresh", "p[style-name='Subtitle'] => p:fresh"],
          // Images would be inlined as base64 data URIs: drop them, only their alt text is indexable.
          convertImage: mammoth.images.imgElement(async () => ({ src: '' })),
          externalFileAccess: false,
        },
      );
      html = result.value;
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new UnprocessableDocumentError('UNREADABLE_DOCUMENT', `'${fileName}' could not be read as a Word document (it is corrupt or truncated)`, {
        details: { file: fileName, reason: 'corrupt' },
        cause: error,
      });
    }
    assertWithinCharLimit(html.length, this.maxChars, fileName);
    return htmlToDocument(html, fileName);
  }
}
