import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParsedDocument } from '../types.js';
import { HtmlParser, htmlToDocument } from './html-parser.js';

const FIXTURE = path.resolve(import.meta.dirname, '../../../fixtures/documents/security-incident-process.html');
const PYTHON_JSON_DOCS = '/usr/share/doc/python3.11/html/library/json.html';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'html-parser-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function documentText(document: ParsedDocument): string {
  return document.sections.map((section) => section.text).join('\n\n');
}

function expectConsistentOffsets(document: ParsedDocument): void {
  const text = documentText(document);
  for (const section of document.sections) {
    expect(section.text).not.toBe('');
    expect(text.slice(section.charStart, section.charStart + section.text.length)).toBe(section.text);
  }
}

describe('HtmlParser', () => {
  it.skipIf(!existsSync(FIXTURE))('drops navigation, scripts, styles and header noise from a real page', async () => {
    const document = await new HtmlParser().parse({ filePath: FIXTURE, fileName: 'security-incident-process.html', contentType: 'text/html' });
    const text = documentText(document);
    for (const noise of ['NAVIGATIONNOISE', 'SCRIPTNOISE', 'STYLENOISE', 'HEADERNOISE', 'intranetAnalytics']) expect(text).not.toContain(noise);
    expect(document.title).toBe('Security Incident Response Process - Ridgeline Intranet');
    expect(document.sections[0]?.headingPath).toEqual(['Security Incident Response Process']);
    expect(document.sections[1]?.headingPath).toEqual(['Security Incident Response Process', 'What Counts as a Security Incident']);
    expectConsistentOffsets(document);
  });

  it('splits at headings with outermost-first heading paths, popping back up a level', () => {
    const document = htmlToDocument(
      `<body><h1>Guide</h1><p>Intro.</p><h2>Install</h2><p>Steps.</p><h3>Linux</h3><p>apt.</p>
       <h2>Use</h2><p>Run it.</p><h1>Appendix</h1><p>More.</p></body>`,
      'guide.html',
    );
    expect(document.sections.map((section) => [section.headingPath, section.text])).toEqual([
      [['Guide'], 'Guide\n\nIntro.'],
      [['Guide', 'Install'], 'Install\n\nSteps.'],
      [['Guide', 'Install', 'Linux'], 'Linux\n\napt.'],
      [['Guide', 'Use'], 'Use\n\nRun it.'],
      [['Appendix'], 'Appendix\n\nMore.'],
    ]);
    expect(document.title).toBe('Guide');
    expectConsistentOffsets(document);
  });

  it('removes Sphinx chrome and "¶" permalinks, and reads div.body', () => {
    const document = htmlToDocument(
      `<html><head><title>json — Python docs</title></head><body>
       <div class="related" role="navigation"><a href="index.html">RELATEDNOISE index</a></div>
       <div class="document"><div class="documentwrapper"><div class="body" role="main">
         <section id="json"><h1>json — JSON encoder<a class="headerlink" href="#json" title="Permalink">¶</a></h1>
         <p>Source code: <a href="x">Lib/json/__init__.py</a></p>
         <section id="basic"><h2>Basic Usage<a class="headerlink" href="#basic">¶</a></h2>
         <dl><dt class="sig"><span class="pre">json.dump</span>(<em>obj</em>, <em>fp</em>)</dt><dd><p>Serialize <em>obj</em>.</p></dd></dl>
         <div class="highlight"><pre><span class="n">x</span> <span class="o">=</span> <span class="mi">1</span>
    <span class="k">if</span> x &lt; 2: pass</pre></div>
         </section></section>
       </div></div><div class="sphinxsidebar" role="navigation"><h3>SIDEBARNOISE Table of Contents</h3></div></div>
       <div class="footer">FOOTERNOISE © Copyright</div></body></html>`,
      'json.html',
    );
    const text = documentText(document);
    expect(text).not.toMatch(/RELATEDNOISE|SIDEBARNOISE|FOOTERNOISE|¶/);
    expect(document.title).toBe('json — Python docs');
    expect(document.sections.map((section) => section.headingPath)).toEqual([['json — JSON encoder'], ['json — JSON encoder', 'Basic Usage']]);
    expect(text).toContain('Source code: Lib/json/__init__.py');
    expect(text).toContain('json.dump(obj, fp)\n\nSerialize obj.');
    expect(text).toContain('x = 1\n    if x < 2: pass');
  });

  it('decodes entities, keeps block boundaries as line breaks and table rows on one line', () => {
    const document = htmlToDocument(
      `<main><p>\u200bcaf&eacute; &amp; cr&egrave;me&nbsp;br&ucirc;l&eacute;e &#8212; &lt;tag&gt;</p><div>alpha</div><div>beta</div>
       <ul><li>one</li><li>two</li></ul>line<br>break<table><tr><th>Key</th><th>Value</th></tr><tr><td><p>a</p></td><td>1</td></tr></table></main>`,
      'entities.html',
    );
    expect(documentText(document)).toBe('café & crème brûlée — <tag>\n\nalpha\nbeta\n\none\ntwo\n\nline\nbreak\n\nKey Value\na 1');
  });

  it('drops scripts, forms, iframes, svg, template and ARIA-marked chrome anywhere', () => {
    const document = htmlToDocument(
      `<body><div role="banner">BANNERNOISE</div><p>Kept<script>document.write("<h1>SCRIPTNOISE</h1>")</script> text.</p>
       <form><label>FORMNOISE</label></form><iframe src="x">IFRAMENOISE</iframe><svg><text>SVGNOISE</text></svg>
       <template><p>TEMPLATENOISE</p></template><noscript>NOSCRIPTNOISE</noscript><aside>ASIDENOISE</aside>
       <div role="contentinfo">CONTENTINFONOISE</div></body>`,
      'noise.html',
    );
    expect(documentText(document)).toBe('Kept text.');
  });

  it('keeps the title heading of an article header', () => {
    const document = htmlToDocument('<header>SITENOISE</header><article><header><h1>Post</h1></header><p>Body.</p></article>', 'post.html');
    expect(documentText(document)).toBe('Post\n\nBody.');
    expect(document.sections[0]?.headingPath).toEqual(['Post']);
  });

  it('survives very deep nesting without overflowing the stack', () => {
    const depth = 20_000;
    const document = htmlToDocument(`<body>${'<div>'.repeat(depth)}deep${'</div>'.repeat(depth)}</body>`, 'deep.html');
    expect(documentText(document)).toBe('deep');
  });

  it('refuses a page without text', async () => {
    const file = path.join(tmp, 'empty.html');
    await writeFile(file, '<html><head><title>Nothing</title><script>var a = 1;</script></head><body><nav>menu</nav></body></html>');
    await expect(new HtmlParser().parse({ filePath: file, fileName: 'empty.html', contentType: 'text/html' })).rejects.toMatchObject({ code: 'EMPTY_DOCUMENT' });
  });

  it('rejects invalid UTF-8', async () => {
    const file = path.join(tmp, 'latin1.html');
    await writeFile(file, Buffer.from('<p>caf\xe9</p>', 'latin1'));
    await expect(new HtmlParser().parse({ filePath: file, fileName: 'latin1.html', contentType: 'text/html' })).rejects.toMatchObject({ code: 'INVALID_ENCODING' });
  });

  it.skipIf(!existsSync(PYTHON_JSON_DOCS))('parses a real Python documentation page', async () => {
    const document = await new HtmlParser().parse({ filePath: PYTHON_JSON_DOCS, fileName: 'json.html', contentType: 'text/html' });
    const text = documentText(document);
    expect(document.sections[0]?.headingPath).toEqual(['json — JSON encoder and decoder']);
    expect(document.sections.some((section) => section.headingPath?.at(-1) === 'Basic Usage')).toBe(true);
    expect(text).toContain('json.dumps(obj, *, skipkeys=False');
    expect(text).not.toMatch(/¶|Table of Contents|Previous topic|Quick search/);
    expectConsistentOffsets(document);
  });
});
