// Phi-3-V behind the generic Encoder interface (models/encoder.ts): per-item processing (HD crops,
// `<|image_N|>` expansion, per-chunk BOS), right-padded batches, and the ONNX export of its two
// graphs (vision.onnx + text.onnx and the manifest naming their inputs).

import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import type { HfTokenizer, PaddingSide } from '../../io/text/tokenizer.ts';
import type { ExportResult } from '../../tensor/index.ts';
import { fromArray } from '../../tensor/index.ts';
import { FLOAT16_SESSION, type WeightDtype } from '../common/float16.ts';
import { quantizationManifest, type QuantizationManifest } from '../common/quantize.ts';
import type { ModelLoadEvent } from '../common/weights.ts';
import type { EncodedRows, Encoder, EncoderInput, ExportedGraph, ExportGraphOptions, ImageProcessorSettings, PreparedItem } from '../encoder.ts';
import { imageTokenOrder } from './forward.ts';
import { Phi3VModel, TEXT_INPUTS, VISION_INPUTS, type Phi3VBatchImage } from './model.ts';
import { CROP_SIZE, DEFAULT_NUM_CROPS, phi3VPromptIds, processPhi3VImage } from './processor.ts';

/** `<|endoftext|>`: the pad token of Phi-3's tokenizer, which VLM2Vec pads with (on the right). */
export const PHI3V_PAD_TOKEN_ID = 32000;
/** The image placeholder of Phi-3-V prompts (MMEB's rows are stored with it). */
export const PHI3V_IMAGE_TOKEN = '<|image_1|>';

/** One processed item: ids with −N placeholders, its images' crops. */
export interface Phi3VPrepared extends PreparedItem {
  ids: number[];
  images: Phi3VBatchImage[];
}

/** manifest.json of a Phi-3-V export (`vlm2vec export`, docs/export.md). */
export interface Phi3VExportManifest {
  format: 'vlm2vec-onnx/1';
  modelType: 'phi3_v';
  hiddenSize: number;
  cropSize: number;
  /** The HD crops the export's processor settings give (`--num-crops`; a client cuts images the same way). */
  numCrops: number;
  tokensPerSide: number;
  padTokenId: number;
  graphs: {
    vision: ExportedGraph & { output: string };
    text: ExportedGraph & { outputs: { hidden: string; embedding: string } };
  };
  float16?: { weights: 'float16-cast-to-float32'; sessionOptions: typeof FLOAT16_SESSION } | undefined;
  quantization?: QuantizationManifest | undefined;
}

/**
 * The image settings Phi-3-V reads: CLIP mean/std, and `numCrops` (VLM2Vec's --num_crops, default
 * 16) when the caller's settings object carries it.
 */
export type Phi3VProcessorSettings = ImageProcessorSettings & { numCrops?: number | undefined };

/**
 * One item processed on its own (HD crops, `<|image_N|>` expansion, per-chunk BOS: Phi-3's
 * tokenizer adds `<s>` to every call unless its config says `add_bos_token: false`), as the
 * encoder and the training run prepare it.
 *
 * @example const row = preparePhi3VItem({ text: '<|image_1|> a cat', images: [img], frames: [] }, tokenizer, { numCrops: 4 });
 */
export function preparePhi3VItem(input: EncoderInput, tok: HfTokenizer, processor: Phi3VProcessorSettings): Phi3VPrepared {
  if (input.frames.length > 0) throw new Vlm2VecError('phi3_v', 'Phi-3-V embeds text and images only, not videos');
  const images = input.images.map((img) => processPhi3VImage(img, {
    numCrops: processor.numCrops ?? DEFAULT_NUM_CROPS, imageMean: processor.imageMean, imageStd: processor.imageStd,
  }));
  // add_bos_token false in tokenizer_config.json: no BOS (transformers' Llama tokenizer then adds none).
  const bos = tok.config.addBosToken === false ? undefined : tok.requireTokenId(tok.config.bosToken ?? '<s>');
  const ids = phi3VPromptIds(tok, input.text, images.map((i) => i.numImgTokens), bos);
  return { ids, images: images.map((i) => ({ pixels: i.pixelValues, rows: i.rows, cols: i.cols })) };
}

function names(res: ExportResult, semantic: readonly string[]): Record<string, string> {
  return Object.fromEntries(semantic.map((s, i) => [s, res.inputs[i]!.name]));
}

/**
 * A loaded Phi-3-V with its tokenizer and processor settings (`numCrops`, default 16 as VLM2Vec).
 *
 * @example
 * const enc = new Phi3VEncoder(await Phi3VModel.load(dir), tokenizer, {});
 * const { embeddings } = await enc.encode([enc.prepare({ text: 'a cat', images: [], frames: [] })]);
 */
export class Phi3VEncoder implements Encoder<Phi3VPrepared> {
  readonly modelType = 'phi3_v';

  constructor(readonly model: Phi3VModel, private readonly tokenizer: HfTokenizer | undefined, private readonly processor: Phi3VProcessorSettings) {}

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
    if (!this.tokenizer) throw new Vlm2VecError('phi3_v', `${this.model.source}: this encoder was loaded without a tokenizer (export only)`);
    return this.tokenizer;
  }

  prepare(input: EncoderInput): Phi3VPrepared {
    return preparePhi3VItem(input, this.tok(), this.processor);
  }

  async encode(rows: readonly Phi3VPrepared[], paddingSide?: PaddingSide): Promise<EncodedRows> {
    const tok = this.tok();
    const batch = tok.padBatch(rows.map((r) => r.ids), { paddingSide: paddingSide ?? tok.paddingSide });
    const out = await this.model.encode({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, shape: batch.shape, images: rows.flatMap((r) => r.images) });
    const d = out.dim;
    return {
      hidden: rows.map((_, i) => out.hidden.slice(i * d, (i + 1) * d)),
      embeddings: rows.map((_, i) => out.embeddings.slice(i * d, (i + 1) * d)),
    };
  }

  releaseHostWeights(onProgress?: (e: ModelLoadEvent) => void): Promise<void> {
    return this.model.releaseHostWeights(onProgress);
  }

  /** vision.onnx (one image's crops → features) and text.onnx, and the manifest body. */
  async exportOnnx(outDir: string, opts: ExportGraphOptions): Promise<Omit<Phi3VExportManifest, 'format'>> {
    const cfg = this.model.config;
    const d = cfg.text.hiddenSize;
    const { vision, text } = this.model.graphs();
    const xo = { externalDataThreshold: opts.externalDataThreshold };
    const order = imageTokenOrder([{ rows: 0, cols: 0 }], cfg.image.tokensPerSide);
    const visionRes = await vision.export(join(outDir, 'vision.onnx'), [
      fromArray(new Float32Array(3 * CROP_SIZE * CROP_SIZE), [1, 3, CROP_SIZE, CROP_SIZE], 'float32'),
      fromArray(order, [order.length], 'int64'),
    ], xo);
    const textRes = await text.export(join(outDir, 'text.onnx'), [
      fromArray(new BigInt64Array([1n, 0n]), [1, 2], 'int64'),
      fromArray(new BigInt64Array([1n, 1n]), [1, 2], 'int64'),
      fromArray(new BigInt64Array([0n, 1n]), [1, 2], 'int64'),
      fromArray(new BigInt64Array([0n, 1n]), [1, 2], 'int64'),
      fromArray(new Float32Array(d), [1, d], 'float32'),
    ], xo);
    const base = (p: string | undefined): string | undefined => (p === undefined ? undefined : p.slice(outDir.length).replace(/^[/\\]/, ''));
    const q = quantizationManifest(this.model.dtype);
    return {
      modelType: 'phi3_v',
      hiddenSize: d,
      cropSize: CROP_SIZE,
      numCrops: this.processor.numCrops ?? DEFAULT_NUM_CROPS,
      tokensPerSide: cfg.image.tokensPerSide,
      padTokenId: PHI3V_PAD_TOKEN_ID,
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
      ...(q ? { quantization: q } : {}),
    };
  }

  async close(): Promise<void> {
    // Sessions belong to the engine's cache; nothing to release per encoder.
  }
}
