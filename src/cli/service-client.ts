import { openAsBlob } from 'node:fs';
import path from 'node:path';
import pRetry, { AbortError } from 'p-retry';
import type { JobStatus } from '../ingest/types.js';

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
    return this.withRetry(async () => {
      const form = new FormData();
      form.append('file', await openAsBlob(params.filePath), path.basename(params.filePath));
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

  private withRetry<T>(work: () => Promise<T>): Promise<T> {
    return pRetry(
      async () => {
        try {
          return await work();
        } catch (error) {
          if (error instanceof ServiceError) {
            const transient = error.status === 429 || error.status === 503 || error.status === 502 || error.status === 504;
            if (!transient) throw new AbortError(error);
            if (error.retryAfterSeconds) await new Promise((resolve) => setTimeout(resolve, error.retryAfterSeconds! * 1000));
          }
          throw error;
        }
      },
      { retries: 8, minTimeout: 500, maxTimeout: 30_000, factor: 2 },
    );
  }
}
