import {
  AutoModelForSequenceClassification,
  AutoTokenizer,
  Tensor,
  type PreTrainedModel,
  type PreTrainedTokenizer,
} from '@huggingface/transformers';
import { AppError } from '../../errors/index.js';
import { LoadWithBackoff } from '../load-with-backoff.js';
import { DEFAULT_INTRA_OP_THREADS, encodeSequence, loadModel, sessionOptions, type EncodedSequence, type ModelDtype, type ModelSource } from '../model-files.js';
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
  /**
   * Cap on tokens per (query, passage) pair including the three special tokens (RERANK_MAX_TOKENS); the model's own
   * limit (512) when absent or larger. Cost per pair grows with its length, so this bounds the rerank stage.
   * Cutting is longest-first: the passage's tail goes first and the query stays whole while it fits in half the cap.
   */
  maxTokens?: number | undefined;
  /**
   * Pairs per ONNX forward pass (default 1). Above 1 the pairs of a call are padded to the longest; on this CPU that
   * costs more per pair, and with q8 weights a pair's score then depends on its neighbours (dynamic quantisation
   * scales over the whole batch). Kept for bench/rerank-cost.ts, which measures the call shape.
   */
  pairsPerCall?: number | undefined;
}

interface LoadedReranker {
  tokenizer: PreTrainedTokenizer;
  model: PreTrainedModel;
  maxTokens: number;
}

/** Tokens per (query, passage) pair when the tokenizer declares no limit; ms-marco MiniLM cross-encoders read 512. */
const DEFAULT_PAIR_TOKENS = 512;

/**
 * With more than one intra-op thread, ONNX Runtime's pool threads spin between operators by default. On the shared
 * 2-core box that doubled CPU per pair and, with other work running, made a 128-token pair take 50 ms instead of 14.
 */
const NO_SPINNING = { extra: { session: { intra_op: { allow_spinning: '0' } } } };

/**
 * Scores (query, passage) pairs with an ONNX cross-encoder (BertForSequenceClassification, one label) through
 * transformers.js. Each pair is tokenised as `[CLS] query [SEP] passage [SEP]`, cut longest-first to
 * `min(maxTokens, model limit)`; the score is the raw logit (higher is more relevant; no sigmoid, so the scale is
 * the model's).
 */
export class CrossEncoderReranker implements Reranker {
  readonly modelId: string;
  readonly maxBatchSize: number;
  private readonly options: CrossEncoderRerankerOptions;
  private readonly pairsPerCall: number;
  private readonly loader: LoadWithBackoff<LoadedReranker>;

  constructor(options: CrossEncoderRerankerOptions) {
    if (options.maxTokens !== undefined && !(Number.isInteger(options.maxTokens) && options.maxTokens >= 8)) {
      throw new AppError('INVALID_OPTION', 'system', `maxTokens must be an integer ≥ 8, got ${options.maxTokens}`, { retryable: false });
    }
    this.options = { ...options };
    this.modelId = options.modelId;
    this.maxBatchSize = options.maxBatchSize;
    this.pairsPerCall = Math.max(1, Math.floor(options.pairsPerCall ?? 1));
    this.loader = new LoadWithBackoff(() => this.loadOnce());
  }

  /**
   * Loads tokenizer and model once; concurrent callers share the same promise. A failed load is retried only after a
   * back-off (5 s, doubling to 60 s): until then reranked requests get MODEL_UNAVAILABLE at once and fall back to fused
   * order, instead of each starting a download attempt and waiting out RERANK_TIMEOUT_MS.
   */
  load(): Promise<void> {
    return this.loaded().then(() => undefined);
  }

  /** Loads the model and scores one pair so the first real call does not pay for session warm-up. */
  async warmup(): Promise<void> {
    await this.score({ query: 'warm up', passages: ['the reranking model'] });
  }

  /** Tokens per pair this reranker reads (the cap or the model's limit, whichever is smaller); after `load()`. */
  async pairTokens(): Promise<number> {
    return (await this.loaded()).maxTokens;
  }

  /** Releases the ONNX session; a later call loads the model again. */
  async dispose(): Promise<void> {
    const loading = this.loader.reset();
    if (loading) await (await loading.catch(() => undefined))?.model.dispose();
  }

  /** One logit per passage, in input order. Throws UpstreamError (MODEL_UNAVAILABLE) when the model cannot be loaded. */
  async score(params: { query: string; passages: string[] }): Promise<number[]> {
    const { query, passages } = params;
    if (passages.length === 0) return [];
    assertBatchSize(passages.length, this.maxBatchSize);
    const { tokenizer, model, maxTokens } = await this.loaded();
    const scores: number[] = [];
    // One pair per forward pass by default: scores do not depend on the other candidates, and it costs less CPU
    // (bench/rerank-cost.ts; see encodeSequence).
    for (let start = 0; start < passages.length; start += this.pairsPerCall) {
      const pairs = passages.slice(start, start + this.pairsPerCall).map((passage) => encodeSequence(tokenizer, { text: query, pair: passage, maxTokens }));
      const inputs = pairs.length === 1 ? (pairs[0] as EncodedSequence) : padBatch(pairs, tokenizer.pad_token_id ?? 0);
      const { logits } = (await model(inputs)) as { logits: Tensor };
      const data = logits.data as Float32Array;
      const labels = logits.dims[1] ?? 1;
      for (let row = 0; row < pairs.length; row++) scores.push(data[row * labels] ?? Number.NaN);
    }
    return scores;
  }

  private loaded(): Promise<LoadedReranker> {
    return this.loader.get();
  }

  private async loadOnce(): Promise<LoadedReranker> {
    const request = this.options;
    const threads = request.intraOpThreads ?? DEFAULT_INTRA_OP_THREADS;
    const { tokenizer, model } = await loadModel(request, async () => {
      const tokenizer = await AutoTokenizer.from_pretrained(request.modelId);
      const model = await AutoModelForSequenceClassification.from_pretrained(request.modelId, {
        dtype: request.dtype,
        device: 'cpu',
        session_options: { ...sessionOptions(request.intraOpThreads), ...(threads > 1 ? NO_SPINNING : {}) },
      });
      return { tokenizer, model };
    });
    const config = model.config as unknown as { max_position_embeddings?: number };
    const positions = config.max_position_embeddings ?? DEFAULT_PAIR_TOKENS;
    const declared = Number(tokenizer.model_max_length);
    const modelLimit = Number.isFinite(declared) && declared > 0 ? Math.min(declared, positions) : Math.min(DEFAULT_PAIR_TOKENS, positions);
    return { tokenizer, model, maxTokens: Math.min(modelLimit, request.maxTokens ?? modelLimit) };
  }
}

/** Refuses a score() call with more passages than the reranker's declared maxBatchSize (the retriever batches). */
export function assertBatchSize(count: number, maxBatchSize: number): void {
  if (count <= maxBatchSize) return;
  throw new AppError('BATCH_TOO_LARGE', 'system', `score() got ${count} passages; maxBatchSize is ${maxBatchSize}`, {
    retryable: false,
    details: { count, maxBatchSize },
  });
}

/** Right-pads single-pair encodings into one batch; padded positions have attention mask 0. */
function padBatch(pairs: EncodedSequence[], padId: number): EncodedSequence {
  const width = Math.max(...pairs.map((pair) => pair.input_ids.dims[1] ?? 0));
  const ids = new BigInt64Array(pairs.length * width).fill(BigInt(padId));
  const mask = new BigInt64Array(pairs.length * width);
  const types = new BigInt64Array(pairs.length * width);
  pairs.forEach((pair, row) => {
    ids.set(pair.input_ids.data as BigInt64Array, row * width);
    mask.set(pair.attention_mask.data as BigInt64Array, row * width);
    types.set(pair.token_type_ids.data as BigInt64Array, row * width);
  });
  const dims = [pairs.length, width];
  return { input_ids: new Tensor('int64', ids, dims), attention_mask: new Tensor('int64', mask, dims), token_type_ids: new Tensor('int64', types, dims) };
}
