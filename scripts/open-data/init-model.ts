// A randomly initialised small Qwen2-VL model folder (HF layout: config.json, model.safetensors,
// tokenizer and processor files), the starting point of training from scratch with `vlm2vec
// train --model_name DIR` (docs/open-data.md, "Training from scratch").
//
// Usage: node --import tsx scripts/open-data/init-model.ts --out DIR [--hidden 64] [--layers 2]
//          [--heads 4] [--kv-heads 2] [--intermediate 128] [--vision-dim 32] [--vision-depth 2]
//          [--vision-heads 2] [--seed 0]
//
// Initialisation as transformers' Qwen2VLPreTrainedModel._init_weights: every linear, conv and
// embedding weight N(0, initializer_range = 0.02), biases 0, norm weights 1 (from our own seeded
// generator, so the numbers are not torch's). The tokenizer is the Qwen2-VL tokenizer (Apache-2.0)
// that the repository's tiny test model carries.

import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseQwen2VLConfig } from '../../src/models/qwen2-vl/config.ts';
import { qwen2VLParamSpecs } from '../../src/models/qwen2-vl/weights.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/io/weights/safetensors-write.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    hidden: { type: 'string', default: '64' },
    layers: { type: 'string', default: '2' },
    heads: { type: 'string', default: '4' },
    'kv-heads': { type: 'string', default: '2' },
    intermediate: { type: 'string', default: '128' },
    'vision-dim': { type: 'string', default: '32' },
    'vision-depth': { type: 'string', default: '2' },
    'vision-heads': { type: 'string', default: '2' },
    seed: { type: 'string', default: '0' },
  },
});
if (!values.out) throw new Error('--out DIR is required');
const n = (k: keyof typeof values): number => {
  const v = Number(values[k]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${k}: expected a whole number, got '${String(values[k])}'`);
  return v;
};
const hidden = n('hidden');
const heads = n('heads');
const headDim = hidden / heads;
if (!Number.isInteger(headDim) || headDim % 4 !== 0) throw new Error(`--hidden / --heads = ${headDim}: must be a multiple of 4 (M-RoPE splits half of it in three)`);
// Qwen2-VL-2B splits its 64 rotary frequencies 16/24/24 (t/h/w); the same 1/4, 3/8, 3/8 here.
const half = headDim / 2;
const t = Math.round(half / 4);
const h = Math.floor((half - t) / 2);
const mrope = [t, h, half - t - h];

const config = {
  architectures: ['Qwen2VLForConditionalGeneration'],
  model_type: 'qwen2_vl',
  dtype: 'float32',
  image_token_id: 151655,
  video_token_id: 151656,
  vision_start_token_id: 151652,
  vision_end_token_id: 151653,
  tie_word_embeddings: true,
  text_config: {
    model_type: 'qwen2_vl_text', vocab_size: 151657, hidden_size: hidden, intermediate_size: n('intermediate'),
    num_hidden_layers: n('layers'), num_attention_heads: heads, num_key_value_heads: n('kv-heads'), hidden_act: 'silu',
    rms_norm_eps: 1e-6, max_position_embeddings: 32768, initializer_range: 0.02, attention_dropout: 0.0,
    bos_token_id: 151643, eos_token_id: 151645, tie_word_embeddings: true, use_cache: true, use_sliding_window: false,
    sliding_window: null, max_window_layers: 80, layer_types: Array.from({ length: n('layers') }, () => 'full_attention'),
    rope_parameters: { rope_type: 'default', rope_theta: 1000000.0, mrope_section: mrope },
  },
  vision_config: {
    model_type: 'qwen2_vl_vision', depth: n('vision-depth'), embed_dim: n('vision-dim'), num_heads: n('vision-heads'), mlp_ratio: 4,
    hidden_size: hidden, hidden_act: 'quick_gelu', in_channels: 3, patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2,
    initializer_range: 0.02, rope_parameters: { rope_type: 'axial', rope_theta: 10000.0 },
  },
};

// mulberry32 + Box–Muller: a small seeded normal generator (reproducible, not torch's stream).
let state = n('seed') >>> 0;
const uniform = (): number => {
  state = (state + 0x6d2b79f5) >>> 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 15), z | 1);
  z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
  return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
};
const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());

const specs = qwen2VLParamSpecs(parseQwen2VLConfig(config));
const tensors: Record<string, TensorToWrite> = {};
let count = 0;
for (const s of specs) {
  const size = s.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  if (s.role === 'norm') data.fill(1);
  else if (s.role === 'linear' || s.role === 'embedding') for (let i = 0; i < size; i++) data[i] = 0.02 * normal();
  tensors[s.path] = { dtype: 'F32', shape: s.shape, data };
  count += size;
}

const out = values.out;
mkdirSync(out, { recursive: true });
await writeSafetensors(join(out, 'model.safetensors'), tensors, { format: 'pt' });
writeFileSync(join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
writeFileSync(join(out, 'preprocessor_config.json'), `${JSON.stringify({
  image_processor_type: 'Qwen2VLImageProcessor', min_pixels: 3136, max_pixels: 1003520, patch_size: 14, temporal_patch_size: 2,
  merge_size: 2, image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711],
  do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, do_resize: true, resample: 3,
}, null, 1)}\n`);
const tok = new URL('../../test/fixtures/model/tiny-a/', import.meta.url).pathname;
for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tok, f), join(out, f));
process.stderr.write(`${out}: ${specs.length} tensors, ${(count / 1e6).toFixed(2)} M parameters (float32)\n`);
