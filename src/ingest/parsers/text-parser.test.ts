import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../errors/index.js';
import { splitAtBlankLines, TextParser } from './text-parser.js';

const FIXTURE = path.resolve(import.meta.dirname, '../../../fixtures/documents/oncall-runbook.txt');

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'text-parser-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function parseBytes(bytes: Buffer | string, parser = new TextParser()) {
  const file = path.join(tmp, `t-${Math.random().toString(36).slice(2)}.txt`);
  await writeFile(file, bytes);
  return parser.parse({ filePath: file, fileName: 'notes.txt', contentType: 'text/plain' });
}

describe('TextParser', () => {
  it.skipIf(!existsSync(FIXTURE))('reads a real text file into one section', async () => {
    const document = await new TextParser().parse({ filePath: FIXTURE, fileName: 'oncall-runbook.txt', contentType: 'text/plain' });
    expect(document.sections).toHaveLength(1);
    expect(document.sections[0]?.text).toMatch(/^RIDGELINE LOGISTICS - PLATFORM ON-CALL RUNBOOK\n/);
  });

  it('rejects invalid UTF-8 with INVALID_ENCODING', async () => {
    const error: unknown = await parseBytes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'INVALID_ENCODING', category: 'user' });
  });

  it('strips a BOM, unifies line endings and trailing spaces, keeps indentation', async () => {
    const document = await parseBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Title  \r\n\r\n\r\n\r\n  indented\r\nend\u0000\n\n')]));
    expect(document.sections).toEqual([{ text: 'Title\n\n  indented\nend', charStart: 0 }]);
  });

  it('splits a very large text at blank lines so that the sections join back to the text', async () => {
    const paragraphs = Array.from({ length: 400 }, (_, i) => `Paragraph ${i} ${'word '.repeat(40).trim()}`);
    const text = paragraphs.join('\n\n');
    const document = await parseBytes(text, new TextParser({ maxSectionChars: 5000 }));
    expect(document.sections.length).toBeGreaterThan(10);
    expect(document.sections.map((section) => section.text).join('\n\n')).toBe(text);
    for (const section of document.sections) {
      expect(section.text.length).toBeLessThanOrEqual(5000);
      expect(text.slice(section.charStart, section.charStart + section.text.length)).toBe(section.text);
    }
  });

  it('refuses a file of only whitespace', async () => {
    await expect(parseBytes(' \n\n\t \n')).rejects.toMatchObject({ code: 'EMPTY_DOCUMENT' });
  });
});

describe('splitAtBlankLines', () => {
  it('keeps a piece whole when no blank line is in reach', () => {
    expect(splitAtBlankLines('aaaaaaaaaa\n\nbb', 4)).toEqual(['aaaaaaaaaa', 'bb']);
    expect(splitAtBlankLines('aaaaaaaaaa', 4)).toEqual(['aaaaaaaaaa']);
  });
});
