import { type AppError, StageTimeoutError, UpstreamError, toAppError } from '../../errors/index.js';
import type { Logger } from '../../logger.js';
import type { RerankOutcome, RetrievalRequest, RetrievalTimings, Retriever } from '../retriever.js';
import type { ScoredChunk } from '../types.js';
import { ExtractiveAnswerer } from './extractive-answerer.js';
import { type PromptTemplate, renderTemplate } from './prompts.js';
import type { AnswerGenerator, ChatMessage } from './types.js';

/** Who wrote the answer: the chat model, or the extractive fallback. */
export type AnswerMode = 'llm' | 'extractive';

/** A passage the answer cites. `passage` is the number used in the answer's [n] markers. */
export interface AnswerCitation {
  passage: number;
  documentId: string;
  source: string;
  chunkId: string;
  page?: number | undefined;
}

/** Per-stage wall-clock times of one answer, in milliseconds. `llmMs` includes a failed LLM attempt. */
export interface AnswerTimings extends RetrievalTimings {
  llmMs: number;
}

/** The outcome of one answer request. */
export interface AnswerResult {
  /** The answer text with [n] markers (trimmed). Empty only when retrieval found no passage. */
  answer: string;
  /** Cited passages in order of first citation. */
  citations: AnswerCitation[];
  /**
   * True when the model wrote no valid [n] marker: `citations` then lists every passage it was given, in prompt
   * order, as the sources it answered from (weak local models often drop markers; an empty list would hide them).
   */
  citationsInferred: boolean;
  mode: AnswerMode;
  /** Why the extractive answerer answered (LLM_NOT_CONFIGURED, LLM_UNAVAILABLE, STAGE_TIMEOUT, LLM_EMPTY_ANSWER, NO_PASSAGES). */
  fallback?: { code: string; message: string } | undefined;
  /** The prompt template of the LLM path, `name@vN`. */
  promptVersion: string;
  timings: AnswerTimings;
  /** Present when the request asked for reranking: whether it ran, or why the passages kept their fused order. */
  rerank?: RerankOutcome | undefined;
}

/** Retrieval done, generation pending: lets the HTTP layer report retrieval errors with a status before streaming. */
export interface PreparedAnswer {
  request: RetrievalRequest;
  passages: ScoredChunk[];
  retrieval: RetrievalTimings;
  rerank?: RerankOutcome | undefined;
  /** performance.now() when the request started. */
  startedAt: number;
}

/** How one generation runs. */
export interface GenerateOptions {
  /** Fires when the HTTP client disconnects: the LLM call is aborted and `generate` rejects with the reason. */
  signal?: AbortSignal | undefined;
  /** Streams the LLM's text deltas as they arrive. Only LLM text is streamed; the final result is authoritative. */
  onToken?: ((text: string) => void) | undefined;
}

/** Collaborators and limits of the answerer. */
export interface AnswererDeps {
  retriever: Pick<Retriever, 'retrieve'>;
  /** Absent when no LLM is configured: every answer is extractive. */
  generator?: AnswerGenerator | undefined;
  prompt: PromptTemplate;
  extractive?: ExtractiveAnswerer | undefined;
  /** LLM budget in ms (LLM_TIMEOUT_MS): the whole call, or time to first token and between tokens when streaming. */
  llmTimeoutMs: number;
  /** Characters of rendered passages the prompt may hold; later passages are left out. Default 16000 (~4000 tokens). */
  maxContextChars?: number | undefined;
  logger?: Logger | undefined;
  /** Observes the LLM stage's duration (metrics). */
  onStage?: ((stage: 'llm', ms: number) => void) | undefined;
}

const NO_LLM = { code: 'LLM_NOT_CONFIGURED', message: 'No LLM is configured (set LLM_BASE_URL or LLM_API_KEY); answered from the passages' };

/**
 * The answer path: retrieve (embed → search → rerank) → numbered-passage prompt → chat model → citations parsed
 * from the [n] markers. Whenever the model is missing, times out, fails or says nothing, the extractive answerer
 * answers from the same passages instead, and the result says so (`mode`, `fallback`).
 */
export class Answerer {
  private readonly extractive: ExtractiveAnswerer;
  private readonly maxContextChars: number;

  constructor(private readonly deps: AnswererDeps) {
    this.extractive = deps.extractive ?? new ExtractiveAnswerer();
    this.maxContextChars = deps.maxContextChars ?? 16_000;
  }

  /** The prompt template id reported with every answer. */
  get promptVersion(): string {
    return this.deps.prompt.id;
  }

  /** Whether answers can come from an LLM at all. */
  get hasLlm(): boolean {
    return this.deps.generator !== undefined;
  }

  /** Retrieve then generate. */
  async answer(request: RetrievalRequest, options: GenerateOptions = {}): Promise<AnswerResult> {
    return this.generate(await this.retrieve(request), options);
  }

  /** Runs retrieval; its errors (bad filter, timeouts, overload) propagate as AppErrors. */
  async retrieve(request: RetrievalRequest): Promise<PreparedAnswer> {
    const startedAt = performance.now();
    const { results, timings, rerank } = await this.deps.retriever.retrieve(request);
    return { request, passages: results, retrieval: timings, rerank, startedAt };
  }

  /** Generates the answer for retrieved passages. Never rejects for LLM failures (it falls back); rejects on abort. */
  async generate(prepared: PreparedAnswer, options: GenerateOptions = {}): Promise<AnswerResult> {
    const { passages, request } = prepared;
    if (passages.length === 0) {
      return this.result(prepared, 0, {
        answer: '',
        citations: [],
        citationsInferred: false,
        mode: 'extractive',
        fallback: { code: 'NO_PASSAGES', message: `No passage in collection '${request.collection}' matches the query${request.filter ? ' and filter' : ''}` },
      });
    }
    const { generator } = this.deps;
    if (!generator) return this.fallback(prepared, 0, NO_LLM);

    const given = this.fitContext(passages);
    const messages = this.buildMessages(request.query, given);
    const t0 = performance.now();
    let text = '';
    try {
      const call = { messages, signal: options.signal, timeoutMs: this.deps.llmTimeoutMs };
      if (options.onToken) {
        for await (const delta of generator.stream(call)) {
          text += delta;
          options.onToken(delta);
        }
      } else {
        text = await generator.generate(call);
      }
      if (text.trim() === '') throw new UpstreamError('LLM_EMPTY_ANSWER', 'The LLM returned an empty answer', { retryable: true });
    } catch (error) {
      const llmMs = performance.now() - t0;
      this.deps.onStage?.('llm', llmMs);
      if (options.signal?.aborted) throw error;
      const appError = toAppError(error);
      this.deps.logger?.warn({ err: appError, cause: appError.cause, code: appError.code, model: generator.modelId, llmMs: Math.round(llmMs) }, 'LLM failed; answering extractively');
      return this.fallback(prepared, llmMs, { code: appError.code, message: publicMessage(appError) });
    }
    const llmMs = performance.now() - t0;
    this.deps.onStage?.('llm', llmMs);
    const { citations, inferred } = parseCitations(text, given);
    return this.result(prepared, llmMs, { answer: text.trim(), citations, citationsInferred: inferred, mode: 'llm' });
  }

  /** The chat messages for `query` over `passages`, numbered from 1 in the given order. */
  buildMessages(query: string, passages: ScoredChunk[]): ChatMessage[] {
    const { prompt } = this.deps;
    const rendered = passages.map((passage, index) => renderPassage(prompt, passage, index + 1)).join('\n\n');
    return [
      { role: 'system', content: prompt.system },
      { role: 'user', content: renderTemplate(prompt.user, { passages: rendered, query }) },
    ];
  }

  /** Passages in retrieval order while their rendered text fits the context budget (the first one always, cut if needed). */
  private fitContext(passages: ScoredChunk[]): ScoredChunk[] {
    const given: ScoredChunk[] = [];
    let used = 0;
    for (const passage of passages) {
      const size = renderPassage(this.deps.prompt, passage, given.length + 1).length + 2;
      if (given.length === 0 && size > this.maxContextChars) {
        given.push({ ...passage, text: passage.text.slice(0, Math.max(0, this.maxContextChars - (size - passage.text.length))) });
        break;
      }
      if (used + size > this.maxContextChars) break;
      given.push(passage);
      used += size;
    }
    return given;
  }

  private fallback(prepared: PreparedAnswer, llmMs: number, reason: { code: string; message: string }): AnswerResult {
    const { passages, request } = prepared;
    const { answer, cited } = this.extractive.answer({ query: request.query, passages });
    const citations = cited.map((n) => toCitation(passages[n - 1] as ScoredChunk, n));
    return this.result(prepared, llmMs, { answer, citations, citationsInferred: false, mode: 'extractive', fallback: reason });
  }

  private result(prepared: PreparedAnswer, llmMs: number, body: Omit<AnswerResult, 'timings' | 'promptVersion'>): AnswerResult {
    const { embedMs, searchMs, rerankMs } = prepared.retrieval;
    return {
      ...body,
      promptVersion: this.deps.prompt.id,
      timings: { embedMs, searchMs, rerankMs, llmMs: round(llmMs), totalMs: round(performance.now() - prepared.startedAt) },
      ...(prepared.rerank ? { rerank: prepared.rerank } : {}),
    };
  }
}

/**
 * Citations from the [n] markers in `answer` (also [1, 2] and [1][2]), in order of first citation; numbers outside
 * 1..passages.length are ignored. With no valid marker, every passage given is listed and `inferred` is true.
 */
export function parseCitations(answer: string, passages: ScoredChunk[]): { citations: AnswerCitation[]; inferred: boolean } {
  const order: number[] = [];
  for (const match of answer.matchAll(/\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]/g)) {
    for (const part of (match[1] as string).split(/[,;]/)) {
      const n = Number(part.trim());
      if (Number.isInteger(n) && n >= 1 && n <= passages.length && !order.includes(n)) order.push(n);
    }
  }
  if (order.length === 0) return { citations: passages.map((passage, index) => toCitation(passage, index + 1)), inferred: true };
  return { citations: order.map((n) => toCitation(passages[n - 1] as ScoredChunk, n)), inferred: false };
}

function toCitation(passage: ScoredChunk, n: number): AnswerCitation {
  return {
    passage: n,
    documentId: passage.documentId,
    source: passage.source,
    chunkId: passage.id,
    ...(typeof passage.page === 'number' ? { page: passage.page } : {}),
  };
}

function renderPassage(prompt: PromptTemplate, passage: ScoredChunk, n: number): string {
  const where: string[] = [];
  if (typeof passage.page === 'number') where.push(`page ${passage.page}`);
  if (passage.headingPath && passage.headingPath.length > 0) where.push(`section: ${passage.headingPath.join(' > ')}`);
  return renderTemplate(prompt.passage, {
    n: String(n),
    source: passage.source,
    location: where.length > 0 ? ` (${where.join('; ')})` : '',
    text: passage.text.trim(),
  });
}

/** What callers are told about an LLM failure: the kind, never hosts or upstream bodies (those go to the log). */
function publicMessage(error: AppError): string {
  if (error instanceof StageTimeoutError) return `The LLM did not answer within ${String(error.details?.timeoutMs)} ms; answered from the passages`;
  const status = error.details?.status;
  if (error.code === 'LLM_EMPTY_ANSWER') return 'The LLM returned an empty answer; answered from the passages';
  return `The LLM request failed${typeof status === 'number' ? ` with HTTP ${status}` : ''}; answered from the passages`;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
