/**
 * Ranking metrics for the retrieval eval, computed per question over a ranked list of page ids.
 * Relevance is graded: the first labelled page (the one holding the answer) has gain 2, the others gain 1,
 * as fixtures/eval/README.md asks ("give the first page the highest gain").
 */

/** Gain of the first labelled page; every other labelled page has gain 1. */
export const PRIMARY_GAIN = 2;

/** Page ids in first-seen order: chunk hits collapsed to their documents. */
export function collapseToDocuments(hits: readonly { documentId: string }[]): string[] {
  const seen = new Set<string>();
  const ranked: string[] = [];
  for (const hit of hits) {
    if (seen.has(hit.documentId)) continue;
    seen.add(hit.documentId);
    ranked.push(hit.documentId);
  }
  return ranked;
}

/** 1-based rank of the first relevant page within the top `k`, or null when none is there. */
export function firstRelevantRank(ranked: readonly string[], relevant: readonly string[], k: number): number | null {
  const wanted = new Set(relevant);
  const index = ranked.slice(0, k).findIndex((id) => wanted.has(id));
  return index === -1 ? null : index + 1;
}

/** 1 when any relevant page is in the top `k`, else 0. */
export function hitAt(ranked: readonly string[], relevant: readonly string[], k: number): number {
  return firstRelevantRank(ranked, relevant, k) === null ? 0 : 1;
}

/** Reciprocal rank of the first relevant page within the top `k` (0 when none is there). */
export function reciprocalRankAt(ranked: readonly string[], relevant: readonly string[], k: number): number {
  const rank = firstRelevantRank(ranked, relevant, k);
  return rank === null ? 0 : 1 / rank;
}

/** Graded gain of `id`: PRIMARY_GAIN for relevant[0], 1 for other relevant pages, 0 otherwise. */
export function gainOf(id: string, relevant: readonly string[]): number {
  const index = relevant.indexOf(id);
  if (index === -1) return 0;
  return index === 0 ? PRIMARY_GAIN : 1;
}

/**
 * nDCG@k with linear gains: DCG = Σ gain(rank) / log2(rank + 1) over the top `k`, divided by the DCG of the
 * ideal ranking (every relevant page, highest gain first). A page counts once even if listed twice.
 */
export function ndcgAt(ranked: readonly string[], relevant: readonly string[], k: number): number {
  const dcg = discountedGain(
    [...new Set(ranked)].slice(0, k).map((id) => gainOf(id, relevant)),
  );
  const ideal = discountedGain(
    [...new Set(relevant)]
      .map((id) => gainOf(id, relevant))
      .sort((a, b) => b - a)
      .slice(0, k),
  );
  return ideal === 0 ? 0 : dcg / ideal;
}

function discountedGain(gains: readonly number[]): number {
  return gains.reduce((sum, gain, index) => sum + gain / Math.log2(index + 2), 0);
}

/** The four headline metrics of one question, or their means over many. */
export interface RankingMetrics {
  hitAt1: number;
  hitAt5: number;
  mrrAt10: number;
  ndcgAt10: number;
}

/** The headline metrics of one ranked list. */
export function scoreRanking(ranked: readonly string[], relevant: readonly string[]): RankingMetrics {
  return {
    hitAt1: hitAt(ranked, relevant, 1),
    hitAt5: hitAt(ranked, relevant, 5),
    mrrAt10: reciprocalRankAt(ranked, relevant, 10),
    ndcgAt10: ndcgAt(ranked, relevant, 10),
  };
}

/** Mean of each metric over `scores`, rounded to 0.001; all zero for an empty list. */
export function meanMetrics(scores: readonly RankingMetrics[]): RankingMetrics & { questions: number } {
  const mean = (pick: (score: RankingMetrics) => number) =>
    scores.length === 0 ? 0 : Math.round((scores.reduce((sum, score) => sum + pick(score), 0) / scores.length) * 1000) / 1000;
  return {
    questions: scores.length,
    hitAt1: mean((score) => score.hitAt1),
    hitAt5: mean((score) => score.hitAt5),
    mrrAt10: mean((score) => score.mrrAt10),
    ndcgAt10: mean((score) => score.ndcgAt10),
  };
}

/** Candidate-list depths at which the eval reports recall: what a reranker over that many hits could reach at best. */
export const CANDIDATE_DEPTHS = [5, 10, 15, 20, 30, 50] as const;

/** 1-based rank of the first item matching `predicate`, or null when none does. */
export function firstMatchRank<T>(items: readonly T[], predicate: (item: T) => boolean): number | null {
  const index = items.findIndex(predicate);
  return index === -1 ? null : index + 1;
}

/** Share of `ranks` (1-based, null for "not found") at or above each depth, rounded to 0.001; [] for no ranks. */
export function recallAtDepths(ranks: readonly (number | null)[], depths: readonly number[]): number[] {
  if (ranks.length === 0) return [];
  return depths.map((depth) => Math.round((ranks.filter((rank) => rank !== null && rank <= depth).length / ranks.length) * 1000) / 1000);
}
