// LLaVA-NeXT set up for `vlm2vec train` (models/common/train-model.ts): forward.ts as a pure
// function of the trainable leaves (LoRA / DoRA factors, or the parameter tree for full
// fine-tuning), items prepared as the encoder prepares them (anyres patches, BOS, <image>
// expanded) and padded on the left, GradCache's row slices carrying their own images.
//
// With the reference's default --lora_target_modules, peft's suffix match adapts Mistral's
// q/k/v/o_proj, gate_proj, up_proj and down_proj and the CLIP tower's q/k/v_proj and out_proj;
// the projector (linear_1/2) and CLIP's fc1/fc2 are not matched.
//
// LoRA dropout (nn/dropout.ts): decoder inputs [rows, T, in] are keyed per row of the whole batch;
// the CLIP tower runs once per image ([patches, tokens, in]), keyed by the chunk and the image's
// index in it (common/train-adapter.ts partDropout).

import { Vlm2VecError } from '../../errors.ts';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import type { HfTokenizer } from '../../io/text/tokenizer.ts';
import type { Tensor } from '../../tensor/index.ts';
import { concat, fromArray, reshape } from '../../tensor/index.ts';
import { clipUnusedPaths, normalizationLut } from '../clip-vision/index.ts';
import { adapterTrainedWeights, adapterTrainSetup, decayRoles, factorLeaves, fullTrainedWeights, paddingRowFrozen, padImageRows, perImageTrainable, sliceImageRows, splitFrozen, splitUnusedFactors, type LoraFactorTree } from '../common/train-adapter.ts';
import type { LoadTrainModelArgs, TrainModel } from '../common/train-model.ts';
import type { EncoderInput, PreparedItem, TrainableEncoder } from '../encoder.ts';
import type { LlavaNextConfig } from './config.ts';
import { prepareLlavaItem, readLlavaImageSettings, type LlavaNextPrepared } from './encoder.ts';
import { llavaImageFeatures, llavaTextGraph } from './forward.ts';
import { packLlavaText, type LlavaBatchImage, type LlavaNextBatch } from './model.ts';
import { buildLlavaNextParams, canonicalLlavaName, llavaNextParamSpecs, readLlavaNextWeights, type LlavaNextParams } from './params.ts';

const VISION = 'vision_tower.';
const TOWER = 'vision_tower';

/** A padded training batch (imagesPerRow given) and, from `prepare`, a frozen tower's features per image. */
export interface LlavaTrainBatch extends LlavaNextBatch {
  readonly imagesPerRow: readonly number[];
  readonly frozenFeatures?: readonly Float32Array[] | undefined;
}

/** Left-padded batch of prepared rows. */
export function padLlavaRows(rows: readonly LlavaNextPrepared[], tokenizer: HfTokenizer): LlavaTrainBatch {
  return padImageRows(rows, tokenizer, 'left');
}

/** Rows [start, end) at the batch's full length, with their own images. */
export function sliceLlavaBatch(batch: LlavaTrainBatch, start: number, end: number): LlavaTrainBatch {
  return sliceImageRows<LlavaBatchImage, LlavaTrainBatch>(batch, start, end, 'llava_next');
}

/** One image's packed features [K, D] (lazy graph). */
function oneImage(p: LlavaNextParams, cfg: LlavaNextConfig, img: LlavaBatchImage): Tensor {
  const s = cfg.vision.imageSize;
  return llavaImageFeatures(p, cfg, fromArray(img.pixels, [img.numPatches, 3, s, s], 'float32'),
    fromArray(BigInt64Array.from(img.featureRows, (x) => BigInt(x)), [img.featureRows.length], 'int64'));
}

/** Pooled reps: each image through the tower on its own (`params(j)`: the tree image j sees), then Mistral. */
function repsOf(params: (image: number) => LlavaNextParams, cfg: LlavaNextConfig, batch: LlavaTrainBatch, normalize: boolean): Tensor {
  const [b, l] = batch.shape;
  const d = cfg.text.hiddenSize;
  const parts = batch.images.map((img, j) => {
    const f = batch.frozenFeatures?.[j];
    return f === undefined ? oneImage(params(j), cfg, img) : fromArray(f, [f.length / d, d], 'float32');
  });
  const k = batch.images.reduce((a, img) => a + img.featureRows.length, 0);
  const { positions, last, scatter } = packLlavaText(batch, cfg.imageTokenId, k);
  const feats = parts.length === 0 ? fromArray(new Float32Array(0), [0, d], 'float32') : parts.length === 1 ? parts[0]! : concat(parts, 0);
  const out = llavaTextGraph(params(-1).language_model.model, cfg, fromArray(batch.inputIds, [b, l], 'int64'), fromArray(batch.attentionMask, [b, l], 'int64'),
    fromArray(positions, [b, l], 'int64'), fromArray(last, [b, 2], 'int64'), fromArray(scatter, [k, 2], 'int64'), reshape(feats, [k, d]));
  return normalize ? out.embedding : out.hidden;
}

const slicer = {
  rows: (batch: LlavaTrainBatch) => batch.shape[0],
  sliceRows: sliceLlavaBatch,
};

/**
 * The trainable encoder with LoRA / DoRA factors as the leaves (`params` frozen, captured): see
 * perImageTrainable (common/train-adapter.ts).
 *
 * @example const enc = llavaNextTrainable(params, cfg, { scaling: 4, normalize: true, dropout: 0.1 });
 */
export function llavaNextTrainable(params: LlavaNextParams, cfg: LlavaNextConfig, opts: { scaling: number; normalize: boolean; dropout: number }): TrainableEncoder<LoraFactorTree, LlavaTrainBatch> {
  return perImageTrainable<LlavaNextParams, LlavaBatchImage, LlavaTrainBatch>(params, opts, {
    vision: VISION,
    sliceRows: sliceLlavaBatch,
    imageFeatures: (p, img) => oneImage(p, cfg, img),
    reps: (perImage, batch) => repsOf(perImage, cfg, batch, opts.normalize),
  });
}

/**
 * LLaVA-NeXT for `vlm2vec train`: see the file header.
 *
 * @example const tm = await loadLlavaNextTrainModel({ dir, config, configJson, tokenizer, processor: {}, normalize: true, init: { kind: 'full', freezeVision: false } });
 */
export async function loadLlavaNextTrainModel(args: LoadTrainModelArgs<LlavaNextConfig>): Promise<TrainModel> {
  const { config: cfg, init } = args;
  const ckpt = await Checkpoint.open(args.dir);
  const host = await readLlavaNextWeights(ckpt, cfg).finally(() => ckpt.close());
  const specs = llavaNextParamSpecs(cfg);
  const params = buildLlavaNextParams(host, cfg);
  const settings = await readLlavaImageSettings(args.dir, cfg);
  const lut = normalizationLut(settings);
  const common = {
    prepare: (input: EncoderInput): PreparedItem => {
      const row = prepareLlavaItem(input, args.tokenizer, cfg, settings, lut);
      if (args.maxLen !== undefined && row.ids.length > args.maxLen) {
        if (row.images.length > 0) {
          throw new Vlm2VecError('llava_next', `an item with an image has ${row.ids.length} tokens, over --max_len ${args.maxLen}; cutting it would cut image placeholders (raise --max_len)`);
        }
        return { ...row, ids: row.ids.slice(0, args.maxLen) };
      }
      return row;
    },
    batch: (rows: readonly PreparedItem[]): LlavaTrainBatch => padLlavaRows(rows as readonly LlavaNextPrepared[], args.tokenizer),
  };
  // The CLIP layers after the feature layer (and post_layernorm) never run: torch gives them no
  // gradient, so AdamW (weight decay included) leaves them as they are; here they are no leaves.
  const unused = clipUnusedPaths(`${TOWER}.vision_model`, cfg.vision, cfg.visionFeatureLayer);
  if (init.kind === 'full') {
    const kept = init.freezeVision ? [TOWER] : unused;
    const { trainable, join } = splitFrozen(params, kept);
    return {
      ...common,
      encoder: {
        ...slicer,
        reps: (p, b) => {
          // Mistral's / Llama's nn.Embedding has padding_idx = text_config.pad_token_id: that row gets no gradient (even where the id is a real token).
          const t = join(p);
          const pad = cfg.text.padTokenId;
          const lm = t.language_model.model;
          const tree = pad === null ? t : { ...t, language_model: { ...t.language_model, model: { ...lm, embed_tokens: { weight: paddingRowFrozen(lm.embed_tokens.weight, pad) } } } };
          return repsOf(() => tree, cfg, b as LlavaTrainBatch, args.normalize);
        },
      },
      params: trainable,
      role: decayRoles(specs),
      weights: (leaves) => fullTrainedWeights(specs, host, args.configJson, args.dir, leaves, kept),
    };
  }
  const a = adapterTrainSetup('llava_next', specs, host, init, 'q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj; out_proj in the CLIP tower', canonicalLlavaName);
  const { trained, kept } = splitUnusedFactors(a.factors, unused);
  const keptLeaves = await factorLeaves(kept);
  return {
    ...common,
    encoder: llavaNextTrainable(params, cfg, { scaling: a.scaling, normalize: args.normalize, dropout: a.dropout }),
    params: trained,
    role: () => 'lora',
    // transformers 4.x module paths, as TIGER-Lab/VLM2Vec-LLaVa-Next's files name them.
    weights: (leaves) => adapterTrainedWeights('llava_next', specs, a.config, [...leaves, ...keptLeaves], 'transformers4'),
  };
}
