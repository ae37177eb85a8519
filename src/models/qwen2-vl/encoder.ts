// Qwen2-VL behind the generic Encoder interface (models/encoder.ts): per-item processing
// (Pillow-exact image/video processor, placeholder expansion, Qwen tokenizer without BOS/EOS),
// batch padding with per-row media counts, and the ONNX export of its two graphs
// (docs/export.md: vision.onnx + text.onnx and the manifest naming their inputs).

import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import type { HfTokenizer, PaddingSide } from '../../io/text/tokenizer.ts';
import type { ExportResult } from '../../tensor/index.ts';
import { fromArray } from '../../tensor/index.ts';
import { concatFloat32 } from '../../util/arrays.ts';
import { FLOAT16_SESSION, type WeightDtype } from '../common/float16.ts';
import { quantizationManifest, type QuantizationManifest } from '../common/quantize.ts';
import type { ModelLoadEvent } from '../common/weights.ts';
import type { EncodedRows, Encoder, EncoderInput, ExportedGraph, ExportGraphOptions, ImageProcessorSettings, PreparedItem } from '../encoder.ts';
import { Qwen2VLModel, TEXT_INPUTS, VISION_INPUTS } from './model.ts';
import { expandPlaceholders, processImages, processVideo } from './processor.ts';
import type { GridThw } from './rope.ts';
import { visionIndexInputs } from './vision.ts';

/** `<|endoftext|>`: the pad token of Qwen2-VL's processor, which VLM2Vec pads with. */
export const QWEN2VL_PAD_TOKEN_ID = 151643;

/** One processed item. */
export interface Qwen2VLPrepared extends PreparedItem {
  ids: number[];
  imagePixels: Float32Array | undefined;
  imageGrids: GridThw[];
  videoPixels: Float32Array | undefined;
  videoGrids: GridThw[];
}

/** manifest.json of a Qwen2-VL export (`vlm2vec export`, docs/export.md). */
export interface Qwen2VLExportManifest {
  format: 'vlm2vec-onnx/1';
  modelType: 'qwen2_vl';
  hiddenSize: number;
  spatialMergeSize: number;
  imageTokenId: number;
  videoTokenId: number;
  padTokenId: number;
  graphs: {
    vision: ExportedGraph & { output: string };
    text: ExportedGraph & { outputs: { hidden: string; embedding: string } };
  };
  /**
   * Present for `--dtype float16` exports: the weight matrices are float16 initializers, each
   * Cast to float32 in the graph. `sessionOptions` keeps them float16 inside onnxruntime
   * (without them ORT constant-folds the Casts: same results, float32 memory).
   */
  float16?: { weights: 'float16-cast-to-float32'; sessionOptions: typeof FLOAT16_SESSION } | undefined;
  /** Present for `--dtype int8|q4|q4-128` exports: what is quantized and which kernel runs it (docs/quantization.md). */
  quantization?: QuantizationManifest | undefined;
}

function names(res: ExportResult, semantic: readonly string[]): Record<string, string> {
  return Object.fromEntries(semantic.map((s, i) => [s, res.inputs[i]!.name]));
}

/**
 * A loaded Qwen2-VL (adapter merged) with its tokenizer and processor settings.
 *
 * @example
 * const enc = new Qwen2VLEncoder(await Qwen2VLModel.load(dir), tokenizer, {});
 * const { embeddings } = await enc.encode([enc.prepare({ text: 'hi', images: [], frames: [] })]);
 */
export class Qwen2VLEncoder implements Encoder<Qwen2VLPrepared> {
  readonly modelType = 'qwen2_vl';

  constructor(readonly model: Qwen2VLModel, private readonly tokenizer: HfTokenizer | undefined, private readonly processor: ImageProcessorSettings) {}

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
    if (!this.tokenizer) throw new Vlm2VecError('qwen2_vl', `${this.model.source}: this encoder was loaded without a tokenizer (export only)`);
    return this.tokenizer;
  }

  /** Media → patches, placeholders expanded, tokenized. */
  prepare(input: EncoderInput): Qwen2VLPrepared {
    const img = input.images.length > 0 ? processImages(input.images, this.processor) : undefined;
    const vid = input.frames.length > 0 ? processVideo(input.frames, this.processor) : undefined;
    // An item without media is tokenized as it is: the reference's processor (called with
    // images=None) expands nothing, so a literal <|image_pad|> (WebQA's text-only queries keep
    // one) stays one ordinary token; encode tells the model which rows have media.
    const text = img === undefined && vid === undefined ? input.text : expandPlaceholders(input.text, {
      imageGrids: img?.gridThw ?? [],
      videoGrids: vid?.gridThw ?? [],
      mergeSize: this.model.config.vision.spatialMergeSize,
    });
    return {
      ids: this.tok().encode(text),
      imagePixels: img?.pixelValues,
      imageGrids: img?.gridThw ?? [],
      videoPixels: vid?.pixelValues,
      videoGrids: vid?.gridThw ?? [],
    };
  }

  async encode(rows: readonly Qwen2VLPrepared[], paddingSide?: PaddingSide): Promise<EncodedRows> {
    const tok = this.tok();
    const batch = tok.padBatch(rows.map((r) => r.ids), { paddingSide: paddingSide ?? tok.paddingSide });
    const cat = (parts: (Float32Array | undefined)[]): Float32Array | undefined => {
      const xs = parts.filter((p): p is Float32Array => p !== undefined);
      return xs.length === 0 ? undefined : concatFloat32(xs);
    };
    const out = await this.model.encode({
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
      shape: batch.shape,
      pixelValues: cat(rows.map((r) => r.imagePixels)),
      imageGrids: rows.flatMap((r) => r.imageGrids),
      pixelValuesVideos: cat(rows.map((r) => r.videoPixels)),
      videoGrids: rows.flatMap((r) => r.videoGrids),
      // Only rows with media take vision features (a text-only row's <|image_pad|> stays a token).
      imagesPerRow: rows.map((r) => r.imageGrids.length),
      videosPerRow: rows.map((r) => r.videoGrids.length),
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

  /**
   * vision.onnx and text.onnx (inputs and outputs named as docs/export.md describes) and the
   * manifest body: token ids, merge size and, for float16 weights, the session options.
   */
  async exportOnnx(outDir: string, opts: ExportGraphOptions): Promise<Omit<Qwen2VLExportManifest, 'format'>> {
    const cfg = this.model.config;
    const v = cfg.vision;
    const d = cfg.text.hiddenSize;
    const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
    const { vision, text } = this.model.graphs();
    const xo = { externalDataThreshold: opts.externalDataThreshold };
    // Example arguments only fix ranks/dtypes; every batch/sequence/patch axis is symbolic.
    const m = v.spatialMergeSize;
    const idx = visionIndexInputs([[1, m, m]], m);
    const mm = m * m;
    const k = idx.numPatches / mm;
    const visionRes = await vision.export(join(outDir, 'vision.onnx'), [
      fromArray(new Float32Array(idx.numPatches * patchDim), [k, mm, patchDim], 'float32'),
      fromArray(idx.positionIds, [k, mm, 2], 'int32'),
      fromArray(idx.segmentIds, [k, mm], 'int32'),
    ], xo);
    const textRes = await text.export(join(outDir, 'text.onnx'), [
      fromArray(new BigInt64Array(2), [1, 2], 'int64'),
      fromArray(new BigInt64Array([1n, 1n]), [1, 2], 'int64'),
      fromArray(new BigInt64Array(6), [3, 1, 2], 'int64'),
      fromArray(new BigInt64Array([0n, 1n]), [1, 2], 'int64'),
      fromArray(new BigInt64Array([0n, 0n]), [1, 2], 'int64'),
      fromArray(new Float32Array(d), [1, d], 'float32'),
    ], xo);
    const base = (p: string | undefined): string | undefined => (p === undefined ? undefined : p.slice(outDir.length).replace(/^[/\\]/, ''));
    return {
      modelType: 'qwen2_vl',
      hiddenSize: d,
      spatialMergeSize: m,
      imageTokenId: cfg.imageTokenId,
      videoTokenId: cfg.videoTokenId,
      padTokenId: QWEN2VL_PAD_TOKEN_ID,
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
    // Sessions are owned by the engine's cache; nothing to release per encoder.
  }
}
