/**
 * Progress of a bulk ingestion weighted by file size, so the ETA does not swing between a run of small pages and
 * one large PDF: a document counts its bytes in full once finished (indexed, unchanged or failed) and a running
 * one counts the fraction its job reports.
 */
export class WeightedProgress {
  private readonly weights: Map<string, number>;
  private readonly total: number;
  private finishedWeight = 0;
  private readonly running = new Map<string, { weight: number; fraction: number }>();

  /** `weights`: one positive weight (file size in bytes) per document key; zero-byte files count as 1. */
  constructor(
    weights: ReadonlyMap<string, number>,
    private readonly startedAt: number,
  ) {
    this.weights = new Map([...weights].map(([key, weight]) => [key, Math.max(1, weight)]));
    this.total = [...this.weights.values()].reduce((sum, weight) => sum + weight, 0);
  }

  /** Sum of all weights (the bar's total). */
  get totalWeight(): number {
    return this.total;
  }

  /** Weight done so far, running documents included pro rata. */
  get doneWeight(): number {
    let running = 0;
    for (const entry of this.running.values()) running += entry.weight * entry.fraction;
    return this.finishedWeight + running;
  }

  /** Records the progress (0–1) of a running document. */
  update(key: string, fraction: number): void {
    const weight = this.weights.get(key);
    if (weight === undefined) return;
    this.running.set(key, { weight, fraction: Math.min(1, Math.max(0, fraction)) });
  }

  /** Marks a document finished, whatever its outcome. */
  finish(key: string): void {
    this.running.delete(key);
    this.finishedWeight += this.weights.get(key) ?? 0;
    this.weights.delete(key);
  }

  /** Seconds left at the average rate so far; undefined until something is done. */
  etaSeconds(now: number): number | undefined {
    const done = this.doneWeight;
    const elapsed = (now - this.startedAt) / 1000;
    if (done <= 0 || elapsed <= 0) return undefined;
    return Math.max(0, ((this.total - done) * elapsed) / done);
  }
}

/** `42s`, `3m05s`, `1h02m`; `…` when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '…';
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  const minutes = Math.round(whole / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
