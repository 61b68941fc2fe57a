import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ParsedDocument } from '../types.js';
import { MarkdownParser, markdownToDocument, stripInlineMarkdown } from './markdown-parser.js';

const FIXTURE = path.resolve(import.meta.dirname, '../../../fixtures/documents/shipment-api-guide.md');

function documentText(document: ParsedDocument): string {
  return document.sections.map((section) => section.text).join('\n\n');
}

describe('MarkdownParser', () => {
  it.skipIf(!existsSync(FIXTURE))('splits a real guide at headings with nested heading paths', async () => {
    const document = await new MarkdownParser().parse({ filePath: FIXTURE, fileName: 'shipment-api-guide.md', contentType: 'text/markdown' });
    expect(document.title).toBe('Ridgeline Shipment Tracking API Guide');
    expect(document.sections[0]?.headingPath).toEqual(['Ridgeline Shipment Tracking API Guide']);
    expect(document.sections).toContainEqual(expect.objectContaining({
      headingPath: ['Ridgeline Shipment Tracking API Guide', 'Getting Started', 'Creating an API client'],
    }));
    const text = documentText(document);
    for (const section of document.sections) {
      expect(text.slice(section.charStart, section.charStart + section.text.length)).toBe(section.text);
      expect(section.text.trim()).not.toBe('');
    }
    expect(text).not.toMatch(/^#{1,6} /m);
  });

  it('ignores headings inside fenced code blocks and keeps the code', () => {
    const document = markdownToDocument(
      ['# Setup', '', 'Run this:', '', '```bash', '# not a heading', 'make install', '```', '', '~~~~', '## also not', '```', 'still code', '~~~~', '', '## Next', '', 'Done.'].join('\n'),
      'setup.md',
    );
    expect(document.sections.map((section) => section.headingPath)).toEqual([['Setup'], ['Setup', 'Next']]);
    expect(document.sections[0]?.text).toBe('Setup\n\nRun this:\n\n# not a heading\nmake install\n\n## also not\n```\nstill code');
  });

  it('strips YAML front matter and understands setext and closed ATX headings', () => {
    const document = markdownToDocument(
      ['---', 'title: Front', 'tags: [a]', '---', 'Main Title', '==========', '', 'Intro text.', '', 'Sub part', '--------', '', 'Body.', '', '### Deep ###', 'Deeper.', '', '## Back up', 'Again.'].join('\n'),
      'doc.md',
    );
    expect(documentText(document)).not.toContain('tags:');
    expect(document.title).toBe('Main Title');
    expect(document.sections.map((section) => section.headingPath)).toEqual([
      ['Main Title'],
      ['Main Title', 'Sub part'],
      ['Main Title', 'Sub part', 'Deep'],
      ['Main Title', 'Back up'],
    ]);
    expect(document.sections[2]?.text).toBe('Deep\nDeeper.');
  });

  it('does not take a thematic break or a list for a setext heading', () => {
    const document = markdownToDocument(['Para one.', '', '---', '', '- item', '---', 'tail'].join('\n'), 'breaks.md');
    expect(document.sections).toHaveLength(1);
    expect(document.sections[0]?.headingPath).toBeUndefined();
  });

  it('drops sections that are only a heading', () => {
    const document = markdownToDocument('# A\n\n## B\n\ntext', 'a.md');
    expect(document.sections).toEqual([{ text: 'B\n\ntext', charStart: 0, headingPath: ['A', 'B'] }]);
  });
});

describe('stripInlineMarkdown', () => {
  it('keeps link text, drops URLs and emphasis, leaves code spans verbatim', () => {
    expect(stripInlineMarkdown('See [the docs](https://x.example/a_(b)) and ![logo](l.png), **bold**, *it*, _it_, ~~old~~.'))
      .toBe('See the docs and logo, bold, it, it, old.');
    expect(stripInlineMarkdown('Call `__init__` or `a*b*c`; snake_case_name stays; 2*3*4 too')).toBe('Call __init__ or a*b*c; snake_case_name stays; 2*3*4 too');
  });
});
