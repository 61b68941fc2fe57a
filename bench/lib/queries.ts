import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { shuffled, seededRandom } from './random.js';
import type { PageText } from './python-docs.js';

/**
 * Realistic queries for latency runs: the labelled eval questions plus questions a developer would type, made
 * from the docs' own section headings and documented API names ("What does json.dumps do?"). The pool is
 * deduplicated and shuffled with a seed; each phase of a run takes its own slice, so no query is repeated
 * unless a run asks for more queries than the pool holds.
 */

const evalQuestionSchema = z.object({
  id: z.string(),
  question: z.string().min(1),
  relevant: z.array(z.string()).min(1),
  answerContains: z.string().optional(),
  style: z.enum(['keyword', 'paraphrase']),
});

/** One labelled question of fixtures/eval/python-docs-questions.json. */
export type EvalQuestion = z.infer<typeof evalQuestionSchema>;

/** Reads and validates the labelled questions. */
export async function loadEvalQuestions(file = 'fixtures/eval/python-docs-questions.json'): Promise<EvalQuestion[]> {
  return z.array(evalQuestionSchema).parse(JSON.parse(await readFile(file, 'utf8')));
}

/** Where a pool query came from. */
export type QueryOrigin = 'eval-question' | 'heading' | 'api';

/** One query of the pool. */
export interface PoolQuery {
  text: string;
  origin: QueryOrigin;
}

const HEADING_TEMPLATES = [
  (topic: string, area: string) => `How does ${topic} work in ${area}?`,
  (topic: string, area: string) => `${topic} (${area})`,
  (topic: string, area: string) => `Where is ${topic} explained for ${area}?`,
  (topic: string) => `What should I know about ${topic}?`,
];
const API_TEMPLATES = [
  (name: string) => `What does ${name} do?`,
  (name: string) => `How do I call ${name} and what does it return?`,
  (name: string) => `Which arguments does ${name} accept?`,
  (name: string) => `example of using ${name}`,
];

/** Section numbers ("16.1.") and the module-title dash part are noise in a question. */
function headingTopic(heading: string): string {
  return heading.replace(/^[\d.]+\s+/, '').trim();
}

/** "library/json.html" → "json"; "tutorial/classes.html" → "the tutorial". */
function pageArea(page: string): string {
  const [folder, file = ''] = page.split('/');
  const name = file.replace(/\.html$/, '');
  return folder === 'library' ? `the ${name} module` : `the ${folder ?? 'docs'} pages`;
}

/** The deduplicated, shuffled pool. `maxChars` drops anything longer than the service accepts. */
export function buildQueryPool(params: { questions: readonly EvalQuestion[]; pages: readonly PageText[]; seed: number; maxChars?: number }): PoolQuery[] {
  const random = seededRandom(params.seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  const candidates: PoolQuery[] = [];
  const topics = new Set<string>();
  for (const page of params.pages) {
    const area = pageArea(page.page);
    for (const heading of page.headings) {
      const topic = headingTopic(heading);
      // A heading repeated on a page (or across pages of one area) would only yield another template of the same query.
      if (topic.length < 4 || topics.has(`${area}|${topic}`)) continue;
      topics.add(`${area}|${topic}`);
      candidates.push({ text: pick(HEADING_TEMPLATES)(topic, area), origin: 'heading' });
    }
    for (const name of page.apiNames) candidates.push({ text: pick(API_TEMPLATES)(name), origin: 'api' });
  }
  const seen = new Set<string>();
  const keep = (query: PoolQuery) => {
    const key = query.text.toLowerCase();
    if (seen.has(key) || query.text.length > (params.maxChars ?? 2000)) return false;
    seen.add(key);
    return true;
  };
  const questions = shuffled(
    params.questions.map((question): PoolQuery => ({ text: question.question, origin: 'eval-question' })),
    random,
  ).filter(keep);
  const generated = shuffled(candidates.filter(keep), random);
  // One hand-written question every EVAL_QUESTION_STRIDE queries, so every slice holds some of them.
  const pool: PoolQuery[] = [];
  for (let index = 0; index < generated.length || questions.length > 0; index++) {
    if (index % EVAL_QUESTION_STRIDE === 0 && questions.length > 0) pool.push(questions.shift() as PoolQuery);
    if (index < generated.length) pool.push(generated[index] as PoolQuery);
  }
  return pool;
}

/** Spacing of the eval questions in the pool. */
const EVAL_QUESTION_STRIDE = 9;

/** Hands out consecutive, non-overlapping slices of the pool (wrapping around when it runs out). */
export class QuerySlicer {
  private offset = 0;
  /** True once a slice had to reuse queries. */
  wrapped = false;

  constructor(private readonly pool: readonly PoolQuery[]) {
    if (pool.length === 0) throw new Error('the query pool is empty');
  }

  /** The next `count` queries. */
  take(count: number): string[] {
    const slice: string[] = [];
    for (let i = 0; i < count; i++) {
      if (this.offset >= this.pool.length) {
        this.offset = 0;
        this.wrapped = true;
      }
      slice.push((this.pool[this.offset++] as PoolQuery).text);
    }
    return slice;
  }
}
