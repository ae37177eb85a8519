// Runs an exported model (vision.onnx + text.onnx + manifest.json) on the float16 fixture's batch
// with plain onnxruntime sessions, no vlm2vec code in the loop: the exports' conformance check.

import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { fp16Batch } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { visionIndexInputs } from '../models/qwen2-vl/vision.ts';
import type { ExportManifest } from './export.ts';

/** The minimal slice of onnxruntime's API the exports need (onnxruntime-node or onnxruntime-web). */
export interface OrtLike {
  Tensor: typeof ort.Tensor;
  InferenceSession: { create(path: string, so?: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> };
}

/** Embeddings [3, D] of the fp16 fixture batch through the exported graphs, with sessions built by `runtime`. */
export async function runExported(out: string, manifest: ExportManifest, so: ort.InferenceSession.SessionOptions, runtime: OrtLike = ort): Promise<Float32Array> {
  if (manifest.modelType !== 'qwen2_vl') throw new Error(`a qwen2_vl export expected, got ${manifest.modelType}`);
  const vision = await runtime.InferenceSession.create(join(out, manifest.graphs.vision.file), so);
  const text = await runtime.InferenceSession.create(join(out, manifest.graphs.text.file), so);
  try {
    const b = fp16Batch();
    const [bs, l] = b.shape;
    const vi = manifest.graphs.vision.inputs;
    const grids = [...b.imageGrids!, ...b.videoGrids!];
    const idx = visionIndexInputs(grids, 2);
    const k = idx.numPatches / 4;
    const r = await vision.run({
      [vi.pixel_values!]: new runtime.Tensor('float32', new Float32Array([...b.pixelValues!, ...b.pixelValuesVideos!]), [k, 4, 1176]),
      [vi.patch_pos!]: new runtime.Tensor('int32', idx.positionIds, [k, 4, 2]),
      [vi.segment_ids!]: new runtime.Tensor('int32', idx.segmentIds, [k, 4]),
    });
    const scatter: bigint[] = [];
    for (const tok of [BigInt(manifest.imageTokenId), BigInt(manifest.videoTokenId)]) {
      for (let i = 0; i < bs; i++) for (let j = 0; j < l; j++) if (b.inputIds[i * l + j] === tok) scatter.push(BigInt(i), BigInt(j));
    }
    const pos = new BigInt64Array(3 * bs * l);
    for (let a = 0; a < 3; a++) pos.set(b.positionIds!, a * bs * l);
    const ti = manifest.graphs.text.inputs;
    const t = await text.run({
      [ti.input_ids!]: new runtime.Tensor('int64', b.inputIds, [bs, l]),
      [ti.attention_mask!]: new runtime.Tensor('int64', b.attentionMask, [bs, l]),
      [ti.position_ids!]: new runtime.Tensor('int64', pos, [3, bs, l]),
      [ti.last_index!]: new runtime.Tensor('int64', BigInt64Array.from({ length: 2 * bs }, (_, i) => BigInt(i % 2 === 0 ? i / 2 : l - 1)), [bs, 2]),
      [ti.scatter_index!]: new runtime.Tensor('int64', BigInt64Array.from(scatter), [scatter.length / 2, 2]),
      [ti.features!]: r[manifest.graphs.vision.output]!,
    });
    return t[manifest.graphs.text.outputs.embedding]!.data as Float32Array;
  } finally {
    await vision.release();
    await text.release();
  }
}
