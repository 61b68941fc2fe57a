import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../errors/index.js';
import { normalisePageText, PdfParser } from './pdf-parser.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/documents');
const HANDBOOK = path.join(FIXTURES, 'employee-handbook.pdf');
const SCANNED = path.join(FIXTURES, 'scanned-no-text.pdf');
const hasGhostscript = existsSync('/usr/bin/gs');

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pdf-parser-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function parseError(parser: PdfParser, filePath: string): Promise<AppError> {
  const error: unknown = await parser.parse({ filePath, fileName: path.basename(filePath), contentType: 'application/pdf' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('PdfParser', () => {
  it.skipIf(!existsSync(HANDBOOK))('makes one section per page with 1-based page numbers and consistent offsets', async () => {
    const document = await new PdfParser().parse({ filePath: HANDBOOK, fileName: 'employee-handbook.pdf', contentType: 'application/pdf' });
    expect(document.sections.map((section) => section.page)).toEqual([1, 2, 3, 4]);
    expect(document.sections[0]?.text).toMatch(/^Ridgeline Logistics Employee Handbook/);
    expect(document.sections[1]?.text).toMatch(/^2\. Parental Leave/);
    const joined = document.sections.map((section) => section.text).join('\n\n');
    for (const section of document.sections) {
      expect(joined.slice(section.charStart, section.charStart + section.text.length)).toBe(section.text);
      expect(section.text).not.toMatch(/[ \t]\n|\n[ \t]|\n{3}|\t/);
    }
  });

  it.skipIf(!existsSync(SCANNED))('refuses a PDF without a text layer with NO_EXTRACTABLE_TEXT', async () => {
    const error = await parseError(new PdfParser(), SCANNED);
    expect(error.code).toBe('NO_EXTRACTABLE_TEXT');
    expect(error.category).toBe('user');
    expect(error.message).toBe('The PDF has no extractable text layer (it is probably scanned); this service does not run OCR yet');
  });

  it('reports a corrupt file as UNREADABLE_DOCUMENT, keeping the library error only as cause', async () => {
    const file = path.join(tmp, 'corrupt.pdf');
    await writeFile(file, '%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nthis is not a pdf at all\n%%EOF\n');
    const error = await parseError(new PdfParser(), file);
    expect(error.code).toBe('UNREADABLE_DOCUMENT');
    expect(error.message).toContain('corrupt.pdf');
    expect(error.details).toMatchObject({ reason: 'corrupt' });
    expect(error.cause).toBeInstanceOf(Error);
  });

  it.skipIf(!existsSync(HANDBOOK))('reports a truncated PDF without crashing', async () => {
    const bytes = await readFile(HANDBOOK);
    const file = path.join(tmp, 'truncated.pdf');
    await writeFile(file, bytes.subarray(0, 600));
    const error = await parseError(new PdfParser(), file);
    expect(['UNREADABLE_DOCUMENT', 'NO_EXTRACTABLE_TEXT']).toContain(error.code);
  });

  it.skipIf(!hasGhostscript || !existsSync(HANDBOOK))('says a password-protected PDF is encrypted', async () => {
    const file = path.join(tmp, 'encrypted.pdf');
    execFileSync('gs', ['-q', '-dBATCH', '-dNOPAUSE', '-sDEVICE=pdfwrite', '-sOwnerPassword=owner-secret', '-sUserPassword=user-secret',
      '-dEncryptionR=3', '-dKeyLength=128', `-sOutputFile=${file}`, HANDBOOK], { stdio: 'ignore' });
    const error = await parseError(new PdfParser(), file);
    expect(error.code).toBe('UNREADABLE_DOCUMENT');
    expect(error.details).toMatchObject({ reason: 'encrypted' });
    expect(error.message).toMatch(/password-protected/);
  });

  it.skipIf(!existsSync(HANDBOOK))('stops at the page and character limits with PAYLOAD_TOO_LARGE', async () => {
    const pages = await parseError(new PdfParser({ maxPages: 3 }), HANDBOOK);
    expect(pages.code).toBe('PAYLOAD_TOO_LARGE');
    expect(pages.details).toMatchObject({ pages: 4, maxPages: 3 });
    const chars = await parseError(new PdfParser({ maxChars: 500, pagesPerBatch: 1 }), HANDBOOK);
    expect(chars.code).toBe('PAYLOAD_TOO_LARGE');
    expect(chars.details).toMatchObject({ maxChars: 500 });
  });

  it('reports a missing file as retryable', async () => {
    const error = await parseError(new PdfParser(), path.join(tmp, 'does-not-exist.pdf'));
    expect(error.code).toBe('UNREADABLE_DOCUMENT');
    expect(error.isRetryable).toBe(true);
  });
});

describe('normalisePageText', () => {
  it('joins words hyphenated across a line break and tidies whitespace', () => {
    expect(normalisePageText('a C-like gram-\nmar for\tall  \n\n\n\nnext   line ')).toBe('a C-like grammar for all\n\nnext line');
  });

  it('keeps the hyphen when the page spells the word with one', () => {
    expect(normalisePageText('a self-contained unit; another self-\ncontained one')).toBe('a self-contained unit; another self-contained one');
  });

  it('shrinks dot leaders and drops a lone page number line', () => {
    expect(normalisePageText('Body text.\n\n\n42\n')).toBe('Body text.');
    expect(normalisePageText('mild\nbody\ndid')).toBe('mild\nbody\ndid');
    expect(normalisePageText('xiv\n1.2 Intro . . . . . . . . 17\n1.3 Next......... 19\nArgs... stay\n42')).toBe('1.2 Intro ... 17\n1.3 Next ... 19\nArgs... stay');
  });

  it('leaves numbers, capitals and soft hyphens sensible', () => {
    expect(normalisePageText('pages 10-\n20 and Rule-\nBased; hy\u00ad\nphen')).toBe('pages 10-\n20 and Rule-\nBased; hyphen');
  });
});
