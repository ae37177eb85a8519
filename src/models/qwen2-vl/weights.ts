// Qwen2-VL checkpoint → parameter tree named like the checkpoint (docs/vlm2vec.md §2.6):
// `visual.blocks.0.attn.qkv.weight`, `model.layers.0.self_attn.q_proj.weight`, ...
// transformers ≥ 5 `save_pretrained` writes `model.visual.*` / `model.language_model.*`; both are
// mapped to the 4.x names at load. Every parameter is declared once, in `declareQwen2VLParams`
// (common/param-spec.ts): the checkpoint check, the loader, the tree type and the trainable/frozen
// split all come from it. Holding (float32 / float16) is common/float16.ts; reading and adapter
// merging common/weights.ts.

import type { Checkpoint } from '../../io/weights/checkpoint.ts';
import type { PeftAdapter } from '../../io/weights/peft.ts';
import type { Tensor } from '../../tensor/index.ts';
import { heldTensor, type HostWeights, type WeightDtype } from '../common/float16.ts';
import { collectParamSpecs, VarBuilder, type ParamSpec } from '../common/param-spec.ts';
import { readWeights, type ModelLoadEvent } from '../common/weights.ts';
import type { Qwen2VLConfig } from './config.ts';

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
 * Every parameter of Qwen2-VL, declared once: paths are the object keys, shapes and roles come
 * from the config. `L` is what a leaf becomes (a spec, a loaded tensor, …).
 *
 * @example const params = declareQwen2VLParams(cfg, new VarBuilder((s) => heldTensor(host, s)));
 */
export function declareQwen2VLParams<L>(cfg: Qwen2VLConfig, vb: VarBuilder<L>) {
  const t = cfg.text;
  const v = cfg.vision;
  const E = v.embedDim;
  const merged = E * v.spatialMergeSize * v.spatialMergeSize;
  const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
  const D = t.hiddenSize;
  const q = t.numAttentionHeads * t.headDim;
  const kv = t.numKeyValueHeads * t.headDim;
  const I = t.intermediateSize;
  return vb.obj({
    visual: (vb) => vb.obj({
      // Conv3d with kernel = stride = patch is a linear map over the flattened (c, t, y, x) patch.
      patch_embed: (vb) => vb.obj({
        proj: (vb) => ({ weight: vb.pp('weight').param([E, v.inChannels, v.temporalPatchSize, v.patchSize, v.patchSize], 'linear', [E, patchDim]) }),
      }),
      blocks: (vb) => vb.list(v.depth, (vb) => vb.obj({
        norm1: (vb) => vb.layerNorm(E), // [E]
        norm2: (vb) => vb.layerNorm(E), // [E]
        attn: (vb) => vb.obj({
          qkv: (vb) => vb.linear(3 * E, E, true), // rows laid out [q | k | v]
          proj: (vb) => vb.linear(E, E, true),
        }),
        mlp: (vb) => vb.obj({ fc1: (vb) => vb.linear(v.mlpHiddenDim, E, true), fc2: (vb) => vb.linear(E, v.mlpHiddenDim, true) }),
      })),
      merger: (vb) => vb.obj({
        ln_q: (vb) => vb.layerNorm(E),
        mlp: (vb) => vb.obj({ '0': (vb) => vb.linear(merged, merged, true), '2': (vb) => vb.linear(v.hiddenSize, merged, true) }),
      }),
    }),
    model: (vb) => vb.obj({
      embed_tokens: (vb) => vb.embedding(t.vocabSize, D), // [V, D]
      layers: (vb) => vb.list(t.numHiddenLayers, (vb) => vb.obj({
        input_layernorm: (vb) => vb.rmsNorm(D),
        self_attn: (vb) => vb.obj({
          q_proj: (vb) => vb.linear(q, D, true), // [H·hd, D]
          k_proj: (vb) => vb.linear(kv, D, true), // [Hkv·hd, D]
          v_proj: (vb) => vb.linear(kv, D, true), // [Hkv·hd, D]
          o_proj: (vb) => vb.linear(D, q, false), // [D, H·hd], no bias
        }),
        post_attention_layernorm: (vb) => vb.rmsNorm(D),
        mlp: (vb) => vb.obj({
          gate_proj: (vb) => vb.linear(I, D, false), // [I, D]
          up_proj: (vb) => vb.linear(I, D, false), // [I, D]
          down_proj: (vb) => vb.linear(D, I, false), // [D, I]
        }),
      })),
      norm: (vb) => vb.rmsNorm(D),
    }),
  });
}

/** The parameter tree with leaves of type `L`, keyed exactly like the 4.x checkpoint. */
export type Qwen2VLParamTree<L> = ReturnType<typeof declareQwen2VLParams<L>>;
/** The tree the math reads. */
export type Qwen2VLParams = Qwen2VLParamTree<Tensor>;
/** Vision tower parameters (`visual.*`); the Conv3d patch kernel is used as [E, C·T·P·P]. */
export type Qwen2VLVisionParams = Qwen2VLParams['visual'];
/** Language model parameters (`model.*`). */
export type Qwen2VLTextParams = Qwen2VLParams['model'];

/**
 * Every parameter's spec (checkpoint path, shape, role), in declaration order.
 *
 * @example qwen2VLParamSpecs(cfg).find((s) => s.path === 'visual.patch_embed.proj.weight')!.shape // [1280, 3, 2, 14, 14] for Qwen2-VL-2B
 */
export function qwen2VLParamSpecs(cfg: Qwen2VLConfig): ParamSpec[] {
  return collectParamSpecs((vb) => declareQwen2VLParams(cfg, vb));
}

/**
 * Every tensor the model needs, with its checkpoint shape.
 *
 * @example expectedTensors(cfg).get('visual.patch_embed.proj.weight') // [1280, 3, 2, 14, 14] for Qwen2-VL-2B
 */
export function expectedTensors(cfg: Qwen2VLConfig): Map<string, number[]> {
  return new Map(qwen2VLParamSpecs(cfg).map((s) => [s.path, [...s.shape]]));
}

/**
 * Reads every declared tensor, checking names and shapes, and merges `adapter` (see
 * common/weights.ts readWeights).
 *
 * @example
 * const host = await readQwen2VLWeights(ckpt, cfg, adapter); // Map('model.norm.weight' → {data, shape})
 * const half = await readQwen2VLWeights(ckpt, cfg, undefined, 'float16'); // matrices as Uint16Array
 */
export async function readQwen2VLWeights(ckpt: Checkpoint, cfg: Qwen2VLConfig, adapter?: PeftAdapter, dtype: WeightDtype = 'float32',
  onProgress?: (e: ModelLoadEvent) => void): Promise<HostWeights> {
  return readWeights(ckpt, qwen2VLParamSpecs(cfg), {
    adapter, dtype, onProgress, canonicalName: canonicalTensorName,
    expected: `a qwen2_vl checkpoint with ${cfg.text.numHiddenLayers} LM layers and ${cfg.vision.depth} vision blocks`,
  });
}

/**
 * Builds the parameter tree of constant tensors (they become initializers under jit; float16
 * matrices as common/float16.ts heldTensor makes them).
 *
 * @example const params = buildParams(await readQwen2VLWeights(ckpt, cfg), cfg); params.model.layers.length // 28
 */
export function buildParams(host: HostWeights, cfg: Qwen2VLConfig): Qwen2VLParams {
  return declareQwen2VLParams(cfg, new VarBuilder((s) => heldTensor(host, s)));
}
