import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParseInput } from '../types.js';
import { DocxParser, readZipSummary } from './docx-parser.js';

const FIXTURE = path.resolve(import.meta.dirname, '../../../fixtures/documents/travel-expense-policy.docx');
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'docx-parser-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A zip with stored (uncompressed) entries; `declaredSize` lets a test lie in the central directory like a zip bomb. */
function makeZip(entries: { name: string; data: string; declaredSize?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const data = Buffer.from(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(entry.declaredSize ?? data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

async function input(name: string, bytes: Buffer | string): Promise<ParseInput> {
  const filePath = path.join(tmp, name);
  await writeFile(filePath, bytes);
  return { filePath, fileName: name, contentType: DOCX };
}

describe('DocxParser', () => {
  it.skipIf(!existsSync(FIXTURE))('turns a Word document into heading sections through the HTML parser', async () => {
    const document = await new DocxParser().parse({ filePath: FIXTURE, fileName: 'travel-expense-policy.docx', contentType: DOCX });
    expect(document.title).toBe('Business Travel and Expense Policy');
    expect(document.sections[0]?.text).toMatch(/^Business Travel and Expense Policy\n/);
    expect(document.sections).toContainEqual(expect.objectContaining({ headingPath: ['Booking Travel', 'Flights'] }));
    const text = document.sections.map((section) => section.text).join('\n\n');
    for (const section of document.sections) expect(text.slice(section.charStart, section.charStart + section.text.length)).toBe(section.text);
    expect(text).not.toMatch(/<[a-z]+[ >]|data:image/);
  });

  it('refuses a file that is not a zip, or a zip without a Word document', async () => {
    const parser = new DocxParser();
    await expect(parser.parse(await input('fake.docx', 'just text, not a zip'))).rejects.toMatchObject({ code: 'UNREADABLE_DOCUMENT' });
    await expect(parser.parse(await input('other.docx', makeZip([{ name: 'xl/workbook.xml', data: '<x/>' }])))).rejects.toMatchObject({
      code: 'UNREADABLE_DOCUMENT',
      message: expect.stringContaining('not a Word document') as unknown,
    });
  });

  it('reports a broken Word package as UNREADABLE_DOCUMENT', async () => {
    const broken = makeZip([{ name: '[Content_Types].xml', data: '<Types/>' }, { name: 'word/document.xml', data: '<w:document><oops' }]);
    await expect(new DocxParser().parse(await input('broken.docx', broken))).rejects.toMatchObject({ code: 'UNREADABLE_DOCUMENT' });
  });

  it('refuses a zip bomb from its central directory, before inflating anything', async () => {
    const bomb = makeZip([{ name: 'word/document.xml', data: '<w:document/>', declaredSize: 4_000_000_000 }]);
    const file = await input('bomb.docx', bomb);
    expect(await readZipSummary(file.filePath)).toEqual({ entryNames: ['word/document.xml'], uncompressedBytes: 4_000_000_000 });
    await expect(new DocxParser().parse(file)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });
});
