// The CLIP vision tower's parameters, declared once under the caller's path prefix (the
// checkpoint names differ per model: `vision_tower.vision_model.` in LLaVA-NeXT,
// `model.vision_embed_tokens.img_processor.vision_model.` in Phi-3-V): the caller hands a
// VarBuilder already at that prefix, e.g. `vb.pp('vision_tower').pp('vision_model')`.
// Names below the prefix are transformers' CLIPVisionTransformer's.

import type { VarBuilder } from '../common/param-spec.ts';
import type { Tensor } from '../../tensor/index.ts';
import type { ClipVisionConfig } from './config.ts';

/**
 * Every parameter of a CLIPVisionTransformer (`embeddings.*`, `pre_layrnorm`, `encoder.layers.N.*`,
 * `post_layernorm`). All layers are declared even when a feature layer below the last is read, so
 * a checkpoint and an adapter touching any of them load unchanged; the unused ones never enter a
 * traced graph.
 *
 * @example
 * declareClipVisionParams(cfg, vb.pp('vision_tower').pp('vision_model')).encoder.layers.length // 24 for ViT-L/14
 */
export function declareClipVisionParams<L>(cfg: ClipVisionConfig, vb: VarBuilder<L>) {
  const E = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const P = cfg.patchSize;
  const C = cfg.numChannels;
  return vb.obj({
    embeddings: (vb) => vb.obj({
      class_embedding: (vb) => vb.param([E], 'bias'), // [E], the CLS token
      // Conv2d(C, E, P, stride P, bias=False): a linear map over each flattened (c, y, x) patch.
      patch_embedding: (vb) => ({ weight: vb.pp('weight').param([E, C, P, P], 'linear', [E, C * P * P]) }),
      position_embedding: (vb) => vb.embedding(cfg.numPatches + 1, E), // [1 + patches, E]
    }),
    pre_layrnorm: (vb) => vb.layerNorm(E), // sic: the checkpoint's spelling
    encoder: (vb) => vb.obj({
      layers: (vb) => vb.list(cfg.numHiddenLayers, (vb) => vb.obj({
        layer_norm1: (vb) => vb.layerNorm(E),
        self_attn: (vb) => vb.obj({
          q_proj: (vb) => vb.linear(E, E, true),
          k_proj: (vb) => vb.linear(E, E, true),
          v_proj: (vb) => vb.linear(E, E, true),
          out_proj: (vb) => vb.linear(E, E, true),
        }),
        layer_norm2: (vb) => vb.layerNorm(E),
        mlp: (vb) => vb.obj({ fc1: (vb) => vb.linear(I, E, true), fc2: (vb) => vb.linear(E, I, true) }),
      })),
    }),
    post_layernorm: (vb) => vb.layerNorm(E),
  });
}

/** The tower's tensor tree. */
export type ClipVisionParams = ReturnType<typeof declareClipVisionParams<Tensor>>;
/** One encoder layer's tensors. */
export type ClipEncoderLayerParams = ClipVisionParams['encoder']['layers'][number];
