// Qwen2-VL set up for a training run (models/common/train-model.ts): the frozen weights read as
// float32, the trainable leaves (LoRA / DoRA factors by checkpoint module path, or the whole
// tree), items prepared as the Encoder prepares them (encoder.ts: processor, placeholders,
// tokens; a text-only item keeps a literal <|image_pad|> as a plain token) and padded on the
// record's side, and the trained leaves back as PEFT adapter tensors or full-model tensors.
// The adapter leaves (a new adapter as peft initializes it, or one continued) and full
// fine-tuning's frozen subtree are models/common/train-adapter.ts's, as for every backbone.

import { Vlm2VecError } from '../../errors.ts';
import { Checkpoint } from '../../io/weights/checkpoint.ts';
import { concatFloat32 } from '../../util/arrays.ts';
import type { EncoderInput, ImageProcessorSettings, PreparedItem } from '../encoder.ts';
import type { ParamRole } from '../common/param-spec.ts';
import { adapterTrainedWeights, adapterTrainSetup, fullTrainedWeights, paddingRowFrozen, splitFrozen } from '../common/train-adapter.ts';
import type { LoadTrainModelArgs, TrainModel, TrainedWeights } from '../common/train-model.ts';
import type { HfTokenizer } from '../../io/text/tokenizer.ts';
import type { Qwen2VLBatch } from './batch.ts';
import type { Qwen2VLConfig } from './config.ts';
import type { Qwen2VLPrepared } from './encoder.ts';
import { expandPlaceholders, processImages, processVideo } from './processor.ts';
import { qwen2VLFullTrainable, qwen2VLTrainable } from './trainable.ts';
import { buildParams, qwen2VLParamSpecs, readQwen2VLWeights } from './weights.ts';

/** One item as Qwen2VLEncoder.prepare does it, optionally cut to `maxLen` tokens. */
export function prepareQwen2VLItem(input: EncoderInput, tokenizer: HfTokenizer, processor: ImageProcessorSettings, cfg: Qwen2VLConfig, maxLen?: number): Qwen2VLPrepared {
  const img = input.images.length > 0 ? processImages(input.images, processor) : undefined;
  const vid = input.frames.length > 0 ? processVideo(input.frames, processor) : undefined;
  const text = img === undefined && vid === undefined ? input.text : expandPlaceholders(input.text, {
    imageGrids: img?.gridThw ?? [], videoGrids: vid?.gridThw ?? [], mergeSize: cfg.vision.spatialMergeSize,
  });
  let ids = tokenizer.encode(text);
  if (maxLen !== undefined && ids.length > maxLen) {
    if (img !== undefined || vid !== undefined) {
      throw new Vlm2VecError('qwen2_vl', `an item with media has ${ids.length} tokens, over --max_len ${maxLen}; cutting it would cut vision placeholders (raise --max_len or lower --resize_max_pixels)`);
    }
    ids = ids.slice(0, maxLen);
  }
  return { ids, imagePixels: img?.pixelValues, imageGrids: img?.gridThw ?? [], videoPixels: vid?.pixelValues, videoGrids: vid?.gridThw ?? [] };
}

/** Padded batch of prepared rows (only rows with media take vision features). */
export function padQwen2VLRows(rows: readonly Qwen2VLPrepared[], tokenizer: HfTokenizer): Qwen2VLBatch {
  const b = tokenizer.padBatch(rows.map((r) => r.ids));
  const cat = (parts: (Float32Array | undefined)[]): Float32Array | undefined => {
    const xs = parts.filter((p): p is Float32Array => p !== undefined);
    return xs.length === 0 ? undefined : concatFloat32(xs);
  };
  return {
    inputIds: b.inputIds, attentionMask: b.attentionMask, shape: b.shape,
    pixelValues: cat(rows.map((r) => r.imagePixels)), imageGrids: rows.flatMap((r) => r.imageGrids),
    pixelValuesVideos: cat(rows.map((r) => r.videoPixels)), videoGrids: rows.flatMap((r) => r.videoGrids),
    imagesPerRow: rows.map((r) => r.imageGrids.length), videosPerRow: rows.map((r) => r.videoGrids.length),
  };
}

/**
 * Qwen2-VL for `vlm2vec train`: see the file header.
 *
 * @example const tm = await loadQwen2VLTrainModel({ dir, config, configJson, tokenizer, processor: {}, normalize: true, init: { kind: 'full', freezeVision: false } });
 */
export async function loadQwen2VLTrainModel(args: LoadTrainModelArgs<Qwen2VLConfig>): Promise<TrainModel> {
  const { config: cfg, init } = args;
  const ckpt = await Checkpoint.open(args.dir);
  const host = await readQwen2VLWeights(ckpt, cfg).finally(() => ckpt.close());
  const specs = qwen2VLParamSpecs(cfg);
  const roles = new Map(specs.map((s) => [s.path, s.role]));
  const params = buildParams(host, cfg);
  const common = {
    prepare: (input: EncoderInput): PreparedItem => prepareQwen2VLItem(input, args.tokenizer, args.processor, cfg, args.maxLen),
    batch: (rows: readonly PreparedItem[]): Qwen2VLBatch => padQwen2VLRows(rows as readonly Qwen2VLPrepared[], args.tokenizer),
  };
  if (init.kind === 'full') {
    const full = qwen2VLFullTrainable(cfg, { normalize: args.normalize });
    // The vision tower frozen: only the rest is a leaf; the forward sees the whole tree.
    const kept = init.freezeVision ? ['visual'] : [];
    const { trainable, join } = splitFrozen(params, kept);
    return {
      ...common,
      encoder: {
        rows: full.rows,
        sliceRows: full.sliceRows,
        reps: (p, b) => {
          // The Qwen2 text model's nn.Embedding has padding_idx = pad_token_id (config.ts): that row gets no gradient.
          const t = join(p);
          const pad = cfg.text.padTokenId;
          const tree = pad === null ? t : { ...t, model: { ...t.model, embed_tokens: { weight: paddingRowFrozen(t.model.embed_tokens.weight, pad) } } };
          return full.reps(tree, b as Qwen2VLBatch);
        },
      },
      params: trainable,
      role: (path) => roles.get(path) ?? 'linear',
      weights: (leaves): TrainedWeights => fullTrainedWeights(specs, host, args.configJson, args.dir, leaves, kept),
    };
  }
  // Adapter training.
  const a = adapterTrainSetup('qwen2_vl', specs, host, init, 'q_proj, v_proj, down_proj; qkv for the vision blocks');
  return {
    ...common,
    // The adapter's own lora_dropout (new: --lora_dropout; continued: its adapter_config.json), as peft loads it.
    encoder: qwen2VLTrainable(params, cfg, { scaling: a.scaling, normalize: args.normalize, dropout: a.dropout }),
    params: a.factors,
    role: (): ParamRole => 'lora',
    weights: (leaves): TrainedWeights => adapterTrainedWeights('qwen2_vl', specs, a.config, leaves),
  };
}
