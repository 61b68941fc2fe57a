import {
  AutoModelForSequenceClassification,
  AutoTokenizer,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type Tensor,
} from '@huggingface/transformers';
import { AppError } from '../../errors/index.js';
import { encodeSequence, loadModel, sessionOptions, type ModelDtype, type ModelSource } from '../model-files.js';
import type { Reranker } from '../types.js';

/** Settings of a CrossEncoderReranker: a slice of `config.models`. */
export interface CrossEncoderRerankerOptions extends ModelSource {
  /** Model id, e.g. `Xenova/ms-marco-MiniLM-L-6-v2`; files under `<modelsDir>/<modelId>/` or on the Hub. */
  modelId: string;
  dtype: ModelDtype;
  /** Largest number of passages one `score` call accepts. */
  maxBatchSize: number;
  /** Intra-op threads of the ONNX session (default 1, see DEFAULT_INTRA_OP_THREADS). */
  intraOpThreads?: number | undefined;
}

interface LoadedReranker {
  tokenizer: PreTrainedTokenizer;
  model: PreTrainedModel;
  maxTokens: number;
}

/** Tokens per (query, passage) pair when the tokenizer declares no limit; ms-marco MiniLM cross-encoders read 512. */
const DEFAULT_PAIR_TOKENS = 512;

/**
 * Scores (query, passage) pairs with an ONNX cross-encoder (BertForSequenceClassification, one label) through
 * transformers.js. Each pair is tokenised as `[CLS] query [SEP] passage [SEP]`, cut longest-first to the model's
 * max length; the score is the raw logit (higher is more relevant; no sigmoid, so the scale is the model's).
 */
export class CrossEncoderReranker implements Reranker {
  readonly modelId: string;
  readonly maxBatchSize: number;
  private readonly options: CrossEncoderRerankerOptions;
  private loading: Promise<LoadedReranker> | undefined;

  constructor(options: CrossEncoderRerankerOptions) {
    this.options = { ...options };
    this.modelId = options.modelId;
    this.maxBatchSize = options.maxBatchSize;
  }

  /** Loads tokenizer and model once; concurrent callers share the same promise, and a failed load may be retried. */
  load(): Promise<void> {
    return this.loaded().then(() => undefined);
  }

  /** Loads the model and scores one pair so the first real call does not pay for session warm-up. */
  async warmup(): Promise<void> {
    await this.score({ query: 'warm up', passages: ['the reranking model'] });
  }

  /** One logit per passage, in input order. Throws UpstreamError (MODEL_UNAVAILABLE) when the model cannot be loaded. */
  async score(params: { query: string; passages: string[] }): Promise<number[]> {
    const { query, passages } = params;
    if (passages.length === 0) return [];
    if (passages.length > this.maxBatchSize) {
      throw new AppError('BATCH_TOO_LARGE', 'system', `score() got ${passages.length} passages; maxBatchSize is ${this.maxBatchSize}`, {
        retryable: false,
        details: { count: passages.length, maxBatchSize: this.maxBatchSize },
      });
    }
    const { tokenizer, model, maxTokens } = await this.loaded();
    const scores: number[] = [];
    // One pair per forward pass: scores do not depend on the other candidates, and it costs less CPU (see encodeSequence).
    for (const passage of passages) {
      const inputs = encodeSequence(tokenizer, { text: query, pair: passage, maxTokens });
      const { logits } = (await model(inputs)) as { logits: Tensor };
      scores.push((logits.data as Float32Array)[0] ?? Number.NaN);
    }
    return scores;
  }

  private loaded(): Promise<LoadedReranker> {
    this.loading ??= this.loadOnce().catch((error: unknown) => {
      this.loading = undefined;
      throw error;
    });
    return this.loading;
  }

  private async loadOnce(): Promise<LoadedReranker> {
    const request = this.options;
    const { tokenizer, model } = await loadModel(request, async () => {
      const tokenizer = await AutoTokenizer.from_pretrained(request.modelId);
      const model = await AutoModelForSequenceClassification.from_pretrained(request.modelId, {
        dtype: request.dtype,
        device: 'cpu',
        session_options: sessionOptions(request.intraOpThreads),
      });
      return { tokenizer, model };
    });
    const config = model.config as unknown as { max_position_embeddings?: number };
    const positions = config.max_position_embeddings ?? DEFAULT_PAIR_TOKENS;
    const declared = Number(tokenizer.model_max_length);
    const maxTokens = Number.isFinite(declared) && declared > 0 ? Math.min(declared, positions) : Math.min(DEFAULT_PAIR_TOKENS, positions);
    return { tokenizer, model, maxTokens };
  }
}
