import type { DocumentParser, ParsedDocument, ParseInput } from '../types.js';
import { assembleDocument, normalisePreformatted, type SectionDraft } from './sections.js';
import { readUtf8File } from './text-parser.js';

const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;
const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
// Lines that cannot be the text of a setext heading (list items, quotes, tables, indented code, HTML).
const NOT_SETEXT_TEXT = /^(?: {4}|\t| {0,3}(?:[-+*>|<]|\d+[.)])(?:\s|$))/;
const LINK_DEFINITION = /^ {0,3}\[[^\]]+\]:\s*\S+.*$/;

/** Turns inline Markdown into readable text: link and image targets, emphasis markers and code ticks go. */
export function stripInlineMarkdown(line: string): string {
  if (!/[[*_`~<]/.test(line)) return line;
  // Odd pieces are code spans: their content is kept verbatim (`__init__` must survive emphasis stripping).
  return line
    .split(/(`+[^`]+`+)/)
    .map((piece, index) => (index % 2 === 1 ? piece.replace(/^`+|`+$/g, '') : stripMarkup(piece)))
    .join('');
}

function stripMarkup(text: string): string {
  return text
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)/g, '$1')
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
    .replace(/<((?:https?|mailto):[^>\s]+)>/g, '$1')
    .replace(/\*\*(?=\S)([^*]*?\S)\*\*/g, '$1')
    .replace(/(^|[\s(])([*_])(?=[^\s*_])([^*_]*?[^\s*_])\2(?=[\s).,;:!?]|$)/g, '$1$3')
    .replace(/~~(?=\S)([^~]*?\S)~~/g, '$1');
}

interface Heading {
  level: number;
  text: string;
}

/** Splits Markdown into sections by ATX (`## x`) and setext (`x\n===`) headings, ignoring headings inside fenced code. */
export function markdownToDocument(markdown: string, fileName: string): ParsedDocument {
  const lines = stripFrontMatter(normalisePreformatted(markdown)).split('\n');
  const drafts: SectionDraft[] = [];
  const headings: Heading[] = [];
  let body: string[] = [];
  let hasBody = false;
  let title: string | undefined;
  let fence: { char: string; length: number } | undefined;

  const flush = () => {
    if (hasBody) drafts.push({ text: normalisePreformatted(body.join('\n')), headingPath: headings.map((h) => h.text) });
    body = [];
    hasBody = false;
  };
  const startSection = (level: number, rawText: string) => {
    flush();
    const text = stripInlineMarkdown(rawText).trim();
    while (headings.length > 0 && (headings[headings.length - 1] as Heading).level >= level) headings.pop();
    if (text === '') return;
    headings.push({ level, text });
    if (level === 1 && title === undefined) title = text;
    body.push(text);
  };

  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as string;
    if (fence) {
      const close = FENCE_OPEN.exec(line);
      if (close?.[1]?.startsWith(fence.char) && close[1].length >= fence.length && close[2]?.trim() === '') {
        fence = undefined;
        body.push('');
      } else {
        body.push(line);
        if (line.trim() !== '') hasBody = true;
      }
      continue;
    }
    const open = FENCE_OPEN.exec(line);
    if (open?.[1] && !(open[1].startsWith('`') && open[2]?.includes('`'))) {
      fence = { char: open[1].charAt(0), length: open[1].length };
      body.push('');
      continue;
    }
    const atx = ATX_HEADING.exec(line);
    if (atx?.[1]) {
      startSection(atx[1].length, atx[2] ?? '');
      continue;
    }
    const next = lines[i + 1];
    const underline = next === undefined ? null : SETEXT_UNDERLINE.exec(next);
    const previous = i > 0 ? (lines[i - 1] as string) : '';
    if (underline?.[1] && line.trim() !== '' && previous.trim() === '' && !NOT_SETEXT_TEXT.test(line)) {
      startSection(underline[1].startsWith('=') ? 1 : 2, line);
      i += 1;
      continue;
    }
    if (LINK_DEFINITION.test(line)) continue;
    body.push(stripInlineMarkdown(line));
    if (line.trim() !== '') hasBody = true;
  }
  flush();
  return assembleDocument(drafts, title, fileName);
}

/** Removes a leading YAML (`---`) or TOML (`+++`) front-matter block. */
function stripFrontMatter(text: string): string {
  const marker = text.startsWith('---\n') ? '---' : text.startsWith('+++\n') ? '+++' : undefined;
  if (marker === undefined) return text;
  const end = new RegExp(`\\n(?:${marker.replace(/\+/g, '\\+')}|\\.\\.\\.)[ \\t]*(?:\\n|$)`).exec(text.slice(4));
  if (!end) return text;
  return text.slice(4 + end.index + end[0].length);
}

/** Parses Markdown (CommonMark/GFM) into heading sections with readable text. */
export class MarkdownParser implements DocumentParser {
  readonly contentTypes = ['text/markdown'] as const;

  async parse(input: ParseInput): Promise<ParsedDocument> {
    return markdownToDocument(await readUtf8File(input.filePath, input.fileName), input.fileName);
  }
}
