import type { MetadataFilter, SearchMode } from '../../retrieve/types.js';
import type { HandlerDeps } from './deps.js';

/** A validated search request. */
export interface SearchInput {
  collection: string;
  query: string;
  topK: number;
  mode: SearchMode;
  filter?: MetadataFilter | undefined;
  rerank: boolean;
  candidates?: number | undefined;
}

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
