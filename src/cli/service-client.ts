import { openAsBlob } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobStatus } from '../ingest/types.js';

/** Answers that mean "try again later": rate limited, overloaded or a proxy in trouble. */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);
/** Attempts per request, the first included. */
const MAX_ATTEMPTS = 9;

/** An error answer of the service, with its code and message. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Minimal HTTP client of the /v1 API used by the CLI; retries overload (429/503) and network errors. */
export class ServiceClient {
  constructor(private readonly options: { baseUrl: string; apiKey?: string | undefined }) {}

  /** Resolves when /readyz answers ready; throws a message that says how to start the service otherwise. */
  async ready(): Promise<void> {
    let response: Response;
    try {
      response = await fetch(new URL('/readyz', this.options.baseUrl), { signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw new Error(`Cannot reach the service at ${this.options.baseUrl} (${(error as Error).message}); start it with \`npm start\` or pass --url`);
    }
    if (!response.ok) throw new Error(`The service at ${this.options.baseUrl} is not ready: ${await response.text()}`);
  }

  /** Uploads one file as one document; returns its job id. */
  async upload(params: { collection: string; filePath: string; documentId: string; metadata?: string | undefined }): Promise<string> {
    // Opened once, outside the retries: a missing or unreadable file is not worth retrying.
    const file = await openAsBlob(params.filePath);
    return this.withRetry(async () => {
      const form = new FormData();
      form.append('file', file, path.basename(params.filePath));
      form.append('documentId', params.documentId);
      if (params.metadata) form.append('metadata', params.metadata);
      const body = await this.request<{ jobs: { jobId: string }[] }>(`/v1/collections/${encodeURIComponent(params.collection)}/documents`, { method: 'POST', body: form });
      return (body.jobs[0] as { jobId: string }).jobId;
    });
  }

  /** The job's status. */
  async job(jobId: string): Promise<JobStatus> {
    return this.withRetry(() => this.request<JobStatus>(`/v1/jobs/${encodeURIComponent(jobId)}`, { method: 'GET' }));
  }

  /** The service's most recent jobs (of `collection`, else every collection the key may see), newest first; `limit` 1–1000. */
  async listJobs(params: { limit: number; collection?: string | undefined }): Promise<JobStatus[]> {
    const query = new URLSearchParams({ limit: String(params.limit) });
    if (params.collection !== undefined) query.set('collection', params.collection);
    const body = await this.withRetry(() => this.request<{ jobs: JobStatus[] }>(`/v1/jobs?${query}`, { method: 'GET' }));
    return body.jobs;
  }

  private async request<T>(pathname: string, init: RequestInit): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const response = await fetch(new URL(pathname, this.options.baseUrl), { ...init, headers, signal: AbortSignal.timeout(120_000) });
    const text = await response.text();
    if (response.ok) return JSON.parse(text) as T;
    let code = `HTTP_${response.status}`;
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = parsed.error?.code ?? code;
      message = parsed.error?.message ?? message;
    } catch {
      // Not our JSON error shape (a proxy?): keep the raw text.
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new ServiceError(response.status, code, message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
  }

  /**
   * Retries transient answers and network failures. A Retry-After is waited exactly (plus jitter), not on top of a
   * backoff: the rate limiter's token bucket is refilled by then, and a bulk run spends its time uploading, not sleeping.
   */
  private async withRetry<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        const transient = error instanceof ServiceError ? TRANSIENT_STATUSES.has(error.status) : isNetworkError(error);
        if (!transient || attempt >= MAX_ATTEMPTS) throw error;
        const retryAfterMs = error instanceof ServiceError && error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : undefined;
        await sleep((retryAfterMs ?? Math.min(30_000, 500 * 2 ** (attempt - 1))) + Math.random() * 250);
      }
    }
  }
}

/** fetch's connection failures ("fetch failed", a body cut off: "terminated") and request timeouts. */
function isNetworkError(error: unknown): boolean {
  if (error instanceof TypeError) return error.message === 'fetch failed' || error.message === 'terminated';
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}
