import { loadConfig } from '../../src/config.js';
import { TransformersEmbedder } from '../../src/retrieve/embedders/transformers-embedder.js';
import { createReranker, type LocalReranker } from '../../src/runtime.js';
import { summarize, type Summary } from './stats.js';

/**
 * The raw model cost, measured in the bench process with the service's own adapter classes, built from the same
 * parsed configuration: the reranker by src/runtime.ts's createReranker itself, the embedder with the options
 * createIngestComponents uses (model, dtype, batch size): keep that constructor call in step.
 * Set next to the service's stage times it shows what the service adds. Each measurement runs right after the
 * matching service scenario, while the service is idle, so both see the same machine load.
 */

/** What the raw measurements ran. */
export interface RawModelSettings {
  embedModel: string;
  embedDtype: string;
  rerankModel: string;
  rerankDtype: string;
  /** Candidates per reranked query (RERANK_CANDIDATES). */
  rerankCandidates: number;
  /** Tokens per (query, passage) pair (RERANK_MAX_TOKENS). */
  rerankMaxTokens: number;
}

/** Loads each model once (lazily) and times it. */
export class RawModelTimer {
  readonly settings: RawModelSettings;
  private readonly embedder: TransformersEmbedder;
  private readonly reranker: LocalReranker;

  constructor(env: NodeJS.ProcessEnv) {
    const config = loadConfig({ ...env, DATA_DIR: '/tmp/unused' });
    const source = { modelsDir: config.models.dir, offline: config.models.offline };
    this.embedder = new TransformersEmbedder({ ...source, modelId: config.models.embedModel, dtype: config.models.embedDtype, maxBatchSize: config.models.embedBatchSize });
    this.reranker = createReranker(config);
    this.settings = {
      embedModel: config.models.embedModel,
      embedDtype: config.models.embedDtype,
      rerankModel: config.models.rerankModel,
      rerankDtype: config.models.rerankDtype,
      rerankCandidates: config.models.rerankCandidates,
      rerankMaxTokens: config.models.rerankMaxTokens,
    };
  }

  /** One `embed` per query (tokenise, one ONNX forward, pool), after `warmup` untimed calls. */
  async embedding(queries: readonly string[], warmup: number): Promise<Summary | null> {
    await this.embedder.warmup();
    for (let index = 0; index < warmup; index++) await this.embedder.embed({ texts: [queries[index % queries.length] ?? 'warm up'] });
    const samples: number[] = [];
    for (const query of queries) {
      const started = performance.now();
      await this.embedder.embed({ texts: [query] });
      samples.push(performance.now() - started);
    }
    return summarize(samples);
  }

  /** One `score` per candidate set, after scoring `warmup` sets untimed: the floor under the service's rerank stage for the same work. */
  async rerank(sets: readonly { query: string; passages: string[] }[], warmup: number): Promise<Summary | null> {
    await this.reranker.warmup();
    for (const set of sets.slice(0, warmup)) await this.reranker.score(set);
    const samples: number[] = [];
    for (const set of sets) {
      const started = performance.now();
      await this.reranker.score(set);
      samples.push(performance.now() - started);
    }
    return summarize(samples);
  }
}
