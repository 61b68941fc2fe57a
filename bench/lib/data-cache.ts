import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Loaded data directories, cached across runs: ingesting 100k chunks with the real embedder takes a long time on
 * two cores. An entry is keyed by the corpus parameters and the ingestion settings; a run copies the entry into
 * its own temporary DATA_DIR, so the cache itself is never modified by a service.
 */

/** `${RAG_CACHE_DIR:-$HOME/.cache/rag-service}/bench`. */
export function benchCacheRoot(): string {
  return path.join(process.env.RAG_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'rag-service'), 'bench');
}

/** JSON with sorted keys, so equal objects always hash the same. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, child]) => child !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, child]) => `${JSON.stringify(key)}:${stableStringify(child)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `<label>-<first 16 hex of sha256(parts)>`: readable and unique per parameter set. */
export function cacheKey(label: string, parts: Record<string, unknown>): string {
  return `${label}-${createHash('sha256').update(stableStringify(parts)).digest('hex').slice(0, 16)}`;
}

/** sha256 of a file, or `missing`. */
export async function fileDigest(file: string): Promise<string> {
  if (!existsSync(file)) return 'missing';
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/** A cache entry: the data directory and what was recorded when it was saved. */
export interface CacheEntry<M> {
  dir: string;
  manifest: M;
}

/** The entry for `key`, or null. */
export async function findCacheEntry<M>(key: string, root = benchCacheRoot()): Promise<CacheEntry<M> | null> {
  const dir = path.join(root, key);
  try {
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as M;
    return existsSync(path.join(dir, 'data')) ? { dir, manifest } : null;
  } catch {
    return null;
  }
}

/** Copies a cached data directory into `dataDir` (which must not exist yet or be empty). */
export async function restoreCacheEntry(entry: CacheEntry<unknown>, dataDir: string): Promise<void> {
  await cp(path.join(entry.dir, 'data'), dataDir, { recursive: true });
}

/**
 * Saves `dataDir` (the service must be stopped) under `key` with `manifest`; written to a temporary name first and
 * renamed, so a crash never leaves a half-written entry that looks complete.
 */
export async function saveCacheEntry(key: string, dataDir: string, manifest: unknown, root = benchCacheRoot()): Promise<string> {
  await mkdir(root, { recursive: true });
  const final = path.join(root, key);
  const staging = `${final}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  try {
    await cp(dataDir, path.join(staging, 'data'), { recursive: true });
    // Uploads are transient; a restored service must not find stale ones.
    await rm(path.join(staging, 'data', 'uploads'), { recursive: true, force: true });
    await writeFile(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await rm(final, { recursive: true, force: true });
    await rename(staging, final);
  } catch (error) {
    // A full disk must not stay full because of a half-written copy.
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return final;
}
