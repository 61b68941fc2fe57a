import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { AppError, StageTimeoutError, UpstreamError } from '../../errors/index.js';
import type { AnswerGenerator, ChatMessage, GenerateParams } from './types.js';

/** OpenAI's own endpoint, used when only LLM_API_KEY is set. */
export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** Settings of the OpenAI-compatible chat adapter (the `llm` and `timeouts.llmMs` slices of the config). */
export interface OpenAIChatGeneratorOptions {
  /** Base URL ending in `/v1`, e.g. `http://localhost:11434/v1` (Ollama) or `http://vllm:8000/v1`. Default: OpenAI. */
  baseUrl?: string | undefined;
  /** Sent as `Authorization: Bearer`; local servers usually need none (a placeholder is sent then). */
  apiKey?: string | undefined;
  model: string;
  /** Completion token limit per call. */
  maxTokens: number;
  /** Sampling temperature, 0-2. */
  temperature: number;
  /** Per-call budget in milliseconds (see GenerateParams.timeoutMs); also the HTTP client's timeout, so per-call values cannot exceed it. */
  timeoutMs: number;
  /**
   * Retries of a failed request, inside the same budget. Default 0: the answerer's extractive fallback answers at once,
   * whereas LangChain's backoff (~1-2 s before the first retry) would eat most of a short LLM_TIMEOUT_MS and turn an
   * HTTP 500 into a timeout.
   */
  maxRetries?: number | undefined;
  /** A pre-built client, for tests; the options above then only name the model. */
  client?: ChatOpenAI | undefined;
}

/**
 * AnswerGenerator on LangChain's ChatOpenAI (Chat Completions API), for any OpenAI-compatible endpoint:
 * OpenAI, vLLM, Ollama, llama.cpp server. Everything the client needs is passed explicitly, so nothing is read
 * from OPENAI_* environment variables.
 */
export class OpenAIChatGenerator implements AnswerGenerator {
  readonly modelId: string;
  readonly maxTokens: number;
  private readonly client: ChatOpenAI;
  private readonly timeoutMs: number;
  private readonly host: string;

  constructor(options: OpenAIChatGeneratorOptions) {
    const baseUrl = options.baseUrl ?? OPENAI_BASE_URL;
    this.modelId = options.model;
    this.maxTokens = options.maxTokens;
    this.timeoutMs = options.timeoutMs;
    this.host = safeHost(baseUrl);
    this.client =
      options.client ??
      new ChatOpenAI({
        model: options.model,
        // The OpenAI SDK refuses to start without a key; local servers ignore it.
        apiKey: options.apiKey ?? 'unused',
        maxTokens: options.maxTokens,
        temperature: options.temperature,
        timeout: options.timeoutMs,
        maxRetries: options.maxRetries ?? 0,
        // `stream_options.include_usage` is rejected by some OpenAI-compatible servers; we do not use usage.
        streamUsage: false,
        configuration: { baseURL: baseUrl },
      });
  }

  async generate(params: GenerateParams): Promise<string> {
    const budget = this.budget(params);
    const call = new CallControl(params.signal, budget);
    call.arm();
    try {
      const message = await this.client.invoke(toLangChainMessages(params.messages), { signal: call.signal });
      return textOf(message.content);
    } catch (error) {
      throw this.wrap(error, call, budget);
    } finally {
      call.dispose();
    }
  }

  async *stream(params: GenerateParams): AsyncIterable<string> {
    const budget = this.budget(params);
    const call = new CallControl(params.signal, budget);
    call.arm();
    let finished = false;
    try {
      const chunks = await this.client.stream(toLangChainMessages(params.messages), { signal: call.signal });
      for await (const chunk of chunks) {
        call.arm();
        const text = textOf(chunk.content);
        if (text !== '') yield text;
      }
      finished = true;
    } catch (error) {
      finished = true;
      throw this.wrap(error, call, budget);
    } finally {
      // The consumer stopped early: do not leave the upstream generating for nobody.
      if (!finished) call.abortQuietly();
      call.dispose();
    }
  }

  /** The call's deadline: the per-call value, capped by the client's own timeout (which starts later, so ours fires first). */
  private budget(params: GenerateParams): number {
    return Math.min(params.timeoutMs ?? this.timeoutMs, this.timeoutMs);
  }

  private wrap(error: unknown, call: CallControl, budget: number): unknown {
    if (call.timedOut) return new StageTimeoutError('llm', budget, { cause: error, details: { model: this.modelId } });
    if (call.callerAborted) return call.callerReason ?? error;
    if (error instanceof AppError) return error;
    const status = (error as { status?: unknown }).status;
    const detail = error instanceof Error ? error.message : String(error);
    if ((error as { name?: unknown }).name === 'TimeoutError') {
      return new StageTimeoutError('llm', budget, { cause: error, details: { model: this.modelId } });
    }
    return new UpstreamError('LLM_UNAVAILABLE', `LLM request to ${this.host} (model ${this.modelId}) failed: ${detail}`, {
      cause: error,
      details: { model: this.modelId, ...(typeof status === 'number' ? { status } : {}) },
      retryable: typeof status !== 'number' || status >= 500 || status === 429,
    });
  }
}

/** One call's abort wiring: the caller's signal plus a re-armable deadline. */
class CallControl {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onCallerAbort: () => void;
  timedOut = false;

  constructor(
    private readonly caller: AbortSignal | undefined,
    private readonly budgetMs: number,
  ) {
    this.onCallerAbort = () => this.controller.abort(caller?.reason);
    if (caller?.aborted) this.onCallerAbort();
    else caller?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get callerAborted(): boolean {
    return this.caller?.aborted === true;
  }

  get callerReason(): unknown {
    return this.caller?.reason;
  }

  /** (Re)starts the deadline. */
  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new StageTimeoutError('llm', this.budgetMs));
    }, this.budgetMs);
  }

  abortQuietly(): void {
    if (!this.controller.signal.aborted) this.controller.abort();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}

function toLangChainMessages(messages: ChatMessage[]): BaseMessage[] {
  return messages.map((message) => {
    switch (message.role) {
      case 'system':
        return new SystemMessage(message.content);
      case 'assistant':
        return new AIMessage(message.content);
      default:
        return new HumanMessage(message.content);
    }
  });
}

/** Text of a message's content, whether a string or content blocks. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block: unknown) => (typeof block === 'string' ? block : typeof (block as { text?: unknown }).text === 'string' ? (block as { text: string }).text : ''))
    .join('');
}

/** Host of the base URL for error messages; never the credentials a URL may carry. */
function safeHost(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return 'the LLM endpoint';
  }
}
