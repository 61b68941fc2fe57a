/**
 * Micro-benchmark of LanceDbVectorStore alone (no HTTP, no model): write throughput, index refresh cost and
 * dense/keyword/hybrid latency, flat and with the ANN index, plus ANN recall@10 against exact search.
 * Data is synthetic: clustered unit vectors (real embeddings cluster too) and Zipf-like word texts.
 *
 *   npx tsx bench/store-latency.ts --rows 10000 [--dims 384] [--queries 100] [--dir /tmp/store-bench]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as lancedb from '@lancedb/lancedb';
import { LanceDbVectorStore, tableNameOf } from '../src/retrieve/stores/lancedb-store.js';
import type { ChunkRecord, SearchMode, SearchParams } from '../src/retrieve/types.js';

const { values: args } = parseArgs({
  options: { rows: { type: 'string', default: '10000' }, dims: { type: 'string', default: '384' }, queries: { type: 'string', default: '100' }, dir: { type: 'string' } },
});
const ROWS = Number(args.rows);
const DIMS = Number(args.dims);
const QUERIES = Number(args.queries);
const CHUNKS_PER_DOC = 20;
const COLLECTION = 'bench';
const OFF = { annIndexThresholdRows: Number.MAX_SAFE_INTEGER, indexRefreshRows: Number.MAX_SAFE_INTEGER, indexRefreshIdleMs: 2 ** 31 - 1 };

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = random(42);
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
// Many overlapping clusters, so true neighbours straddle IVF partitions (few, tight clusters would flatter recall).
const centers = Array.from({ length: 2048 }, () => Float32Array.from({ length: DIMS }, gauss));
const vocabulary = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}`);

function unitVector(center: Float32Array, noise: number): Float32Array {
  const vector = center.map((value) => value + noise * gauss());
  const norm = Math.hypot(...vector);
  return vector.map((value) => value / norm);
}
function chunk(documentId: string, chunkIndex: number, year: number): ChunkRecord {
  const words = Array.from({ length: 120 }, () => vocabulary[Math.floor(rand() ** 3 * vocabulary.length)]!);
  const text = words.join(' ');
  const id = `00000000-0000-4000-8000-${(documentId.length * 1e6 + Number(documentId.slice(1)) * 100 + chunkIndex).toString(16).padStart(12, '0')}`;
  return {
    id, documentId, source: `${documentId}.txt`, chunkIndex, text, charStart: 0, charEnd: text.length, contentHash: 'h',
    metadata: { year, team: year % 2 === 0 ? 'core' : 'edge' }, vector: unitVector(centers[Math.floor(rand() * centers.length)]!, 1.2),
  };
}
const documentOf = (d: number) => Array.from({ length: CHUNKS_PER_DOC }, (_, i) => chunk(`d${d}`, i, 2000 + (d % 25)));

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}
const fmt = (ms: number) => ms.toFixed(1).padStart(7);
async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await run();
  return [result, performance.now() - started];
}

const dir = args.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'store-bench-')));
const connection = await lancedb.connect(dir);
const openStore = (options = OFF) => new LanceDbVectorStore({ dir, dimensions: DIMS, connection, ...options });
const table = () => connection.openTable(tableNameOf(COLLECTION));
console.log(`LanceDbVectorStore bench: ${ROWS} rows x ${DIMS} dims, ${QUERIES} queries, dir ${dir}`);

// 1. Ingest new documents (the single-commit `add` path) with the default background index refresh running.
let store = openStore({ ...OFF, indexRefreshRows: 256, indexRefreshIdleMs: 500 });
const documents = ROWS / CHUNKS_PER_DOC;
const [, writeMs] = await timed(async () => {
  for (let d = 0; d < documents; d++) await store.replaceDocument({ collection: COLLECTION, documentId: `d${d}`, chunks: documentOf(d) });
});
console.log(`write (new 20-chunk documents, refresh on) ${(ROWS / (writeMs / 1000)).toFixed(0)} rows/s, ${(writeMs / documents).toFixed(1)} ms/document`);
const [, settleMs] = await timed(async () => {
  while (((await (await table()).indexStats('text_idx'))?.numUnindexedRows ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
});
console.log(`index caught up ${settleMs.toFixed(0)} ms after the last write`);
await store.close();
store = openStore();

// 2. Replace paths on an existing document and the refresh cost one write adds.
const replaceMs: Record<string, number[]> = { 'same ids (upsert)': [], 'fewer chunks (mergeInsert+delete)': [] };
const refreshMs: number[] = [];
for (let k = 0; k < 5; k++) {
  const d = k * 7;
  replaceMs['same ids (upsert)']!.push((await timed(() => store.replaceDocument({ collection: COLLECTION, documentId: `d${d}`, chunks: documentOf(d) })))[1]);
  refreshMs.push((await timed(async () => (await table()).optimize()))[1]);
  const shorter = documentOf(d + 1).slice(0, CHUNKS_PER_DOC - 2);
  replaceMs['fewer chunks (mergeInsert+delete)']!.push((await timed(() => store.replaceDocument({ collection: COLLECTION, documentId: `d${d + 1}`, chunks: shorter })))[1]);
}
for (const [label, samples] of Object.entries(replaceMs)) console.log(`replace, ${label.padEnd(34)} p50 ${fmt(percentile(samples, 0.5))} ms`);
console.log(`index refresh after one 20-chunk write  p50 ${fmt(percentile(refreshMs, 0.5))} ms  max ${fmt(Math.max(...refreshMs))} ms`);
await (await table()).optimize();
await store.close();
store = openStore();

// 3. Search latency, exact (no ANN index) and with the ANN index.
const queryRand = random(7);
const probes = Array.from({ length: QUERIES }, () => {
  const base = documentOf(Math.floor(queryRand() * documents))[0]!;
  return { vector: unitVector(base.vector, 0.02), text: base.text.split(' ').slice(0, 3).join(' ') };
});
async function measure(label: string, mode: SearchMode, filter?: SearchParams['filter']): Promise<string[][]> {
  const run = (probe: (typeof probes)[number]) => store.search({ collection: COLLECTION, mode, vector: probe.vector, text: probe.text, topK: 10, ...(filter ? { filter } : {}) });
  for (const probe of probes.slice(0, 5)) await run(probe);
  const latencies: number[] = [];
  const ids: string[][] = [];
  for (const probe of probes) {
    const [hits, ms] = await timed(() => run(probe));
    latencies.push(ms);
    ids.push(hits.map((hit) => hit.id));
  }
  console.log(`${label.padEnd(40)} p50 ${fmt(percentile(latencies, 0.5))} ms  p95 ${fmt(percentile(latencies, 0.95))} ms`);
  return ids;
}
const exact = await measure('dense, exact', 'dense');
await measure('dense, exact, filter year>=2010', 'dense', { year: { gte: 2010 } });
await measure('keyword (BM25 index)', 'keyword');
await measure('keyword, filter team=core', 'keyword', { team: 'core' });
await measure('hybrid, exact dense', 'hybrid');
await store.close();

const [, buildMs] = await timed(async () => (await table()).createIndex('vector', {
  config: lancedb.Index.ivfFlat({ distanceType: 'cosine', numPartitions: Math.round(Math.sqrt(ROWS)) }), name: 'vector_idx', replace: true,
}));
console.log(`ANN index build (IVF_FLAT, ${Math.round(Math.sqrt(ROWS))} partitions) ${buildMs.toFixed(0)} ms`);
for (const nprobes of [10, 20, 40]) {
  store = openStore({ ...OFF, annNprobes: nprobes } as typeof OFF);
  const approximate = await measure(`dense, IVF_FLAT nprobes=${nprobes}`, 'dense');
  const recall = approximate.reduce((sum, found, i) => sum + found.filter((id) => exact[i]!.includes(id)).length, 0) / (10 * QUERIES);
  console.log(`${''.padEnd(40)} recall@10 vs exact ${recall.toFixed(3)}`);
  if (nprobes === 20) {
    await measure('dense, IVF_FLAT, filter year>=2010', 'dense', { year: { gte: 2010 } });
    await measure('hybrid, IVF_FLAT', 'hybrid');
  }
  await store.close();
}

// 4. Keyword cost of rows the full-text index has not absorbed yet (searched by a flat scan until the next refresh).
store = openStore();
for (let d = documents; d < documents + 25; d++) await store.replaceDocument({ collection: COLLECTION, documentId: `d${d}`, chunks: documentOf(d) });
await measure(`keyword, ${25 * CHUNKS_PER_DOC} unindexed rows`, 'keyword');
await store.close();
connection.close();
if (!args.dir) await rm(dir, { recursive: true, force: true });
