// Phi-3-V checkpoint → parameter tree named like the checkpoint (transformers 4.x names, as the
// published microsoft/Phi-3.5-vision-instruct and TIGER-Lab/VLM2Vec-Full files carry them):
//   model.embed_tokens, model.layers.N.self_attn.{qkv_proj,o_proj} (fused q|k|v rows, no biases),
//   model.layers.N.mlp.{gate_up_proj,down_proj} (fused gate|up rows), the RMSNorms, model.norm,
//   model.vision_embed_tokens.{glb_GN, sub_GN, img_projection.{0,2}} and the CLIP tower under
//   model.vision_embed_tokens.img_processor.vision_model.*.
// transformers 5 names CLIPVisionModel's tensors without `vision_model.`; both load. The lm_head
// and the alias vision_embed_tokens.wte (the same module as embed_tokens) are not read.

import type { Checkpoint } from '../../io/weights/checkpoint.ts';
import type { PeftAdapter } from '../../io/weights/peft.ts';
import type { Tensor } from '../../tensor/index.ts';
import { declareClipVisionParams } from '../clip-vision/index.ts';
import { heldTensor, type HostWeights, type WeightDtype } from '../common/float16.ts';
import { collectParamSpecs, VarBuilder, type ParamSpec } from '../common/param-spec.ts';
import { readWeights, type ModelLoadEvent } from '../common/weights.ts';
import type { Phi3VConfig } from './config.ts';

const CLIP_PREFIX = 'model.vision_embed_tokens.img_processor.';

/**
 * Maps a stored tensor name to the 4.x layout (transformers 5's `img_processor.X` → `img_processor.vision_model.X`).
 *
 * @example canonicalPhi3VName('model.vision_embed_tokens.img_processor.pre_layrnorm.weight') // '...img_processor.vision_model.pre_layrnorm.weight'
 */
export function canonicalPhi3VName(name: string): string {
  if (name.startsWith(CLIP_PREFIX) && !name.startsWith(`${CLIP_PREFIX}vision_model.`)) return `${CLIP_PREFIX}vision_model.${name.slice(CLIP_PREFIX.length)}`;
  return name;
}

/**
 * Every parameter of Phi-3-V, declared once (paths are the object keys).
 *
 * @example const params = declarePhi3VParams(cfg, new VarBuilder((s) => heldTensor(host, s)));
 */
export function declarePhi3VParams<L>(cfg: Phi3VConfig, vb: VarBuilder<L>) {
  const t = cfg.text;
  const D = t.hiddenSize;
  const q = t.numAttentionHeads * t.headDim;
  const kv = t.numKeyValueHeads * t.headDim;
  const I = t.intermediateSize;
  const merged = 4 * cfg.image.imageDimOut;
  return vb.obj({
    model: (vb) => vb.obj({
      embed_tokens: (vb) => vb.embedding(t.vocabSize, D),
      vision_embed_tokens: (vb) => vb.obj({
        glb_GN: (vb) => vb.param([1, 1, merged], 'bias'), // separator between the crops and the global view
        sub_GN: (vb) => vb.param([1, 1, 1, merged], 'bias'), // appended to every row of merged tokens
        img_processor: (vb) => vb.obj({ vision_model: (vb) => declareClipVisionParams(cfg.vision, vb) }),
        img_projection: (vb) => vb.obj({ '0': (vb) => vb.linear(D, merged, true), '2': (vb) => vb.linear(D, D, true) }),
      }),
      layers: (vb) => vb.list(t.numHiddenLayers, (vb) => vb.obj({
        input_layernorm: (vb) => vb.rmsNorm(D),
        self_attn: (vb) => vb.obj({
          qkv_proj: (vb) => vb.linear(q + 2 * kv, D, false), // rows [q | k | v]
          o_proj: (vb) => vb.linear(D, q, false),
        }),
        post_attention_layernorm: (vb) => vb.rmsNorm(D),
        mlp: (vb) => vb.obj({
          gate_up_proj: (vb) => vb.linear(2 * I, D, false), // rows [gate | up]
          down_proj: (vb) => vb.linear(D, I, false),
        }),
      })),
      norm: (vb) => vb.rmsNorm(D),
    }),
  });
}

export type Phi3VParams = ReturnType<typeof declarePhi3VParams<Tensor>>;
export type Phi3VImageParams = Phi3VParams['model']['vision_embed_tokens'];
export type Phi3DecoderLayerParams = Phi3VParams['model']['layers'][number];

/** Every parameter's spec (checkpoint path, shape, role), in declaration order. */
export function phi3VParamSpecs(cfg: Phi3VConfig): ParamSpec[] {
  return collectParamSpecs((vb) => declarePhi3VParams(cfg, vb));
}

/**
 * Reads every declared tensor (names and shapes checked) and merges `adapter`.
 *
 * @example const host = await readPhi3VWeights(ckpt, cfg, adapter);
 */
export async function readPhi3VWeights(ckpt: Checkpoint, cfg: Phi3VConfig, adapter?: PeftAdapter, dtype: WeightDtype = 'float32',
  onProgress?: (e: ModelLoadEvent) => void): Promise<HostWeights> {
  return readWeights(ckpt, phi3VParamSpecs(cfg), {
    adapter, dtype, onProgress, canonicalName: canonicalPhi3VName,
    expected: `a phi3_v checkpoint with ${cfg.text.numHiddenLayers} LM layers and a ${cfg.vision.numHiddenLayers}-layer CLIP tower`,
  });
}

/** The parameter tree of constant tensors (initializers under jit). */
export function buildPhi3VParams(host: HostWeights, cfg: Phi3VConfig): Phi3VParams {
  return declarePhi3VParams(cfg, new VarBuilder((s) => heldTensor(host, s)));
}
