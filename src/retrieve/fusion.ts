/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): each list contributes
 * `1 / (k + rank)` (rank 1-based) to every item it holds; items are ordered by the summed score.
 * Used by adapters whose backend cannot fuse natively (LanceDB) so hybrid scores mean the same everywhere.
 */

/** The constant from the RRF paper; larger values flatten the advantage of top ranks. */
export const DEFAULT_RRF_K = 60;

/**
 * How hybrid search fuses its dense and keyword legs, in both stores: weighted RRF with a small k, so a top
 * dense hit is not outvoted by chunks that merely appear in both lists, and BM25's noise on paraphrased
 * questions counts half. Measured on the 60 labelled Python-docs questions (`npm run eval`, 16,845 chunks):
 * hit@1 / MRR@10 / nDCG@10 / answer-in-top-5-chunks = 0.650 / 0.746 / 0.754 / 0.550 with these settings,
 * against 0.633 / 0.731 / 0.749 / 0.533 for plain RRF (k = 60, equal weights) and 0.650 / 0.744 / 0.752 / 0.483
 * for dense alone; on fixtures/questions.json, 19 of 21 right documents first instead of 17.
 */
export const HYBRID_FUSION = { k: 5, denseWeight: 1, keywordWeight: 0.5 } as const;

/** Fuses the dense and keyword legs of a hybrid search with {@link HYBRID_FUSION}. */
export function fuseHybrid<T extends { id: string }>(dense: readonly T[], keyword: readonly T[], limit: number): FusedItem<T>[] {
  return fuseReciprocalRank([dense, keyword], {
    key: (hit) => hit.id,
    limit,
    k: HYBRID_FUSION.k,
    weights: [HYBRID_FUSION.denseWeight, HYBRID_FUSION.keywordWeight],
  });
}

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
  /** Weight of each list's contributions, in list order (weighted RRF). Default: 1 for every list. */
  weights?: readonly number[];
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
  lists.forEach((list, listIndex) => {
    const weight = options.weights?.[listIndex] ?? 1;
    const seenInList = new Set<string>();
    list.forEach((item, index) => {
      const id = options.key(item);
      if (seenInList.has(id)) return;
      seenInList.add(id);
      const rank = index + 1;
      const contribution = weight / (k + rank);
      const entry = entries.get(id);
      if (entry === undefined) {
        entries.set(id, { item, score: contribution, bestRank: rank, firstSeen: order++ });
      } else {
        entry.score += contribution;
        entry.bestRank = Math.min(entry.bestRank, rank);
      }
    });
  });

  const fused = [...entries.values()].sort(
    (a, b) => b.score - a.score || a.bestRank - b.bestRank || a.firstSeen - b.firstSeen,
  );
  const limited = options.limit === undefined ? fused : fused.slice(0, Math.max(0, options.limit));
  return limited.map(({ item, score }) => ({ item, score }));
}
