import { loadCorpus } from './corpus-loader.js';
import { stableStringify } from './data-cache.js';
import { benchServiceEnv, prepareCorpus, type PreparedCorpus } from './prepared-corpus.js';
import type { PageText } from './python-docs.js';
import { buildSentencePool, syntheticDocuments, SYNTHETIC_GENERATOR_VERSION } from './synthetic-documents.js';

/**
 * The searched corpus of the latency and isolation benches: real pages, then documents recombined from their
 * sentences, up to a chunk target. Both benches ask for it with the same parameters, so they share one cache entry.
 */

/** Collection the corpus is loaded into and searched in. */
export const LATENCY_COLLECTION = 'bench';
/** Size of each recombined document. */
const SYNTHETIC_CHARS_PER_DOCUMENT = 28_000;

/** Restores or builds the corpus of `targetChunks` chunks from `pages`; returns the prepared data directory. */
export function prepareLatencyCorpus(params: { targetChunks: number; seed: number; pages: readonly PageText[]; rebuild: boolean; dataDir: string; logFile: string; log: (line: string) => void }): Promise<PreparedCorpus> {
  const { targetChunks, seed, pages, log } = params;
  return prepareCorpus({
    label: `latency-${targetChunks}`,
    parameters: {
      targetChunks,
      seed,
      pages: stableStringify(pages.map((page) => page.page)),
      generator: SYNTHETIC_GENERATOR_VERSION,
      charsPerDocument: SYNTHETIC_CHARS_PER_DOCUMENT,
    },
    collection: LATENCY_COLLECTION,
    env: benchServiceEnv({ LOG_LEVEL: 'warn' }),
    dataDir: params.dataDir,
    logFile: params.logFile,
    rebuild: params.rebuild,
    log,
    load: (client) =>
      loadCorpus({
        client,
        collection: LATENCY_COLLECTION,
        pages,
        synthetic: () => syntheticDocuments(buildSentencePool(pages), { seed, charsPerDocument: SYNTHETIC_CHARS_PER_DOCUMENT }),
        targetChunks,
        log,
      }),
  });
}
