/**
 * Micro-benchmark of LanceDbVectorStore alone (no HTTP, no model): write throughput, index refresh cost and
 * dense/keyword/hybrid latency, flat and with the ANN index, plus ANN recall@10 against exact search.
 * Data is synthetic by default: overlapping clusters of unit vectors and Zipf-like word texts. With
 * `--corpus python-docs` it is paragraphs of Python's reStructuredText docs (Debian python3.11-doc) embedded by
 * the service's embedder (all-MiniLM-L6-v2, q8; MODELS_DIR as for the service), and query embedding time is
 * reported too, so embed+search can be read against the retrieval budget. Embeddings are cached in the temp dir.
 *
 *   npx tsx bench/store-latency.ts --rows 10000 [--dims 384] [--queries 100] [--dir /tmp/store-bench]
 *   MODELS_DIR=~/.cache/rag-service/models npx tsx bench/store-latency.ts --rows 20000 --corpus python-docs
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as lancedb from '@lancedb/lancedb';
import { TransformersEmbedder } from '../src/retrieve/embedders/transformers-embedder.js';
import { LanceDbVectorStore, tableNameOf } from '../src/retrieve/stores/lancedb-store.js';
import type { ChunkRecord, SearchMode, SearchParams } from '../src/retrieve/types.js';
import { integerOption } from './lib/cli-options.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000' }, dims: { type: 'string', default: '384' }, queries: { type: 'string', default: '100' },
    dir: { type: 'string' }, corpus: { type: 'string', default: 'synthetic' },
  },
});
const ROWS = integerOption(args.rows, 'rows', 10_000);
const DIMS = integerOption(args.dims, 'dims', 384, { max: 4096 });
const QUERIES = integerOption(args.queries, 'queries', 100);
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
let documentOf = (d: number) => Array.from({ length: CHUNKS_PER_DOC }, (_, i) => chunk(`d${d}`, i, 2000 + (d % 25)));
let embedQuery: ((text: string) => Promise<Float32Array>) | undefined;

/** Paragraphs of Python's docs (200-1200 chars, deduplicated, in file order) and their cached embeddings. */
async function loadPythonDocs(count: number): Promise<{ texts: string[]; vectors: Float32Array[] }> {
  const root = '/usr/share/doc/python3.11/html/_sources';
  const files = (await readdir(root, { recursive: true })).filter((file) => file.endsWith('.txt')).sort();
  const seen = new Set<string>();
  const texts: string[] = [];
  for (const file of files) {
    for (const block of (await readFile(path.join(root, file), 'utf8')).split(/\n\s*\n/)) {
      const text = block.replace(/\s+/g, ' ').trim();
      if (text.length < 200 || text.length > 1200 || seen.has(text)) continue;
      seen.add(text);
      texts.push(text);
    }
    if (texts.length >= count) break;
  }
  if (texts.length < count) throw new Error(`python-docs has only ${texts.length} paragraphs of 200-1200 chars`);
  texts.length = count;
  const embedder = new TransformersEmbedder({ modelId: 'Xenova/all-MiniLM-L6-v2', dtype: 'q8', maxBatchSize: 32, modelsDir: process.env.MODELS_DIR ?? './models', offline: true });
  await embedder.warmup();
  embedQuery = async (text) => (await embedder.embed({ texts: [text] }))[0]!;
  const cache = path.join(os.tmpdir(), `store-bench-${createHash('sha256').update(texts.join('\n')).digest('hex').slice(0, 16)}.f32`);
  const cached = await readFile(cache).catch(() => undefined);
  if (cached) {
    const flat = new Float32Array(cached.buffer, cached.byteOffset, cached.byteLength / 4);
    return { texts, vectors: texts.map((_, i) => flat.slice(i * DIMS, (i + 1) * DIMS)) };
  }
  const vectors: Float32Array[] = [];
  const [, embedMs] = await timed(async () => {
    for (let i = 0; i < texts.length; i += 32) vectors.push(...(await embedder.embed({ texts: texts.slice(i, i + 32) })));
  });
  console.log(`embedded ${texts.length} paragraphs in ${(embedMs / 1000).toFixed(0)} s`);
  const flat = new Float32Array(texts.length * DIMS);
  vectors.forEach((vector, i) => flat.set(vector, i * DIMS));
  await writeFile(cache, new Uint8Array(flat.buffer));
  return { texts, vectors };
}

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

let probeSource: () => { vector: Float32Array; text: string } = () => {
  const base = documentOf(Math.floor(queryRand() * (ROWS / CHUNKS_PER_DOC)))[0]!;
  return { vector: unitVector(base.vector, 0.02), text: base.text.split(' ').slice(0, 3).join(' ') };
};
const queryRand = random(7);
if (args.corpus === 'python-docs') {
  // Queries are the first sentence of paragraphs that are not stored; documents are runs of 20 stored paragraphs.
  const spare = 25 * CHUNKS_PER_DOC; // the documents section 4 writes after the load
  const { texts, vectors } = await loadPythonDocs(ROWS + spare + QUERIES);
  documentOf = (d) => Array.from({ length: CHUNKS_PER_DOC }, (_, i) => {
    const n = d * CHUNKS_PER_DOC + i;
    const base = chunk(`d${d}`, i, 2000 + (d % 25));
    return { ...base, text: texts[n]!, charEnd: texts[n]!.length, vector: vectors[n]! };
  });
  let next = ROWS + spare;
  probeSource = () => {
    const n = next++;
    return { vector: vectors[n]!, text: texts[n]!.split(/(?<=[.?!])\s/)[0]!.slice(0, 200) };
  };
} else if (args.corpus !== 'synthetic') {
  throw new Error('--corpus is synthetic or python-docs');
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
const probes = Array.from({ length: QUERIES }, probeSource);
if (embedQuery) {
  const embedMs: number[] = [];
  for (const probe of probes) embedMs.push((await timed(() => (embedQuery as (text: string) => Promise<Float32Array>)(probe.text)))[1]);
  console.log(`${'query embedding (MiniLM q8, 1 text)'.padEnd(40)} p50 ${fmt(percentile(embedMs, 0.5))} ms  p95 ${fmt(percentile(embedMs, 0.95))} ms`);
}
async function measure(label: string, mode: SearchMode, filter?: SearchParams['filter'], withEmbedding = false): Promise<string[][]> {
  const run = async (probe: (typeof probes)[number]) => {
    const vector = withEmbedding && embedQuery ? await embedQuery(probe.text) : probe.vector;
    return store.search({ collection: COLLECTION, mode, vector, text: probe.text, topK: 10, ...(filter ? { filter } : {}) });
  };
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
    if (embedQuery) await measure('query embedding + hybrid, IVF_FLAT', 'hybrid', undefined, true);
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
