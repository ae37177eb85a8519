// Embed an image and a text query with the ONNX files `vlm2vec export` wrote, run by plain
// onnxruntime-node (docs/export.md describes every input built here).
// Run: node --import tsx examples/onnx-export.ts <export dir> <image> [embeddings.json]
//
// vlm2vec is used for one step only, the image preprocessing (loadImageRGB + processImages:
// Pillow-exact bicubic resize, rescale/normalize, 14×14×2 patches: the Qwen2-VL processor's
// `pixel_values` and `image_grid_thw`); redoing that means reimplementing Pillow's resampler.
// Tokenizing, every graph input, both graphs and the pooling use only onnxruntime-node and
// @huggingface/tokenizers.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
import { loadImageRGB, processImages } from '../src/index.ts';

const [dir, image, outFile] = process.argv.slice(2);
if (!dir || !image) throw new Error('usage: examples/onnx-export.ts <export dir> <image> [embeddings.json]');

/** The parts of manifest.json used here (see docs/export.md). */
interface Manifest {
  hiddenSize: number;
  spatialMergeSize: number;
  imageTokenId: number;
  padTokenId: number;
  graphs: {
    vision: { file: string; inputs: Record<'pixel_values' | 'patch_pos' | 'segment_ids', string>; output: string };
    text: {
      file: string;
      inputs: Record<'input_ids' | 'attention_mask' | 'position_ids' | 'last_index' | 'scatter_index' | 'features', string>;
      outputs: { hidden: string; embedding: string };
    };
  };
}
const json = (f: string): unknown => JSON.parse(readFileSync(join(dir, f), 'utf8'));
const manifest = json('manifest.json') as Manifest;
const tokenizer = new Tokenizer(json('tokenizer.json') as object, json('tokenizer_config.json') as object);
const so = { intraOpNumThreads: 1 };
const vision = await ort.InferenceSession.create(join(dir, manifest.graphs.vision.file), so);
const text = await ort.InferenceSession.create(join(dir, manifest.graphs.text.file), so);
const D = manifest.hiddenSize;
const m = manifest.spatialMergeSize; // 2: one text token per 2×2 patches
const M = m * m;

// 1. The image: pixel_values [N, 1176] (N = t·h·w patches) and its grid (t, h, w).
const px = processImages([await loadImageRGB(image)]); // VLM2Vec's pixel limits
const [t, h, w] = px.gridThw[0]!;
const K = (t * h * w) / M; // merged tokens = placeholder tokens = vision features

// 2. Prompts (VLM2Vec's format), the image placeholder repeated K times, tokenized without
//    special tokens added, left-padded with <|endoftext|> into one batch.
const prompts = [
  '<|image_pad|> Represent the given image for classification\n'.replace('<|image_pad|>', '<|image_pad|>'.repeat(K)),
  'Find a document image that matches the given query: what was the revenue in 2023?',
];
const rows: number[][] = prompts.map((p) => tokenizer.encode(p, { add_special_tokens: false }).ids);
const B = rows.length;
const L = Math.max(...rows.map((r) => r.length));
const inputIds = new BigInt64Array(B * L).fill(BigInt(manifest.padTokenId));
const mask = new BigInt64Array(B * L);
// position_ids [3, B, L]: VLM2Vec prompts have no <|vision_start|>, so every real token gets
// 0, 1, 2, … on all three M-RoPE axes (placeholders included); pads get 1.
const positions = new BigInt64Array(3 * B * L).fill(1n);
rows.forEach((ids, r) => {
  const off = L - ids.length;
  ids.forEach((id, k) => {
    inputIds[r * L + off + k] = BigInt(id);
    mask[r * L + off + k] = 1n;
    for (let a = 0; a < 3; a++) positions[a * B * L + r * L + off + k] = BigInt(k);
  });
});
// last_index [B, 2]: (row, last real token) = L-1 with left padding.
const last = BigInt64Array.from(rows.flatMap((_, r) => [BigInt(r), BigInt(L - 1)]));
// scatter_index [K, 2]: (row, column) of every <|image_pad|>, row-major: feature i goes there.
const scatter: bigint[] = [];
for (let i = 0; i < B * L; i++) if (inputIds[i] === BigInt(manifest.imageTokenId)) scatter.push(BigInt(Math.floor(i / L)), BigInt(i % L));

// 3. Vision graph: the patches grouped per merged token [K, 4, 1176] (same memory as [N, 1176]),
//    each patch's (row, col) in the grid in the processor's order (2×2 blocks row-major, then
//    row-major inside a block), and one segment id per temporal slice.
const patchPos = new Int32Array(K * M * 2);
const segments = new Int32Array(K * M);
let p = 0;
for (let s = 0; s < t; s++) {
  for (let bh = 0; bh < h / m; bh++) for (let bw = 0; bw < w / m; bw++) {
    for (let ih = 0; ih < m; ih++) for (let iw = 0; iw < m; iw++) {
      patchPos[2 * p] = bh * m + ih;
      patchPos[2 * p + 1] = bw * m + iw;
      segments[p++] = s;
    }
  }
}
const vi = manifest.graphs.vision.inputs;
const { [manifest.graphs.vision.output]: features } = await vision.run({
  [vi.pixel_values]: new ort.Tensor('float32', px.pixelValues, [K, M, px.patchDim]),
  [vi.patch_pos]: new ort.Tensor('int32', patchPos, [K, M, 2]),
  [vi.segment_ids]: new ort.Tensor('int32', segments, [K, M]),
});

// 4. Text graph: token embeddings with the vision features scattered in, the language model,
//    the last token's final-norm hidden state and its L2-normalized copy.
const ti = manifest.graphs.text.inputs;
const out = await text.run({
  [ti.input_ids]: new ort.Tensor('int64', inputIds, [B, L]),
  [ti.attention_mask]: new ort.Tensor('int64', mask, [B, L]),
  [ti.position_ids]: new ort.Tensor('int64', positions, [3, B, L]),
  [ti.last_index]: new ort.Tensor('int64', last, [B, 2]),
  [ti.scatter_index]: new ort.Tensor('int64', BigInt64Array.from(scatter), [K, 2]),
  [ti.features]: features!,
});
const emb = out[manifest.graphs.text.outputs.embedding]!.data as Float32Array; // [B, D], unit rows
const [img, txt] = [emb.subarray(0, D), emb.subarray(D, 2 * D)];
let cos = 0;
for (let i = 0; i < D; i++) cos += img[i]! * txt[i]!;
console.log(`dim ${D}, cosine ${cos.toFixed(5)}`);
if (outFile) writeFileSync(outFile, JSON.stringify({ image: [...img], text: [...txt] }));
await vision.release();
await text.release();
