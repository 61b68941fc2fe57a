import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppError, UpstreamError } from '../../errors/index.js';
import { LoadWithBackoff } from '../load-with-backoff.js';
import type { Reranker } from '../types.js';
import { assertBatchSize, type CrossEncoderRerankerOptions } from './cross-encoder-reranker.js';
import { deserializeError, type PoolMessage, type WorkerReply, type WorkerRequest } from './cross-encoder-worker-protocol.js';

/** Settings of a CrossEncoderWorkerPool: those of each thread's CrossEncoderReranker, plus how many threads. */
export interface CrossEncoderWorkerPoolOptions extends CrossEncoderRerankerOptions {
  /** Worker processes, each with its own ONNX session of `intraOpThreads` threads (RERANK_WORKERS). At least 1. */
  workers: number;
  /** Environment of the worker processes (default: this process's); see `config.models.rerankWorkerEnv`. */
  env?: NodeJS.ProcessEnv | undefined;
}

interface PoolWorker {
  worker: ChildProcess;
  pending: Map<number, { resolve: (scores: number[]) => void; reject: (error: unknown) => void }>;
}

interface RunningPool {
  workers: PoolWorker[];
  pairTokens: number;
}

/**
 * Compiled, the worker is the .js file beside this one. From source (npm start and the tests run TypeScript through
 * tsx), it is the .ts file, run with tsx's ESM loader (`--import tsx/esm`, resolved from here so the cwd does not
 * matter). Processes rather than worker threads: on Node 20 a worker thread gets no loader hooks, so it cannot run the
 * TypeScript source; a process also keeps an ONNX Runtime crash out of the API.
 */
function workerEntry(): { modulePath: string; execArgv: string[] } {
  if (!import.meta.url.endsWith('.ts')) return { modulePath: fileURLToPath(new URL('./cross-encoder-worker.js', import.meta.url)), execArgv: [] };
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;
  return { modulePath: fileURLToPath(new URL('./cross-encoder-worker.ts', import.meta.url)), execArgv: ['--import', tsxLoader] };
}

/**
 * The cross-encoder on several cores: each request's passages are split into contiguous slices scored at once by
 * worker processes, each running its own CrossEncoderReranker (one ONNX session). onnxruntime-node runs a session
 * synchronously on the calling thread, so sessions in one thread only take turns, and a second intra-op thread gains
 * little on short sequences: measured on 2 cores (bench/rerank-cost.ts, 192-token pairs) 13.3 ms per pair with one
 * thread, 9.8 with two intra-op threads, 6.7 with two sessions in two processes. Scores are those of
 * CrossEncoderReranker (one pair per forward pass, so a passage's score does not depend on its slice). Reranking also
 * no longer blocks the API's event loop.
 */
export class CrossEncoderWorkerPool implements Reranker {
  readonly modelId: string;
  readonly maxBatchSize: number;
  private readonly options: CrossEncoderWorkerPoolOptions;
  private readonly loader: LoadWithBackoff<RunningPool>;
  /** The pool whose processes serve requests now; a process of another (stopped) pool exiting is not news. */
  private current: RunningPool | undefined;
  private nextId = 0;

  constructor(options: CrossEncoderWorkerPoolOptions) {
    if (!(Number.isInteger(options.workers) && options.workers >= 1)) {
      throw new AppError('INVALID_OPTION', 'system', `workers must be an integer ≥ 1, got ${options.workers}`, { retryable: false });
    }
    this.options = { ...options };
    this.modelId = options.modelId;
    this.maxBatchSize = options.maxBatchSize;
    this.loader = new LoadWithBackoff(() => this.start());
  }

  /** Starts the processes; each loads and warms its session. A failed start is retried only after a back-off (see LoadWithBackoff). */
  load(): Promise<void> {
    return this.loader.get().then(() => undefined);
  }

  /** The processes warm their sessions as they start: loading is warming. */
  warmup(): Promise<void> {
    return this.load();
  }

  /** Tokens per pair the sessions read (RERANK_MAX_TOKENS or the model's limit). */
  async pairTokens(): Promise<number> {
    return (await this.loader.get()).pairTokens;
  }

  /** One score per passage, in input order. Throws UpstreamError (MODEL_UNAVAILABLE, RERANKER_FAILED) when the model or a process fails. */
  async score(params: { query: string; passages: string[] }): Promise<number[]> {
    const { query, passages } = params;
    if (passages.length === 0) return [];
    assertBatchSize(passages.length, this.maxBatchSize);
    const { workers } = await this.loader.get();
    const slices = splitEvenly(passages, workers.length);
    const scored = await Promise.all(slices.map((slice, index) => this.send(workers[index] as PoolWorker, { kind: 'score', id: this.nextId++, query, passages: slice })));
    return scored.flat();
  }

  /** Stops the processes; a later call starts them again. */
  async dispose(): Promise<void> {
    this.current = undefined;
    const running = this.loader.reset();
    const pool = running ? await running.catch(() => undefined) : undefined;
    if (pool) await Promise.all(pool.workers.map(({ worker }) => stop(worker)));
  }

  private send(target: PoolWorker, request: WorkerRequest): Promise<number[]> {
    return new Promise((resolve, reject) => {
      target.pending.set(request.id, { resolve, reject });
      const message: PoolMessage = request;
      target.worker.send(message, (error) => {
        if (!error) return;
        target.pending.delete(request.id);
        reject(new UpstreamError('RERANKER_FAILED', `Cross-encoder worker of "${this.modelId}" could not be reached: ${error.message}`, { retryable: true }));
      });
    });
  }

  private async start(): Promise<RunningPool> {
    const { workers: count, env, ...rerankerOptions } = this.options;
    const entry = workerEntry();
    const started = Array.from({ length: count }, () => this.startWorker(entry, env, rerankerOptions));
    const outcomes = await Promise.allSettled(started.map(({ ready }) => ready));
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) {
      await Promise.all(started.map(({ pool }) => stop(pool.worker)));
      throw failure.reason;
    }
    const pool: RunningPool = { workers: started.map(({ pool }) => pool), pairTokens: (outcomes[0] as PromiseFulfilledResult<number>).value };
    this.current = pool;
    for (const member of pool.workers) member.worker.once('exit', () => this.lost(pool));
    return pool;
  }

  private startWorker(
    entry: ReturnType<typeof workerEntry>,
    env: NodeJS.ProcessEnv | undefined,
    options: CrossEncoderRerankerOptions,
  ): { pool: PoolWorker; ready: Promise<number> } {
    const worker = fork(entry.modulePath, [], { execArgv: entry.execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const member: PoolWorker = { worker, pending: new Map() };
    const start: PoolMessage = { kind: 'start', options };
    worker.send(start);
    const ready = new Promise<number>((resolve, reject) => {
      worker.on('message', (message: WorkerReply) => {
        if (message.kind === 'ready') resolve(message.pairTokens);
        else if (message.kind === 'failed') reject(deserializeError(message.error));
        else {
          const waiting = member.pending.get(message.id);
          member.pending.delete(message.id);
          if (message.kind === 'scores') waiting?.resolve(message.scores);
          else waiting?.reject(deserializeError(message.error));
        }
      });
      const fail = (reason: string) => {
        const error = new UpstreamError('RERANKER_FAILED', `Cross-encoder worker process of "${options.modelId}" ${reason}`, { retryable: true });
        reject(error);
        for (const waiting of member.pending.values()) waiting.reject(error);
        member.pending.clear();
      };
      worker.on('error', (error) => fail(`failed: ${error.message}`));
      worker.on('exit', (code, signal) => fail(`exited (${signal ?? `code ${code}`})`));
    });
    return { pool: member, ready };
  }

  /** A process of the running pool exited: stop the others; the next call starts a new pool. */
  private lost(pool: RunningPool): void {
    if (this.current !== pool) return;
    this.current = undefined;
    this.loader.reset();
    for (const { worker } of pool.workers) void stop(worker);
  }
}

/** Ends a worker process (it also exits by itself when its IPC channel closes) and waits for it. */
function stop(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    worker.once('exit', () => resolve());
    worker.kill('SIGTERM');
  });
}

/** `items` cut into at most `parts` contiguous slices whose lengths differ by at most one. */
export function splitEvenly<T>(items: readonly T[], parts: number): T[][] {
  const count = Math.min(parts, items.length);
  const slices: T[][] = [];
  let start = 0;
  for (let index = 0; index < count; index++) {
    const size = Math.floor(items.length / count) + (index < items.length % count ? 1 : 0);
    slices.push(items.slice(start, start + size));
    start += size;
  }
  return slices;
}
