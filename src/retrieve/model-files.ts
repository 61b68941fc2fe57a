import { existsSync } from 'node:fs';
import path from 'node:path';
import { env, Tensor, type PreTrainedTokenizer } from '@huggingface/transformers';
import { AppError, UpstreamError } from '../errors/index.js';

/**
 * Model resolution and loading shared by the transformers.js adapters (embedder and reranker):
 * where model files come from, the MODEL_UNAVAILABLE error, ONNX session options and tokenisation of one sequence.
 */

/** Where models come from: a slice of `config.models`. */
export interface ModelSource {
  /** Local model root: `<modelsDir>/<modelId>/` holds config.json, tokenizer files and onnx/. */
  modelsDir: string;
  /** When true, never contact the Hugging Face Hub; a missing model fails at once. */
  offline: boolean;
}

/** ONNX weights to load: `fp32` is `onnx/model.onnx`, `q8` is `onnx/model_quantized.onnx` (dynamic int8). */
export type ModelDtype = 'fp32' | 'q8';

/** What a loaded adapter needs to know about the model's files. */
export interface ModelRequest extends ModelSource {
  modelId: string;
  dtype: ModelDtype;
  /** Intra-op threads of the ONNX session; see `DEFAULT_INTRA_OP_THREADS`. */
  intraOpThreads?: number | undefined;
}

/**
 * One intra-op thread per session. Measured on the 2-core box (q8, warm): a 14-token query takes p50 2.6 ms with 1
 * thread vs 3.7 ms with 2, 32 texts of ~220 tokens run at 36 vs 17 texts/s, and two concurrent query streams reach
 * 414 vs 240 queries/s. The service already runs two model calls at once (MODEL_CONCURRENCY=2) beside ingest work,
 * so a second thread per call only adds contention.
 */
export const DEFAULT_INTRA_OP_THREADS = 1;

/** Sub-folder of MODELS_DIR where Hub downloads are cached, so an online first run also works offline later. */
export const HUB_CACHE_DIR_NAME = '.hub-cache';

function fixHint(request: ModelRequest): string {
  const exportHint =
    'run `npm run models:export` (writes Xenova/all-MiniLM-L6-v2 and the latency-only cross-encoder into MODELS_DIR) ' +
    'or put the model\'s transformers.js files (config.json, tokenizer files, onnx/) under MODELS_DIR/<model id>';
  return request.offline
    ? `Fix: ${exportHint}, or unset MODELS_OFFLINE to download the model from the Hugging Face Hub.`
    : `Fix: check access to the Hugging Face Hub, or ${exportHint} (and set MODELS_OFFLINE=true on machines without Hub access).`;
}

/** Files transformers.js reads for an encoder model, relative to the model folder. */
export function requiredModelFiles(dtype: ModelDtype): string[] {
  return ['config.json', 'tokenizer.json', 'tokenizer_config.json', onnxFileName(dtype)];
}

function onnxFileName(dtype: ModelDtype): string {
  return dtype === 'q8' ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx';
}

/** Points transformers.js at `modelsDir` (local models first, Hub downloads cached there) and allows the Hub unless offline. */
export function configureModelEnv(source: ModelSource): void {
  const modelsDir = path.resolve(source.modelsDir);
  env.allowLocalModels = true;
  env.localModelPath = modelsDir;
  env.allowRemoteModels = !source.offline;
  env.useFSCache = true;
  env.cacheDir = path.join(modelsDir, HUB_CACHE_DIR_NAME);
}

/** Files of `request` missing from both the local model folder and the Hub cache. */
export function missingModelFiles(request: ModelRequest): string[] {
  const modelsDir = path.resolve(request.modelsDir);
  const roots = [path.join(modelsDir, request.modelId), path.join(modelsDir, HUB_CACHE_DIR_NAME, request.modelId)];
  return requiredModelFiles(request.dtype).filter((file) => !roots.some((root) => existsSync(path.join(root, file))));
}

/** The error every adapter throws when its model cannot be loaded; names the model, MODELS_DIR and the fix. */
export function modelUnavailableError(request: ModelRequest, reason: string, cause?: unknown): UpstreamError {
  const modelsDir = path.resolve(request.modelsDir);
  return new UpstreamError(
    'MODEL_UNAVAILABLE',
    `Model "${request.modelId}" (${request.dtype}) is not available: ${reason}. MODELS_DIR=${modelsDir}. ${fixHint(request)}`,
    {
      cause,
      details: { modelId: request.modelId, dtype: request.dtype, modelsDir, offline: request.offline },
      // Missing files offline will not appear by themselves; a Hub failure may be transient.
      retryable: !request.offline,
    },
  );
}

// transformers.js keeps its settings in one global `env`; loads run one at a time so each sees its own source.
let loadQueue: Promise<unknown> = Promise.resolve();

/**
 * Runs `load` (tokenizer + model `from_pretrained` calls) with the transformers.js env set for `request`.
 * Fails fast with MODEL_UNAVAILABLE when offline and files are missing; wraps any load failure the same way, keeping `cause`.
 */
export async function loadModel<T>(request: ModelRequest, load: () => Promise<T>): Promise<T> {
  const missing = missingModelFiles(request);
  if (missing.length > 0 && request.offline) {
    const modelDir = path.join(path.resolve(request.modelsDir), request.modelId);
    throw modelUnavailableError(request, `offline and ${missing.join(', ')} missing under ${modelDir}`);
  }
  const run = loadQueue.then(async () => {
    configureModelEnv(request);
    try {
      return await load();
    } catch (error) {
      const where = missing.length > 0 ? 'download from the Hugging Face Hub failed' : 'loading the local files failed';
      const message = error instanceof Error ? error.message : String(error);
      throw modelUnavailableError(request, `${where} (${message})`, error);
    }
  });
  loadQueue = run.catch(() => undefined);
  return run;
}

/** ONNX Runtime session options for a CPU model on a small box. */
export function sessionOptions(intraOpThreads = DEFAULT_INTRA_OP_THREADS): {
  intraOpNumThreads: number;
  interOpNumThreads: number;
  logSeverityLevel: 0 | 1 | 2 | 3 | 4;
} {
  // Errors only (3): ORT warns about harmless details of exported graphs (unused initialisers) on every load.
  return { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, logSeverityLevel: 3 };
}

/** Raised when a synchronous method needs the model before `load()`/`warmup()` has finished. */
export function notLoadedError(modelId: string, what: string): AppError {
  return new AppError(
    'MODEL_NOT_LOADED',
    'system',
    `${what} of model "${modelId}" is not available before the model is loaded: await load() or warmup() first`,
    { retryable: false },
  );
}

/** Model inputs of one sequence (batch of one). */
export interface EncodedSequence {
  input_ids: Tensor;
  attention_mask: Tensor;
  token_type_ids: Tensor;
}

/**
 * Tokenises one text (or a text pair) the way Hugging Face tokenizers do with `truncation: true`: cut to `maxTokens`
 * including special tokens, which are kept ([CLS] … [SEP]); a pair is cut longest-first.
 * transformers.js's own truncation drops the final [SEP] instead, which shifts embeddings of long texts.
 *
 * Adapters run one sequence per forward pass on purpose: with dynamic int8 quantisation the activation scale is
 * computed over the whole batch, so a batched text's vector depends on its neighbours (cosine down to 0.977 vs alone);
 * and on this CPU one-by-one costs less CPU per text than padded batches of 32 (no padding, smaller intermediates).
 */
export function encodeSequence(
  tokenizer: PreTrainedTokenizer,
  params: { text: string; pair?: string | undefined; maxTokens: number },
): EncodedSequence {
  let first = tokenizer.tokenize(params.text);
  let second = params.pair === undefined ? null : tokenizer.tokenize(params.pair);
  const budget = Math.max(0, params.maxTokens - specialTokenCount(tokenizer, second !== null));
  if (second === null) {
    if (first.length > budget) first = first.slice(0, budget);
  } else if (first.length + second.length > budget) {
    const [keepFirst, keepSecond] = longestFirst(first.length, second.length, budget);
    first = first.slice(0, keepFirst);
    second = second.slice(0, keepSecond);
  }
  const processed = tokenizer.post_processor
    ? tokenizer.post_processor.post_process(first, second, { add_special_tokens: true })
    : { tokens: second === null ? first : [...first, ...second], token_type_ids: undefined };
  const ids = tokenizer.model.convert_tokens_to_ids(processed.tokens);
  const typeIds: number[] = processed.token_type_ids ?? new Array<number>(ids.length).fill(0);
  const dims = [1, ids.length];
  return {
    input_ids: new Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), dims),
    attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), dims),
    token_type_ids: new Tensor('int64', BigInt64Array.from(typeIds, (id) => BigInt(id)), dims),
  };
}

/** Tokens kept from each of a pair under HF `longest_first`: trim the longer one until both fit. */
function longestFirst(firstLength: number, secondLength: number, budget: number): [number, number] {
  const half = Math.floor(budget / 2);
  if (firstLength <= half) return [firstLength, budget - firstLength];
  if (secondLength <= half) return [budget - secondLength, secondLength];
  return [budget - half, half];
}

const specialCounts = new WeakMap<PreTrainedTokenizer, { single: number; pair: number }>();

function specialTokenCount(tokenizer: PreTrainedTokenizer, pair: boolean): number {
  let counts = specialCounts.get(tokenizer);
  if (counts === undefined) {
    const processor = tokenizer.post_processor;
    counts = processor
      ? {
          single: processor.post_process([], null, { add_special_tokens: true }).tokens.length,
          pair: processor.post_process([], [], { add_special_tokens: true }).tokens.length,
        }
      : { single: 0, pair: 0 };
    specialCounts.set(tokenizer, counts);
  }
  return pair ? counts.pair : counts.single;
}
