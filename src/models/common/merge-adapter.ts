// LoRA / DoRA merge math on host float32 arrays (PEFT's `merge_and_unload`, docs/vlm2vec.md §3.2):
//   LoRA: W' = W + s·(B A)
//   DoRA: W' = m / ‖W + s·(B A)‖_row · (W + s·(B A))      (row norm over the input axis)
// with s = lora_alpha / r (or alpha/√r with rsLoRA). Everything is computed in float32 like the
// reference merge of a float32 model; the norm is accumulated in float64 to keep the result
// independent of summation order (the difference to float32 accumulation is below 1 ulp·√in).

import { Vlm2VecError } from '../../errors.ts';
import type { PeftAdapter } from '../../io/weights/peft.ts';
import { toFloat32 } from '../../io/weights/safetensors-dtype.ts';
import type { HostWeights } from './float16.ts';

/** One adapted linear layer, already widened to float32. */
export interface AdapterDelta {
  /** Module name for errors, e.g. `model.layers.0.self_attn.q_proj`. */
  readonly module: string;
  /** [r, in] row-major */
  readonly a: Float32Array;
  /** [out, r] row-major */
  readonly b: Float32Array;
  readonly r: number;
  readonly scaling: number;
  /** DoRA magnitude [out]; undefined for plain LoRA. */
  readonly magnitude?: Float32Array | undefined;
}

/**
 * Returns the merged weight W' [out, in] (a new array; `w` is not modified).
 *
 * @example
 * // 1×2 weight, rank-1 update s·B·A = 2·[1]·[0.5, 0] = [1, 0]
 * mergeAdapter(new Float32Array([1, 1]), 1, 2, { module: 'q', a: new Float32Array([0.5, 0]), b: new Float32Array([1]), r: 1, scaling: 2 });
 * // → [2, 1]; with magnitude [1]: [2, 1] / √5
 */
export function mergeAdapter(w: Float32Array, out: number, inF: number, d: AdapterDelta): Float32Array {
  const { a, b, r } = d;
  if (w.length !== out * inF) {
    throw new Vlm2VecError('adapter', `${d.module}: base weight has ${w.length} elements, expected [${out}, ${inF}]`);
  }
  if (a.length !== r * inF) {
    throw new Vlm2VecError('adapter', `${d.module}: lora_A has ${a.length} elements, expected [${r}, ${inF}] for the base weight [${out}, ${inF}]`);
  }
  if (b.length !== out * r) {
    throw new Vlm2VecError('adapter', `${d.module}: lora_B has ${b.length} elements, expected [${out}, ${r}] for the base weight [${out}, ${inF}]`);
  }
  if (d.magnitude !== undefined && d.magnitude.length !== out) {
    throw new Vlm2VecError('adapter', `${d.module}: lora_magnitude_vector has ${d.magnitude.length} elements, expected [${out}]`);
  }
  const res = new Float32Array(out * inF);
  const row = new Float32Array(inF);
  for (let o = 0; o < out; o++) {
    // delta row o = s · Σ_k B[o,k] A[k,:]  (float32, as torch computes B @ A then scales)
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const bk = b[o * r + k]!;
      if (bk === 0) continue;
      const aOff = k * inF;
      for (let i = 0; i < inF; i++) row[i] = Math.fround(row[i]! + Math.fround(bk * a[aOff + i]!));
    }
    const wOff = o * inF;
    let sq = 0;
    for (let i = 0; i < inF; i++) {
      const v = Math.fround(w[wOff + i]! + Math.fround(d.scaling * row[i]!));
      res[wOff + i] = v;
      sq += v * v;
    }
    if (d.magnitude !== undefined) {
      const norm = Math.fround(Math.sqrt(sq));
      const f = Math.fround(d.magnitude[o]! / norm);
      for (let i = 0; i < inF; i++) res[wOff + i] = Math.fround(f * res[wOff + i]!);
    }
  }
  return res;
}

/**
 * Merges every adapter module into `host` in place; an adapted module the model lacks is an error.
 *
 * @example mergeAdapterInto(host, await loadAdapter('checkpoints/VLM2Vec-V2.0'));
 */
export function mergeAdapterInto(host: HostWeights, adapter: PeftAdapter): void {
  for (const mod of adapter.modules.values()) {
    const base = host.get(mod.baseWeight);
    if (!base) {
      throw new Vlm2VecError('adapter', `${adapter.dir}: adapter targets ${mod.module}, but the model has no tensor ${mod.baseWeight}`);
    }
    if (!(base.data instanceof Float32Array)) {
      throw new Vlm2VecError('adapter', `${adapter.dir}: ${mod.baseWeight} is already held as float16; merge adapters into float32 weights`);
    }
    if (base.shape.length !== 2) {
      throw new Vlm2VecError('adapter', `${adapter.dir}: ${mod.baseWeight} is [${base.shape.join(', ')}], not a linear weight`);
    }
    const [out, inF] = base.shape as [number, number];
    base.data = mergeAdapter(base.data, out, inF, {
      module: mod.module,
      a: toFloat32(mod.loraA.dtype, mod.loraA.data, `${mod.module}.lora_A`),
      b: toFloat32(mod.loraB.dtype, mod.loraB.data, `${mod.module}.lora_B`),
      r: mod.r,
      scaling: mod.scaling,
      magnitude: mod.magnitude ? toFloat32(mod.magnitude.dtype, mod.magnitude.data, `${mod.module}.lora_magnitude_vector`) : undefined,
    });
  }
}
