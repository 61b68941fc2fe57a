import type { ServerResponse } from 'node:http';
import { toAppError } from '../../errors/index.js';
import type { AnswerResult } from '../../retrieve/answer/answerer.js';
import type { RetrievalRequest } from '../../retrieve/retriever.js';
import type { HandlerDeps } from './deps.js';

/** A validated answer request. */
export type AnswerInput = RetrievalRequest;

/** The answer as the API returns it (JSON body, or the `done` event when streaming). */
export type AnswerOutput = AnswerResult;

/** Where a streamed answer goes; the HTTP layer implements it with Server-Sent Events. */
export interface AnswerEventSink {
  /** Called once retrieval succeeded; before that, errors still become a normal HTTP error response. */
  open(): void;
  token(text: string): void;
  done(answer: AnswerOutput): void;
  error(error: { code: string; message: string }): void;
}

/** Retrieves, asks the LLM (or falls back) and returns the whole answer. */
export async function answer(deps: HandlerDeps, input: AnswerInput, options: { signal?: AbortSignal | undefined } = {}): Promise<AnswerOutput> {
  return deps.answerer.answer(input, { signal: options.signal });
}

/**
 * Streams an answer: retrieval first (its errors reject, for a JSON error with the right status), then `open`,
 * one `token` per LLM delta, and `done` with the full result. If the LLM fails mid-stream the extractive answer
 * arrives in `done` (mode "extractive"; it replaces the partial tokens). Unexpected failures after `open` become
 * an `error` event. Resolves without events when the client disconnected.
 */
export async function streamAnswer(deps: HandlerDeps, input: AnswerInput, sink: AnswerEventSink, options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
  const prepared = await deps.answerer.retrieve(input);
  sink.open();
  try {
    const result = await deps.answerer.generate(prepared, { signal: options.signal, onToken: (text) => sink.token(text) });
    sink.done(result);
  } catch (error) {
    if (options.signal?.aborted) return;
    const appError = toAppError(error);
    deps.logger.error({ err: appError, cause: appError.cause, code: appError.code }, 'answer stream failed');
    sink.error({ code: appError.code, message: appError.category === 'system' ? 'Internal error; see the service logs with the request id' : appError.message });
  }
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
export function abortOnDisconnect(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('The client disconnected'));
  });
  return controller.signal;
}

/** Sends comment lines this often while a stream waits, so proxies and clients do not time it out. */
export const SSE_HEARTBEAT_MS = 15_000;

/** A Server-Sent Events sink on a Node response: `token`, `done` and `error` events, heartbeat comments while open. */
export function eventStreamSink(res: ServerResponse, options: { heartbeatMs?: number } = {}): AnswerEventSink {
  let heartbeat: NodeJS.Timeout | undefined;
  const send = (event: string, data: unknown) => {
    if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const end = () => {
    clearInterval(heartbeat);
    if (!res.writableEnded) res.end();
  };
  res.on('close', () => clearInterval(heartbeat));
  return {
    open() {
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
      res.setHeader('Cache-Control', 'no-cache, no-transform');
      res.setHeader('Connection', 'keep-alive');
      // nginx and similar proxies buffer responses unless told not to; tokens must reach the client as they come.
      res.setHeader('X-Accel-Buffering', 'no');
      res.flushHeaders();
      heartbeat = setInterval(() => {
        if (!res.writableEnded) res.write(': keep-alive\n\n');
      }, options.heartbeatMs ?? SSE_HEARTBEAT_MS);
      heartbeat.unref();
    },
    token(text) {
      send('token', { text });
    },
    done(result) {
      send('done', result);
      end();
    },
    error(error) {
      send('error', { error });
      end();
    },
  };
}
