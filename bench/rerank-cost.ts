/**
 * Per-candidate cost of the cross-encoder reranker (the service's own CrossEncoderReranker class, no HTTP):
 * as a function of pair length (tokens per (query, passage) pair, set with the reranker's `maxTokens` cap), call
 * shape (1 pair per ONNX call vs batches), ONNX intra-op threads, dtype (q8 vs fp32), and of running two sessions
 * at once on the two cores (two processes, and two sessions in one thread for comparison).
 * Prints a Markdown table and writes bench/results/rerank-cost.{json,md}.
 *
 *   npx tsx bench/rerank-cost.ts                          # full matrix, a few minutes on 2 cores
 *   npx tsx bench/rerank-cost.ts --lengths 128 --batches 1 --dtypes q8 --threads 1,2 --pairs 20 --reps 15
 *
 * Pairs are real text: questions of fixtures/eval and windows of fixtures/documents long enough that every pair is
 * cut to exactly the requested length, so batches need no padding (the best case for batching). Model: the
 * LATENCY-ONLY cross-encoder (same architecture and cost as ms-marco-MiniLM-L-6-v2; its scores mean nothing, so the
 * score columns here only compare call shapes with each other).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CrossEncoderReranker, type CrossEncoderRerankerOptions } from '../src/retrieve/rerankers/cross-encoder-reranker.js';
import type { ModelDtype } from '../src/retrieve/model-files.js';
import { writeReportFiles } from './lib/report-files.js';
import { percentile, round } from './lib/stats.js';
import { integerListOption, integerOption } from './lib/cli-options.js';

const LATENCY_ONLY_MODEL = 'local/minilm-l6-cross-encoder-LATENCY-ONLY';

interface PairSet {
  query: string;
  passages: string[];
}

/** One measured configuration. */
interface Cell {
  dtype: ModelDtype;
  threads: number;
  /** `1 pair/call`, `batch N`, `2 processes, …`, `2 sessions in 1 thread, …`. */
  shape: string;
  pairTokens: number;
  pairsPerRep: number;
  reps: number;
  /** Wall milliseconds per pair: median and p95 over the reps (each rep = wall time of all pairs / pairs). */
  msPerPairP50: number;
  msPerPairP95: number;
  /** CPU milliseconds of this process per pair (median over reps): less sensitive to other load than wall time; null for child processes. */
  cpuMsPerPair: number | null;
  /** Largest |score − reference| over the first set; reference: 1 pair/call, first thread count (0: same scores). */
  maxScoreDelta: number;
  /** Whether a repeated call gave bit-identical scores. */
  deterministic: boolean;
  loadAverage: number[];
}

function readPairs(count: number): PairSet[] {
  const root = path.resolve(import.meta.dirname, '..', 'fixtures');
  const questions = (JSON.parse(readFileSync(path.join(root, 'eval', 'python-docs-questions.json'), 'utf8')) as { question: string }[]).map((q) => q.question);
  const words = ['shipment-api-guide.md', 'oncall-runbook.txt']
    .map((file) => readFileSync(path.join(root, 'documents', file), 'utf8'))
    .join('\n\n')
    .split(/\s+/)
    .filter((word) => word !== '');
  // 600 words give well over 512 tokens, so every pair is cut to the length under test.
  const window = (start: number) => Array.from({ length: 600 }, (_, i) => words[(start + i) % words.length]).join(' ');
  return questions.slice(0, 8).map((query, q) => ({ query, passages: Array.from({ length: count }, (_, i) => window((q * count + i) * 41)) }));
}

function rerankerOptions(dtype: ModelDtype, threads: number, pairTokens: number, pairsPerCall: number): CrossEncoderRerankerOptions {
  return {
    modelId: process.env.RERANK_MODEL ?? LATENCY_ONLY_MODEL,
    modelsDir: path.resolve(process.env.MODELS_DIR ?? './models'),
    offline: true,
    dtype,
    maxBatchSize: 256,
    intraOpThreads: threads,
    maxTokens: pairTokens,
    pairsPerCall,
  };
}

/**
 * Child side: one reranker (one ONNX session) scoring whatever the parent sends. Child processes, not worker
 * threads: onnxruntime-node 1.21 (pinned by transformers.js 3.8.1) aborts when sessions run in two worker threads
 * (microsoft/onnxruntime#24486), and its `run` blocks the calling thread, so one thread never runs two at once.
 */
function serveChild(): void {
  let reranker: CrossEncoderReranker | undefined;
  process.on('message', (message: { options: CrossEncoderRerankerOptions } | PairSet | 'exit') => {
    if (message === 'exit') return void reranker?.dispose().then(() => process.exit(0));
    if ('options' in message) {
      reranker = new CrossEncoderReranker(message.options);
      return void reranker.warmup().then(() => process.send?.('ready'));
    }
    void reranker?.score(message).then((scores) => process.send?.(scores));
  });
}

/** Something that scores a pair set, possibly split across sessions. */
interface Scorer {
  score(set: PairSet): Promise<number[]>;
  close(): Promise<void>;
  /** False when the work runs in child processes (this process's CPU time does not count it). */
  inProcess: boolean;
}

function singleScorer(options: CrossEncoderRerankerOptions): Scorer {
  const reranker = new CrossEncoderReranker(options);
  return { score: (set) => reranker.score(set), close: () => reranker.dispose(), inProcess: true };
}

/** Two sessions; each call's passages are split in halves scored at the same time (two processes, or one event loop). */
async function splitScorer(options: CrossEncoderRerankerOptions, mode: 'processes' | 'in-process'): Promise<Scorer> {
  const halves = (set: PairSet): PairSet[] => {
    const middle = Math.ceil(set.passages.length / 2);
    return [{ query: set.query, passages: set.passages.slice(0, middle) }, { query: set.query, passages: set.passages.slice(middle) }];
  };
  if (mode === 'in-process') {
    const sessions = [new CrossEncoderReranker(options), new CrossEncoderReranker(options)];
    return {
      score: async (set) => (await Promise.all(halves(set).map((half, i) => sessions[i]!.score(half)))).flat(),
      close: async () => void (await Promise.all(sessions.map((session) => session.dispose()))),
      inProcess: true,
    };
  }
  const children = [0, 1].map(() => fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: process.execArgv }));
  const next = (child: ChildProcess) => new Promise<unknown>((resolve, reject) => {
    const onMessage = (message: unknown) => {
      child.off('error', onError);
      resolve(message);
    };
    const onError = (error: Error) => {
      child.off('message', onMessage);
      reject(error);
    };
    child.once('message', onMessage);
    child.once('error', onError);
  });
  await Promise.all(children.map((child) => {
    const ready = next(child);
    child.send({ options });
    return ready;
  }));
  return {
    inProcess: false,
    score: async (set) => {
      const answers = children.map(next);
      halves(set).forEach((half, i) => children[i]!.send(half));
      return ((await Promise.all(answers)) as number[][]).flat();
    },
    close: async () => {
      await Promise.all(children.map((child) => new Promise((resolve) => {
        child.once('exit', resolve);
        child.send('exit');
      })));
    },
  };
}

type Measured = Omit<Cell, 'dtype' | 'threads' | 'shape' | 'pairTokens' | 'loadAverage'> & { scores: number[] };

async function measure(scorer: Scorer, sets: PairSet[], reps: number, reference: number[] | undefined): Promise<Measured> {
  const first = sets[0]!;
  const firstScores = await scorer.score(first); // untimed: warms the session at this length and shape
  const again = await scorer.score(first);
  const perPair: number[] = [];
  const cpuPerPair: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const set = sets[rep % sets.length]!;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await scorer.score(set);
    perPair.push((performance.now() - started) / set.passages.length);
    const used = process.cpuUsage(cpu);
    cpuPerPair.push((used.user + used.system) / 1000 / set.passages.length);
  }
  perPair.sort((a, b) => a - b);
  cpuPerPair.sort((a, b) => a - b);
  const maxScoreDelta = reference ? Math.max(...firstScores.map((score, i) => Math.abs(score - (reference[i] ?? Number.NaN)))) : Number.NaN;
  return {
    scores: firstScores,
    pairsPerRep: first.passages.length,
    reps,
    msPerPairP50: round(percentile(perPair, 50)),
    msPerPairP95: round(percentile(perPair, 95)),
    cpuMsPerPair: scorer.inProcess ? round(percentile(cpuPerPair, 50)) : null,
    maxScoreDelta: Number(maxScoreDelta.toPrecision(3)),
    deterministic: again.every((score, i) => score === firstScores[i]),
  };
}

function markdownTable(cells: Cell[]): string {
  const rows = cells.map((c) =>
    `| ${c.dtype} | ${c.threads} | ${c.shape} | ${c.pairTokens} | ${c.msPerPairP50.toFixed(2)} | ${c.msPerPairP95.toFixed(2)} | ${c.cpuMsPerPair?.toFixed(2) ?? '–'} | ${(1000 / c.msPerPairP50).toFixed(0)} | ${Number.isNaN(c.maxScoreDelta) ? '–' : c.maxScoreDelta} | ${c.deterministic ? 'yes' : 'NO'} | ${c.loadAverage[0]?.toFixed(2)} |`,
  );
  return [
    '| dtype | intra-op threads | call shape | tokens/pair | ms/pair p50 | ms/pair p95 | CPU ms/pair | pairs/s | max Δscore vs alone | deterministic | load 1m |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      lengths: { type: 'string', default: '64,128,192,256,384,512' },
      batches: { type: 'string', default: '1,4,8,16,32' },
      'batch-lengths': { type: 'string', default: '128,256' },
      threads: { type: 'string', default: '1,2' },
      dtypes: { type: 'string', default: 'q8,fp32' },
      'no-parallel': { type: 'boolean', default: false },
      pairs: { type: 'string', default: '32' },
      reps: { type: 'string', default: '6' },
      out: { type: 'string', default: 'bench/results' },
    },
  });
  const lengths = integerListOption(args.lengths, 'lengths', [], { min: 8, max: 512 });
  const batches = integerListOption(args.batches, 'batches', []);
  const batchLengths = new Set(integerListOption(args['batch-lengths'], 'batch-lengths', [], { min: 8, max: 512 }));
  const threadCounts = integerListOption(args.threads, 'threads', [], { max: 64 });
  const dtypes = args.dtypes.split(',').map((dtype) => dtype.trim());
  if (dtypes.some((dtype) => dtype !== 'q8' && dtype !== 'fp32')) throw new Error(`--dtypes takes q8 and/or fp32 separated by commas, got '${args.dtypes}'`);
  const reps = integerOption(args.reps, 'reps', 6);
  const sets = readPairs(integerOption(args.pairs, 'pairs', 32, { max: 256 }));
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg().map((value) => round(value));
  const cells: Cell[] = [];
  const record = (cell: Cell) => {
    cells.push(cell);
    console.log(markdownTable([cell]).split('\n')[2]);
  };
  console.log(markdownTable([]));

  for (const dtype of dtypes as ModelDtype[]) {
    for (const pairTokens of lengths) {
      let reference: number[] | undefined;
      for (const threads of threadCounts) {
        for (const batch of batches) {
          if (batch > 1 && !batchLengths.has(pairTokens)) continue;
          const scorer = singleScorer(rerankerOptions(dtype, threads, pairTokens, batch));
          const { scores, ...result } = await measure(scorer, sets, reps, reference);
          await scorer.close();
          const shape = batch === 1 ? '1 pair/call' : `batch ${batch}`;
          record({ dtype, threads, shape, pairTokens, ...result, loadAverage: os.loadavg().map((value) => round(value)) });
          // One pair per call is batch-independent by construction: the reference for the other shapes.
          if (batch === 1) reference ??= scores;
        }
      }
      if (args['no-parallel']) continue;
      for (const mode of ['processes', 'in-process'] as const) {
        const scorer = await splitScorer(rerankerOptions(dtype, 1, pairTokens, 1), mode);
        const { scores: _scores, ...result } = await measure(scorer, sets, reps, reference);
        await scorer.close();
        const shape = mode === 'processes' ? '2 processes, 1 pair/call' : '2 sessions in 1 thread, 1 pair/call';
        record({ dtype, threads: 1, shape, pairTokens, ...result, loadAverage: os.loadavg().map((value) => round(value)) });
      }
    }
  }

  const report = {
    createdAt: startedAt.toISOString(),
    durationSeconds: round((Date.now() - startedAt.getTime()) / 1000, 0),
    gitCommit: gitCommit(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadAverageAtStart,
    loadAverageAtEnd: os.loadavg().map((value) => round(value)),
    model: rerankerOptions('q8', 1, 0, 1).modelId,
    cells,
  };
  const markdown = [
    '# Cross-encoder cost per candidate',
    '',
    `${report.createdAt} · ${report.durationSeconds} s · commit \`${report.gitCommit.slice(0, 12)}\` · node ${report.node} · ${report.cpus} × ${report.cpuModel} · ` +
      `load average ${loadAverageAtStart.join(' ')} at start, ${report.loadAverageAtEnd.join(' ')} at end · model \`${report.model}\` (LATENCY-ONLY: timings only)`,
    '',
    `${sets[0]!.passages.length} pairs per rep, ${reps} timed reps per row after 2 untimed calls; ms/pair = wall time of a rep / its pairs. ` +
      'Two-session rows split each rep in halves scored at once. Δscore: the same pairs scored one per call in one session.',
    '',
    markdownTable(cells),
    '',
  ].join('\n');
  const written = await writeReportFiles({ dir: args.out, base: 'rerank-cost', json: report, markdown });
  console.log(`\nwrote ${written.join(', ')}`);
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

if (process.argv.includes('--child')) {
  serveChild();
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  });
}
