/**
 * What a cross-encoder can see of a candidate: it reads `[CLS] query [SEP] passage [SEP]` cut to RERANK_MAX_TOKENS,
 * passage first. These helpers measure how long that pair must be for the answer text to be read whole, so the eval
 * can report the ceiling of reranking N candidates at T tokens per pair without a trained cross-encoder.
 */

/** Pair lengths (RERANK_MAX_TOKENS values) at which the eval reports the ceiling. */
export const RERANK_WINDOWS = [64, 96, 128, 192, 256] as const;

/** Special tokens of a BERT pair: [CLS], [SEP], [SEP]. */
const PAIR_SPECIAL_TOKENS = 3;

/**
 * Tokens of the shortest pair that still holds the whole answer: query + passage up to the answer's end + special
 * tokens. null when `passage` does not contain `answer`. Both texts are expected normalised the same way.
 */
export function pairTokensToReadAnswer(countTokens: (text: string) => number, params: { query: string; passage: string; answer: string }): number | null {
  const at = params.passage.indexOf(params.answer);
  if (at === -1) return null;
  return countTokens(params.query) + countTokens(params.passage.slice(0, at + params.answer.length)) + PAIR_SPECIAL_TOKENS;
}

/**
 * Share of questions (rounded to 0.001) for which one of the first `depth` chunks holds the answer within `window`
 * tokens of its pair, for every window × depth. `needed[q][i]` is the pair length chunk i of question q needs (null:
 * no answer in it). Result rows follow `windows`, columns follow `depths`.
 */
export function rerankCeiling(needed: readonly (readonly (number | null)[])[], windows: readonly number[], depths: readonly number[]): number[][] {
  return windows.map((window) =>
    depths.map((depth) => {
      if (needed.length === 0) return 0;
      const reached = needed.filter((chunks) => chunks.slice(0, depth).some((tokens) => tokens !== null && tokens <= window)).length;
      return Math.round((reached / needed.length) * 1000) / 1000;
    }),
  );
}
