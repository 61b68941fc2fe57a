/**
 * One raw embedding process of `rawEmbeddingOnAllCores` (raw-embed-processes.ts): loads the embedder the way
 * createIngestComponents does, says `ready`, waits for `go`, embeds its texts one batch at a time and reports the time.
 * Started with fork(); talks over the IPC channel only.
 */
import { loadConfig } from '../../src/config.js';
import { TransformersEmbedder } from '../../src/retrieve/embedders/transformers-embedder.js';
import type { ChildMessage, ParentMessage } from './raw-embed-processes.js';

const send = (message: ChildMessage) => process.send?.(message);

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, DATA_DIR: '/tmp/unused' });
  // Keep in step with createIngestComponents in src/runtime.ts: same model, dtype and batch size.
  const embedder = new TransformersEmbedder({ modelsDir: config.models.dir, offline: config.models.offline, modelId: config.models.embedModel, dtype: config.models.embedDtype, maxBatchSize: config.models.embedBatchSize });
  await embedder.warmup();
  let batches: string[][] = [];
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'texts') {
      batches = message.batches;
      // ONNX Runtime's first runs of a shape are slow: one untimed batch before reporting ready.
      void embedder.embed({ texts: batches[0] ?? ['warm up'] }).then(() => send({ type: 'ready' }));
    } else if (message.type === 'go') {
      void (async () => {
        const started = performance.now();
        const cpu = process.cpuUsage();
        for (const batch of batches) await embedder.embed({ texts: batch });
        const used = process.cpuUsage(cpu);
        send({ type: 'done', ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 });
      })().catch((error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
    } else if (message.type === 'exit') {
      process.exit(0);
    }
  });
  send({ type: 'loaded' });
}

main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
