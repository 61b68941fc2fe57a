import { describe, expect, it } from 'vitest';
import { extractPageText, splitSentences, type PageText } from './lib/python-docs.js';
import { buildQueryPool, QuerySlicer } from './lib/queries.js';
import { buildSentencePool, syntheticDocuments } from './lib/synthetic-documents.js';

const PAGE_HTML = `<html><head><title>t</title><script>var x = 1;</script></head><body>
<div class="sphinxsidebar"><p>Navigation text that must not count.</p></div>
<div class="body" role="main"><section>
<h1>json — JSON encoder and decoder<a class="headerlink" href="#x">¶</a></h1>
<p>JSON is a lightweight data interchange format. It is easy for humans to read &amp; write. Machines parse it quickly too.</p>
<dl><dt class="sig sig-object py" id="json.dumps">json.dumps(obj)</dt><dd><p>Serialize obj to a JSON formatted str using this conversion table.</p></dd></dl>
<h2>Basic Usage<a class="headerlink" href="#y">¶</a></h2>
<p>x = 1</p>
</section></div></body></html>`;

function page(name: string, paragraphs: string[], headings = ['Heading']): PageText {
  return { page: name, headings, apiNames: [], paragraphs, visibleChars: paragraphs.join(' ').length };
}

describe('extractPageText', () => {
  it('reads headings, API names and paragraphs of the main body only, without ¶ links', () => {
    const text = extractPageText('library/json.html', PAGE_HTML);
    expect(text.headings).toEqual(['json — JSON encoder and decoder', 'Basic Usage']);
    expect(text.apiNames).toEqual(['json.dumps']);
    expect(text.paragraphs[0]).toBe('JSON is a lightweight data interchange format. It is easy for humans to read & write. Machines parse it quickly too.');
    expect(text.paragraphs.join(' ')).not.toContain('Navigation');
    expect(text.visibleChars).toBeGreaterThan(100);
  });
});

describe('splitSentences', () => {
  it('splits prose at sentence ends and drops code-like or tiny fragments', () => {
    expect(splitSentences('JSON is a lightweight data interchange format. It is easy for humans to read. x = 1')).toEqual([
      'JSON is a lightweight data interchange format.',
      'It is easy for humans to read. x = 1',
    ]);
    expect(splitSentences('a = b[0] + c[1] * {2: 3}; print(a, b)')).toEqual([]);
  });
});

describe('synthetic documents', () => {
  const pages = [
    page('a.html', ['The first real sentence is about files and paths. The second real sentence explains directories well. The third real sentence covers permissions in detail.']),
    page('b.html', ['Sockets carry bytes between two processes on a network. A server listens for incoming connections here. A client connects to the address of the server.', 'The first real sentence is about files and paths.']),
  ];

  it('deduplicates sentences across pages, keeping the first occurrence', () => {
    const pool = buildSentencePool(pages);
    expect(pool.sentenceCount).toBe(6);
    expect(pool.pages.map((entry) => entry.sentences.length)).toEqual([3, 3]);
  });

  it('is deterministic per seed, never repeats a document, and uses only real sentences', () => {
    const pool = buildSentencePool(pages);
    const take = (seed: number) => {
      const documents = syntheticDocuments(pool, { seed, charsPerDocument: 400 });
      return Array.from({ length: 20 }, () => documents.next().value as { documentId: string; text: string });
    };
    const first = take(7);
    expect(take(7)).toEqual(first);
    expect(take(8)).not.toEqual(first);
    expect(new Set(first.map((document) => document.text)).size).toBe(first.length);
    expect(new Set(first.map((document) => document.documentId)).size).toBe(first.length);
    const real = new Set(pool.pages.flatMap((entry) => entry.sentences));
    for (const document of first) {
      const [title, ...paragraphs] = document.text.trim().split('\n\n');
      expect(title).toBe('Heading');
      for (const paragraph of paragraphs) {
        for (const sentence of splitSentences(paragraph)) expect(real.has(sentence)).toBe(true);
      }
      expect(document.text.length).toBeGreaterThanOrEqual(400);
    }
  });
});

describe('query pool', () => {
  const questions = Array.from({ length: 3 }, (_, index) => ({ id: `q${index}`, question: `Question number ${index}?`, relevant: ['x.html'], style: 'keyword' as const }));
  const pages: PageText[] = [{ page: 'library/json.html', headings: ['json — JSON encoder and decoder', 'Basic Usage', 'Basic Usage'], apiNames: ['json.dumps', 'json.loads'], paragraphs: [], visibleChars: 0 }];

  it('mixes eval questions with generated ones, deduplicated and deterministic', () => {
    const pool = buildQueryPool({ questions, pages, seed: 1 });
    expect(pool).toEqual(buildQueryPool({ questions, pages, seed: 1 }));
    expect(pool.filter((query) => query.origin === 'eval-question')).toHaveLength(3);
    expect(pool.filter((query) => query.origin === 'heading')).toHaveLength(2);
    expect(pool.filter((query) => query.origin === 'api').map((query) => query.text).join(' ')).toMatch(/json\.dumps.*json\.loads|json\.loads.*json\.dumps/);
    expect(new Set(pool.map((query) => query.text)).size).toBe(pool.length);
  });

  it('slices without overlap until the pool runs out, then wraps and says so', () => {
    const slicer = new QuerySlicer([{ text: 'a', origin: 'api' }, { text: 'b', origin: 'api' }, { text: 'c', origin: 'api' }]);
    expect(slicer.take(2)).toEqual(['a', 'b']);
    expect(slicer.wrapped).toBe(false);
    expect(slicer.take(2)).toEqual(['c', 'a']);
    expect(slicer.wrapped).toBe(true);
  });
});
