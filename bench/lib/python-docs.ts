import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'node-html-parser';

/**
 * The real corpus: Python 3.11's HTML documentation as Debian's python3.11-doc installs it
 * (see fixtures/eval/README.md). Paths are relative to the html directory, e.g. `library/json.html`,
 * and double as document ids when ingesting.
 */

/** Where Debian's python3.11-doc puts the HTML pages. */
export const PYTHON_DOCS_ROOT = '/usr/share/doc/python3.11/html';

/** Navigation and index pages: links only, no prose; left out of "all pages". */
const NAVIGATION_PAGES = /^(genindex(-.*)?|py-modindex|search|contents)\.html$/;

/** Throws a message with the install command when the docs are missing. */
export function requirePythonDocs(root = PYTHON_DOCS_ROOT): void {
  if (!existsSync(path.join(root, 'library', 'json.html'))) {
    throw new Error(`Python docs not found under ${root}: run \`apt-get update && apt-get install -y python3.11-doc\` (see fixtures/eval/README.md)`);
  }
}

/** The installed python3.11-doc version (part of cache keys), or `unknown` without dpkg. */
export function pythonDocsVersion(): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', 'python3.11-doc'], { encoding: 'utf8' }).trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Page paths listed in fixtures/eval/corpus-subset.txt (the quick eval corpus). */
export async function subsetPages(listFile = 'fixtures/eval/corpus-subset.txt'): Promise<string[]> {
  const lines = (await readFile(listFile, 'utf8')).split('\n').map((line) => line.trim());
  return lines.filter((line) => line !== '' && !line.startsWith('#'));
}

/** Every content page of the docs, sorted: all `.html` files except `_static`-style folders and navigation/index pages. */
export async function allPages(root = PYTHON_DOCS_ROOT): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const pages: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.html')) continue;
    const relative = path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
    if (relative.startsWith('_') || NAVIGATION_PAGES.test(relative)) continue;
    pages.push(relative);
  }
  return pages.sort();
}

/** What the bench uses of one page: its headings, API names, prose paragraphs and visible-text size. */
export interface PageText {
  page: string;
  headings: string[];
  /** Documented API objects, e.g. `json.dumps` (from Sphinx signature anchors). */
  apiNames: string[];
  /** Paragraph texts, whitespace collapsed. */
  paragraphs: string[];
  /** Characters of visible text in the main body. */
  visibleChars: number;
}

/** Extracts headings, API names and paragraphs from the main body of a page (scripts, styles and ¶ links removed). */
export function extractPageText(page: string, html: string): PageText {
  const root = parse(html, { blockTextElements: { script: false, style: false, pre: true } });
  const main = root.querySelector('div[role="main"]') ?? root.querySelector('body') ?? root;
  for (const link of main.querySelectorAll('a.headerlink')) link.remove();
  const clean = (text: string) => text.replace(/\s+/g, ' ').replace(/¶/g, '').trim();
  return {
    page,
    headings: main.querySelectorAll('h1, h2, h3').map((heading) => clean(heading.text)).filter((text) => text !== ''),
    apiNames: main
      .querySelectorAll('dt.sig[id]')
      .map((signature) => signature.id)
      .filter((id) => /^[A-Za-z_][\w.]*$/.test(id)),
    paragraphs: main.querySelectorAll('p').map((paragraph) => clean(paragraph.text)).filter((text) => text !== ''),
    visibleChars: clean(main.text).length,
  };
}

/** Reads and extracts pages (sequentially: parsing is CPU-bound). */
export async function readPages(pages: readonly string[], root = PYTHON_DOCS_ROOT): Promise<PageText[]> {
  const texts: PageText[] = [];
  for (const page of pages) texts.push(extractPageText(page, await readFile(path.join(root, page), 'utf8')));
  return texts;
}

/**
 * Prose sentences of a paragraph: split after `.`, `!` or `?` before a capital letter, keeping only sentences
 * that look like prose (20–400 characters, at least four words, mostly letters).
 */
export function splitSentences(paragraph: string): string[] {
  return paragraph
    .split(/(?<=[.!?])\s+(?=[A-Z(])/)
    .map((sentence) => sentence.trim())
    .filter((sentence) => {
      if (sentence.length < 20 || sentence.length > 400) return false;
      if (sentence.split(' ').length < 4) return false;
      const letters = sentence.replace(/[^A-Za-z]/g, '').length;
      return letters / sentence.length > 0.6;
    });
}
