import * as lancedb from '@lancedb/lancedb';
import type { OptimizeOptions, Table, Version } from '@lancedb/lancedb';
import type { Logger } from '../../logger.js';

/** Name of the ANN index on `vector`. */
export const VECTOR_INDEX = 'vector_idx';
/** Columns with a B-tree index named `<column>_idx` (they speed up the lookups of a replace). */
export const SCALAR_INDEXES = ['id', 'documentId'];
/** Least time allowed for the compaction that precedes the prune in one optimize() call (unless retainVersionsMs is shorter), in ms. */
const MIN_COMPACTION_ALLOWANCE_MS = 5_000;

/** What maintenance reads and updates of one open table; the store keeps one per table. */
export interface MaintainedTable {
  readonly name: string;
  readonly table: Table;
  rowCount: number;
  /** B-tree indexes on `id` and `documentId`; built by the first refresh, as one trained on an empty table cannot be updated. */
  hasScalarIndexes: boolean;
  hasVectorIndex: boolean;
  /** Rows when the vector index was trained; it is retrained once the table has grown 4-fold, as partitions would grow too large. */
  vectorIndexRows: number;
  unindexedRows: number;
  refreshTimer: NodeJS.Timeout | undefined;
  refreshing: Promise<void> | undefined;
  lastRefreshAt: number;
  lastRefreshMs: number;
}

/** Settings of {@link TableMaintenance}, documented on `LanceDbVectorStoreOptions`. */
export interface MaintenanceSettings {
  annIndexThresholdRows: number;
  indexRefreshRows: number;
  indexRefreshIdleMs: number;
  indexRefreshMinIntervalMs: number;
  retainVersionsMs: number;
  orphanFileAgeMs: number;
}

/**
 * Background maintenance of the store's tables: builds the ANN index once a table is large enough, folds new rows
 * into the indexes, compacts files, and deletes old versions and orphaned files so the directory does not grow
 * with every replace (each one writes new files, and each compaction rewrites the table).
 */
export class TableMaintenance<T extends MaintainedTable> {
  private closed = false;

  constructor(
    private readonly params: {
      settings: MaintenanceSettings;
      logger?: Pick<Logger, 'warn' | 'debug'> | undefined;
      /** Called after maintenance committed `version`, so searches read it. */
      committed: (state: T, version: number) => void;
      /** Runs `task` while no write of this process commits to the table. */
      exclusive: <R>(state: T, task: () => Promise<R>) => Promise<R>;
    },
  ) {}

  /** Schedules a refresh if the table has unindexed rows or wants its vector index (re)built; no-op while one runs. */
  schedule(state: T): void {
    if (this.closed || state.refreshing) return;
    const { settings } = this.params;
    const wantsVectorIndex = this.wantsVectorIndex(state);
    if (state.unindexedRows === 0 && !wantsVectorIndex) return;
    // optimize() also compacts the new small fragments into the large one, so its cost grows with the table:
    // spacing refreshes by 3x the last one's duration caps their CPU share at about a quarter of a core.
    const gap = Math.max(settings.indexRefreshMinIntervalMs, 3 * state.lastRefreshMs) - (Date.now() - state.lastRefreshAt);
    const delay = state.unindexedRows >= settings.indexRefreshRows || wantsVectorIndex
      ? Math.max(0, gap)
      : Math.max(settings.indexRefreshIdleMs, gap);
    this.setTimer(state, delay);
  }

  /** Runs a refresh now (after the one running, if any) and waits for it; rejects if it fails. */
  async runNow(state: T): Promise<void> {
    if (this.closed) return;
    while (state.refreshing) await state.refreshing;
    clearTimeout(state.refreshTimer);
    state.refreshTimer = undefined;
    await this.start(state);
  }

  /** Stops scheduling and waits for the running refreshes of `states`. */
  async close(states: readonly T[]): Promise<void> {
    this.closed = true;
    for (const state of states) clearTimeout(state.refreshTimer);
    await Promise.allSettled(states.map((state) => state.refreshing));
  }

  /** Whether the next refresh (re)builds the ANN index. */
  wantsVectorIndex(state: T): boolean {
    if (state.rowCount < this.params.settings.annIndexThresholdRows) return false;
    return !state.hasVectorIndex || state.rowCount >= 4 * state.vectorIndexRows;
  }

  private setTimer(state: T, delay: number): void {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(() => {
      state.refreshTimer = undefined;
      this.start(state).catch((error: unknown) => this.params.logger?.warn({ err: error, table: state.name }, 'lancedb index refresh failed; will retry'));
    }, delay);
    state.refreshTimer.unref();
  }

  private start(state: T): Promise<void> {
    const started = Date.now();
    const settle = (changed: boolean) => {
      state.refreshing = undefined;
      state.lastRefreshAt = Date.now();
      state.lastRefreshMs = state.lastRefreshAt - started;
      this.schedule(state);
      // Nothing more to index, but the versions this refresh had to keep for their grace period can go once it has
      // passed: one more refresh then brings an idle table down to about its live size. It ends the chain when it
      // changes nothing (a second no-op optimize() commits nothing).
      if (changed && !state.refreshTimer && !this.closed) {
        const { retainVersionsMs } = this.params.settings;
        this.setTimer(state, retainVersionsMs + Math.max(Math.min(MIN_COMPACTION_ALLOWANCE_MS, retainVersionsMs), 2 * state.lastRefreshMs) + 1000);
      }
    };
    const run = this.refresh(state).then(settle, (error: unknown) => {
      settle(false);
      throw error;
    });
    state.refreshing = run.catch(() => undefined);
    return run;
  }

  /**
   * One refresh: builds the ANN index once the table is large enough (concurrently with writes: LanceDB rebases
   * the build over them), otherwise `optimize()`, between two writes, compacts files, deletes what the cleanup plan
   * allows, and folds new rows into the full-text and vector indexes (unindexed rows are still searched, by a
   * slower flat scan). Resolves to whether it committed or deleted anything.
   */
  private async refresh(state: T): Promise<boolean> {
    const pending = state.unindexedRows;
    state.unindexedRows = 0;
    const started = performance.now();
    const buildsVectorIndex = this.wantsVectorIndex(state);
    try {
      if (!state.hasScalarIndexes && state.rowCount > 0) {
        for (const name of SCALAR_INDEXES) await state.table.createIndex(name, { config: lancedb.Index.btree(), name: `${name}_idx`, replace: true });
        state.hasScalarIndexes = true;
      }
      if (buildsVectorIndex) {
        const numPartitions = Math.max(1, Math.round(Math.sqrt(state.rowCount)));
        await state.table.createIndex('vector', { config: lancedb.Index.ivfFlat({ distanceType: 'cosine', numPartitions }), name: VECTOR_INDEX, replace: true });
        state.hasVectorIndex = true;
        state.vectorIndexRows = state.rowCount;
        state.unindexedRows += pending; // the build trains on every row but leaves the full-text index to the next refresh
        this.params.committed(state, await state.table.version());
        this.params.logger?.debug({ table: state.name, rows: state.rowCount, ms: Math.round(performance.now() - started) }, 'lancedb vector index build');
        return true;
      }
      // Without writes in between: a compaction that rewrote a fragment a replace has updated in the meantime fails
      // to commit ("preempted by concurrent transaction Update"), which wastes it and leaves its files (a copy of the
      // table) orphaned; under a steady stream of replaces that is most refreshes. Searches are not held up.
      const { options, allowanceMs, prune, optimizeMs, versionBefore, versionAfter } = await this.params.exclusive(state, async () => {
        const plan = await this.cleanupOptions(state);
        const before = await state.table.version();
        const optimizeStarted = performance.now();
        const stats = await state.table.optimize(plan.options);
        return { ...plan, prune: stats.prune, optimizeMs: Math.round(performance.now() - optimizeStarted), versionBefore: before, versionAfter: await state.table.version() };
      });
      this.params.committed(state, versionAfter);
      this.params.logger?.debug({
        table: state.name, rows: pending, ms: Math.round(performance.now() - started), prunedVersions: prune.oldVersionsRemoved, prunedBytes: prune.bytesRemoved,
        deleteUnverified: options.deleteUnverified,
      }, 'lancedb index refresh');
      if (optimizeMs > allowanceMs) {
        // Its compaction may have outlasted the allowance, so versions replaced less than retainVersionsMs ago may be gone.
        this.params.logger?.warn({ table: state.name, optimizeMs, allowanceMs }, 'lancedb optimize outlasted its cleanup allowance; raise retainVersionsMs if searches of other processes fail');
      }
      return versionAfter > versionBefore || prune.oldVersionsRemoved > 0;
    } catch (error) {
      state.unindexedRows += pending;
      throw error;
    }
  }

  private async cleanupOptions(state: T): Promise<{ options: OptimizeOptions; allowanceMs: number }> {
    const { retainVersionsMs, orphanFileAgeMs } = this.params.settings;
    const versions = await state.table.listVersions();
    return planVersionCleanup({ versions, now: Date.now(), retainVersionsMs, orphanFileAgeMs, lastRefreshMs: state.lastRefreshMs });
  }
}

/**
 * The cleanup options of one `optimize()` call. What must survive, and why:
 *
 * - **Versions a reader may still use.** A reader (this process's searches, or another process's: the API reading
 *   what a BullMQ worker writes) pins the latest version it has seen, at most a read-consistency interval (0.5 s) old,
 *   for the duration of one search. So every version that was the latest at some moment of the last
 *   `retainVersionsMs` is kept: the one current at `now - retainVersionsMs` and all newer ones. A plain
 *   "older than" cutoff would be wrong: a version committed an hour ago may have been the latest until a second ago.
 * - **Files of writes still in flight.** LanceDB deletes the files of pruned versions (they are "verified": some
 *   manifest named them). A file no manifest names is either garbage of a crashed or failed write, or part of a
 *   write (or compaction, or index build) another process has not committed yet. LanceDB leaves such files alone
 *   for 7 days unless `deleteUnverified` is set, and then it deletes only those last modified before the oldest
 *   version it keeps. So `deleteUnverified` is set only when that version is older than `orphanFileAgeMs`: an
 *   orphan is then deleted only if nothing wrote it for that long, far longer than any write, compaction or index
 *   build of this service takes. That happens at the first refresh after a table has been quiet that long.
 *
 * LanceDB applies the cutoff as an age measured when it prunes, after this call's compaction, so the cutoff is
 * lowered by `allowanceMs`, which must exceed that compaction: twice the last refresh (compaction and index update),
 * at least 5 s (or `retainVersionsMs` if shorter), or `retainVersionsMs` when there is no last refresh to go by.
 * Should a compaction take longer, a version may go up to that much earlier than `retainVersionsMs` promises, still
 * far later than a search needs (and the refresh logs a warning).
 * When orphans are deleted the allowance is never below `retainVersionsMs`: there an early prune would let LanceDB
 * delete younger orphans, and such a refresh is rare, so the extra versions it keeps cost nothing.
 */
export function planVersionCleanup(params: {
  versions: readonly Pick<Version, 'version' | 'timestamp'>[];
  now: number;
  retainVersionsMs: number;
  orphanFileAgeMs: number;
  /** Duration of the table's last refresh, 0 when there was none. */
  lastRefreshMs: number;
}): { options: OptimizeOptions; allowanceMs: number } {
  const { versions, now, retainVersionsMs, orphanFileAgeMs, lastRefreshMs } = params;
  const horizon = now - retainVersionsMs;
  let current: Pick<Version, 'version' | 'timestamp'> | undefined;
  let oldest = now;
  for (const candidate of versions) {
    const time = candidate.timestamp.getTime();
    oldest = Math.min(oldest, time);
    if (time <= horizon && (!current || candidate.version > current.version)) current = candidate;
  }
  const keptSince = current?.timestamp.getTime();
  const deleteUnverified = keptSince !== undefined && keptSince <= now - orphanFileAgeMs;
  const floor = Math.min(MIN_COMPACTION_ALLOWANCE_MS, retainVersionsMs);
  const estimate = lastRefreshMs > 0 ? Math.max(floor, 2 * lastRefreshMs) : retainVersionsMs;
  const allowanceMs = deleteUnverified ? Math.max(estimate, retainVersionsMs) : estimate;
  // No version is older than the grace period: keep them all (and every file, verified or not).
  const cutoff = (keptSince ?? oldest) - allowanceMs - 1;
  return { options: { cleanupOlderThan: new Date(cutoff), deleteUnverified }, allowanceMs };
}
