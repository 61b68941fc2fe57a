import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * The committed budget file (bench/budgets.json): latency checks enforced in CI, the query-path issue's
 * targets (reported next to the measurements, enforced only on request) and quality floors.
 * Every entry carries a `comment` saying why the number is what it is.
 */

const limit = z
  .object({ max: z.number().optional(), min: z.number().optional() })
  .refine((value) => (value.max === undefined) !== (value.min === undefined), 'give exactly one of "max" or "min"');

const latencyCheckSchema = z
  .object({
    id: z.string().min(1),
    /** Scenario id (`hybrid`, `hybrid-rerank`, …) or `*` for every scenario; omitted for per-size values (memory, overhead ratio). */
    scenario: z.string().optional(),
    /** Client concurrency the check applies to; omitted means every concurrency measured. */
    concurrency: z.number().int().positive().optional(),
    /** Corpus sizes (target chunk counts) the check applies to; omitted means every size measured. */
    sizes: z.array(z.number().int().positive()).optional(),
    /** Dotted name of the value, e.g. `server.totalMs.p95`, `client.p99`, `errorRate`, `embedOverhead.ratio`. */
    metric: z.string().min(1),
    comment: z.string().min(1),
  })
  .and(limit);

const qualityFloorSchema = z
  .object({
    id: z.string().min(1),
    mode: z.enum(['dense', 'keyword', 'hybrid']),
    metric: z.enum(['hitAt1', 'hitAt5', 'mrrAt10', 'ndcgAt10']),
    /** Only questions of this style; omitted means all questions. */
    style: z.enum(['keyword', 'paraphrase']).optional(),
    /** Eval corpus the floor applies to (`subset` for --short, `full`); omitted means both. */
    corpus: z.enum(['subset', 'full']).optional(),
    min: z.number().min(0).max(1),
    comment: z.string().min(1),
  })
  .strict();

/** Parsed bench/budgets.json. */
export const budgetFileSchema = z.object({
  schemaVersion: z.literal(1),
  comment: z.string().optional(),
  latency: z.object({
    comment: z.string().optional(),
    checks: z.array(latencyCheckSchema),
    targets: z.array(latencyCheckSchema),
  }),
  quality: z.object({ comment: z.string().optional(), floors: z.array(qualityFloorSchema) }),
  /**
   * The isolation issue's budgets: search during bulk ingestion (npm run bench:isolation) and ingestion on all cores
   * (npm run bench:ingest). Same entry shape as `latency`; each command checks the scenarios it measured.
   */
  isolation: z
    .object({
      comment: z.string().optional(),
      checks: z.array(latencyCheckSchema),
      targets: z.array(latencyCheckSchema),
    })
    .optional(),
});

/** Parsed budget file. */
export type BudgetFile = z.infer<typeof budgetFileSchema>;
/** One latency check or target. */
export type LatencyCheck = z.infer<typeof latencyCheckSchema>;
/** One quality floor. */
export type QualityFloor = z.infer<typeof qualityFloorSchema>;

/** Reads and validates a budget file; the error names the file and each bad field. */
export async function loadBudgetFile(file: string): Promise<BudgetFile> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read budget file ${file}: ${(error as Error).message}`);
  }
  const parsed = budgetFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`invalid budget file ${file}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** Outcome of one check against one measurement. `missing`: the run exists but produced no value (counts as a failure). */
export type CheckStatus = 'pass' | 'fail' | 'missing';

/** One evaluated check, as printed and written to the report. */
export interface CheckResult {
  id: string;
  /** `check` fails the command; `target` is reported (and fails only with --enforce-targets); `floor` is a quality floor. */
  kind: 'check' | 'target' | 'floor';
  /** Where it was measured, e.g. `10000 chunks · hybrid · c=1`. */
  where: string;
  metric: string;
  limit: { max?: number | undefined; min?: number | undefined };
  measured: number | null;
  status: CheckStatus;
  comment: string;
}

/** Values measured for one corpus size: per-size values plus one flat record per scenario run. */
export interface SizeMeasurements {
  targetChunks: number;
  chunks: number;
  values: Record<string, number | null>;
  runs: { scenario: string; concurrency: number; values: Record<string, number | null> }[];
}

/** Compares a value with a limit. */
export function judge(value: number | null | undefined, bound: { max?: number | undefined; min?: number | undefined }): CheckStatus {
  if (value === null || value === undefined || Number.isNaN(value)) return 'missing';
  if (bound.max !== undefined && value > bound.max) return 'fail';
  if (bound.min !== undefined && value < bound.min) return 'fail';
  return 'pass';
}

/**
 * Evaluates latency checks against measurements. A check whose size/scenario/concurrency was not measured
 * in this run yields no row (a short run does not measure 100k chunks); one that was measured but has no value
 * yields `missing`.
 */
export function checkLatency(checks: readonly LatencyCheck[], kind: 'check' | 'target', sizes: readonly SizeMeasurements[]): CheckResult[] {
  const results: CheckResult[] = [];
  for (const check of checks) {
    for (const size of sizes) {
      if (check.sizes && !check.sizes.includes(size.targetChunks)) continue;
      const base = { id: check.id, kind, metric: check.metric, limit: { max: check.max, min: check.min }, comment: check.comment };
      if (check.scenario === undefined) {
        const measured = size.values[check.metric] ?? null;
        results.push({ ...base, where: `${size.chunks} chunks`, measured, status: judge(measured, check) });
        continue;
      }
      for (const run of size.runs) {
        if (check.scenario !== '*' && run.scenario !== check.scenario) continue;
        if (check.concurrency !== undefined && run.concurrency !== check.concurrency) continue;
        const measured = run.values[check.metric] ?? null;
        results.push({ ...base, where: `${size.chunks} chunks · ${run.scenario} · c=${run.concurrency}`, measured, status: judge(measured, check) });
      }
    }
  }
  return results;
}

/** Quality metrics of one mode on one corpus, overall and per question style. */
export interface ModeQuality {
  mode: 'dense' | 'keyword' | 'hybrid';
  overall: Record<QualityFloor['metric'], number>;
  byStyle: Partial<Record<'keyword' | 'paraphrase', Record<QualityFloor['metric'], number>>>;
}

/** Evaluates quality floors for the eval corpus `corpus`; floors for the other corpus yield no row. */
export function checkQuality(floors: readonly QualityFloor[], corpus: 'subset' | 'full', modes: readonly ModeQuality[]): CheckResult[] {
  const results: CheckResult[] = [];
  for (const floor of floors) {
    if (floor.corpus !== undefined && floor.corpus !== corpus) continue;
    const mode = modes.find((candidate) => candidate.mode === floor.mode);
    if (!mode) continue;
    const table = floor.style === undefined ? mode.overall : mode.byStyle[floor.style];
    const measured = table?.[floor.metric] ?? null;
    results.push({
      id: floor.id,
      kind: 'floor',
      where: `${corpus} · ${floor.mode}${floor.style ? ` · ${floor.style} questions` : ''}`,
      metric: floor.metric,
      limit: { min: floor.min },
      measured,
      status: judge(measured, { min: floor.min }),
      comment: floor.comment,
    });
  }
  return results;
}

/** True when no result that should fail the command failed. */
export function budgetsPassed(results: readonly CheckResult[], options: { enforceTargets: boolean }): boolean {
  return results.every((result) => result.status === 'pass' || (result.kind === 'target' && !options.enforceTargets));
}

/** One line per result for the console, failures marked. */
export function formatCheckLines(results: readonly CheckResult[]): string[] {
  return results.map((result) => {
    const bound = result.limit.max !== undefined ? `≤ ${result.limit.max}` : `≥ ${result.limit.min}`;
    const mark = result.status === 'pass' ? 'ok  ' : result.kind === 'target' ? 'MISS' : 'FAIL';
    const measured = result.measured === null ? 'no value' : String(result.measured);
    return `${mark} [${result.kind}] ${result.id}: ${result.metric} = ${measured} (budget ${bound}) at ${result.where}`;
  });
}
