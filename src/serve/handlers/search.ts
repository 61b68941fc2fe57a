import type { RetrievalRequest } from '../../retrieve/retriever.js';
import type { HandlerDeps } from './deps.js';

/** A validated search request. */
export type SearchInput = RetrievalRequest;

/** Runs retrieval and shapes hits for the API. */
export async function search(deps: HandlerDeps, input: SearchInput) {
  const { results, timings, rerank } = await deps.retriever.retrieve(input);
  return {
    results: results.map((hit) => ({
      id: hit.id,
      documentId: hit.documentId,
      source: hit.source,
      text: hit.text,
      score: hit.score,
      metadata: hit.metadata,
      chunkIndex: hit.chunkIndex,
      ...(hit.page === undefined || hit.page === null ? {} : { page: hit.page }),
      ...(hit.headingPath && hit.headingPath.length > 0 ? { headingPath: hit.headingPath } : {}),
    })),
    timings,
    ...(rerank ? { rerank } : {}),
  };
}
