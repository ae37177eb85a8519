// LLaVA-NeXT's parameters, declared once under the names of the transformers-4.x checkpoints
// (llava-hf/llava-v1.6-*, TIGER-Lab/VLM2Vec-LLaVa-Next):
//   vision_tower.vision_model.*            the CLIP tower (models/clip-vision)
//   multi_modal_projector.linear_{1,2}.*   the projector (vision hidden → text hidden → text hidden)
//   image_newline                          [D], appended after every row of grid features
//   language_model.model.*                 the Mistral / Llama decoder (lm_head is never read)
// transformers ≥ 5 writes `model.vision_tower.*` (without `vision_model.` since 5.x flattened
// CLIPVisionModel), `model.multi_modal_projector.*`, `model.image_newline` and
// `model.language_model.*`; `canonicalLlavaName` maps those (and PEFT's module paths) to the
// 4.x names.

import type { Checkpoint } from '../../io/weights/checkpoint.ts';
import type { PeftAdapter } from '../../io/weights/peft.ts';
import type { Tensor } from '../../tensor/index.ts';
import { declareClipVisionParams } from '../clip-vision/index.ts';
import { heldTensor, type HostWeights, type WeightDtype } from '../common/float16.ts';
import { collectParamSpecs, VarBuilder, type ParamSpec } from '../common/param-spec.ts';
import { readWeights, type ModelLoadEvent } from '../common/weights.ts';
import type { LlavaNextConfig } from './config.ts';

/**
 * A stored tensor name (or PEFT base-weight name) of either transformers layout → the 4.x name.
 * PEFT module paths arrive already mapped by io/weights/peft.ts, which turns 5.x's
 * `model.language_model.X` into `model.X`; those are language-model paths here.
 *
 * @example canonicalLlavaName('model.vision_tower.encoder.layers.0.mlp.fc1.weight') // 'vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight'
 */
export function canonicalLlavaName(name: string): string {
  if (name.startsWith('model.language_model.')) return `language_model.model.${name.slice('model.language_model.'.length)}`;
  if (/^model\.(layers|embed_tokens|norm)\./.test(name)) return `language_model.${name}`;
  if (name.startsWith('model.vision_tower.')) {
    const rest = name.slice('model.vision_tower.'.length);
    return `vision_tower.${rest.startsWith('vision_model.') ? rest : `vision_model.${rest}`}`;
  }
  if (name.startsWith('model.')) return name.slice('model.'.length);
  return name;
}

/**
 * Every parameter of LLaVA-NeXT (the embedding path: no lm_head).
 *
 * @example declareLlavaNextParams(cfg, vb).language_model.model.layers.length // 32 for llava-v1.6-mistral-7b
 */
export function declareLlavaNextParams<L>(cfg: LlavaNextConfig, vb: VarBuilder<L>) {
  const t = cfg.text;
  const D = t.hiddenSize;
  const E = cfg.vision.hiddenSize;
  const q = t.numAttentionHeads * t.headDim;
  const kv = t.numKeyValueHeads * t.headDim;
  const I = t.intermediateSize;
  const proj = (out: number, inF: number) => (vb: VarBuilder<L>) => (cfg.projectorBias ? vb.linear(out, inF, true) : vb.linear(out, inF, false));
  return vb.obj({
    vision_tower: (vb) => vb.obj({ vision_model: (vb) => declareClipVisionParams(cfg.vision, vb) }),
    multi_modal_projector: (vb) => vb.obj({ linear_1: proj(D, E), linear_2: proj(D, D) }),
    image_newline: (vb) => vb.param([D], 'bias'),
    language_model: (vb) => vb.obj({
      model: (vb) => vb.obj({
        embed_tokens: (vb) => vb.embedding(t.vocabSize, D),
        layers: (vb) => vb.list(t.numHiddenLayers, (vb) => vb.obj({
          input_layernorm: (vb) => vb.rmsNorm(D),
          self_attn: (vb) => vb.obj({
            q_proj: (vb) => vb.linear(q, D, false),
            k_proj: (vb) => vb.linear(kv, D, false),
            v_proj: (vb) => vb.linear(kv, D, false),
            o_proj: (vb) => vb.linear(D, q, false),
          }),
          post_attention_layernorm: (vb) => vb.rmsNorm(D),
          mlp: (vb) => vb.obj({
            gate_proj: (vb) => vb.linear(I, D, false),
            up_proj: (vb) => vb.linear(I, D, false),
            down_proj: (vb) => vb.linear(D, I, false),
          }),
        })),
        norm: (vb) => vb.rmsNorm(D),
      }),
    }),
  });
}

export type LlavaNextParams = ReturnType<typeof declareLlavaNextParams<Tensor>>;
export type LlavaTextParams = LlavaNextParams['language_model']['model'];

/** Every parameter's spec, in declaration order. */
export function llavaNextParamSpecs(cfg: LlavaNextConfig): ParamSpec[] {
  return collectParamSpecs((vb) => declareLlavaNextParams(cfg, vb));
}

/** The adapter with its base-weight names mapped to the 4.x checkpoint names (see {@link canonicalLlavaName}). */
export function canonicalAdapter(adapter: PeftAdapter): PeftAdapter {
  const modules = new Map([...adapter.modules].map(([k, m]) => [k, { ...m, baseWeight: canonicalLlavaName(m.baseWeight) }]));
  return { ...adapter, modules };
}

/**
 * Reads every declared tensor (either layout), merging a LoRA / DoRA adapter.
 *
 * @example const host = await readLlavaNextWeights(ckpt, cfg, adapter);
 */
export async function readLlavaNextWeights(ckpt: Checkpoint, cfg: LlavaNextConfig, adapter?: PeftAdapter, dtype: WeightDtype = 'float32',
  onProgress?: (e: ModelLoadEvent) => void): Promise<HostWeights> {
  return readWeights(ckpt, llavaNextParamSpecs(cfg), {
    adapter: adapter === undefined ? undefined : canonicalAdapter(adapter), dtype, onProgress, canonicalName: canonicalLlavaName,
    expected: `a llava_next checkpoint with ${cfg.text.numHiddenLayers} LM layers and ${cfg.vision.numHiddenLayers} CLIP layers`,
  });
}

/** The tensor tree over host weights. */
export function buildLlavaNextParams(host: HostWeights, cfg: LlavaNextConfig): LlavaNextParams {
  return declareLlavaNextParams(cfg, new VarBuilder((s) => heldTensor(host, s)));
}
