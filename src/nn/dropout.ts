// LoRA dropout masks that are a pure function of where they are drawn, not of a generator's
// position. The reference (peft's nn.Dropout on the adapter's input, under torch's global RNG)
// draws them from a stream, and its GradCache saves and restores that stream so a chunk's
// gradient pass sees the masks of its no-grad pass. Here each mask element is a hash of
// (seed, step, side, module, unit, column), so
//   - GradCache's two passes over a chunk draw identical masks (nothing to save or restore),
//   - a resumed run draws exactly the masks of an uninterrupted one (the step is in the key),
//   - a row's mask does not depend on which GradCache chunk holds it (the unit is the row's index
//     in the whole batch), so GradCache and the whole-batch step see the same masks.
//
// The spec (tools/reference/train_step.py implements it again in numpy and feeds the masks to
// peft):
//   mix32(x)   = lowbias32: x ^= x >>> 16; x *= 0x7feb352d; x ^= x >>> 15; x *= 0x846ca68b; x ^= x >>> 16
//                (uint32 arithmetic, products mod 2^32)
//   fnv1a(s)   = 32-bit FNV-1a over the UTF-8 bytes of the module path (`model.layers.0.self_attn.q_proj`)
//   key        = mix32(mix32(mix32(mix32(seed mod 2^32) ^ step) ^ side) ^ fnv1a(module)), and for an
//                input without a row axis (chunk-keyed) key = mix32(key ^ (firstRow + 1)), and for
//                the part j of a chunk that the forward feeds separately (one image / temporal
//                slice through the vision tower) key = mix32(key ^ (j + 1))
//   element    = the input's last axis is the column c, the leading axes flattened are the unit
//                u = firstUnit + i (for [rows, T, in]: firstUnit = firstRow · T, so u = row · T + t)
//   h          = mix32(mix32(key ^ mix32(u)) ^ c);  dropped iff h < floor(p · 2^32)
// Kept values are scaled by 1 / (1 − p) (inverted dropout, as torch's).

import { Vlm2VecError } from '../errors.ts';
import type { Tensor } from '../tensor/index.ts';
import { fromArray, mul, where } from '../tensor/index.ts';

/** lowbias32 (C. Wellons' integer hash): a bijection on uint32 with full avalanche. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** 32-bit FNV-1a of a string's UTF-8 bytes. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** Where a mask is drawn: the run's seed, the optimizer step, the side (0 queries, 1 targets), the module. */
export interface DropoutSite {
  seed: number;
  step: number;
  side: number;
  module: string;
}

/** The call key of a site (see the file header); `chunk` folds in firstRow for chunk-keyed inputs. */
export function dropoutKey(site: DropoutSite, chunk?: number): number {
  if (!Number.isSafeInteger(site.seed) || !Number.isInteger(site.step) || site.step < 0) {
    throw new Vlm2VecError('lora_dropout', `seed ${site.seed} and step ${site.step} must be integers (step ≥ 0)`);
  }
  const seed = Number(BigInt.asUintN(32, BigInt(site.seed)));
  let k = mix32(mix32(mix32(mix32(seed) ^ site.step) ^ site.side) ^ fnv1a32(site.module));
  if (chunk !== undefined) k = mix32(k ^ (chunk + 1));
  return k;
}

/**
 * The keep mask (1 kept, 0 dropped) of `units` × `cols` elements, units numbered from `firstUnit`.
 *
 * @example const keep = dropoutKeepMask(dropoutKey(site), 0.1, 0, 4 * 300, 1536); // rows 0..3 of T = 300
 */
export function dropoutKeepMask(key: number, p: number, firstUnit: number, units: number, cols: number): Uint8Array {
  if (!(p >= 0 && p < 1)) throw new Vlm2VecError('lora_dropout', `dropout probability ${p} must be in [0, 1)`);
  if (firstUnit + units > 2 ** 32) throw new Vlm2VecError('lora_dropout', `${firstUnit + units} mask units exceed the 32-bit unit index`);
  const threshold = Math.floor(p * 4294967296);
  const out = new Uint8Array(units * cols);
  for (let i = 0; i < units; i++) {
    const ku = mix32((key ^ mix32((firstUnit + i) >>> 0)) >>> 0);
    const base = i * cols;
    for (let c = 0; c < cols; c++) {
      let x = (ku ^ c) >>> 0;
      x = (x ^ (x >>> 16)) >>> 0;
      x = Math.imul(x, 0x7feb352d) >>> 0;
      x = (x ^ (x >>> 15)) >>> 0;
      x = Math.imul(x, 0x846ca68b) >>> 0;
      x = (x ^ (x >>> 16)) >>> 0;
      out[base + c] = x < threshold ? 0 : 1;
    }
  }
  return out;
}

/**
 * LoRA dropout of one linear call in a training forward: the probability and the keep mask (bool,
 * the input's shape) for an input of a given shape. Inference never builds one.
 */
export interface LoraDropout {
  readonly p: number;
  keepMask(shape: readonly number[]): Tensor;
}

/**
 * The LoRA dropout of `module` at one site, for a chunk of rows starting at `firstRow`: an input
 * of rank ≥ 3 has the batch's rows on axis 0, so its mask is drawn per row of the whole batch
 * (chunk-invariant); a rank-2 input (packed vision patches, no row axis) draws a mask per chunk,
 * and per `part` of it when a forward calls the module once per part (key = mix32(key ^ (part + 1))).
 *
 * @example const d = rowKeyedDropout(0.1, { seed: 42, step: 7, side: 0, module: 'model.layers.0.self_attn.q_proj' }, 8);
 */
export function rowKeyedDropout(p: number, site: DropoutSite, firstRow: number, part?: number): LoraDropout {
  return {
    p,
    keepMask(shape) {
      if (!shape.every((d) => Number.isInteger(d))) throw new Vlm2VecError('lora_dropout', `${site.module}: dropout needs a concrete input shape, got [${shape.join(',')}]`);
      const cols = shape.at(-1)!;
      const units = shape.slice(0, -1).reduce((n, d) => n * d, 1);
      const data = shape.length >= 3
        ? dropoutKeepMask(dropoutKey(site), p, firstRow * shape.slice(1, -1).reduce((n, d) => n * d, 1), units, cols)
        : dropoutKeepMask(part === undefined ? dropoutKey(site, firstRow) : mix32(dropoutKey(site, firstRow) ^ (part + 1)), p, 0, units, cols);
      return fromArray(data, [...shape], 'bool');
    },
  };
}

/**
 * x with the dropped elements zeroed and the kept ones scaled by 1 / (1 − p) (float32, as torch's
 * `noise.div_(1 − p)`).
 */
export function applyDropout(x: Tensor, d: LoraDropout): Tensor {
  const scale = Math.fround(1 / Math.fround(1 - d.p));
  return where(d.keepMask(x.shape as number[]), mul(x, scale), 0);
}
