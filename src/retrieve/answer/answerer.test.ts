import { describe, expect, it } from 'vitest';
import { StageTimeoutError, UpstreamError } from '../../errors/index.js';
import type { RetrievalRequest, RetrievalResult } from '../retriever.js';
import type { ScoredChunk } from '../types.js';
import { Answerer, parseCitations } from './answerer.js';
import { ANSWER_PROMPT, PromptLibrary } from './prompts.js';
import type { AnswerGenerator, GenerateParams } from './types.js';

const prompt = PromptLibrary.load().get(ANSWER_PROMPT);

function chunk(n: number, text: string, extra: Partial<ScoredChunk> = {}): ScoredChunk {
  return { id: `chunk-${n}`, documentId: `doc-${n}`, source: `file-${n}.txt`, chunkIndex: 0, text, charStart: 0, charEnd: text.length, metadata: {}, score: 1 / n, ...extra };
}

const hits = [
  chunk(1, 'Employees receive 20 weeks of fully paid parental leave.', { page: 2 }),
  chunk(2, 'Laptops are replaced on a three year cycle.', { headingPath: ['Equipment', 'Laptops'] }),
  chunk(3, 'Lost badges must be reported within four hours.'),
];

function retrieverReturning(results: ScoredChunk[]) {
  return {
    async retrieve(_request: RetrievalRequest): Promise<RetrievalResult> {
      return { results, timings: { embedMs: 1, searchMs: 2, rerankMs: 0, totalMs: 3 }, embeddingCached: false };
    },
  };
}

/** An in-memory generator: replies, or fails, as told; remembers what it was asked. */
class ScriptedGenerator implements AnswerGenerator {
  readonly modelId = 'scripted';
  readonly maxTokens = 100;
  calls: GenerateParams[] = [];
  constructor(private readonly script: { reply?: string; error?: Error; failAfter?: number }) {}
  async generate(params: GenerateParams): Promise<string> {
    this.calls.push(params);
    if (this.script.error) throw this.script.error;
    return this.script.reply ?? '';
  }
  async *stream(params: GenerateParams): AsyncIterable<string> {
    this.calls.push(params);
    const words = (this.script.reply ?? '').split(/(?<= )/);
    for (const [index, word] of words.entries()) {
      if (this.script.failAfter !== undefined && index >= this.script.failAfter) throw this.script.error;
      yield word;
    }
    if (this.script.error && this.script.failAfter === undefined) throw this.script.error;
  }
}

const request: RetrievalRequest = { collection: 'c', query: 'How many weeks of parental leave?', topK: 3, mode: 'hybrid', rerank: false };

describe('Answerer', () => {
  it('numbers the passages in the prompt and cites what the model cited, in order of first citation', async () => {
    const generator = new ScriptedGenerator({ reply: 'It is 20 weeks [3][1]. Also see [1] and [9].' });
    const answerer = new Answerer({ retriever: retrieverReturning(hits), generator, prompt, llmTimeoutMs: 1000 });
    const result = await answerer.answer(request);
    expect(result.mode).toBe('llm');
    expect(result.citations.map((c) => c.passage)).toEqual([3, 1]);
    expect(result.citations[1]).toEqual({ passage: 1, documentId: 'doc-1', source: 'file-1.txt', chunkId: 'chunk-1', page: 2 });
    expect(result.citationsInferred).toBe(false);
    expect(result.promptVersion).toBe('answer@v1');
    expect(result.timings).toMatchObject({ embedMs: 1, searchMs: 2, rerankMs: 0 });
    expect(result.timings.totalMs).toBeGreaterThanOrEqual(result.timings.llmMs);
    const user = generator.calls[0]!.messages[1]!.content;
    expect(user).toContain('[1] file-1.txt (page 2)\nEmployees receive 20 weeks');
    expect(user).toContain('[2] file-2.txt (section: Equipment > Laptops)');
    expect(user).toContain('Question: How many weeks of parental leave?');
    expect(generator.calls[0]!.timeoutMs).toBe(1000);
  });

  it('lists the passages given, flagged as inferred, when the model cites nothing', async () => {
    const answerer = new Answerer({ retriever: retrieverReturning(hits), generator: new ScriptedGenerator({ reply: 'Twenty weeks.' }), prompt, llmTimeoutMs: 1000 });
    const result = await answerer.answer(request);
    expect(result.citationsInferred).toBe(true);
    expect(result.citations.map((c) => c.passage)).toEqual([1, 2, 3]);
  });

  it.each([
    ['an upstream failure', new UpstreamError('LLM_UNAVAILABLE', 'LLM request to secret-host:8000 failed: 500', { details: { status: 500 } }), 'LLM_UNAVAILABLE', /HTTP 500/],
    ['a timeout', new StageTimeoutError('llm', 250), 'STAGE_TIMEOUT', /250 ms/],
    ['an empty reply', undefined, 'LLM_EMPTY_ANSWER', /empty/],
  ])('falls back to an extractive answer with citations on %s', async (_name, error, code, message) => {
    const generator = new ScriptedGenerator(error ? { error } : { reply: '  ' });
    const answerer = new Answerer({ retriever: retrieverReturning(hits), generator, prompt, llmTimeoutMs: 1000 });
    const result = await answerer.answer(request);
    expect(result.mode).toBe('extractive');
    expect(result.fallback?.code).toBe(code);
    expect(result.fallback?.message).toMatch(message);
    expect(result.fallback?.message).not.toMatch(/secret-host/);
    expect(result.answer).toMatch(/20 weeks of fully paid parental leave\. \[1\]/);
    expect(result.citations[0]?.documentId).toBe('doc-1');
  });

  it('answers extractively without calling anything when no LLM is configured, and says so', async () => {
    const result = await new Answerer({ retriever: retrieverReturning(hits), prompt, llmTimeoutMs: 1000 }).answer(request);
    expect(result).toMatchObject({ mode: 'extractive', fallback: { code: 'LLM_NOT_CONFIGURED' }, timings: { llmMs: 0 } });
  });

  it('does not call the LLM when retrieval found nothing', async () => {
    const generator = new ScriptedGenerator({ reply: 'x' });
    const result = await new Answerer({ retriever: retrieverReturning([]), generator, prompt, llmTimeoutMs: 1000 }).answer(request);
    expect(result).toMatchObject({ answer: '', citations: [], mode: 'extractive', fallback: { code: 'NO_PASSAGES' } });
    expect(generator.calls).toHaveLength(0);
  });

  it('streams tokens, and on a mid-stream failure returns the extractive answer', async () => {
    const tokens: string[] = [];
    const ok = new Answerer({ retriever: retrieverReturning(hits), generator: new ScriptedGenerator({ reply: 'It is 20 weeks [1].' }), prompt, llmTimeoutMs: 1000 });
    const streamed = await ok.answer(request, { onToken: (t) => tokens.push(t) });
    expect(tokens.join('')).toBe('It is 20 weeks [1].');
    expect(streamed.answer).toBe('It is 20 weeks [1].');

    tokens.length = 0;
    const failing = new ScriptedGenerator({ reply: 'It is 20 weeks [1].', failAfter: 2, error: new UpstreamError('LLM_UNAVAILABLE', 'cut') });
    const result = await new Answerer({ retriever: retrieverReturning(hits), generator: failing, prompt, llmTimeoutMs: 1000 }).answer(request, { onToken: (t) => tokens.push(t) });
    expect(tokens).toEqual(['It ', 'is ']);
    expect(result.mode).toBe('extractive');
    expect(result.citations.length).toBeGreaterThan(0);
  });

  it('rejects instead of falling back when the client went away', async () => {
    const controller = new AbortController();
    const reason = new Error('client went away');
    controller.abort(reason);
    const generator = new ScriptedGenerator({ error: reason });
    const answerer = new Answerer({ retriever: retrieverReturning(hits), generator, prompt, llmTimeoutMs: 1000 });
    await expect(answerer.answer(request, { signal: controller.signal })).rejects.toBe(reason);
  });

  it('leaves out passages beyond the context budget, so they cannot be cited', async () => {
    const long = hits.map((hit) => ({ ...hit, text: `${hit.text} ${'filler '.repeat(100)}` }));
    const generator = new ScriptedGenerator({ reply: 'See [1] and [3].' });
    const result = await new Answerer({ retriever: retrieverReturning(long), generator, prompt, llmTimeoutMs: 1000, maxContextChars: 1500 }).answer(request);
    expect(generator.calls[0]!.messages[1]!.content).not.toContain('[3] file-3.txt');
    expect(result.citations.map((c) => c.passage)).toEqual([1]);
  });
});

describe('parseCitations', () => {
  it('reads [n], [n, m] and [n][m], ignoring numbers outside the passages', () => {
    expect(parseCitations('a [2, 1] b [3][2] c [0] [4] [x]', hits).citations.map((c) => c.passage)).toEqual([2, 1, 3]);
  });
});
