import { copyFile, mkdtemp, readdir, rm, stat, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterAll, describe, expect, it } from 'vitest';
import { chunkId, embedText } from '../../../test/contracts/vector-store.contract.js';
import type { ChunkRecord } from '../types.js';
import { LanceDbVectorStore, tableNameOf } from './lancedb-store.js';

const DIMENSIONS = 64;
/** No refresh after writes: maintenance runs when a test calls maintain() (and as the cleanup that follows one). */
const NO_BACKGROUND = { indexRefreshRows: 1e9, indexRefreshIdleMs: 1e9, indexRefreshMinIntervalMs: 1e9 };

const chunksOf = (documentId: string, texts: string[]): ChunkRecord[] =>
  texts.map((text, chunkIndex) => ({
    id: chunkId(documentId, chunkIndex), documentId, source: `${documentId}.md`, chunkIndex, text, charStart: 0, charEnd: text.length,
    contentHash: text, metadata: { round: text.length }, vector: embedText(text, DIMENSIONS),
  }));
/** Round `round` of document `d`: new text each round, 8 chunks in even rounds and 6 in odd ones (both replace paths run). */
const revision = (d: number, round: number) =>
  Array.from({ length: round % 2 === 0 ? 8 : 6 }, (_, i) => `document ${d} revision ${round} passage ${i} ${'lorem ipsum dolor '.repeat(20)}`);

/** Files and bytes under a table directory, per top-level folder (`data`, `_versions`, `_indices`, …). */
async function usage(tableDir: string): Promise<{ bytes: number; files: Record<string, number> }> {
  let bytes = 0;
  const files: Record<string, number> = {};
  for (const entry of await readdir(tableDir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    bytes += (await stat(full)).size;
    const folder = path.relative(tableDir, full).split(path.sep)[0]!;
    files[folder] = (files[folder] ?? 0) + 1;
  }
  return { bytes, files };
}

describe('LanceDbVectorStore maintenance: old versions and orphaned files', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lancedb-maintenance-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('stops the directory growing while the same documents are replaced over and over', async () => {
    const dir = await tempDir();
    const store = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, retainVersionsMs: 0, ...NO_BACKGROUND });
    const tableDir = path.join(dir, `${tableNameOf('churn')}.lance`);
    const sizes: { bytes: number; files: Record<string, number> }[] = [];
    for (let round = 0; round < 30; round++) {
      for (let d = 0; d < 4; d++) await store.replaceDocument({ collection: 'churn', documentId: `d${d}`, chunks: chunksOf(`d${d}`, revision(d, round)) });
      await store.maintain({ collection: 'churn' });
      sizes.push(await usage(tableDir));
    }
    // Each round rewrites all the live data and commits ~8 versions: kept, every round would add as much again (round
    // 29 would hold 15 times round 1). Pruned, what is kept is what was committed during twice the last refresh.
    const last = sizes[sizes.length - 1]!;
    expect(Math.max(...sizes.slice(2).map((size) => size.bytes))).toBeLessThan(4 * sizes[1]!.bytes);
    expect(last.files._versions).toBeLessThan(30);
    expect(last.files.data).toBeLessThan(20);
    expect(last.files._transactions).toBeLessThan(30);
    // The latest data is intact.
    const hits = await store.search({ collection: 'churn', mode: 'keyword', text: 'revision', topK: 100 });
    expect(hits).toHaveLength(4 * 6);
    expect(new Set(hits.map((hit) => hit.text.split(' passage')[0]))).toEqual(new Set([0, 1, 2, 3].map((d) => `document ${d} revision 29`)));
    await store.close();
  });

  it('never has a compaction fail on replaces committed meanwhile (its files would be orphaned)', async () => {
    const dir = await tempDir();
    const store = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, retainVersionsMs: 0, ...NO_BACKGROUND });
    for (let d = 0; d < 6; d++) await store.replaceDocument({ collection: 'busy', documentId: `d${d}`, chunks: chunksOf(`d${d}`, revision(d, 0)) });
    for (let round = 1; round <= 12; round++) {
      // The replaces update rows of the fragments the compaction rewrites ("preempted by concurrent transaction Update").
      const writes = Promise.all([0, 1, 2, 3, 4, 5].map((d) => store.replaceDocument({ collection: 'busy', documentId: `d${d}`, chunks: chunksOf(`d${d}`, revision(d, round)) })));
      await Promise.all([store.maintain({ collection: 'busy' }), writes]);
    }
    await store.close();
    // No orphans: deleting every unreferenced file, whatever its age, frees nothing beyond the old versions.
    const connection = await lancedb.connect(dir);
    const table = await connection.openTable(tableNameOf('busy'));
    await table.optimize({ cleanupOlderThan: new Date(Date.now() + 60_000) });
    const { prune } = await table.optimize({ cleanupOlderThan: new Date(Date.now() + 60_000), deleteUnverified: true });
    expect(prune.bytesRemoved).toBe(0);
    table.close();
    connection.close();
  });

  it('keeps a version a reader has pinned for the grace period, and drops it after', async () => {
    const dir = await tempDir();
    const writer = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, ...NO_BACKGROUND });
    await writer.replaceDocument({ collection: 'pinned', documentId: 'p', chunks: chunksOf('p', revision(0, 0)) });
    await writer.maintain({ collection: 'pinned' });
    const connection = await lancedb.connect(dir);
    const latest = await (await connection.openTable(tableNameOf('pinned'))).version();
    const pinned = await connection.openTable(tableNameOf('pinned'), undefined, { version: latest });
    for (let round = 1; round <= 3; round++) {
      await writer.replaceDocument({ collection: 'pinned', documentId: 'p', chunks: chunksOf('p', revision(0, round)) });
      await writer.maintain({ collection: 'pinned' });
    }
    // Default grace (a minute): the pinned snapshot is still whole, although compaction has replaced its files.
    expect((await pinned.query().select(['text']).toArray()).map((row: { text: string }) => row.text)).toEqual(revision(0, 0));
    await writer.close();

    const impatient = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, retainVersionsMs: 0, ...NO_BACKGROUND });
    await impatient.replaceDocument({ collection: 'pinned', documentId: 'p', chunks: chunksOf('p', revision(0, 4)) });
    await impatient.maintain({ collection: 'pinned' });
    await expect(pinned.query().select(['text']).toArray()).rejects.toThrow(/not found/i);
    await expect(connection.openTable(tableNameOf('pinned'), undefined, { version: latest })).rejects.toThrow();
    await impatient.close();
    pinned.close();
    connection.close();
  });

  it('deletes a file no version references only once it is older than orphanFileAgeMs', async () => {
    const dir = await tempDir();
    const dataDir = path.join(dir, `${tableNameOf('orphans')}.lance`, 'data');
    const put = async (store: LanceDbVectorStore, round: number) => {
      await store.replaceDocument({ collection: 'orphans', documentId: 'o', chunks: chunksOf('o', revision(0, round)) });
      await store.maintain({ collection: 'orphans' });
    };
    const patient = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, retainVersionsMs: 0, ...NO_BACKGROUND });
    await put(patient, 0);
    // Orphans are copies of a live data file (compaction later deletes the original, not the copies).
    const plant = async (name: string) => {
      const [live] = (await readdir(dataDir)).filter((file) => !file.includes('-write'));
      await copyFile(path.join(dataDir, live!), path.join(dataDir, name));
      return path.join(dataDir, name);
    };
    // A file left two hours ago by a crashed write.
    const crashed = await plant('crashed-write.lance');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(crashed, twoHoursAgo, twoHoursAgo);

    // Default age (10 minutes) and versions only seconds old: not provably garbage yet, so it stays.
    await put(patient, 1);
    expect(await readdir(dataDir)).toContain('crashed-write.lance');
    await patient.close();

    const eager = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, retainVersionsMs: 0, orphanFileAgeMs: 0, ...NO_BACKGROUND });
    await put(eager, 2);
    // A file of a write another process has not committed yet: newer than every version the cleanup keeps (dated a
    // minute ahead, so that the test does not depend on how long the compaction before the prune takes).
    const inFlight = await plant('in-flight-write.lance');
    const aMinuteAhead = new Date(Date.now() + 60_000);
    await utimes(inFlight, aMinuteAhead, aMinuteAhead);
    await put(eager, 3);
    const files = await readdir(dataDir);
    expect(files).not.toContain('crashed-write.lance');
    expect(files).toContain('in-flight-write.lance');
    expect((await eager.getDocument({ collection: 'orphans', documentId: 'o' }))?.chunkCount).toBe(6);
    await eager.close();
  });

  it('lets another process search without errors while a writer replaces and prunes with a short grace', async () => {
    const dir = await tempDir();
    const worker = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, retainVersionsMs: 2000, orphanFileAgeMs: 0, indexRefreshIdleMs: 50, indexRefreshMinIntervalMs: 0 });
    // The reader runs no maintenance of its own here: its commits would conflict with the writer's (retried in service).
    const api = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, retainVersionsMs: 2000, orphanFileAgeMs: 0, ...NO_BACKGROUND });
    for (let d = 0; d < 3; d++) await worker.replaceDocument({ collection: 'shared', documentId: `d${d}`, chunks: chunksOf(`d${d}`, revision(d, 0)) });
    let writing = true;
    const errors: unknown[] = [];
    let searches = 0;
    const reading = (async () => {
      while (writing) {
        try {
          const text = 'revision lorem';
          const hits = await api.search({ collection: 'shared', mode: 'hybrid', text, vector: embedText(text, DIMENSIONS), topK: 10 });
          if (hits.length === 0) throw new Error('no hits');
          await api.getDocument({ collection: 'shared', documentId: 'd1' });
          searches++;
        } catch (error) {
          errors.push(error);
        }
      }
    })();
    const started = Date.now();
    let rounds = 0;
    // Long enough for versions to pass the grace period and be deleted under the reader.
    while (Date.now() - started < 5000 || rounds < 10) {
      rounds++;
      for (let d = 0; d < 3; d++) await worker.replaceDocument({ collection: 'shared', documentId: `d${d}`, chunks: chunksOf(`d${d}`, revision(d, rounds)) });
      await worker.maintain({ collection: 'shared' });
    }
    writing = false;
    await reading;
    expect(errors).toEqual([]);
    expect(searches).toBeGreaterThan(10);
    // Versions were deleted under the reader: the first ones are gone.
    const connection = await lancedb.connect(dir);
    const table = await connection.openTable(tableNameOf('shared'));
    expect((await table.listVersions())[0]!.version).toBeGreaterThan(10);
    table.close();
    connection.close();
    await api.close();
    await worker.close();
  });
});
