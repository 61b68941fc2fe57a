import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The answer prompt the service uses; a new wording is a new file and a change of this one line. */
export const ANSWER_PROMPT = 'answer@v1';

/** Where the versioned prompt templates live (`<name>.v<version>.md`). */
export const PROMPTS_DIR = fileURLToPath(new URL('./prompts/', import.meta.url));

const SECTIONS = ['system', 'user', 'passage'] as const;
type SectionName = (typeof SECTIONS)[number];

/** Placeholders each section may use; a template using anything else is refused at load time. */
const ALLOWED: Record<SectionName, { allowed: string[]; required: string[] }> = {
  system: { allowed: [], required: [] },
  user: { allowed: ['passages', 'query'], required: ['passages', 'query'] },
  passage: { allowed: ['n', 'source', 'location', 'text'], required: ['n', 'text'] },
};

const FILE_NAME = /^([a-z][a-z0-9-]*)\.v(\d+)\.md$/;
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** One loaded prompt template. */
export interface PromptTemplate {
  /** `name@vN`, reported with every answer as `promptVersion`. */
  id: string;
  name: string;
  version: number;
  system: string;
  user: string;
  /** How one passage is rendered inside `{{passages}}` of the user section. */
  passage: string;
}

/** The templates of one folder, read once at startup. */
export class PromptLibrary {
  private constructor(private readonly templates: Map<string, PromptTemplate>) {}

  /** Reads and checks every `<name>.v<N>.md` in `dir` (synchronously: this runs once, before serving). */
  static load(dir: string = PROMPTS_DIR): PromptLibrary {
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch (error) {
      throw new Error(`Cannot read the prompt templates folder ${dir}; it must ship next to prompts.ts`, { cause: error });
    }
    const templates = new Map<string, PromptTemplate>();
    for (const file of files.sort()) {
      const match = FILE_NAME.exec(file);
      if (!match) continue;
      const template = parseTemplate(match[1] as string, Number(match[2]), readFileSync(path.join(dir, file), 'utf8'));
      templates.set(template.id, template);
    }
    return new PromptLibrary(templates);
  }

  /** The template `name@vN` (e.g. `answer@v1`); throws naming the ones available. */
  get(ref: string): PromptTemplate {
    const template = this.templates.get(ref);
    if (!template) throw new Error(`Prompt template '${ref}' not found; available: ${[...this.templates.keys()].join(', ') || 'none'}`);
    return template;
  }
}

/** Parses one template file into its sections and checks their placeholders. */
export function parseTemplate(name: string, version: number, source: string): PromptTemplate {
  const id = `${name}@v${version}`;
  const body = source.replace(/<!--[\s\S]*?-->/g, '');
  const sections: Partial<Record<SectionName, string>> = {};
  const parts = body.split(/^## +(\w+)[ \t]*$/m);
  for (let index = 1; index < parts.length; index += 2) {
    const heading = (parts[index] as string).toLowerCase();
    if (!(SECTIONS as readonly string[]).includes(heading)) throw new Error(`Prompt ${id}: unknown section "## ${heading}"`);
    sections[heading as SectionName] = (parts[index + 1] ?? '').trim();
  }
  for (const section of SECTIONS) {
    const text = sections[section];
    if (text === undefined || text === '') throw new Error(`Prompt ${id}: missing section "## ${section}"`);
    const used = new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string));
    const { allowed, required } = ALLOWED[section];
    for (const key of used) if (!allowed.includes(key)) throw new Error(`Prompt ${id}: section ${section} uses unknown placeholder {{${key}}}`);
    for (const key of required) if (!used.has(key)) throw new Error(`Prompt ${id}: section ${section} must contain {{${key}}}`);
  }
  return { id, name, version, system: sections.system as string, user: sections.user as string, passage: sections.passage as string };
}

/**
 * Fills `{{key}}` placeholders in one pass, so text inserted for one placeholder (a passage that happens to
 * contain "{{query}}") is never substituted again.
 */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, key: string) => values[key] ?? whole);
}
