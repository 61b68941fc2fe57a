/**
 * Port of the answer stage: a chat model that turns a prompt into text. One adapter per wire protocol
 * (`openai-chat-generator.ts` speaks OpenAI Chat Completions: OpenAI, vLLM, Ollama, llama.cpp server).
 * The orchestrator (`answerer.ts`) builds prompts, parses citations and falls back to the extractive answerer.
 */

/** One chat message; `system` carries the instructions, `user` the passages and question. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Parameters of one completion. */
export interface GenerateParams {
  messages: ChatMessage[];
  /**
   * Aborts the call (e.g. the HTTP client went away). When it fires, the call rejects with the signal's
   * reason and nothing else is retried.
   */
  signal?: AbortSignal | undefined;
  /**
   * Milliseconds the model may take; defaults to, and is capped at, the adapter's configured timeout (LLM_TIMEOUT_MS, default 30000).
   * `generate`: the whole completion. `stream`: the first token and every gap between two tokens, so a long answer
   * that keeps flowing is never cut off. Past it the call rejects with StageTimeoutError (stage `llm`).
   */
  timeoutMs?: number | undefined;
}

/** Generates text with a chat model. Failures are wrapped at the adapter boundary, keeping `cause`. */
export interface AnswerGenerator {
  /** Model name for logs, e.g. `gpt-4o-mini` or `llama3.1:8b`. */
  readonly modelId: string;
  /** Completion tokens one call may produce (LLM_MAX_TOKENS, default 512); the prompt is not counted. */
  readonly maxTokens: number;
  /**
   * The whole completion as one string (may be empty if the model produced nothing).
   * Throws StageTimeoutError (stage `llm`) past the timeout and UpstreamError (code LLM_UNAVAILABLE) for any
   * transport or HTTP failure. Out of contract: tool calls, images, JSON mode.
   */
  generate(params: GenerateParams): Promise<string>;
  /**
   * The completion as text deltas, in order; their concatenation equals what `generate` would return.
   * Errors (same classes as `generate`) surface from the iterator, possibly after some deltas.
   * Stopping the iteration early aborts the upstream request.
   */
  stream(params: GenerateParams): AsyncIterable<string>;
}
