import { HTMLElement, parse, TextNode, type Node } from 'node-html-parser';
import type { DocumentParser, ParsedDocument, ParseInput } from '../types.js';
import { assembleDocument, normalisePreformatted, stripControlCharacters, type SectionDraft } from './sections.js';
import { readUtf8File } from './text-parser.js';

/** Page furniture that never holds document content. */
const NOISE_TAGS = new Set([
  'script', 'style', 'noscript', 'template', 'nav', 'header', 'footer', 'aside', 'form', 'iframe', 'svg',
  'button', 'select', 'object', 'embed', 'canvas', 'head',
]);
const NOISE_ROLES = new Set(['navigation', 'banner', 'contentinfo']);
/** Sphinx chrome, by tag and class (Python's docs are ingested by the thousands). */
const NOISE_CLASSES: Readonly<Record<string, readonly string[]>> = {
  div: ['related', 'sphinxsidebar', 'footer'],
  a: ['headerlink'],
};
/** Where the content lives, most specific first; the whole body otherwise. */
const CONTENT_CANDIDATES: readonly ((element: HTMLElement, tag: string) => boolean)[] = [
  (_element, tag) => tag === 'main',
  (element) => element.getAttribute('role') === 'main',
  (element, tag) => tag === 'div' && element.classList.contains('body'),
  (_element, tag) => tag === 'article',
];

/** Elements that end a paragraph: the chunker prefers to split at the blank line they leave. */
const PARAGRAPH_ELEMENTS = new Set([
  'p', 'pre', 'blockquote', 'ul', 'ol', 'dl', 'table', 'section', 'article', 'figure', 'hr', 'details',
  'address', 'fieldset', 'main', 'body',
]);
/** Elements that start on a new line. */
const LINE_ELEMENTS = new Set([
  'div', 'li', 'dt', 'dd', 'tr', 'br', 'caption', 'figcaption', 'summary', 'thead', 'tbody', 'tfoot',
  'dialog', 'hgroup', 'legend', 'option', 'center', 'title',
]);
/** Elements separated from their neighbours by a space even without whitespace in the markup. */
const CELL_ELEMENTS = new Set(['td', 'th', 'img']);
const HEADING = /^h([1-6])$/;

interface HeadingEntry {
  level: number;
  text: string;
}

/** Collects text with at most one pending separator, so whitespace never piles up and words never glue. */
class TextBuffer {
  private parts: string[] = [];
  private pendingBreaks = 0;
  private pendingSpace = false;

  /** Appends running text with whitespace collapsed; true when it held more than whitespace. */
  inline(raw: string): boolean {
    const collapsed = raw.replace(/\s+/g, ' ');
    if (collapsed === ' ' || collapsed === '') {
      if (collapsed === ' ') this.pendingSpace = true;
      return false;
    }
    if (collapsed.startsWith(' ')) this.pendingSpace = true;
    this.push(collapsed.trim());
    this.pendingSpace = collapsed.endsWith(' ');
    return true;
  }

  /** Appends code as its own paragraph, indentation kept; true when it held more than whitespace. */
  preformatted(raw: string): boolean {
    const text = normalisePreformatted(raw);
    if (text === '') return false;
    this.paragraphBreak();
    this.push(text);
    this.paragraphBreak();
    return true;
  }

  space(): void {
    this.pendingSpace = true;
  }

  lineBreak(): void {
    this.pendingBreaks = Math.max(this.pendingBreaks, 1);
  }

  paragraphBreak(): void {
    this.pendingBreaks = 2;
  }

  /** The text so far, then empties the buffer. */
  take(): string {
    const text = stripControlCharacters(this.parts.join(''));
    this.parts = [];
    this.pendingBreaks = 0;
    this.pendingSpace = false;
    return text;
  }

  private push(text: string): void {
    if (this.parts.length > 0) {
      if (this.pendingBreaks > 0) this.parts.push(this.pendingBreaks === 1 ? '\n' : '\n\n');
      else if (this.pendingSpace) this.parts.push(' ');
    }
    this.parts.push(text);
    this.pendingBreaks = 0;
    this.pendingSpace = false;
  }
}

function tagOf(element: HTMLElement): string {
  return element.rawTagName ? element.rawTagName.toLowerCase() : '';
}

/** True for chrome: scripts, navigation, page header/footer, ARIA landmarks of the page, hidden parts, Sphinx sidebars. */
function isNoise(element: HTMLElement, tag: string): boolean {
  if (NOISE_TAGS.has(tag)) return !isSectioningHeaderOrFooter(element, tag);
  const role = element.getAttribute('role');
  if (role !== undefined && NOISE_ROLES.has(role)) return true;
  if (element.hasAttribute('hidden') || element.getAttribute('aria-hidden') === 'true') return true;
  const classes = NOISE_CLASSES[tag];
  return classes !== undefined && classes.some((name) => element.classList.contains(name));
}

/** A <header>/<footer> inside an article or section belongs to the content (its title, its notes), not to the page. */
function isSectioningHeaderOrFooter(element: HTMLElement, tag: string): boolean {
  if (tag !== 'header' && tag !== 'footer') return false;
  for (let parent = element.parentNode; parent; parent = parent.parentNode) {
    const parentTag = tagOf(parent);
    if (parentTag === 'article' || parentTag === 'section' || parentTag === 'main') return true;
  }
  return false;
}

/** Decoded text of an element and its descendants, noise left out. */
function textOf(element: HTMLElement): string {
  const parts: string[] = [];
  const stack: Node[] = [element];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    if (node instanceof TextNode) {
      parts.push(node.text);
    } else if (node instanceof HTMLElement && (node === element || !isNoise(node, tagOf(node)))) {
      for (let index = node.childNodes.length - 1; index >= 0; index -= 1) stack.push(node.childNodes[index] as Node);
    }
  }
  return parts.join('');
}

/** Text of a heading without Sphinx's "¶" permalink sign, whitespace collapsed. */
function headingText(element: HTMLElement): string {
  return textOf(element).replace(/¶/g, '').replace(/\s+/g, ' ').trim();
}

/** The <title> text, and the element holding the content: the first match of CONTENT_CANDIDATES, else <body>. */
function findTitleAndContent(root: HTMLElement): { title: string | undefined; content: HTMLElement } {
  let title: string | undefined;
  let body: HTMLElement | undefined;
  const candidates: (HTMLElement | undefined)[] = CONTENT_CANDIDATES.map(() => undefined);
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (!(node instanceof HTMLElement)) continue;
    const tag = tagOf(node);
    if (tag === 'title') {
      title ??= textOf(node);
      continue;
    }
    if (node !== root && isNoise(node, tag) && tag !== 'head') continue;
    if (tag === 'body') body ??= node;
    CONTENT_CANDIDATES.forEach((matches, index) => {
      if (candidates[index] === undefined && matches(node, tag)) candidates[index] = node;
    });
    for (let index = node.childNodes.length - 1; index >= 0; index -= 1) stack.push(node.childNodes[index] as Node);
  }
  return { title, content: candidates.find((candidate) => candidate !== undefined) ?? body ?? root };
}

/**
 * Converts an HTML string into sections split at h1–h6, with heading paths (outermost first).
 * Page chrome (navigation, scripts, Sphinx sidebars) is dropped; `<main>`-like content is preferred.
 * Shared by the HTML and DOCX parsers.
 */
export function htmlToDocument(html: string, fileName: string): ParsedDocument {
  // Script and style bodies are skipped by the tokenizer rather than parsed (they may hold markup-like text).
  const root = parse(html, { blockTextElements: { script: false, style: false, noscript: false } });
  const { title, content } = findTitleAndContent(root);
  const { drafts, firstH1 } = collectSections(content);
  return assembleDocument(drafts, title ?? firstH1, fileName);
}

function collectSections(container: HTMLElement): { drafts: SectionDraft[]; firstH1: string | undefined } {
  const drafts: SectionDraft[] = [];
  const headings: HeadingEntry[] = [];
  const buffer = new TextBuffer();
  let hasBody = false;
  let firstH1: string | undefined;
  // Inside a table cell, paragraphs become spaces so that each table row stays on one line.
  let cellDepth = 0;
  const separate = (tag: string) => {
    if (tag === 'tr') buffer.lineBreak();
    else if (CELL_ELEMENTS.has(tag) || (cellDepth > 0 && (PARAGRAPH_ELEMENTS.has(tag) || LINE_ELEMENTS.has(tag)))) buffer.space();
    else if (PARAGRAPH_ELEMENTS.has(tag)) buffer.paragraphBreak();
    else if (LINE_ELEMENTS.has(tag)) buffer.lineBreak();
  };

  const flush = () => {
    const text = buffer.take();
    if (hasBody) drafts.push({ text, headingPath: headings.map((heading) => heading.text) });
    hasBody = false;
  };

  // Iterative walk: deeply nested markup must not overflow the call stack. `{ leave }` marks the end of an element.
  const stack: (Node | { leave: HTMLElement })[] = [container];
  while (stack.length > 0) {
    const item = stack.pop() as Node | { leave: HTMLElement };
    if ('leave' in item) {
      const tag = tagOf(item.leave);
      if (tag === 'td' || tag === 'th') cellDepth -= 1;
      separate(tag);
      continue;
    }
    if (item instanceof TextNode) {
      if (buffer.inline(item.text)) hasBody = true;
      continue;
    }
    if (!(item instanceof HTMLElement)) continue;
    const tag = tagOf(item);
    if (item !== container && isNoise(item, tag)) continue;
    const heading = HEADING.exec(tag);
    if (heading?.[1]) {
      const level = Number(heading[1]);
      const text = headingText(item);
      flush();
      while (headings.length > 0 && (headings[headings.length - 1] as HeadingEntry).level >= level) headings.pop();
      if (text !== '') {
        headings.push({ level, text });
        if (level === 1) firstH1 ??= text;
        buffer.inline(text);
        buffer.paragraphBreak();
      }
      continue;
    }
    if (tag === 'pre') {
      if (buffer.preformatted(textOf(item))) hasBody = true;
      continue;
    }
    separate(tag);
    if (tag === 'td' || tag === 'th') cellDepth += 1;
    if (tag === 'img') {
      const alt = item.getAttribute('alt');
      if (alt && buffer.inline(alt)) hasBody = true;
    }
    stack.push({ leave: item });
    for (let index = item.childNodes.length - 1; index >= 0; index -= 1) stack.push(item.childNodes[index] as Node);
  }
  flush();
  return { drafts, firstH1 };
}

/** Parses HTML pages (Sphinx documentation included) into heading sections. */
export class HtmlParser implements DocumentParser {
  readonly contentTypes = ['text/html'] as const;

  async parse(input: ParseInput): Promise<ParsedDocument> {
    return htmlToDocument(await readUtf8File(input.filePath, input.fileName), input.fileName);
  }
}
