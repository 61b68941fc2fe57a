/**
 * Child-process entry of CrossEncoderWorkerPool: one CrossEncoderReranker (its own ONNX session) per process. It waits
 * for its options, loads and warms the model, says `ready` (or `failed`), then scores the slices the pool sends, one
 * at a time. It exits when the pool goes away (IPC channel closed), so a killed API leaves no orphans.
 */
import { CrossEncoderReranker } from './cross-encoder-reranker.js';
import { serializeError, type PoolMessage, type WorkerReply } from './cross-encoder-worker-protocol.js';

if (!process.send) throw new Error('cross-encoder-worker.ts runs as a child process of CrossEncoderWorkerPool (fork)');

const reply = (message: WorkerReply) => process.send?.(message);
let reranker: CrossEncoderReranker | undefined;
// Slices are scored one after another: with one intra-op thread per session, two at once would only take turns.
let queue: Promise<void> = Promise.resolve();

process.on('disconnect', () => process.exit(0));
process.on('message', (message: PoolMessage) => {
  if (message.kind === 'start') {
    reranker = new CrossEncoderReranker(message.options);
    const started = reranker;
    queue = queue.then(async () => {
      try {
        await started.warmup();
        reply({ kind: 'ready', pairTokens: await started.pairTokens() });
      } catch (error) {
        reply({ kind: 'failed', error: serializeError(error) });
      }
    });
    return;
  }
  queue = queue.then(async () => {
    try {
      if (!reranker) throw new Error('score before start');
      reply({ kind: 'scores', id: message.id, scores: await reranker.score({ query: message.query, passages: message.passages }) });
    } catch (error) {
      reply({ kind: 'error', id: message.id, error: serializeError(error) });
    }
  });
});
