import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake model does with the next requests. */
export interface FakeBehavior {
  /** The assistant's reply, fixed or computed from the request (e.g. to cite the passage that holds a fact). */
  reply?: string | ((request: RecordedChatRequest) => string);
  /** Answer with this HTTP status and an OpenAI-style error body instead. */
  status?: number;
  /** Milliseconds before the response (headers) starts. */
  delayMs?: number;
  /** Never answer (the connection stays open until the client gives up or the server closes). */
  hang?: boolean;
  /** Milliseconds between streamed chunks. */
  chunkDelayMs?: number;
  /** Streaming only: after this many content chunks, cut the connection (a crash mid-answer). */
  failAfterChunks?: number;
}

/** One request the fake received. */
export interface RecordedChatRequest {
  body: {
    model: string;
    messages: { role: string; content: string }[];
    stream?: boolean;
    max_tokens?: number;
    max_completion_tokens?: number;
    temperature?: number;
  };
  authorization: string | undefined;
  /** Set when the client closed the connection before the response was complete. */
  clientClosedEarly: boolean;
  /** Set once the response was completely written. */
  completed: boolean;
}

/**
 * A real HTTP server speaking the OpenAI Chat Completions wire protocol (POST /v1/chat/completions, JSON and
 * `stream: true` Server-Sent Events ending with `data: [DONE]`), scripted per test. It stands in for the remote LLM
 * (OpenAI, vLLM, Ollama, llama.cpp), which cannot run here.
 */
export class FakeOpenAIServer {
  readonly requests: RecordedChatRequest[] = [];
  private behavior: FakeBehavior = { reply: 'OK' };
  private server: Server | undefined;
  private baseUrlValue = '';

  /** `http://127.0.0.1:<port>/v1`, the value for LLM_BASE_URL. */
  get baseUrl(): string {
    return this.baseUrlValue;
  }

  /** The most recent request. */
  get lastRequest(): RecordedChatRequest | undefined {
    return this.requests.at(-1);
  }

  /** Sets the behavior for every following request (until the next call). Clears the recorded requests. */
  script(behavior: FakeBehavior): void {
    this.behavior = behavior;
    this.requests.length = 0;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(error), type: 'server_error' } }));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrlValue = `http://127.0.0.1:${port}/v1`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/chat/completions') {
      sendJson(res, 404, { error: { message: `Unknown route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: RecordedChatRequest['body'];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedChatRequest['body'];
    } catch {
      sendJson(res, 400, { error: { message: 'Invalid JSON body', type: 'invalid_request_error' } });
      return;
    }
    if (typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      sendJson(res, 400, { error: { message: 'model and messages are required', type: 'invalid_request_error' } });
      return;
    }
    const record: RecordedChatRequest = { body, authorization: req.headers.authorization, clientClosedEarly: false, completed: false };
    this.requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.clientClosedEarly = true;
    });

    const behavior = this.behavior;
    if (behavior.hang) return;
    if (behavior.delayMs) await sleep(behavior.delayMs);
    if (res.destroyed) return;
    if (behavior.status !== undefined && behavior.status >= 400) {
      sendJson(res, behavior.status, { error: { message: `Scripted failure ${behavior.status}`, type: 'server_error', code: null } });
      record.completed = true;
      return;
    }
    const text = typeof behavior.reply === 'function' ? behavior.reply(record) : (behavior.reply ?? '');
    const id = `chatcmpl-fake-${this.requests.length}`;
    const created = Math.floor(Date.now() / 1000);

    if (!body.stream) {
      sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 },
      });
      record.completed = true;
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const chunk = (delta: Record<string, unknown>, finishReason: string | null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '' }, null));
    const pieces = text.match(/\S+\s*|\s+/g) ?? [];
    for (const [index, piece] of pieces.entries()) {
      if (behavior.failAfterChunks !== undefined && index >= behavior.failAfterChunks) {
        // Let what was written reach the client, then die without finishing the stream.
        await sleep(50);
        res.socket?.destroy();
        return;
      }
      if (behavior.chunkDelayMs) await sleep(behavior.chunkDelayMs);
      if (res.destroyed) return;
      res.write(chunk({ content: piece }, null));
    }
    res.write(chunk({}, 'stop'));
    res.end('data: [DONE]\n\n');
    record.completed = true;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The numbered passages of the user message the service sent: passage number → its text. */
export function promptPassages(request: RecordedChatRequest): Map<number, string> {
  const user = request.body.messages.find((message) => message.role === 'user')?.content ?? '';
  const passages = new Map<number, string>();
  const pattern = /^\[(\d+)\] [^\n]*\n([\s\S]*?)(?=\n\n\[\d+\] |\n\nQuestion: )/gm;
  for (const match of user.matchAll(pattern)) passages.set(Number(match[1]), match[2] as string);
  return passages;
}
