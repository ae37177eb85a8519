// Phi-3-V set up for `vlm2vec train` (models/common/train-model.ts): the forward of forward.ts as
// a pure function of the trainable leaves (LoRA / DoRA factors, or the parameter tree for full
// fine-tuning), items prepared as the encoder prepares them (HD crops, per-chunk BOS, −N image
// placeholders) and padded on the right, GradCache's row slices carrying their own images.
//
// With the reference's default --lora_target_modules, peft's suffix match adapts the decoder's
// qkv_proj, o_proj, gate_up_proj and down_proj and the CLIP tower's q/k/v_proj and out_proj; the
// image projection (img_projection.0/.2) and CLIP's fc1/fc2 are not matched.
//
// LoRA dropout (nn/dropout.ts): decoder inputs [rows, T, in] are keyed per row of the whole batch;
// the CLIP tower runs once per image ([crops, tokens, in], no row axis), so its masks are keyed by
// the chunk and the image's index in it (the spec's `part`), whatever the input's rank.

import { Vlm2VecError } from '../../errors.ts';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import type { HfTokenizer } from '../../io/text/tokenizer.ts';
import type { Tensor } from '../../tensor/index.ts';
import { concat, fromArray, reshape } from '../../tensor/index.ts';
import { adapterTrainedWeights, adapterTrainSetup, decayRoles, factorLeaves, fullTrainedWeights, paddingRowFrozen, padImageRows, perImageTrainable, sliceImageRows, splitFrozen, splitUnusedFactors, type LoraFactorTree } from '../common/train-adapter.ts';
import { clipUnusedPaths } from '../clip-vision/index.ts';
import type { LoadTrainModelArgs, TrainModel } from '../common/train-model.ts';
import type { EncoderInput, PreparedItem, TrainableEncoder } from '../encoder.ts';
import type { Phi3VConfig } from './config.ts';
import { preparePhi3VItem, type Phi3VPrepared, type Phi3VProcessorSettings } from './encoder.ts';
import { imageFeatures, imageTokenOrder, textGraph } from './forward.ts';
import { packText, type Phi3VBatch } from './model.ts';
import { CROP_SIZE } from './processor.ts';
import { buildPhi3VParams, canonicalPhi3VName, phi3VParamSpecs, readPhi3VWeights, type Phi3VParams } from './weights.ts';

const VISION = 'model.vision_embed_tokens.';
const TOWER = 'model.vision_embed_tokens.img_processor';

/** A padded training batch: the images of each row, and (from `prepare`) a frozen tower's features per image. */
export interface Phi3VTrainBatch extends Phi3VBatch {
  readonly imagesPerRow: readonly number[];
  readonly frozenFeatures?: readonly Float32Array[] | undefined;
}

/** Right-padded batch of prepared rows. */
export function padPhi3VRows(rows: readonly Phi3VPrepared[], tokenizer: HfTokenizer): Phi3VTrainBatch {
  return padImageRows(rows, tokenizer, 'right');
}

/** Rows [start, end) at the batch's full length, with their own images. */
export function slicePhi3VBatch(batch: Phi3VTrainBatch, start: number, end: number): Phi3VTrainBatch {
  return sliceImageRows<Phi3VBatch['images'][number], Phi3VTrainBatch>(batch, start, end, 'phi3_v');
}

/** One image's projected features [K, D] (lazy graph). */
function oneImage(p: Phi3VParams, cfg: Phi3VConfig, img: Phi3VBatch['images'][number]): Tensor {
  const n = 1 + img.rows * img.cols;
  const order = imageTokenOrder([img], cfg.image.tokensPerSide);
  return imageFeatures(p.model.vision_embed_tokens, cfg, fromArray(img.pixels, [n, 3, CROP_SIZE, CROP_SIZE], 'float32'), fromArray(order, [order.length], 'int64'));
}

/**
 * Pooled reps of a batch: each image through the tower on its own (as the encoder runs them;
 * `params(j)` gives the tree image j sees, with its dropout masks), the features written at the
 * placeholders, the decoder, last real token.
 */
function repsOf(params: (image: number) => Phi3VParams, cfg: Phi3VConfig, batch: Phi3VTrainBatch, normalize: boolean): Tensor {
  const [b, l] = batch.shape;
  const d = cfg.text.hiddenSize;
  const p = packText(batch);
  const parts = batch.images.map((img, j) => {
    const f = batch.frozenFeatures?.[j];
    return f === undefined ? oneImage(params(j), cfg, img) : fromArray(f, [f.length / d, d], 'float32');
  });
  const k = p.scatter.length / 2;
  const feats = parts.length === 0 ? fromArray(new Float32Array(0), [0, d], 'float32') : parts.length === 1 ? parts[0]! : concat(parts, 0);
  if ((feats.shape[0] as number) !== k) {
    throw new Vlm2VecError('phi3_v', `the batch has ${k} image placeholder tokens but its ${batch.images.length} image(s) give ${String(feats.shape[0])} features`);
  }
  const out = textGraph(params(-1).model, cfg, fromArray(p.ids, [b, l], 'int64'), fromArray(batch.attentionMask, [b, l], 'int64'),
    fromArray(p.last, [b, 2], 'int64'), fromArray(p.scatter, [k, 2], 'int64'), reshape(feats, [k, d]));
  return normalize ? out.embedding : out.hidden;
}

const slicer = {
  rows: (batch: Phi3VTrainBatch) => batch.shape[0],
  sliceRows: slicePhi3VBatch,
};

/**
 * The trainable encoder with LoRA / DoRA factors as the leaves (`params` frozen, captured): see
 * perImageTrainable (common/train-adapter.ts).
 *
 * @example const enc = phi3VTrainable(params, cfg, { scaling: 4, normalize: true, dropout: 0.1 });
 */
export function phi3VTrainable(params: Phi3VParams, cfg: Phi3VConfig, opts: { scaling: number; normalize: boolean; dropout: number }): TrainableEncoder<LoraFactorTree, Phi3VTrainBatch> {
  return perImageTrainable<Phi3VParams, Phi3VBatch['images'][number], Phi3VTrainBatch>(params, opts, {
    vision: VISION,
    sliceRows: slicePhi3VBatch,
    imageFeatures: (p, img) => oneImage(p, cfg, img),
    reps: (perImage, batch) => repsOf(perImage, cfg, batch, opts.normalize),
  });
}

/**
 * Phi-3-V for `vlm2vec train`: see the file header.
 *
 * @example const tm = await loadPhi3VTrainModel({ dir, config, configJson, tokenizer, processor: {}, normalize: true, init: { kind: 'full', freezeVision: false } });
 */
export async function loadPhi3VTrainModel(args: LoadTrainModelArgs<Phi3VConfig>): Promise<TrainModel> {
  const { config: cfg, init } = args;
  const ckpt = await Checkpoint.open(args.dir);
  const host = await readPhi3VWeights(ckpt, cfg).finally(() => ckpt.close());
  const specs = phi3VParamSpecs(cfg);
  const params = buildPhi3VParams(host, cfg);
  const processor = args.processor as Phi3VProcessorSettings;
  const common = {
    prepare: (input: EncoderInput): PreparedItem => {
      const row = preparePhi3VItem(input, args.tokenizer, processor);
      if (args.maxLen !== undefined && row.ids.length > args.maxLen) {
        if (row.images.length > 0) {
          throw new Vlm2VecError('phi3_v', `an item with an image has ${row.ids.length} tokens, over --max_len ${args.maxLen}; cutting it would cut image placeholders (raise --max_len)`);
        }
        return { ...row, ids: row.ids.slice(0, args.maxLen) };
      }
      return row;
    },
    batch: (rows: readonly PreparedItem[]): Phi3VTrainBatch => padPhi3VRows(rows as readonly Phi3VPrepared[], args.tokenizer),
  };
  // The CLIP layers after the feature layer (and post_layernorm) never run: torch gives them no
  // gradient, so AdamW (weight decay included) leaves them as they are; here they are no leaves.
  const unused = clipUnusedPaths(`${TOWER}.vision_model`, cfg.vision, cfg.image.layerIdx);
  if (init.kind === 'full') {
    const kept = init.freezeVision ? [TOWER] : unused;
    const { trainable, join } = splitFrozen(params, kept);
    return {
      ...common,
      encoder: {
        ...slicer,
        reps: (p, b) => {
          // Phi-3's nn.Embedding has padding_idx = pad_token_id: that row gets no gradient (even where <|endoftext|> is a real token).
          const t = join(p);
          const tree = { ...t, model: { ...t.model, embed_tokens: { weight: paddingRowFrozen(t.model.embed_tokens.weight, cfg.padTokenId) } } };
          return repsOf(() => tree, cfg, b as Phi3VTrainBatch, args.normalize);
        },
      },
      params: trainable,
      role: decayRoles(specs),
      weights: (leaves) => fullTrainedWeights(specs, host, args.configJson, args.dir, leaves, kept),
    };
  }
  const a = adapterTrainSetup('phi3_v', specs, host, init, 'qkv_proj, o_proj, gate_up_proj, down_proj; q_proj, k_proj, v_proj, out_proj in the CLIP tower', canonicalPhi3VName);
  const { trained, kept } = splitUnusedFactors(a.factors, unused);
  const keptLeaves = await factorLeaves(kept);
  return {
    ...common,
    encoder: phi3VTrainable(params, cfg, { scaling: a.scaling, normalize: args.normalize, dropout: a.dropout }),
    params: trained,
    role: () => 'lora',
    // transformers 4.x module paths, as TIGER-Lab/VLM2Vec-LoRA is saved (base_model.model.model.layers.*).
    weights: (leaves) => adapterTrainedWeights('phi3_v', specs, a.config, [...leaves, ...keptLeaves], 'transformers4'),
  };
}
