/**
 * The fallback answerer: no model, no network. It picks the sentences of the retrieved passages that share the most
 * (IDF-weighted) words with the query and cites each with its passage number. Deterministic: the same passages and
 * query always give the same answer.
 */

/** Limits of the extractive answer. */
export interface ExtractiveAnswererOptions {
  /** Sentences in the answer at most. Default 3. */
  maxSentences?: number;
  /** Longer sentences are cut at a word boundary and end with "…". Default 400 characters. */
  maxSentenceChars?: number;
}

/** An extractive answer: text with [n] markers and the 1-based passage numbers it cites, in order of first citation. */
export interface ExtractiveAnswer {
  answer: string;
  cited: number[];
}

interface Candidate {
  text: string;
  terms: Set<string>;
  passage: number;
  position: number;
  words: number;
}

/** Answers from the passages themselves when no LLM is configured or the LLM failed. */
export class ExtractiveAnswerer {
  private readonly maxSentences: number;
  private readonly maxSentenceChars: number;

  constructor(options: ExtractiveAnswererOptions = {}) {
    this.maxSentences = options.maxSentences ?? 3;
    this.maxSentenceChars = options.maxSentenceChars ?? 400;
  }

  /** Best-matching sentences of `passages` (in retrieval order, best first), each followed by its [n] marker. */
  answer(params: { query: string; passages: { text: string }[] }): ExtractiveAnswer {
    const { query, passages } = params;
    if (passages.length === 0) return { answer: '', cited: [] };

    const candidates: Candidate[] = [];
    const seen = new Set<string>();
    passages.forEach((passage, index) => {
      splitSentences(passage.text).forEach((sentence, position) => {
        // Overlapping chunks repeat sentences; keep the copy from the better-ranked passage.
        const key = sentence.toLowerCase();
        if (seen.has(key)) return;
        seen.add(key);
        const tokens = tokenize(sentence);
        candidates.push({ text: sentence, terms: new Set(tokens), passage: index + 1, position, words: sentence.split(/\s+/).length });
      });
    });

    const queryTerms = [...new Set(tokenize(query))];
    const idf = inverseDocumentFrequency(queryTerms, candidates);
    const queryWeight = queryTerms.reduce((sum, term) => sum + (idf.get(term) ?? 0), 0);

    const scored = candidates
      .map((candidate) => {
        const matched = queryTerms.reduce((sum, term) => sum + (candidate.terms.has(term) ? (idf.get(term) ?? 0) : 0), 0);
        const coverage = queryWeight > 0 ? matched / queryWeight : 0;
        // Long sentences match more words by chance; passages ranked higher by retrieval win ties.
        const lengthPenalty = 1 + Math.max(0, candidate.words - 40) / 80;
        const score = coverage > 0 ? coverage / lengthPenalty + 0.1 / candidate.passage : 0;
        return { candidate, score };
      })
      .filter((entry) => entry.score > 0)
      .sort((a, b) => b.score - a.score || a.candidate.passage - b.candidate.passage || a.candidate.position - b.candidate.position);

    const best = scored[0]?.score ?? 0;
    let picked = scored.filter((entry) => entry.score >= best * 0.5).slice(0, this.maxSentences).map((entry) => entry.candidate);
    if (picked.length === 0) {
      // Nothing shares a word with the query: the best passage's opening is still the most relevant text we have.
      picked = candidates.filter((candidate) => candidate.passage === 1).slice(0, 2);
    }

    const cited: number[] = [];
    const parts = picked.map((candidate) => {
      if (!cited.includes(candidate.passage)) cited.push(candidate.passage);
      return `${truncate(candidate.text, this.maxSentenceChars)} [${candidate.passage}]`;
    });
    return { answer: parts.join(' '), cited };
  }
}

/** Splits passage text into sentences: paragraphs, list items and Markdown headings first, then sentence ends. */
export function splitSentences(text: string): string[] {
  return text
    .split(/\n\s*\n|\n(?=\s*(?:[-*•]\s|\d+[.)]\s|#{1,6}\s|\|))/)
    .flatMap((block) =>
      block
        .replace(/^\s*(?:[-*•]|\d+[.)]|#{1,6})\s+/, '')
        .replace(/\s+/g, ' ')
        .trim()
        .split(/(?<=[.!?])\s+(?=["'“([]?[A-Z0-9])/),
    )
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.split(/\s+/).length >= 3);
}

const STOPWORDS = new Set(
  (
    'a an and are as at be been being but by can could did do does doing for from had has have having he her his how i if in into is it its ' +
    'me my no not of on or our she should so some such than that the their them then there these they this those to too was we were what ' +
    'when where which while who whom why will with would you your yours many much get got about after before also any each more most other ' +
    'own same just only over under again further once here both few all am let us'
  ).split(' '),
);

/** Lower-cased content words with a light suffix stemmer (weeks→week, expired→expir, expires→expir). */
export function tokenize(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return words.filter((word) => !STOPWORDS.has(word) && (word.length > 1 || /\d/.test(word))).map(stem);
}

function stem(word: string): string {
  if (/\d/.test(word) || word.length <= 3) return word;
  let stemmed = word;
  if (stemmed.endsWith('ies') && stemmed.length > 4) stemmed = `${stemmed.slice(0, -3)}y`;
  else if (stemmed.endsWith('sses')) stemmed = stemmed.slice(0, -2);
  else if (stemmed.endsWith('s') && !stemmed.endsWith('ss') && !stemmed.endsWith('us')) stemmed = stemmed.slice(0, -1);
  if (stemmed.endsWith('ing') && stemmed.length > 5) stemmed = stemmed.slice(0, -3);
  else if (stemmed.endsWith('ed') && stemmed.length > 4) stemmed = stemmed.slice(0, -2);
  if (stemmed.endsWith('e') && stemmed.length > 3) stemmed = stemmed.slice(0, -1);
  return stemmed;
}

/** BM25-style IDF of each query term over the candidate sentences (rare words weigh more). */
function inverseDocumentFrequency(terms: string[], candidates: Candidate[]): Map<string, number> {
  const total = candidates.length;
  const idf = new Map<string, number>();
  for (const term of terms) {
    const df = candidates.reduce((count, candidate) => count + (candidate.terms.has(term) ? 1 : 0), 0);
    idf.set(term, Math.log(1 + (total - df + 0.5) / (df + 0.5)));
  }
  return idf;
}

function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  const space = cut.lastIndexOf(' ');
  return `${(space > maxChars * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
