import { AutoModel, AutoTokenizer, type PreTrainedModel, type PreTrainedTokenizer, type Tensor } from '@huggingface/transformers';
import { AppError } from '../../errors/index.js';
import { LoadWithBackoff } from '../load-with-backoff.js';
import { encodeSequence, loadModel, notLoadedError, sessionOptions, type ModelDtype, type ModelSource } from '../model-files.js';
import type { Embedder, TokenCounter } from '../types.js';

/** Settings of a TransformersEmbedder: a slice of `config.models`. */
export interface TransformersEmbedderOptions extends ModelSource {
  /** Model id, e.g. `Xenova/all-MiniLM-L6-v2`; files under `<modelsDir>/<modelId>/` or on the Hub. */
  modelId: string;
  dtype: ModelDtype;
  /** Largest batch one `embed` call accepts. */
  maxBatchSize: number;
  /** Intra-op threads of the ONNX session (default 1, see DEFAULT_INTRA_OP_THREADS). */
  intraOpThreads?: number | undefined;
}

// Only separators every BERT-family normaliser and pre-tokeniser treats as word breaks (not NBSP, not U+FEFF).
const ASCII_WHITESPACE = /[ \t\n\r]+/;
const MAX_MEMO_WORD_CHARS = 64;
const MAX_MEMO_WORDS = 100_000;

interface LoadedEmbedder {
  tokenizer: PreTrainedTokenizer;
  model: PreTrainedModel;
  dimensions: number;
  maxTokens: number;
}

/**
 * Sentence embeddings with an ONNX BERT-family encoder through transformers.js: tokenizer and model are called
 * directly, then mean pooling over the attention mask and L2 normalisation (what sentence-transformers does).
 * The model loads lazily and once; `countTokens` is synchronous and needs `load()` or `warmup()` first.
 */
export class TransformersEmbedder implements Embedder, TokenCounter {
  readonly modelId: string;
  readonly maxBatchSize: number;
  private readonly options: TransformersEmbedderOptions;
  private readonly loader: LoadWithBackoff<LoadedEmbedder>;
  private loaded: LoadedEmbedder | undefined;
  private readonly wordTokenCounts = new Map<string, number>();

  constructor(options: TransformersEmbedderOptions) {
    this.options = { ...options };
    this.modelId = options.modelId;
    this.maxBatchSize = options.maxBatchSize;
    this.loader = new LoadWithBackoff(() => this.loadOnce());
  }

  /** Vector length, from the model config (`hidden_size`); available after `load()`. */
  get dimensions(): number {
    return this.requireLoaded('dimensions').dimensions;
  }

  /** Tokens read per text including special tokens (tokenizer `model_max_length`, capped by the position table); after `load()`. */
  get maxTokens(): number {
    return this.requireLoaded('maxTokens').maxTokens;
  }

  /**
   * Loads tokenizer and model once; concurrent callers share the same promise. A failed load is retried only after a
   * back-off (5 s, doubling to 60 s): until then callers get the same MODEL_UNAVAILABLE at once.
   */
  load(): Promise<void> {
    return this.loader.get().then(() => undefined);
  }

  /** Loads the model and runs one forward pass so the first real call does not pay for session warm-up. */
  async warmup(): Promise<void> {
    await this.load();
    await this.embed({ texts: ['warm up the embedding model'] });
  }

  /**
   * Tokens of `text` without special tokens, using the model's own tokenizer. Throws MODEL_NOT_LOADED before `load()`.
   * BERT-style tokenizers never join tokens across ASCII whitespace, so the text is counted word by word with a memo:
   * the chunker calls this thousands of times on overlapping text, and whole-text tokenisation costs ~4 µs per token.
   */
  countTokens(text: string): number {
    const { tokenizer } = this.requireLoaded('countTokens');
    let total = 0;
    for (const word of text.split(ASCII_WHITESPACE)) {
      if (word === '') continue;
      let count = this.wordTokenCounts.get(word);
      if (count === undefined) {
        count = tokenizer.tokenize(word).length;
        if (word.length <= MAX_MEMO_WORD_CHARS) {
          if (this.wordTokenCounts.size >= MAX_MEMO_WORDS) this.wordTokenCounts.clear();
          this.wordTokenCounts.set(word, count);
        }
      }
      total += count;
    }
    return total;
  }

  /** L2-normalised mean-pooled embeddings, one Float32Array per text, in input order; long texts are truncated to maxTokens. */
  async embed(params: { texts: string[] }): Promise<Float32Array[]> {
    const { texts } = params;
    if (texts.length === 0) return [];
    if (texts.length > this.maxBatchSize) {
      throw new AppError('BATCH_TOO_LARGE', 'system', `embed() got ${texts.length} texts; maxBatchSize is ${this.maxBatchSize}`, {
        retryable: false,
        details: { count: texts.length, maxBatchSize: this.maxBatchSize },
      });
    }
    await this.load();
    const { tokenizer, model, maxTokens } = this.requireLoaded('embed');
    const vectors: Float32Array[] = [];
    // One text per forward pass: batch-independent vectors and less CPU than padded batches (see encodeSequence).
    for (const text of texts) {
      const inputs = encodeSequence(tokenizer, { text, maxTokens });
      const outputs = (await model(inputs)) as { last_hidden_state: Tensor };
      vectors.push(meanPoolNormalise(outputs.last_hidden_state));
    }
    return vectors;
  }

  private async loadOnce(): Promise<LoadedEmbedder> {
    const request = this.options;
    const loaded = await loadModel(request, async () => {
      const tokenizer = await AutoTokenizer.from_pretrained(request.modelId);
      const model = await AutoModel.from_pretrained(request.modelId, {
        dtype: request.dtype,
        device: 'cpu',
        session_options: sessionOptions(request.intraOpThreads),
      });
      return { tokenizer, model };
    });
    const config = loaded.model.config as unknown as { hidden_size?: number; max_position_embeddings?: number };
    const positions = config.max_position_embeddings ?? 512;
    const declared = Number(loaded.tokenizer.model_max_length);
    this.loaded = {
      ...loaded,
      dimensions: config.hidden_size ?? 384,
      maxTokens: Number.isFinite(declared) && declared > 0 ? Math.min(declared, positions) : positions,
    };
    return this.loaded;
  }

  private requireLoaded(what: string): LoadedEmbedder {
    if (this.loaded === undefined) throw notLoadedError(this.modelId, what);
    return this.loaded;
  }
}

/** Mean of the token vectors of one unpadded sequence, scaled to unit length. */
function meanPoolNormalise(hidden: Tensor): Float32Array {
  const [, length = 0, width = 0] = hidden.dims;
  const data = hidden.data as Float32Array;
  const sum = new Float64Array(width);
  for (let token = 0; token < length; token++) {
    const offset = token * width;
    for (let i = 0; i < width; i++) sum[i]! += data[offset + i]!;
  }
  let squares = 0;
  for (let i = 0; i < width; i++) squares += sum[i]! * sum[i]!;
  // Normalising the sum equals normalising the mean; the guard only covers an all-zero output.
  const scale = squares === 0 ? 0 : 1 / Math.sqrt(squares);
  const vector = new Float32Array(width);
  for (let i = 0; i < width; i++) vector[i] = sum[i]! * scale;
  return vector;
}
