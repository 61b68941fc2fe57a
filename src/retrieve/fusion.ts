/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): each list contributes
 * `1 / (k + rank)` (rank 1-based) to every item it holds; items are ordered by the summed score.
 * Used by adapters whose backend cannot fuse natively (LanceDB) so hybrid scores mean the same everywhere.
 */

/** The constant from the RRF paper; larger values flatten the advantage of top ranks. */
export const DEFAULT_RRF_K = 60;

/** Candidates each leg of a hybrid search fetches before fusion: enough depth that a hit ranked low by one leg can still win. */
export function hybridCandidateCount(topK: number): number {
  return Math.max(50, 4 * topK);
}

/** Options of {@link fuseReciprocalRank}. */
export interface ReciprocalRankFusionOptions<T> {
  /** Identity of an item across lists (e.g. the chunk id); an item appearing twice in one list counts once, at its best rank. */
  key: (item: T) => string;
  /** RRF constant, > 0. Default 60. */
  k?: number;
  /** Keep at most this many fused items. Default: all. */
  limit?: number;
}

/** One fused item: the first occurrence of the item (earliest list, best rank) and its summed RRF score. */
export interface FusedItem<T> {
  item: T;
  score: number;
}

/**
 * Fuses ranked lists (best first) into one ranking by reciprocal rank fusion.
 * Ties are broken deterministically: better best-rank first, then earlier first appearance
 * (list order, then position), so equal inputs always give equal outputs.
 */
export function fuseReciprocalRank<T>(lists: readonly (readonly T[])[], options: ReciprocalRankFusionOptions<T>): FusedItem<T>[] {
  const k = options.k ?? DEFAULT_RRF_K;
  if (!(k > 0) || !Number.isFinite(k)) throw new RangeError(`RRF k must be a positive finite number, got ${k}`);

  interface Entry { item: T; score: number; bestRank: number; firstSeen: number }
  const entries = new Map<string, Entry>();
  let order = 0;
  for (const list of lists) {
    const seenInList = new Set<string>();
    list.forEach((item, index) => {
      const id = options.key(item);
      if (seenInList.has(id)) return;
      seenInList.add(id);
      const rank = index + 1;
      const contribution = 1 / (k + rank);
      const entry = entries.get(id);
      if (entry === undefined) {
        entries.set(id, { item, score: contribution, bestRank: rank, firstSeen: order++ });
      } else {
        entry.score += contribution;
        entry.bestRank = Math.min(entry.bestRank, rank);
      }
    });
  }

  const fused = [...entries.values()].sort(
    (a, b) => b.score - a.score || a.bestRank - b.bestRank || a.firstSeen - b.firstSeen,
  );
  const limited = options.limit === undefined ? fused : fused.slice(0, Math.max(0, options.limit));
  return limited.map(({ item, score }) => ({ item, score }));
}
