/** A file of a bulk run as the progress estimate sees it. */
export interface ProgressItem {
  key: string;
  bytes: number;
  /** Files of one kind (extension) share a chunks-per-byte density: HTML markup yields fewer chunks per byte than text. */
  kind: string;
}

/**
 * Progress of a bulk ingestion measured in chunks, the unit of work (embedding dominates): finished documents
 * count their real chunks, pending ones bytes × the chunks-per-byte seen so far for their kind (or overall), and a
 * running one the fraction its job reports. The ETA is the remaining estimate at the average rate so far, so it
 * holds across a run of small pages and one large PDF, and corrects itself as the densities are learned.
 */
export class ChunkProgress {
  private readonly pending = new Map<string, ProgressItem & { fraction: number }>();
  private readonly seen = new Map<string, { chunks: number; bytes: number }>();
  private finishedChunks = 0;
  private shownFraction = 0;

  constructor(
    items: readonly ProgressItem[],
    private readonly startedAt: number,
  ) {
    for (const item of items) this.pending.set(item.key, { ...item, fraction: 0 });
  }

  /** Estimated chunks of the whole run. */
  get total(): number {
    let total = this.finishedChunks;
    for (const item of this.pending.values()) total += this.estimate(item);
    return total;
  }

  /** Chunks done so far, running documents included pro rata. */
  get done(): number {
    let done = this.finishedChunks;
    for (const item of this.pending.values()) done += item.fraction * this.estimate(item);
    return done;
  }

  /**
   * Share of the run done (0–1) as a bar should show it: never lower than shown before, because learning that a
   * kind is denser than assumed raises `total` and would move the bar backwards although no work was undone.
   */
  fractionShown(): number {
    const total = this.total;
    const fraction = this.pending.size === 0 ? 1 : total > 0 ? this.done / total : 0;
    this.shownFraction = Math.max(this.shownFraction, Math.min(1, fraction));
    return this.shownFraction;
  }

  /** Records the progress (0–1) of a running document. */
  update(key: string, fraction: number): void {
    const item = this.pending.get(key);
    if (item) item.fraction = Math.min(1, Math.max(0, fraction));
  }

  /** Marks a document finished with its real chunk count; `undefined` (failed) contributes nothing and teaches nothing. */
  finish(key: string, chunks: number | undefined): void {
    const item = this.pending.get(key);
    if (!item) return;
    this.pending.delete(key);
    if (chunks === undefined) return;
    this.finishedChunks += chunks;
    const seen = this.seen.get(item.kind) ?? { chunks: 0, bytes: 0 };
    seen.chunks += chunks;
    seen.bytes += item.bytes;
    this.seen.set(item.kind, seen);
  }

  /** Seconds left at the average rate so far; undefined until some work is done. */
  etaSeconds(now: number): number | undefined {
    const done = this.done;
    const elapsed = (now - this.startedAt) / 1000;
    if (done <= 0 || elapsed <= 0) return undefined;
    return Math.max(0, ((this.total - done) * elapsed) / done);
  }

  private estimate(item: ProgressItem): number {
    const ofKind = this.seen.get(item.kind);
    if (ofKind && ofKind.bytes > 0) return (item.bytes * ofKind.chunks) / ofKind.bytes;
    let chunks = 0;
    let bytes = 0;
    for (const seen of this.seen.values()) {
      chunks += seen.chunks;
      bytes += seen.bytes;
    }
    // Before anything finished, any density gives the same ETA (undefined) and a bar moving by bytes.
    return bytes > 0 ? (item.bytes * chunks) / bytes : item.bytes / 1000;
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
