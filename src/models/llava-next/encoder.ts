// LLaVA-NeXT behind the generic Encoder interface (models/encoder.ts), as VLM2Vec's
// Llava_NEXT_process_fn prepares items: every item on its own (images through the image
// processor, each `<image>` expanded to that image's feature count, tokens with the tokenizer's
// BOS `<s>` first, as LlamaTokenizer adds it), then the ids padded together (left, with `<pad>`).
// An item without images keeps a literal `<image>` as one ordinary token (the reference's
// processor, called with images=None, expands nothing); only rows with images take features.
// Videos are refused: LLaVA-NeXT in the reference takes images only.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { Vlm2VecError } from '../../errors.ts';
import type { HfTokenizer, PaddingSide } from '../../io/text/tokenizer.ts';
import type { ExportResult } from '../../tensor/index.ts';
import { fromArray } from '../../tensor/index.ts';
import { CLIP_NORMALIZATION, normalizationLut } from '../clip-vision/index.ts';
import { FLOAT16_SESSION, type WeightDtype } from '../common/float16.ts';
import { quantizationManifest, type QuantizationManifest } from '../common/quantize.ts';
import type { ModelLoadEvent } from '../common/weights.ts';
import type { EncodedRows, Encoder, EncoderInput, ExportedGraph, ExportGraphOptions, PreparedItem } from '../encoder.ts';
import type { LlavaNextConfig } from './config.ts';
import { LlavaNextModel, TEXT_INPUTS, VISION_INPUTS, type LlavaBatchImage } from './model.ts';
import { featureRows, imageFeatureLayout, processImage, type LlavaNextImageSettings } from './processor.ts';

/** `<pad>` of llava-v1.6-mistral's tokenizer, which VLM2Vec pads with. */
export const LLAVA_NEXT_PAD_TOKEN_ID = 32001;
export const IMAGE_TOKEN = '<image>';

export interface LlavaNextPrepared extends PreparedItem {
  ids: number[];
  images: LlavaBatchImage[];
}

/** manifest.json of a LLaVA-NeXT export (`vlm2vec export`). */
export interface LlavaNextExportManifest {
  format: 'vlm2vec-onnx/1';
  modelType: 'llava_next';
  hiddenSize: number;
  imageTokenId: number;
  padTokenId: number;
  imageSize: number;
  patchSize: number;
  gridPinpoints: number[][];
  graphs: {
    vision: ExportedGraph & { output: string };
    text: ExportedGraph & { outputs: { hidden: string; embedding: string } };
  };
  float16?: { weights: 'float16-cast-to-float32'; sessionOptions: typeof FLOAT16_SESSION } | undefined;
  quantization?: QuantizationManifest | undefined;
}

const pos = z.number().int().positive();
const Preprocessor = z.object({
  size: z.object({ shortest_edge: pos.optional(), height: pos.optional(), width: pos.optional() }).optional(),
  crop_size: z.object({ height: pos, width: pos }).optional(),
  image_grid_pinpoints: z.array(z.tuple([pos, pos])).optional(),
  image_mean: z.tuple([z.number(), z.number(), z.number()]).optional(),
  image_std: z.tuple([z.number(), z.number(), z.number()]).optional(),
  rescale_factor: z.number().positive().optional(),
  resample: z.number().int().optional(),
  do_resize: z.boolean().optional(),
  do_center_crop: z.boolean().optional(),
  do_rescale: z.boolean().optional(),
  do_normalize: z.boolean().optional(),
  do_pad: z.boolean().optional(),
  do_convert_rgb: z.boolean().optional(),
});

/**
 * The image processor's settings from preprocessor_config.json (absent: the model's own image
 * size and pinpoints with CLIP statistics). Steps or values this processor does not implement
 * are refused naming the field.
 *
 * @example const s = await readLlavaImageSettings('/models/llava-v1.6-mistral-7b-hf', cfg); s.size // 336
 */
export async function readLlavaImageSettings(dir: string, cfg: LlavaNextConfig): Promise<LlavaNextImageSettings> {
  const file = join(dir, 'preprocessor_config.json');
  let json: unknown = {};
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Vlm2VecError('config', `${file}: not readable JSON (${(e as Error).message})`, { cause: e });
  }
  return parseLlavaImageSettings(json, cfg, file);
}

/** {@link readLlavaImageSettings} on an already parsed object. */
export function parseLlavaImageSettings(json: unknown, cfg: LlavaNextConfig, file = 'preprocessor_config.json'): LlavaNextImageSettings {
  const r = Preprocessor.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Vlm2VecError('config', `${file}: ${(i?.path ?? []).join('.') || '(root)'}: ${i?.message}`);
  }
  const p = r.data;
  const fail = (field: string, msg: string): never => {
    throw new Vlm2VecError('config', `${file}: ${field}: ${msg}`);
  };
  for (const k of ['do_resize', 'do_center_crop', 'do_rescale', 'do_normalize', 'do_pad', 'do_convert_rgb'] as const) {
    if (p[k] === false) fail(k, 'false is not supported (LLaVA-NeXT\'s processor runs every step)');
  }
  if (p.resample !== undefined && p.resample !== 3) fail('resample', `${p.resample} is not supported (3 = BICUBIC)`);
  const size = p.size?.shortest_edge ?? p.size?.height ?? cfg.vision.imageSize;
  if (p.size?.height !== undefined && p.size.width !== p.size.height) fail('size', `${p.size.height}×${String(p.size.width)} is not square`);
  if (size !== cfg.vision.imageSize) fail('size', `${size} differs from the vision tower's image_size ${cfg.vision.imageSize}`);
  if (p.crop_size && (p.crop_size.height !== size || p.crop_size.width !== size)) fail('crop_size', `${p.crop_size.height}×${p.crop_size.width} differs from size ${size}`);
  const pinpoints = p.image_grid_pinpoints ?? cfg.imageGridPinpoints;
  if (JSON.stringify(pinpoints) !== JSON.stringify(cfg.imageGridPinpoints)) {
    fail('image_grid_pinpoints', `${JSON.stringify(pinpoints)} differs from config.json's ${JSON.stringify(cfg.imageGridPinpoints)}`);
  }
  return {
    size,
    pinpoints: pinpoints.map(([h, w]) => [h, w] as const),
    rescaleFactor: p.rescale_factor ?? CLIP_NORMALIZATION.rescaleFactor,
    imageMean: p.image_mean ?? CLIP_NORMALIZATION.imageMean,
    imageStd: p.image_std ?? CLIP_NORMALIZATION.imageStd,
  };
}

/**
 * One item as Llava_NEXT_process_fn prepares it (see the file header), for the encoder and the
 * training run; `lut` is normalizationLut(settings).
 *
 * @example const row = prepareLlavaItem({ text: '<image>\nRepresent the given image.', images: [img], frames: [] }, tok, cfg, settings, normalizationLut(settings));
 */
export function prepareLlavaItem(input: EncoderInput, tok: HfTokenizer, cfg: LlavaNextConfig, settings: LlavaNextImageSettings, lut: Float32Array): LlavaNextPrepared {
  if (input.frames.length > 0) throw new Vlm2VecError('llava_next', 'LLaVA-NeXT takes images, not video frames (pass the frames as images with one <image> each)');
  // LlamaTokenizer adds its BOS unless tokenizer_config.json says add_bos_token: false.
  const bos = tok.config.bosToken === undefined || tok.config.addBosToken === false ? [] : [tok.requireTokenId(tok.config.bosToken)];
  const raw = [...bos, ...tok.encode(input.text)];
  if (input.images.length === 0) return { ids: raw, images: [] };
  const images: LlavaBatchImage[] = [];
  const counts: number[] = [];
  for (const img of input.images) {
    const p = processImage(img, settings, lut);
    const layout = imageFeatureLayout(p.imageSize, settings.size, cfg.vision.patchSize, settings.pinpoints);
    images.push({ pixels: p.pixels, numPatches: p.numPatches, featureRows: featureRows(layout, p.numPatches * layout.grid * layout.grid) });
    counts.push(layout.numFeatures);
  }
  const placeholders = raw.filter((t) => t === cfg.imageTokenId).length;
  if (placeholders !== images.length) {
    throw new Vlm2VecError('llava_next', `the prompt has ${placeholders} ${IMAGE_TOKEN} token(s) for ${images.length} image(s): ${JSON.stringify(input.text.slice(0, 80))}`);
  }
  const ids: number[] = [];
  let i = 0;
  for (const t of raw) {
    if (t === cfg.imageTokenId) for (let k = counts[i++]!; k > 0; k--) ids.push(t);
    else ids.push(t);
  }
  return { ids, images };
}

function names(res: ExportResult, semantic: readonly string[]): Record<string, string> {
  return Object.fromEntries(semantic.map((s, i) => [s, res.inputs[i]!.name]));
}

/**
 * A loaded LLaVA-NeXT with its tokenizer and image processor settings.
 *
 * @example
 * const enc = new LlavaNextEncoder(await LlavaNextModel.load(dir), tokenizer, await readLlavaImageSettings(dir, cfg));
 * const { embeddings } = await enc.encode([enc.prepare({ text: '<image>\nRepresent the given image.', images: [img], frames: [] })]);
 */
export class LlavaNextEncoder implements Encoder<LlavaNextPrepared> {
  readonly modelType = 'llava_next';
  private readonly lut: Float32Array;

  constructor(readonly model: LlavaNextModel, private readonly tokenizer: HfTokenizer | undefined, readonly imageSettings: LlavaNextImageSettings) {
    this.lut = normalizationLut(imageSettings);
  }

  get dim(): number {
    return this.model.hiddenSize;
  }

  get dtype(): WeightDtype {
    return this.model.dtype;
  }

  get hostWeightsReleased(): boolean {
    return this.model.hostWeightsReleased;
  }

  private tok(): HfTokenizer {
    if (!this.tokenizer) throw new Vlm2VecError('llava_next', `${this.model.source}: this encoder was loaded without a tokenizer (export only)`);
    return this.tokenizer;
  }

  /** Images → patches and feature rows; the prompt tokenized with BOS and its <image> tokens expanded. */
  prepare(input: EncoderInput): LlavaNextPrepared {
    return prepareLlavaItem(input, this.tok(), this.model.config, this.imageSettings, this.lut);
  }

  async encode(rows: readonly LlavaNextPrepared[], paddingSide?: PaddingSide): Promise<EncodedRows> {
    const tok = this.tok();
    const batch = tok.padBatch(rows.map((r) => r.ids), { paddingSide: paddingSide ?? tok.paddingSide });
    const out = await this.model.encode({
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
      shape: batch.shape,
      images: rows.flatMap((r) => r.images),
      imagesPerRow: rows.map((r) => r.images.length),
    });
    const d = out.dim;
    return {
      hidden: rows.map((_, i) => out.hidden.slice(i * d, (i + 1) * d)),
      embeddings: rows.map((_, i) => out.embeddings.slice(i * d, (i + 1) * d)),
    };
  }

  releaseHostWeights(onProgress?: (e: ModelLoadEvent) => void): Promise<void> {
    return this.model.releaseHostWeights(onProgress);
  }

  /** vision.onnx (one image's patches + feature rows → features) and text.onnx, and the manifest body. */
  async exportOnnx(outDir: string, opts: ExportGraphOptions): Promise<Omit<LlavaNextExportManifest, 'format'>> {
    const cfg = this.model.config;
    const d = cfg.text.hiddenSize;
    const s = cfg.vision.imageSize;
    const { vision, text } = this.model.graphs();
    const xo = { externalDataThreshold: opts.externalDataThreshold };
    // Example arguments fix ranks and dtypes only; every batch / sequence / patch axis is symbolic.
    const visionRes = await vision.export(join(outDir, 'vision.onnx'), [
      fromArray(new Float32Array(3 * s * s), [1, 3, s, s], 'float32'),
      fromArray(new BigInt64Array(1), [1], 'int64'),
    ], xo);
    const textRes = await text.export(join(outDir, 'text.onnx'), [
      fromArray(new BigInt64Array(2), [1, 2], 'int64'),
      fromArray(new BigInt64Array([1n, 1n]), [1, 2], 'int64'),
      fromArray(new BigInt64Array([0n, 1n]), [1, 2], 'int64'),
      fromArray(new BigInt64Array([0n, 1n]), [1, 2], 'int64'),
      fromArray(new BigInt64Array([0n, 0n]), [1, 2], 'int64'),
      fromArray(new Float32Array(d), [1, d], 'float32'),
    ], xo);
    const base = (p: string | undefined): string | undefined => (p === undefined ? undefined : p.slice(outDir.length).replace(/^[/\\]/, ''));
    return {
      modelType: 'llava_next',
      hiddenSize: d,
      imageTokenId: cfg.imageTokenId,
      padTokenId: LLAVA_NEXT_PAD_TOKEN_ID,
      imageSize: s,
      patchSize: cfg.vision.patchSize,
      gridPinpoints: cfg.imageGridPinpoints.map((p) => [...p]),
      graphs: {
        vision: { file: 'vision.onnx', data: base(visionRes.dataPath), inputs: names(visionRes, VISION_INPUTS), output: visionRes.outputs[0]!.name },
        text: {
          file: 'text.onnx',
          data: base(textRes.dataPath),
          inputs: names(textRes, TEXT_INPUTS),
          outputs: {
            hidden: textRes.outputs.find((o) => o.path === 'hidden')!.name,
            embedding: textRes.outputs.find((o) => o.path === 'embedding')!.name,
          },
        },
      },
      ...(this.model.dtype === 'float16' ? { float16: { weights: 'float16-cast-to-float32', sessionOptions: FLOAT16_SESSION } as const } : {}),
      ...(quantizationManifest(this.model.dtype) ? { quantization: quantizationManifest(this.model.dtype) } : {}),
    };
  }

  async close(): Promise<void> {
    // Sessions belong to the engine's cache.
  }
}
