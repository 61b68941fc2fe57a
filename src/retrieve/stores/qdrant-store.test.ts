import type { QdrantClient } from '@qdrant/js-client-rest';
import { describe, expect, it } from 'vitest';
import { QdrantVectorStore, textToSparseVector, toQdrantFilter } from './qdrant-store.js';

describe('textToSparseVector', () => {
  it('counts lower-cased word tokens under stable uint32 indices, sorted ascending', () => {
    const vector = textToSparseVector('Travel policy: travel, TRAVEL and the policy-holder (2024).');
    expect(vector.indices).toEqual([...vector.indices].sort((a, b) => a - b));
    expect(new Set(vector.indices).size).toBe(vector.indices.length);
    for (const index of vector.indices) expect(Number.isInteger(index) && index >= 0 && index <= 0xffffffff).toBe(true);
    const weight = (word: string) => vector.values[vector.indices.indexOf(textToSparseVector(word).indices[0]!)];
    expect(weight('travel')).toBe(3);
    expect(weight('policy')).toBe(2);
    expect(weight('holder')).toBe(1);
    expect(weight('2024')).toBe(1);
    expect(vector.values.reduce((sum, value) => sum + value, 0)).toBe(9);
  });

  it('is deterministic, handles Unicode words and empty text', () => {
    expect(textToSparseVector('Müller straße')).toEqual(textToSparseVector('MÜLLER Straße'));
    expect(textToSparseVector('東京 café').indices).toHaveLength(2);
    expect(textToSparseVector(' ,.;! ')).toEqual({ indices: [], values: [] });
  });
});

describe('toQdrantFilter', () => {
  it('maps conditions to payload keys, matching numbers by closed ranges', () => {
    const state = { indexes: new Map([['metadata.published', 'datetime' as const], ['metadata.team', 'keyword' as const]]) };
    expect(toQdrantFilter([
      { field: 'documentId', type: 'string', op: 'eq', value: "it's" },
      { field: 'team', type: 'string', op: 'in', values: ['a', 'b'] },
      { field: 'year', type: 'number', op: 'eq', value: 2024 },
      { field: 'year', type: 'number', op: 'in', values: [1, 2.5] },
      { field: 'draft', type: 'boolean', op: 'eq', value: false },
      { field: 'published', type: 'string', op: 'range', bounds: { gte: '2024-01-01', lt: '2025-01-01' } },
    ], state)).toEqual({
      must: [
        { key: 'documentId', match: { value: "it's" } },
        { key: 'metadata.team', match: { any: ['a', 'b'] } },
        { key: 'metadata.year', range: { gte: 2024, lte: 2024 } },
        { should: [{ key: 'metadata.year', range: { gte: 1, lte: 1 } }, { key: 'metadata.year', range: { gte: 2.5, lte: 2.5 } }] },
        { key: 'metadata.draft', match: { value: false } },
        { key: 'metadata.published', range: { gte: '2024-01-01', lt: '2025-01-01' } },
      ],
    });
    expect(toQdrantFilter([])).toBeUndefined();
  });
});

describe('QdrantVectorStore error mapping', () => {
  const failing = (status: number | undefined) => {
    const error = Object.assign(new Error('Bad Request'), status === undefined ? {} : { status, data: { status: { error: `server said ${status}` } } });
    const reject = () => Promise.reject(error);
    return { getCollection: reject, getCollections: reject, count: reject, scroll: reject, query: reject } as unknown as QdrantClient;
  };
  const store = (status: number | undefined) => new QdrantVectorStore({ url: 'http://127.0.0.1:1', collectionPrefix: 't_', dimensions: 4, client: failing(status) });

  it('wraps outages as retryable VECTOR_STORE_UNAVAILABLE keeping the cause', async () => {
    const error = await store(503).health().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'VECTOR_STORE_UNAVAILABLE', category: 'upstream', isRetryable: true });
    expect((error as Error).cause).toBeInstanceOf(Error);
    await expect(store(undefined).health()).rejects.toMatchObject({ code: 'VECTOR_STORE_UNAVAILABLE', isRetryable: true });
    await expect(store(401).health()).rejects.toMatchObject({ code: 'VECTOR_STORE_UNAVAILABLE', isRetryable: false });
  });

  it('maps input errors to ValidationError and a missing collection to empty results', async () => {
    await expect(store(400).health()).rejects.toMatchObject({ code: 'VECTOR_STORE_REJECTED', category: 'user', message: expect.stringContaining('server said 400') });
    const missing = store(404);
    await expect(missing.search({ collection: 'c', mode: 'keyword', text: 'x', topK: 3 })).resolves.toEqual([]);
    await expect(missing.getDocument({ collection: 'c', documentId: 'd' })).resolves.toBeNull();
    await expect(missing.deleteDocument({ collection: 'c', documentId: 'd' })).resolves.toBe(0);
  });

  it('prefixes collection names and keeps unsafe names distinct', () => {
    const s = store(503);
    expect(s.collectionName('docs')).toBe('t_docs');
    expect(s.collectionName('a b')).not.toBe(s.collectionName('a_b'));
  });
});
