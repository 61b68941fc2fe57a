import { randomUUID } from 'node:crypto';
import { access, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './helpers/service.js';

/**
 * The API sweeps UPLOAD_DIR at startup: an upload older than the margin that no job refers to (a failed job the
 * queue dropped, a request that died) is removed; fresh uploads and files not named like uploads stay. What the
 * sweep keeps for queued, running and failed jobs is tested on both queues in src/ingest/upload-sweeper.int.test.ts.
 */

const exists = (filePath: string) => access(filePath).then(() => true, () => false);

describe('upload sweep of a running service', () => {
  let service: TestService | undefined;
  let uploadDir: string;

  afterAll(async () => {
    await service?.close();
    await rm(uploadDir, { recursive: true, force: true });
  });

  it('removes old uploads no job needs when it starts, and nothing else', async () => {
    uploadDir = await mkdtemp(path.join(os.tmpdir(), 'rag-sweep-service-'));
    const write = async (name: string, ageMs: number) => {
      const filePath = path.join(uploadDir, name);
      await writeFile(filePath, 'bytes');
      const when = new Date(Date.now() - ageMs);
      await utimes(filePath, when, when);
      return filePath;
    };
    const day = 24 * 3600_000;
    const orphan = await write(`${randomUUID()}.upload`, day);
    const fresh = await write(`${randomUUID()}.upload`, 0);
    const foreign = await write('keep-me.pdf', day);

    service = await startTestService({ UPLOAD_DIR: uploadDir });
    const deadline = Date.now() + 30_000;
    while ((await exists(orphan)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await exists(orphan)).toBe(false);
    expect(await exists(fresh)).toBe(true);
    expect(await exists(foreign)).toBe(true);
  });
});
