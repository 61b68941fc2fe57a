import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterAll, describe, expect, it } from 'vitest';
import { chunkId, embedText, vectorStoreContract } from '../../../test/contracts/vector-store.contract.js';
import type { ChunkRecord } from '../types.js';
import { LanceDbVectorStore, tableNameOf, toSqlPredicate } from './lancedb-store.js';

const DIMENSIONS = 64;

vectorStoreContract('lancedb', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lancedb-contract-'));
  const connection = await lancedb.connect(dir);
  const store = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, connection });
  return {
    store,
    dimensions: DIMENSIONS,
    dropCollection: async (collection) => {
      if ((await connection.tableNames()).includes(tableNameOf(collection))) await connection.dropTable(tableNameOf(collection));
    },
    dispose: async () => {
      connection.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const chunksOf = (documentId: string, texts: string[], metadata: Record<string, unknown> = {}): ChunkRecord[] =>
  texts.map((text, chunkIndex) => ({
    id: chunkId(documentId, chunkIndex), documentId, source: `${documentId}.md`, chunkIndex, text, charStart: 0, charEnd: text.length,
    contentHash: 'h', metadata, vector: embedText(text, DIMENSIONS),
  }));

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('LanceDbVectorStore specifics', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lancedb-store-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('sees what another process writes (API reading a worker), collection creation included', async () => {
    const dir = await tempDir();
    const api = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS });
    const worker = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS });
    const keyword = () => api.search({ collection: 'shared', mode: 'keyword', text: 'alpha', topK: 5 });
    expect(await keyword()).toEqual([]);
    await worker.replaceDocument({ collection: 'shared', documentId: 'doc', chunks: chunksOf('doc', ['alpha version one']) });
    await waitFor(async () => (await keyword()).length === 1, 5000);
    await worker.replaceDocument({ collection: 'shared', documentId: 'doc', chunks: chunksOf('doc', ['alpha version two']) });
    await waitFor(async () => (await keyword())[0]?.text === 'alpha version two', 5000);
    expect((await api.getDocument({ collection: 'shared', documentId: 'doc' }))?.chunkCount).toBe(1);
    await api.close();
    await worker.close();
  });

  it('builds the ANN index in the background past the threshold and still finds rows added afterwards', async () => {
    const dir = await tempDir();
    const connection = await lancedb.connect(dir);
    const store = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS, connection, annIndexThresholdRows: 300, indexRefreshIdleMs: 50, indexRefreshMinIntervalMs: 0 });
    const texts = (d: number) => Array.from({ length: 50 }, (_, i) => `document ${d} passage ${i} words w${d * 50 + i} x${(d * 7 + i) % 13}`);
    for (let d = 0; d < 8; d++) await store.replaceDocument({ collection: 'ann', documentId: `d${d}`, chunks: chunksOf(`d${d}`, texts(d)) });
    // A fresh handle per check: a table handle does not see commits made through another one.
    const table = () => connection.openTable(tableNameOf('ann'));
    await waitFor(async () => (await (await table()).listIndices()).some((index) => index.name === 'vector_idx'), 60_000);

    const late = chunksOf('late', ['a brand new passage written after indexing zebra']);
    await store.replaceDocument({ collection: 'ann', documentId: 'late', chunks: late });
    const [hit] = await store.search({ collection: 'ann', mode: 'dense', vector: late[0]!.vector, topK: 3 });
    expect(hit?.documentId).toBe('late');
    expect(hit?.score).toBeCloseTo(1, 2);
    const hits = await store.search({ collection: 'ann', mode: 'dense', vector: embedText(texts(3)[17]!, DIMENSIONS), topK: 3 });
    expect(hits[0]?.id).toBe(chunkId('d3', 17));
    // The refresh folds the late rows into the full-text index too.
    await waitFor(async () => (await (await table()).indexStats('text_idx'))?.numUnindexedRows === 0, 30_000);
    expect((await store.search({ collection: 'ann', mode: 'keyword', text: 'zebra', topK: 3 }))[0]?.documentId).toBe('late');
    await store.close();
    connection.close();
  });

  it('reopens an existing directory with its data and metadata columns', async () => {
    const dir = await tempDir();
    const first = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS });
    await first.replaceDocument({ collection: 'persist', documentId: 'p', chunks: chunksOf('p', ['persisted text'], { year: 2020 }) });
    await first.close();
    const second = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS });
    await second.health();
    expect((await second.getDocument({ collection: 'persist', documentId: 'p' }))?.chunkCount).toBe(1);
    expect(await second.search({ collection: 'persist', mode: 'keyword', text: 'persisted', topK: 5, filter: { year: { gte: 2020 } } })).toHaveLength(1);
    await expect(second.replaceDocument({ collection: 'persist', documentId: 'q', chunks: chunksOf('q', ['x'], { year: 'old' }) })).rejects.toMatchObject({
      code: 'METADATA_TYPE_CONFLICT', details: { field: 'year', existingType: 'number', newType: 'string' },
    });
    await second.close();
    await expect(second.health()).rejects.toMatchObject({ code: 'VECTOR_STORE_UNAVAILABLE' });
    const wrongDims = new LanceDbVectorStore({ dir, dimensions: DIMENSIONS * 2 });
    await expect(wrongDims.search({ collection: 'persist', mode: 'keyword', text: 'persisted', topK: 1 })).rejects.toMatchObject({ code: 'VECTOR_DIMENSION_MISMATCH' });
    await wrongDims.close();
  });

  it('maps collection names to distinct, safe table names', () => {
    expect(tableNameOf('docs_v1')).toBe('c_docs_v1');
    expect(tableNameOf('a b')).not.toBe(tableNameOf('a_b'));
    expect(tableNameOf('../etc')).toMatch(/^c_[A-Za-z0-9_-]+$/);
  });

  it('compiles filters to quoted SQL', () => {
    expect(toSqlPredicate([
      { field: 'owner', type: 'string', op: 'eq', value: "it's" },
      { field: 'documentId', type: 'string', op: 'in', values: ['a', "b'c"] },
      { field: 'year', type: 'number', op: 'range', bounds: { gte: 2020, lt: 2024 } },
      { field: 'draft', type: 'boolean', op: 'eq', value: false },
    ])).toBe("(`m_owner` = 'it''s') AND (`documentId` IN ('a', 'b''c')) AND (`m_year` >= 2020 AND `m_year` < 2024) AND (`m_draft` = FALSE)");
    expect(toSqlPredicate([])).toBeUndefined();
  });
});
