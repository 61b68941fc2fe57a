import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAIServer } from '../../../test/helpers/fake-openai-server.js';
import { StageTimeoutError, UpstreamError } from '../../errors/index.js';
import { OpenAIChatGenerator } from './openai-chat-generator.js';

const messages = [
  { role: 'system' as const, content: 'Answer from the passages.' },
  { role: 'user' as const, content: 'Passages:\n\n[1] a.txt\nThe sky is blue.\n\nQuestion: What colour is the sky?' },
];

async function collect(stream: AsyncIterable<string>): Promise<string[]> {
  const parts: string[] = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

describe('OpenAIChatGenerator against an OpenAI-compatible server', () => {
  const llm = new FakeOpenAIServer();
  let generator: OpenAIChatGenerator;

  beforeAll(async () => {
    await llm.start();
    generator = new OpenAIChatGenerator({ baseUrl: llm.baseUrl, model: 'fake-model', maxTokens: 64, temperature: 0, timeoutMs: 1000, maxRetries: 0 });
  });
  afterAll(() => llm.close());

  it('sends model, messages and limits, and returns the completion', async () => {
    llm.script({ reply: 'The sky is blue [1].' });
    expect(await generator.generate({ messages })).toBe('The sky is blue [1].');
    const request = llm.lastRequest!;
    expect(request.body.model).toBe('fake-model');
    expect(request.body.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(request.body.messages[1]!.content).toContain('[1] a.txt');
    expect(request.body.max_tokens ?? request.body.max_completion_tokens).toBe(64);
    expect(request.body.temperature).toBe(0);
    expect(request.authorization).toBe('Bearer unused');
  });

  it('streams deltas whose concatenation is the reply', async () => {
    llm.script({ reply: 'The sky is blue [1].', chunkDelayMs: 5 });
    const parts = await collect(generator.stream({ messages }));
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.join('')).toBe('The sky is blue [1].');
    expect(llm.lastRequest?.body.stream).toBe(true);
  });

  it('wraps HTTP failures as LLM_UNAVAILABLE, keeping the cause', async () => {
    llm.script({ status: 500 });
    const error = await generator.generate({ messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).code).toBe('LLM_UNAVAILABLE');
    expect((error as UpstreamError).details?.status).toBe(500);
    expect((error as UpstreamError).cause).toBeDefined();
    const streamed = await collect(generator.stream({ messages })).catch((e: unknown) => e);
    expect((streamed as UpstreamError).code).toBe('LLM_UNAVAILABLE');
  });

  it('times out a hanging server with StageTimeoutError and closes the connection', async () => {
    llm.script({ hang: true });
    const started = performance.now();
    const error = await generator.generate({ messages, timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageTimeoutError);
    expect((error as StageTimeoutError).details).toMatchObject({ stage: 'llm', timeoutMs: 200 });
    expect(performance.now() - started).toBeLessThan(1000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(llm.lastRequest?.clientClosedEarly).toBe(true);
  });

  it('times out a stream that stalls between tokens, but not one that keeps flowing', async () => {
    llm.script({ reply: 'one two three four five six', chunkDelayMs: 60 });
    expect((await collect(generator.stream({ messages, timeoutMs: 150 }))).join('')).toBe('one two three four five six');
    llm.script({ reply: 'one two three', chunkDelayMs: 400 });
    const error = await collect(generator.stream({ messages, timeoutMs: 150 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageTimeoutError);
  });

  it('fails mid-stream with LLM_UNAVAILABLE after the deltas already sent', async () => {
    llm.script({ reply: 'one two three four', failAfterChunks: 2 });
    const parts: string[] = [];
    const error = await (async () => {
      for await (const part of generator.stream({ messages })) parts.push(part);
    })().catch((e: unknown) => e);
    expect(parts.join('')).toBe('one two ');
    expect((error as UpstreamError).code).toBe('LLM_UNAVAILABLE');
  });

  it('aborts the upstream request when the caller aborts, rejecting with the caller reason', async () => {
    llm.script({ hang: true });
    const controller = new AbortController();
    const reason = new Error('client went away');
    setTimeout(() => controller.abort(reason), 100);
    const error = await generator.generate({ messages, signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBe(reason);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(llm.lastRequest?.clientClosedEarly).toBe(true);
  });
});
