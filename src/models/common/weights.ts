// Checkpoint → host weights, for any architecture: every tensor of a parameter spec list is
// found (under its canonical name), shape-checked, widened, held as float16 or quantized
// (common/float16.ts, common/quantize.ts), and a PEFT adapter is merged on the way in (common/merge-adapter.ts).
// The token table, the largest tensor, is never widened whole: held float16 it is converted
// directly, quantized it is widened and quantized 1024 rows at a time.

import { Vlm2VecError } from '../../errors.ts';
import type { Checkpoint } from '../../io/weights/checkpoint.ts';
import type { PeftAdapter } from '../../io/weights/peft.ts';
import { toFloat16, toFloat32 } from '../../io/weights/safetensors-dtype.ts';
import { TORCH_DTYPE_BYTES } from '../../io/weights/torch-pickle.ts';
import { checkHalfRange, heldHalf, heldQuantizedTable, holdTensor, parseWeightDtype, storedTransposed, type HostWeights, type WeightDtype } from './float16.ts';
import { mergeAdapterInto } from './merge-adapter.ts';
import type { ParamSpec } from './param-spec.ts';
import { quantizeRows, quantSchemeOf } from './quantize.ts';

/**
 * Progress of a model load, for a caller's display (library code prints nothing): weight bytes
 * read per shard file, the adapter merge, and each ORT session being built.
 */
export type ModelLoadEvent =
  | { type: 'weights'; file: string; shard: number; shards: number; bytesDone: number; bytesTotal: number }
  | { type: 'adapter'; dir: string; modules: number }
  | { type: 'session'; graph: string; state: 'start' | 'done' };

/** Options of {@link readWeights}. */
export interface ReadWeightsOptions {
  /** A loaded PEFT LoRA/DoRA adapter to merge (in float32) into the adapted linear weights. */
  adapter?: PeftAdapter | undefined;
  dtype?: WeightDtype | undefined;
  onProgress?: ((e: ModelLoadEvent) => void) | undefined;
  /** Maps a stored tensor name to its spec path (e.g. transformers 5's renamed prefixes). */
  canonicalName?: ((stored: string) => string) | undefined;
  /** What the specs describe, for the missing-tensor error (e.g. "a qwen2_vl checkpoint with 28 LM layers"). */
  expected?: string | undefined;
}

/**
 * Reads every tensor of `specs` from `ckpt`, checking names and shapes, and merges `adapter` (LoRA
 * or DoRA, in float32) into the adapted linear weights. `dtype` 'float32' widens bf16/f16 to
 * float32; 'float16' holds the matrices as float16 (common/float16.ts), each converted as soon as
 * it is read (adapted ones after their merge), so the host never holds all weights in float32.
 *
 * @example
 * const host = await readWeights(ckpt, qwen2VLParamSpecs(cfg), { adapter }); // Map('model.norm.weight' → {data, shape})
 */
export async function readWeights(ckpt: Checkpoint, specs: readonly ParamSpec[], opts: ReadWeightsOptions = {}): Promise<HostWeights> {
  const { adapter, onProgress } = opts;
  const dtype = parseWeightDtype(opts.dtype ?? 'float32');
  const canonical = opts.canonicalName ?? ((n: string) => n);
  const byCanonical = new Map<string, string>();
  for (const name of ckpt.names()) byCanonical.set(canonical(name), name);
  const expected = new Map(specs.map((s) => [s.path, s]));
  const missing = [...expected.keys()].filter((n) => !byCanonical.has(n));
  if (missing.length > 0) {
    throw new Vlm2VecError(
      'weights',
      `${ckpt.source}: ${missing.length} tensor(s) missing from the checkpoint, e.g. ${missing.slice(0, 3).join(', ')}` +
        (opts.expected ? ` (expected ${opts.expected})` : ''),
    );
  }
  const quant = quantSchemeOf(dtype);
  const host: HostWeights = new Map();
  const adapted = new Set([...(adapter?.modules.values() ?? [])].map((m) => m.baseWeight));
  const shards = ckpt.shards();
  const bytesOf = (stored: string): number => {
    const i = ckpt.info(stored);
    return i.shape.reduce((a, d) => a * d, 1) * TORCH_DTYPE_BYTES[i.dtype];
  };
  const bytesTotal = [...expected.keys()].reduce((a, n) => a + bytesOf(byCanonical.get(n)!), 0);
  let bytesDone = 0;
  // Shard by shard (sequential file reads, progress per file); the host map is keyed by name.
  const order = [...expected].map((e, i) => ({ e, shard: shards.indexOf(ckpt.info(byCanonical.get(e[0])!).file), i }));
  order.sort((a, b) => a.shard - b.shard || a.i - b.i);
  for (const { e: [name, spec] } of order) {
    const shape = spec.shape;
    const stored = byCanonical.get(name)!;
    const info = ckpt.info(stored);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Vlm2VecError('weights', `${ckpt.source}: tensor ${stored} has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`);
    }
    const raw = await ckpt.read(stored);
    if (onProgress) {
      bytesDone += bytesOf(stored);
      onProgress({ type: 'weights', file: info.file, shard: shards.indexOf(info.file) + 1, shards: shards.length, bytesDone, bytesTotal });
    }
    if (!adapted.has(name) && heldHalf(spec, dtype) && !storedTransposed(spec)) {
      // The largest tensor (token embeddings, 0.9 GB in float32 for Qwen2-VL-2B) never widens.
      let half = toFloat16(raw.dtype, raw.data, stored);
      if (half === raw.data) half = new Uint16Array(half);
      else checkHalfRange(stored, half, () => toFloat32(raw.dtype, raw.data, stored));
      host.set(name, { data: half, shape: [...shape], transposed: false });
      continue;
    }
    if (quant && !adapted.has(name) && heldQuantizedTable(spec)) {
      const [n, k] = shape as [number, number];
      const q = quantizeRows(quant, (r0, r1) => toFloat32(raw.dtype, raw.data.subarray(r0 * k, r1 * k), stored), n, k, stored, true);
      host.set(name, { data: q.q, shape: [...shape], quantized: q });
      continue;
    }
    let data = toFloat32(raw.dtype, raw.data, stored);
    // toFloat32 returns F32 data as a view of the file buffer; copy so merges never alias it.
    if (data === raw.data) data = new Float32Array(data);
    host.set(name, adapted.has(name) ? { data, shape: [...shape] } : holdTensor(spec, data, dtype));
  }
  if (adapter) {
    onProgress?.({ type: 'adapter', dir: adapter.dir, modules: adapter.modules.size });
    mergeAdapterInto(host, adapter);
  }
  if (dtype !== 'float32') {
    for (const name of adapted) {
      const w = host.get(name);
      const spec = expected.get(name);
      if (w && spec && w.data instanceof Float32Array) host.set(name, holdTensor(spec, w.data, dtype));
    }
  }
  return host;
}
