import type { Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createApp } from '../../src/serve/app.js';
import type { JobStatus } from '../../src/ingest/types.js';

/** A real service (real models, real store) on an ephemeral port with its own data directory. */
export interface TestService {
  baseUrl: string;
  runtime: Runtime;
  dataDir: string;
  close(): Promise<void>;
}

/** Environment every test service starts from: embedded default, quiet logs, the exported local models. */
export function testEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    MODELS_DIR: process.env.MODELS_DIR ?? path.resolve('models'),
    MODELS_OFFLINE: 'true',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    RERANK_MODEL: process.env.RERANK_MODEL ?? 'local/minilm-l6-cross-encoder-LATENCY-ONLY',
    JOB_BACKOFF_MS: '50',
    ...overrides,
  };
}

/** Starts the service in this process. */
export async function startTestService(overrides: Record<string, string | undefined> = {}): Promise<TestService> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rag-test-'));
  const config = loadConfig(testEnv({ DATA_DIR: dataDir, ...overrides }));
  const logger = createLogger({ level: config.logLevel });
  const runtime = await createRuntime(config, logger);
  const app = createApp(runtime.deps);
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    runtime,
    dataDir,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls a job until it completes or fails (or `timeoutMs` passes). */
export async function waitForJob(baseUrl: string, jobId: string, timeoutMs = 120_000): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${baseUrl}/v1/jobs/${jobId}`);
    const job = (await response.json()) as JobStatus;
    if (job.state === 'completed' || job.state === 'failed') return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Multipart upload of files from disk. */
export async function uploadFiles(
  baseUrl: string,
  collection: string,
  files: { path: string; name?: string; type?: string }[],
  fields: Record<string, string> = {},
): Promise<Response> {
  const { readFile } = await import('node:fs/promises');
  const form = new FormData();
  for (const file of files) {
    const bytes = await readFile(file.path);
    form.append('file', new Blob([bytes], { type: file.type ?? 'application/octet-stream' }), file.name ?? path.basename(file.path));
  }
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  return fetch(`${baseUrl}/v1/collections/${collection}/documents`, { method: 'POST', body: form });
}

/** POST JSON and return status + parsed body. */
export async function postJson<T = unknown>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}
