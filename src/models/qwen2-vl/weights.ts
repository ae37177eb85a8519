// Qwen2-VL checkpoint → float32 parameter tree named like the checkpoint (spec §2.6):
// `visual.blocks.0.attn.qkv.weight`, `model.layers.0.self_attn.q_proj.weight`, ...
// transformers ≥ 5 `save_pretrained` writes `model.visual.*` / `model.language_model.*`; both are
// mapped to the 4.x names at load. bf16 / f16 tensors are widened to float32. Every expected
// tensor is shape-checked against the config; a PEFT LoRA/DoRA adapter is merged on the way in.

import { Vlm2VecError } from '../../errors.ts';
import type { PeftAdapter } from '../../io/peft.ts';
import type { SafetensorsCheckpoint } from '../../io/safetensors-sharded.ts';
import { toFloat32 } from '../../io/safetensors-dtype.ts';
import type { LayerNormParams, LinearParams, Qwen2DecoderLayerParams, Qwen2VisionBlockParams, RmsNormParams } from '../../nn/index.ts';
import type { Tensor } from '../../tensor/index.ts';
import { fromArray } from '../../tensor/index.ts';
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

/** Host float32 weights by canonical name. */
export type HostWeights = Map<string, { data: Float32Array; shape: number[] }>;

/**
 * Reads every expected tensor as float32 (bf16/f16 widened), checking names and shapes, and
 * merges `adapter` (LoRA or DoRA) into the adapted linear weights.
 *
 * @example
 * const host = await readQwen2VLWeights(ckpt, cfg, adapter); // Map('model.norm.weight' → {data, shape})
 */
export async function readQwen2VLWeights(ckpt: SafetensorsCheckpoint, cfg: Qwen2VLConfig, adapter?: PeftAdapter): Promise<HostWeights> {
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
  for (const [name, shape] of expected) {
    const stored = byCanonical.get(name)!;
    const info = ckpt.info(stored);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Vlm2VecError('weights', `${ckpt.source}: tensor ${stored} has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`);
    }
    const raw = await ckpt.read(stored);
    let data = toFloat32(raw.dtype, raw.data, stored);
    // toFloat32 returns F32 data as a view of the file buffer; copy so merges never alias it.
    if (data === raw.data) data = new Float32Array(data);
    host.set(name, { data, shape: [...shape] });
  }
  if (adapter) mergeAdapterInto(host, adapter);
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
 * Builds the parameter tree of constant tensors (they become initializers under jit).
 *
 * @example const params = buildParams(await readQwen2VLWeights(ckpt, cfg), cfg); params.model.layers.length // 28
 */
export function buildParams(host: HostWeights, cfg: Qwen2VLConfig): Qwen2VLParams {
  const t = (name: string, shape?: number[]): Tensor => {
    const w = host.get(name);
    if (!w) throw new Vlm2VecError('weights', `tensor ${name} was not loaded`);
    return fromArray(w.data, shape ?? w.shape, 'float32');
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
