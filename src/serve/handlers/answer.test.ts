import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { abortOnDisconnect, eventStreamSink } from './answer.js';

describe('eventStreamSink', () => {
  it('sends SSE headers at open, heartbeat comments while waiting, then events', async () => {
    const server = createServer((_req, res) => {
      const sink = eventStreamSink(res, { heartbeatMs: 30 });
      sink.open();
      setTimeout(() => sink.token('Hello '), 100);
      setTimeout(() => sink.done({ answer: 'Hello', citations: [], citationsInferred: false, mode: 'llm', promptVersion: 'answer@v1', timings: { embedMs: 0, searchMs: 0, rerankMs: 0, llmMs: 0, totalMs: 0 } }), 120);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(response.headers.get('x-accel-buffering')).toBe('no');
      const text = await response.text();
      expect(text).toMatch(/^(: keep-alive\n\n)+event: token\ndata: \{"text":"Hello "\}\n\n(: keep-alive\n\n)*event: done\ndata: \{"answer":"Hello",/);
      expect(text.endsWith('\n\n')).toBe(true);
    } finally {
      server.close();
    }
  });

  it('aborts when the client goes away before the response ends', async () => {
    let signal: AbortSignal | undefined;
    const aborted = new Promise<void>((resolve) => {
      const server = createServer((_req, res) => {
        signal = abortOnDisconnect(res);
        signal.addEventListener('abort', () => {
          server.close();
          resolve();
        });
        eventStreamSink(res).open();
      });
      server.listen(0, '127.0.0.1', () => {
        const controller = new AbortController();
        fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { signal: controller.signal })
          .then(() => controller.abort())
          .catch(() => undefined);
      });
    });
    await aborted;
    expect(signal?.aborted).toBe(true);
  });
});
