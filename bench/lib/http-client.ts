import http from 'node:http';
import type { z } from 'zod';
import { ingestResponseSchema, jobStatusSchema, searchResponseSchema } from '../../src/serve/schemas.js';

/**
 * A small HTTP client for the service's /v1 API, used by the bench and the eval. Search goes through node:http
 * with a keep-alive agent (one socket per concurrent client, like a connection pool), so the client adds as
 * little as possible to the measured round trip. Responses are validated with the service's own schemas.
 */

/** A search response as the contract defines it. */
export type SearchResponse = z.infer<typeof searchResponseSchema>;
/** A job as GET /v1/jobs/{id} reports it. */
export type JobStatus = z.infer<typeof jobStatusSchema>;

/** Body of POST /v1/collections/{c}/search. */
export interface SearchRequest {
  query: string;
  topK: number;
  mode: 'dense' | 'keyword' | 'hybrid';
  rerank: boolean;
  /** Hits reranked (default: the service's RERANK_CANDIDATES). */
  candidates?: number | undefined;
}

/** One HTTP exchange: status, parsed JSON body and the client-side round trip in milliseconds. */
export interface Exchange {
  status: number;
  body: unknown;
  clientMs: number;
}

/** The service's HTTP API at `baseUrl`. */
export class ServiceClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly url: URL;

  constructor(readonly baseUrl: string) {
    this.url = new URL(baseUrl);
  }

  /**
   * One JSON request; the round trip is measured from just before writing to the last byte of the body.
   * A kept-alive socket the server closed at its keep-alive timeout just as it was reused fails with ECONNRESET
   * before the request reached the service; such a request is sent once more on a fresh socket (Node's documented
   * remedy; every request of this client is safe to repeat: searches, job reads and content-addressed ingests).
   */
  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Exchange> {
    try {
      return await this.send(method, path, body);
    } catch (error) {
      if (!(error instanceof StaleSocketError)) throw error;
      return this.send(method, path, body);
    }
  }

  private send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Exchange> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const request = http.request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        },
        (response) => {
          const pieces: Buffer[] = [];
          response.on('data', (piece: Buffer) => pieces.push(piece));
          response.on('error', reject);
          response.on('end', () => {
            const clientMs = performance.now() - started;
            const text = Buffer.concat(pieces).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              // Keep the raw text: error reports show it.
            }
            resolve({ status: response.statusCode ?? 0, body: parsed, clientMs });
          });
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) => {
        reject(request.reusedSocket && error.code === 'ECONNRESET' ? new StaleSocketError(error) : error);
      });
      request.end(payload);
    });
  }

  /** POST …/search; throws with the service's error body on a non-200 answer. */
  async search(collection: string, body: SearchRequest): Promise<{ response: SearchResponse; clientMs: number }> {
    const exchange = await this.request('POST', `/v1/collections/${encodeURIComponent(collection)}/search`, body);
    if (exchange.status !== 200) throw new Error(`search answered ${exchange.status}: ${JSON.stringify(exchange.body).slice(0, 300)}`);
    return { response: searchResponseSchema.parse(exchange.body), clientMs: exchange.clientMs };
  }

  /** Uploads one file (multipart field `file`) under an explicit document id; returns the job id. */
  async uploadFile(collection: string, file: { bytes: Buffer; fileName: string; contentType: string; documentId: string }): Promise<string> {
    const form = new FormData();
    form.append('file', new Blob([file.bytes], { type: file.contentType }), file.fileName);
    form.append('documentId', file.documentId);
    const response = await fetch(`${this.baseUrl}/v1/collections/${encodeURIComponent(collection)}/documents`, { method: 'POST', body: form });
    return this.jobIdOf(response.status, await response.json().catch(() => undefined), file.documentId);
  }

  /** Ingests inline text (JSON body); returns the job id. */
  async ingestText(collection: string, document: { text: string; source: string; documentId: string }): Promise<string> {
    const exchange = await this.request('POST', `/v1/collections/${encodeURIComponent(collection)}/documents`, document);
    return this.jobIdOf(exchange.status, exchange.body, document.documentId);
  }

  /** GET /v1/jobs/{id}. */
  async job(jobId: string): Promise<JobStatus> {
    const exchange = await this.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}`);
    if (exchange.status !== 200) throw new Error(`GET /v1/jobs/${jobId} answered ${exchange.status}: ${JSON.stringify(exchange.body)}`);
    return jobStatusSchema.parse(exchange.body);
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  private jobIdOf(status: number, body: unknown, documentId: string): string {
    if (status !== 202) throw new Error(`ingesting ${documentId} answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
    const job = ingestResponseSchema.parse(body).jobs[0];
    if (!job) throw new Error(`ingesting ${documentId} returned no job`);
    return job.jobId;
  }
}

/** ECONNRESET on a reused keep-alive socket: the request never reached the service. */
class StaleSocketError extends Error {
  constructor(cause: Error) {
    super(`stale keep-alive socket: ${cause.message}`, { cause });
  }
}
