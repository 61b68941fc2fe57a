import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsupportedMediaTypeError } from '../../errors/index.js';
import { createParserRegistry, detectContentType, DOCX_CONTENT_TYPE, parserFor, SUPPORTED_CONTENT_TYPES, SUPPORTED_EXTENSIONS } from './index.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/documents');
const head = (text: string | number[]) => (typeof text === 'string' ? Buffer.from(text) : Buffer.from(text));

function detectionError(params: Parameters<typeof detectContentType>[0]): UnsupportedMediaTypeError {
  try {
    detectContentType(params);
  } catch (error) {
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    return error as UnsupportedMediaTypeError;
  }
  throw new Error(`expected '${params.fileName}' to be refused`);
}

describe('detectContentType', () => {
  it('detects every fixture document from its real bytes', () => {
    const expected: Record<string, string> = {
      'employee-handbook.pdf': 'application/pdf',
      'security-incident-process.html': 'text/html',
      'shipment-api-guide.md': 'text/markdown',
      'oncall-runbook.txt': 'text/plain',
      'travel-expense-policy.docx': DOCX_CONTENT_TYPE,
    };
    for (const [fileName, type] of Object.entries(expected)) {
      const file = path.join(FIXTURES, fileName);
      if (!existsSync(file)) continue;
      expect(detectContentType({ fileName, head: readFileSync(file).subarray(0, 8192) })).toBe(type);
    }
  });

  it('trusts magic bytes over a lying extension or declared type', () => {
    expect(detectContentType({ fileName: 'notes.txt', declaredType: 'text/plain', head: head('%PDF-1.7\n%\u00e2\u00e3') })).toBe('application/pdf');
    const docxHead = Buffer.concat([head([0x50, 0x4b, 0x03, 0x04]), head('....[Content_Types].xml....word/document.xml')]);
    expect(detectContentType({ fileName: 'report.md', head: docxHead })).toBe(DOCX_CONTENT_TYPE);
    expect(detectionError({ fileName: 'picture.pdf', declaredType: 'application/pdf', head: head([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]) }).message).toContain('PNG');
  });

  it('uses the extension, then the declared type (parameters ignored)', () => {
    expect(detectContentType({ fileName: 'README.markdown', head: head('# Hi') })).toBe('text/markdown');
    expect(detectContentType({ fileName: 'page.HTM', head: head('<p>x</p>') })).toBe('text/html');
    for (const ext of ['.rst', '.csv', '.json', '.log', '.text']) expect(detectContentType({ fileName: `a${ext}`, head: head('a,b') })).toBe('text/plain');
    expect(detectContentType({ fileName: 'upload', declaredType: 'text/markdown; charset=utf-8', head: head('# Hi') })).toBe('text/markdown');
    expect(detectContentType({ fileName: 'data.xyz', declaredType: 'text/plain', head: head('hello') })).toBe('text/plain');
  });

  it('sniffs extension-less uploads without a useful declared type', () => {
    expect(detectContentType({ fileName: 'README', declaredType: 'application/octet-stream', head: head('Plain words.') })).toBe('text/plain');
    expect(detectContentType({ fileName: 'index', head: head('<!DOCTYPE html><html>') })).toBe('text/html');
  });

  it('refuses executables, images, archives and unknown formats, listing what is supported', () => {
    const cases = [
      { fileName: 'setup.exe', head: head([0x4d, 0x5a, 0x90, 0x00]) },
      { fileName: 'photo.png', head: head([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
      { fileName: 'bundle.zip', head: Buffer.concat([head([0x50, 0x4b, 0x03, 0x04]), head('src/main.ts')]) },
      { fileName: 'old.doc', head: head([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) },
      { fileName: 'tool.bin', head: head([0x01, 0x00, 0x02, 0x03]) },
      { fileName: 'slides.key', head: head('text but unknown extension') },
      { fileName: 'fake.pdf', head: head('<html>not a pdf</html>') },
      { fileName: 'fake.docx', head: head('not a zip') },
    ];
    for (const params of cases) {
      const error = detectionError(params);
      expect(error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(error.message).toContain(params.fileName);
      expect(error.message).toContain('application/pdf');
      expect(error.details).toMatchObject({ supportedContentTypes: [...SUPPORTED_CONTENT_TYPES] });
    }
  });

  it('exports the supported extensions with their dots', () => {
    expect(SUPPORTED_EXTENSIONS).toEqual(expect.arrayContaining(['.pdf', '.html', '.htm', '.md', '.markdown', '.txt', '.docx', '.rst', '.csv', '.json', '.log']));
  });
});

describe('parser registry', () => {
  it('returns a parser for every supported type and refuses others', () => {
    const registry = createParserRegistry();
    for (const type of SUPPORTED_CONTENT_TYPES) expect(registry.parserFor(type).contentTypes).toContain(type);
    expect(parserFor('text/html; charset=utf-8').contentTypes).toContain('text/html');
    expect(() => parserFor('image/png')).toThrow(UnsupportedMediaTypeError);
  });
});
