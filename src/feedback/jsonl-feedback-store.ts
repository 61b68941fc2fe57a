import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { UpstreamError } from '../errors/index.js';
import type { FeedbackRecord, FeedbackStore } from './types.js';

/**
 * Embedded feedback storage: one JSON object per line in `<dir>/feedback.jsonl`, appended and fsync'd before
 * `append` resolves. Appends are serialised in-process so lines never interleave.
 */
export class JsonlFeedbackStore implements FeedbackStore {
  readonly name = 'jsonl';
  readonly filePath: string;
  private handle: Promise<FileHandle> | undefined;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: { dir: string }) {
    this.filePath = path.join(options.dir, 'feedback.jsonl');
  }

  append(params: { record: FeedbackRecord }): Promise<void> {
    if (this.closed) return Promise.reject(new UpstreamError('FEEDBACK_STORE_CLOSED', 'The feedback store is closed (shutting down)'));
    const line = `${JSON.stringify(params.record)}\n`;
    const write = this.tail.then(async () => {
      const handle = await this.open();
      await handle.appendFile(line, 'utf8');
      await handle.sync();
    });
    // The chain must survive a failed write so later appends still run.
    this.tail = write.catch(() => undefined);
    return write.catch((error: unknown) => {
      throw new UpstreamError('FEEDBACK_WRITE_FAILED', `Could not store feedback in ${this.filePath}`, { cause: error });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle.catch(() => undefined))?.close();
  }

  private open(): Promise<FileHandle> {
    this.handle ??= (async () => {
      await mkdir(this.options.dir, { recursive: true });
      const handle = await open(this.filePath, 'a');
      // Make the new directory entry itself durable, not only the file's content.
      const dir = await open(this.options.dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      return handle;
    })();
    this.handle.catch(() => {
      this.handle = undefined;
    });
    return this.handle;
  }
}
