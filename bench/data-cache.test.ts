import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheKey, findCacheEntry, restoreCacheEntry, saveCacheEntry, stableStringify } from './lib/data-cache.js';

describe('cache keys', () => {
  it('do not depend on key order and change with any parameter', () => {
    expect(stableStringify({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'z' } })).toBe('{"a":{"c":"z","d":[1,{"x":1,"y":2}]},"b":1}');
    expect(cacheKey('latency-1000', { size: 1000, model: 'm' })).toBe(cacheKey('latency-1000', { model: 'm', size: 1000 }));
    expect(cacheKey('latency-1000', { size: 1000, model: 'm' })).not.toBe(cacheKey('latency-1000', { size: 1000, model: 'n' }));
    expect(cacheKey('latency-1000', { size: 1 })).toMatch(/^latency-1000-[0-9a-f]{16}$/);
  });
});

describe('cache entries', () => {
  it('round-trip a data directory without uploads, and a missing key is null', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'bench-cache-'));
    const dataDir = path.join(root, 'run', 'data');
    await mkdir(path.join(dataDir, 'lancedb', 'bench.lance'), { recursive: true });
    await mkdir(path.join(dataDir, 'uploads'), { recursive: true });
    await writeFile(path.join(dataDir, 'lancedb', 'bench.lance', 'rows'), 'rows');
    await writeFile(path.join(dataDir, 'uploads', 'stale.upload'), 'x');

    expect(await findCacheEntry('k-1', path.join(root, 'cache'))).toBeNull();
    await saveCacheEntry('k-1', dataDir, { chunks: 3 }, path.join(root, 'cache'));
    const entry = await findCacheEntry<{ chunks: number }>('k-1', path.join(root, 'cache'));
    expect(entry?.manifest).toEqual({ chunks: 3 });

    const restored = path.join(root, 'restored');
    await restoreCacheEntry(entry as NonNullable<typeof entry>, restored);
    expect(await readFile(path.join(restored, 'lancedb', 'bench.lance', 'rows'), 'utf8')).toBe('rows');
    expect(existsSync(path.join(restored, 'uploads'))).toBe(false);
  });
});
