// Qwen2-VL checkpoint → float32 parameter tree named like the checkpoint (docs/vlm2vec.md §2.6):
// `visual.blocks.0.attn.qkv.weight`, `model.layers.0.self_attn.q_proj.weight`, ...
// transformers ≥ 5 `save_pretrained` writes `model.visual.*` / `model.language_model.*`; both are
// mapped to the 4.x names at load. bf16 / f16 tensors are widened to float32. Every expected
// tensor is shape-checked against the config; a PEFT LoRA/DoRA adapter is merged on the way in.
//
// dtype 'float16' — measured on this 2-core AVX2 CPU with onnxruntime-node 1.30 (1 thread):
// ORT's CPU EP has no float16 MatMul/Gemm/Add/Mul/Softmax/Sigmoid/Erf/Where kernels (it wraps them
// in inserted Casts to float32; only LayerNormalization, (Simplified)LayerNorm/RMSNorm, Gather,
// Concat, Transpose, Max/Min, Cast run natively), so a float16 *compute* graph is not faster
// (2048×1536×8960 MatMul: 0.81 s in float16 vs 0.80 s in float32) and not smaller (ORT folds the
// weight's Cast into a float32 copy: 109 MB session vs 82 MB). What float16 buys on CPU is
// memory: every matrix (linear weights, patch kernel, token embeddings) is held as float16 — half
// the bytes on the host and in ORT — and cast to float32 in the graph right before its MatMul
// (token embeddings: only the gathered rows). Same MatMul: 54 MB session, 0.89–0.97 s per call.
// Compute stays float32. Vectors (biases, norm weights) are rounded to float16 values but stored
// as float32: the same numbers as transformers' `model.half()` weights, without a Cast per vector.

import { Vlm2VecError } from '../../errors.ts';
import type { PeftAdapter } from '../../io/peft.ts';
import type { Checkpoint } from '../../io/checkpoint.ts';
import { TORCH_DTYPE_BYTES } from '../../io/torch-pickle.ts';
import { f16ToF32, f32ToF16, toFloat16, toFloat32 } from '../../io/safetensors-dtype.ts';
import type { LayerNormParams, LinearParams, RmsNormParams } from '../../nn/index.ts';
import type { Qwen2DecoderLayerParams } from './decoder-layer.ts';
import type { Qwen2VisionBlockParams } from './vision-block.ts';
import type { Tensor } from '../../tensor/index.ts';
import { cast, fromArray, transpose } from '../../tensor/index.ts';
import { mergeAdapter } from '../merge-adapter.ts';
import type { Qwen2VLConfig } from './config.ts';

/** Vision tower parameters (`visual.*`); the Conv3d patch kernel is flattened to [E, C·T·P·P]. */
export interface Qwen2VLVisionParams {
  patch_embed: { proj: { weight: Tensor } };
  blocks: Qwen2VisionBlockParams[];
  merger: { ln_q: LayerNormParams; mlp: { '0': LinearParams; '2': LinearParams } };
}

/** Language model parameters (`model.*`). */
export interface Qwen2VLTextParams {
  embed_tokens: { weight: Tensor };
  layers: Qwen2DecoderLayerParams[];
  norm: RmsNormParams;
}

/** The whole tree, keyed exactly like the 4.x checkpoint. */
export interface Qwen2VLParams {
  visual: Qwen2VLVisionParams;
  model: Qwen2VLTextParams;
}

/**
 * Maps a transformers-5 tensor name to the checkpoint layout (`model.visual.x` → `visual.x`, ...).
 *
 * @example canonicalTensorName('model.language_model.layers.0.mlp.up_proj.weight') // 'model.layers.0.mlp.up_proj.weight'
 */
export function canonicalTensorName(name: string): string {
  if (name.startsWith('model.visual.')) return name.slice('model.'.length);
  if (name.startsWith('model.language_model.')) return `model.${name.slice('model.language_model.'.length)}`;
  return name;
}

/**
 * Every tensor the model needs, with its checkpoint shape.
 *
 * @example expectedTensors(cfg).get('visual.patch_embed.proj.weight') // [1280, 3, 2, 14, 14] for Qwen2-VL-2B
 */
export function expectedTensors(cfg: Qwen2VLConfig): Map<string, number[]> {
  const t = cfg.text;
  const v = cfg.vision;
  const m = new Map<string, number[]>();
  const E = v.embedDim;
  const H = v.mlpHiddenDim;
  const merged = E * v.spatialMergeSize * v.spatialMergeSize;
  m.set('visual.patch_embed.proj.weight', [E, v.inChannels, v.temporalPatchSize, v.patchSize, v.patchSize]);
  for (let i = 0; i < v.depth; i++) {
    const p = `visual.blocks.${i}`;
    for (const n of ['norm1', 'norm2']) {
      m.set(`${p}.${n}.weight`, [E]);
      m.set(`${p}.${n}.bias`, [E]);
    }
    m.set(`${p}.attn.qkv.weight`, [3 * E, E]);
    m.set(`${p}.attn.qkv.bias`, [3 * E]);
    m.set(`${p}.attn.proj.weight`, [E, E]);
    m.set(`${p}.attn.proj.bias`, [E]);
    m.set(`${p}.mlp.fc1.weight`, [H, E]);
    m.set(`${p}.mlp.fc1.bias`, [H]);
    m.set(`${p}.mlp.fc2.weight`, [E, H]);
    m.set(`${p}.mlp.fc2.bias`, [E]);
  }
  m.set('visual.merger.ln_q.weight', [E]);
  m.set('visual.merger.ln_q.bias', [E]);
  m.set('visual.merger.mlp.0.weight', [merged, merged]);
  m.set('visual.merger.mlp.0.bias', [merged]);
  m.set('visual.merger.mlp.2.weight', [v.hiddenSize, merged]);
  m.set('visual.merger.mlp.2.bias', [v.hiddenSize]);

  const D = t.hiddenSize;
  const kv = t.numKeyValueHeads * t.headDim;
  const q = t.numAttentionHeads * t.headDim;
  m.set('model.embed_tokens.weight', [t.vocabSize, D]);
  for (let i = 0; i < t.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.self_attn.q_proj.weight`, [q, D]);
    m.set(`${p}.self_attn.q_proj.bias`, [q]);
    m.set(`${p}.self_attn.k_proj.weight`, [kv, D]);
    m.set(`${p}.self_attn.k_proj.bias`, [kv]);
    m.set(`${p}.self_attn.v_proj.weight`, [kv, D]);
    m.set(`${p}.self_attn.v_proj.bias`, [kv]);
    m.set(`${p}.self_attn.o_proj.weight`, [D, q]);
    m.set(`${p}.mlp.gate_proj.weight`, [t.intermediateSize, D]);
    m.set(`${p}.mlp.up_proj.weight`, [t.intermediateSize, D]);
    m.set(`${p}.mlp.down_proj.weight`, [D, t.intermediateSize]);
    m.set(`${p}.input_layernorm.weight`, [D]);
    m.set(`${p}.post_attention_layernorm.weight`, [D]);
  }
  m.set('model.norm.weight', [D]);
  return m;
}

/** How the weights are held: float32, or float16 matrices computed in float32 (see the file comment). */
export type WeightDtype = 'float32' | 'float16';

export const WEIGHT_DTYPES: readonly WeightDtype[] = ['float32', 'float16'];

/**
 * Checks a user-given dtype (CLI flag, option object) and names where it came from.
 *
 * @example parseWeightDtype('float16', '--dtype') // 'float16'
 */
export function parseWeightDtype(value: unknown, where = 'dtype'): WeightDtype {
  if (value === undefined) return 'float32';
  if (typeof value === 'string' && (WEIGHT_DTYPES as readonly string[]).includes(value)) return value as WeightDtype;
  const hint = value === 'fp16' || value === 'half' ? " (did you mean 'float16'?)" : value === 'fp32' ? " (did you mean 'float32'?)" : '';
  throw new Vlm2VecError('weights', `${where} must be 'float32' or 'float16', got ${JSON.stringify(value)}${hint}`);
}

/**
 * One host tensor by canonical name, in checkpoint layout. A float16 matrix (Uint16Array of IEEE
 * half bits) is stored transposed, [in, out] (`transposed: true`), so its graph needs no Transpose
 * per call: linear's `x·Wᵀ` then reads the Cast output directly.
 */
export type HostTensor = { data: Float32Array; shape: number[] } | { data: Uint16Array; shape: number[]; transposed: boolean };

/** Host weights by canonical name. */
export type HostWeights = Map<string, HostTensor>;

/** Matrices held as float16 (everything of rank ≥ 2: linear weights, patch kernel, embeddings). */
function heldAsHalf(shape: readonly number[]): boolean {
  return shape.length >= 2;
}

/** Names whose float16 copy is stored [in, out] (linear weights and the flattened patch kernel). */
function storedTransposed(name: string): boolean {
  return name !== 'model.embed_tokens.weight';
}

/**
 * Rejects a tensor that float16 cannot hold: a finite value beyond ±65504 would silently become
 * ±inf (bf16 checkpoints have float32's range; values inside float16's range are exact or
 * rounded once, bf16 ones exact down to 6e-5).
 */
function checkHalfRange(name: string, half: Uint16Array, source: () => Float32Array): void {
  let src: Float32Array | undefined;
  for (let i = 0; i < half.length; i++) {
    if (((half[i] as number) & 0x7fff) !== 0x7c00) continue;
    src ??= source(); // only widened when an infinity shows up (keeps the bf16 → f16 path lean)
    if (Number.isFinite(src[i] as number)) {
      throw new Vlm2VecError('weights', `tensor ${name} holds ${src[i]} (element ${i}), beyond float16's range (±65504); load it with dtype 'float32'`);
    }
  }
}

/** [rows, cols] float16 bits → [cols, rows], in cache-friendly blocks. */
function transposeHalf(src: Uint16Array, rows: number, cols: number): Uint16Array {
  const out = new Uint16Array(src.length);
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = src[r * cols + c] as number;
    }
  }
  return out;
}

/**
 * A float32 tensor (checkpoint name and layout) as held under `dtype` (see {@link HostTensor}).
 *
 * @example holdTensor('model.layers.0.mlp.up_proj.weight', w, [8960, 1536], 'float16').data // Uint16Array, [1536, 8960]
 */
export function holdTensor(name: string, data: Float32Array, shape: number[], dtype: WeightDtype): HostTensor {
  if (dtype === 'float32') return { data, shape };
  const half = f32ToF16(data);
  checkHalfRange(name, half, () => data);
  if (!heldAsHalf(shape)) return { data: f16ToF32(half), shape };
  if (!storedTransposed(name)) return { data: half, shape, transposed: false };
  const rows = shape[0]!;
  return { data: transposeHalf(half, rows, half.length / rows), shape, transposed: true };
}

/**
 * Progress of a model load, for a caller's display (library code prints nothing): weight bytes
 * read per shard file, the adapter merge, and each ORT session being built.
 */
export type ModelLoadEvent =
  | { type: 'weights'; file: string; shard: number; shards: number; bytesDone: number; bytesTotal: number }
  | { type: 'adapter'; dir: string; modules: number }
  | { type: 'session'; graph: 'vision' | 'text'; state: 'start' | 'done' };

/**
 * Reads every expected tensor, checking names and shapes, and merges `adapter` (LoRA or DoRA, in
 * float32) into the adapted linear weights. `dtype` 'float32' widens bf16/f16 to float32;
 * 'float16' holds the matrices as float16 (see the file comment), each converted as soon as it
 * is read (adapted ones after their merge), so the host never holds all weights in float32.
 *
 * @example
 * const host = await readQwen2VLWeights(ckpt, cfg, adapter); // Map('model.norm.weight' → {data, shape})
 * const half = await readQwen2VLWeights(ckpt, cfg, undefined, 'float16'); // matrices as Uint16Array
 */
export async function readQwen2VLWeights(ckpt: Checkpoint, cfg: Qwen2VLConfig, adapter?: PeftAdapter, dtype: WeightDtype = 'float32',
  onProgress?: (e: ModelLoadEvent) => void): Promise<HostWeights> {
  parseWeightDtype(dtype);
  const byCanonical = new Map<string, string>();
  for (const name of ckpt.names()) byCanonical.set(canonicalTensorName(name), name);
  const expected = expectedTensors(cfg);
  const missing = [...expected.keys()].filter((n) => !byCanonical.has(n));
  if (missing.length > 0) {
    throw new Vlm2VecError(
      'weights',
      `${ckpt.source}: ${missing.length} tensor(s) missing from the checkpoint, e.g. ${missing.slice(0, 3).join(', ')} ` +
        `(expected a qwen2_vl checkpoint with ${cfg.text.numHiddenLayers} LM layers and ${cfg.vision.depth} vision blocks)`,
    );
  }
  const host: HostWeights = new Map();
  const adapted = new Set([...(adapter?.modules.values() ?? [])].map((m) => m.baseWeight));
  const shards = ckpt.shards();
  const bytesOf = (stored: string): number => {
    const i = ckpt.info(stored);
    return i.shape.reduce((a, d) => a * d, 1) * TORCH_DTYPE_BYTES[i.dtype];
  };
  const bytesTotal = [...expected.keys()].reduce((a, n) => a + bytesOf(byCanonical.get(n)!), 0);
  let bytesDone = 0;
  // Shard by shard (sequential file reads, progress per file); the host map is keyed by name.
  const order = [...expected].map((e, i) => ({ e, shard: shards.indexOf(ckpt.info(byCanonical.get(e[0])!).file), i }));
  order.sort((a, b) => a.shard - b.shard || a.i - b.i);
  for (const { e: [name, shape] } of order) {
    const stored = byCanonical.get(name)!;
    const info = ckpt.info(stored);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Vlm2VecError('weights', `${ckpt.source}: tensor ${stored} has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`);
    }
    const raw = await ckpt.read(stored);
    if (onProgress) {
      bytesDone += bytesOf(stored);
      onProgress({ type: 'weights', file: info.file, shard: shards.indexOf(info.file) + 1, shards: shards.length, bytesDone, bytesTotal });
    }
    if (dtype === 'float16' && !adapted.has(name) && heldAsHalf(shape) && !storedTransposed(name)) {
      // The largest tensor (token embeddings, 0.9 GB in float32 for Qwen2-VL-2B) never widens.
      let half = toFloat16(raw.dtype, raw.data, stored);
      if (half === raw.data) half = new Uint16Array(half);
      else checkHalfRange(stored, half, () => toFloat32(raw.dtype, raw.data, stored));
      host.set(name, { data: half, shape: [...shape], transposed: false });
      continue;
    }
    let data = toFloat32(raw.dtype, raw.data, stored);
    // toFloat32 returns F32 data as a view of the file buffer; copy so merges never alias it.
    if (data === raw.data) data = new Float32Array(data);
    host.set(name, adapted.has(name) ? { data, shape: [...shape] } : holdTensor(name, data, [...shape], dtype));
  }
  if (adapter) {
    onProgress?.({ type: 'adapter', dir: adapter.dir, modules: adapter.modules.size });
    mergeAdapterInto(host, adapter);
  }
  if (dtype === 'float16') {
    for (const name of adapted) {
      const w = host.get(name);
      if (w && w.data instanceof Float32Array) host.set(name, holdTensor(name, w.data, w.shape, dtype));
    }
  }
  return host;
}

/**
 * Merges every adapter module into `host` in place; an adapted module the model lacks is an error.
 *
 * @example mergeAdapterInto(host, await loadAdapter('checkpoints/VLM2Vec-V2.0'));
 */
export function mergeAdapterInto(host: HostWeights, adapter: PeftAdapter): void {
  for (const mod of adapter.modules.values()) {
    const base = host.get(mod.baseWeight);
    if (!base) {
      throw new Vlm2VecError('adapter', `${adapter.dir}: adapter targets ${mod.module}, but the model has no tensor ${mod.baseWeight}`);
    }
    if (!(base.data instanceof Float32Array)) {
      throw new Vlm2VecError('adapter', `${adapter.dir}: ${mod.baseWeight} is already held as float16; merge adapters into float32 weights`);
    }
    if (base.shape.length !== 2) {
      throw new Vlm2VecError('adapter', `${adapter.dir}: ${mod.baseWeight} is [${base.shape.join(', ')}], not a linear weight`);
    }
    const [out, inF] = base.shape as [number, number];
    base.data = mergeAdapter(base.data, out, inF, {
      module: mod.module,
      a: toFloat32(mod.loraA.dtype, mod.loraA.data, `${mod.module}.lora_A`),
      b: toFloat32(mod.loraB.dtype, mod.loraB.data, `${mod.module}.lora_B`),
      r: mod.r,
      scaling: mod.scaling,
      magnitude: mod.magnitude ? toFloat32(mod.magnitude.dtype, mod.magnitude.data, `${mod.module}.lora_magnitude_vector`) : undefined,
    });
  }
}

/**
 * Builds the parameter tree of constant tensors (they become initializers under jit). A float16
 * matrix becomes `Cast(W16ᵀ → float32)ᵀ`: linear's own transpose cancels the outer one, so the
 * graph is MatMul(x, Cast(W16ᵀ)). Token embeddings stay a float16 tensor (the model gathers rows,
 * then casts them).
 *
 * @example const params = buildParams(await readQwen2VLWeights(ckpt, cfg), cfg); params.model.layers.length // 28
 */
export function buildParams(host: HostWeights, cfg: Qwen2VLConfig): Qwen2VLParams {
  const t = (name: string, shape?: number[]): Tensor => {
    const w = host.get(name);
    if (!w) throw new Vlm2VecError('weights', `tensor ${name} was not loaded`);
    const dims = shape ?? w.shape;
    if (w.data instanceof Float32Array) return fromArray(w.data, dims, 'float32');
    if (!('transposed' in w) || !w.transposed) return fromArray(w.data, dims, 'float16');
    if (dims.length !== 2) throw new Vlm2VecError('weights', `float16 tensor ${name} is stored transposed but used as [${dims.join(', ')}]`);
    return transpose(cast(fromArray(w.data, [dims[1]!, dims[0]!], 'float16'), 'float32'));
  };
  const lin = (p: string, bias: boolean): LinearParams => (bias ? { weight: t(`${p}.weight`), bias: t(`${p}.bias`) } : { weight: t(`${p}.weight`) });
  const ln = (p: string): LayerNormParams => ({ weight: t(`${p}.weight`), bias: t(`${p}.bias`) });
  const v = cfg.vision;
  const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
  const blocks: Qwen2VisionBlockParams[] = [];
  for (let i = 0; i < v.depth; i++) {
    const p = `visual.blocks.${i}`;
    blocks.push({
      norm1: ln(`${p}.norm1`),
      norm2: ln(`${p}.norm2`),
      attn: { qkv: lin(`${p}.attn.qkv`, true), proj: lin(`${p}.attn.proj`, true) },
      mlp: { fc1: lin(`${p}.mlp.fc1`, true), fc2: lin(`${p}.mlp.fc2`, true) },
    });
  }
  const layers: Qwen2DecoderLayerParams[] = [];
  for (let i = 0; i < cfg.text.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    layers.push({
      input_layernorm: { weight: t(`${p}.input_layernorm.weight`) },
      self_attn: {
        q_proj: lin(`${p}.self_attn.q_proj`, true),
        k_proj: lin(`${p}.self_attn.k_proj`, true),
        v_proj: lin(`${p}.self_attn.v_proj`, true),
        o_proj: lin(`${p}.self_attn.o_proj`, false),
      },
      post_attention_layernorm: { weight: t(`${p}.post_attention_layernorm.weight`) },
      mlp: { gate_proj: lin(`${p}.mlp.gate_proj`, false), up_proj: lin(`${p}.mlp.up_proj`, false), down_proj: lin(`${p}.mlp.down_proj`, false) },
    });
  }
  return {
    visual: {
      // Conv3d with kernel = stride = patch is a linear map over the flattened (c, t, y, x) patch.
      patch_embed: { proj: { weight: t('visual.patch_embed.proj.weight', [v.embedDim, patchDim]) } },
      blocks,
      merger: { ln_q: ln('visual.merger.ln_q'), mlp: { '0': lin('visual.merger.mlp.0', true), '2': lin('visual.merger.mlp.2', true) } },
    },
    model: { embed_tokens: { weight: t('model.embed_tokens.weight') }, layers, norm: { weight: t('model.norm.weight') } },
  };
}
