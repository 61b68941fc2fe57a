import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './stats.js';

/**
 * The raw embedding model on all cores: N processes (N = cores by default), each with its own copy of the model,
 * embed disjoint shares of the same texts at once. No parsing, chunking or storing: the most the model can do on
 * this machine, which ingestion "with all cores" is compared against.
 */

/** Parent → child messages. */
export type ParentMessage = { type: 'texts'; batches: string[][] } | { type: 'go' } | { type: 'exit' };
/** Child → parent messages. */
export type ChildMessage = { type: 'loaded' } | { type: 'ready' } | { type: 'done'; ms: number; cpuMs: number } | { type: 'error'; message: string };

/** One timed pass over all processes. */
export interface AllCoresPass {
  processes: number;
  items: number;
  /** From `go` to the last process done. */
  seconds: number;
  perSecond: number;
  /** CPU time of all processes over wall time (2.0 = two cores busy throughout). */
  cpuCores: number;
}

/** Deals batches of `batchSize` texts round-robin to `processes` shares, so each share gets a similar mix. */
export function dealBatches(texts: readonly string[], batchSize: number, processes: number): string[][][] {
  const shares: string[][][] = Array.from({ length: processes }, () => []);
  for (let start = 0, index = 0; start < texts.length; start += batchSize, index++) shares[index % processes]?.push(texts.slice(start, start + batchSize));
  return shares;
}

const CHILD_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'raw-embed-child.ts');

/** Starts `processes` embedding processes with `env`, times one pass over `texts` and stops them. */
export async function rawEmbeddingOnAllCores(params: { texts: readonly string[]; batchSize: number; processes: number; env: NodeJS.ProcessEnv; logFile: string }): Promise<AllCoresPass> {
  const shares = dealBatches(params.texts, params.batchSize, params.processes).filter((share) => share.length > 0);
  const log = openSync(params.logFile, 'a');
  const children = shares.map(() => fork(CHILD_SCRIPT, [], { env: params.env, execArgv: ['--import', 'tsx'], stdio: ['ignore', log, log, 'ipc'] }));
  closeSync(log);
  try {
    await Promise.all(children.map((child) => nextMessage(child, 'loaded')));
    await Promise.all(children.map((child, index) => {
      child.send({ type: 'texts', batches: shares[index] ?? [] } satisfies ParentMessage);
      return nextMessage(child, 'ready');
    }));
    const started = performance.now();
    const done = await Promise.all(children.map((child) => {
      child.send({ type: 'go' } satisfies ParentMessage);
      return nextMessage(child, 'done');
    }));
    const wallMs = performance.now() - started;
    const cpuMs = done.reduce((sum, message) => sum + (message.type === 'done' ? message.cpuMs : 0), 0);
    return { processes: children.length, items: params.texts.length, seconds: round(wallMs / 1000, 1), perSecond: round((params.texts.length / wallMs) * 1000, 1), cpuCores: round(cpuMs / wallMs) };
  } finally {
    for (const child of children) {
      if (child.connected) child.send({ type: 'exit' } satisfies ParentMessage);
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }
  }
}

/** Resolves with the next message of `type`; rejects when the child reports an error or exits first. */
function nextMessage(child: ChildProcess, type: ChildMessage['type']): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ChildMessage) => {
      if (message.type === 'error') finish(() => reject(new Error(`raw embedding process ${child.pid}: ${message.message}`)));
      else if (message.type === type) finish(() => resolve(message));
    };
    const onExit = (code: number | null, signal: string | null) => finish(() => reject(new Error(`raw embedding process ${child.pid} exited (${signal ?? `code ${code}`}) while waiting for '${type}'`)));
    const finish = (settle: () => void) => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      settle();
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
