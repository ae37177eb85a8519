// Reader for the PyTorch golden fixtures written by tools/reference/engine_blocks.py
// (test/fixtures/engine/blocks/<group>.{json,bin}). Test-only: no runtime code imports it.

import { readFileSync } from 'node:fs';
import { Vlm2VecError } from '../errors.ts';

const DIR = new URL('../../test/fixtures/engine/blocks/', import.meta.url);

interface TensorEntry {
  dtype: 'float32' | 'int32';
  shape: number[];
  offset: number;
}
interface CaseEntry {
  attrs: Record<string, unknown>;
  tensors: Record<string, TensorEntry>;
}

/** One stored tensor: its shape and elements (float32 or int32 as stored). */
export interface GoldenTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** One golden case: named tensors plus the attributes the generator recorded. */
export class GoldenCase {
  constructor(
    readonly group: string,
    readonly name: string,
    private readonly entry: CaseEntry,
    private readonly bin: Buffer,
  ) {}

  get attrs(): Record<string, unknown> {
    return this.entry.attrs;
  }

  names(): string[] {
    return Object.keys(this.entry.tensors);
  }

  has(key: string): boolean {
    return key in this.entry.tensors;
  }

  tensor(key: string): GoldenTensor {
    const t = this.entry.tensors[key];
    if (!t) {
      throw new Vlm2VecError('golden', `${this.group}.json case '${this.name}' has no tensor '${key}'`);
    }
    const n = t.shape.reduce((a, b) => a * b, 1);
    // Copy out so the typed array is aligned regardless of the offset in the file.
    const bytes = this.bin.subarray(t.offset, t.offset + 4 * n);
    const buf = new ArrayBuffer(4 * n);
    new Uint8Array(buf).set(bytes);
    return { shape: t.shape, data: t.dtype === 'float32' ? new Float32Array(buf) : new Int32Array(buf) };
  }

  f32(key: string): GoldenTensor & { data: Float32Array } {
    const t = this.tensor(key);
    if (!(t.data instanceof Float32Array)) {
      throw new Vlm2VecError('golden', `${this.group}/${this.name}/${key}: expected float32, found int32`);
    }
    return t as GoldenTensor & { data: Float32Array };
  }

  i32(key: string): GoldenTensor & { data: Int32Array } {
    const t = this.tensor(key);
    if (!(t.data instanceof Int32Array)) {
      throw new Vlm2VecError('golden', `${this.group}/${this.name}/${key}: expected int32, found float32`);
    }
    return t as GoldenTensor & { data: Int32Array };
  }
}

/** Loads one fixture group; `cases[name]` throws a named error for a missing case. */
export function loadGolden(group: string): { case(name: string): GoldenCase; caseNames(): string[] } {
  const meta = JSON.parse(readFileSync(new URL(`${group}.json`, DIR), 'utf8')) as {
    format: string;
    cases: Record<string, CaseEntry>;
  };
  if (meta.format !== 'vlm2vec-golden-v1') {
    throw new Vlm2VecError('golden', `${group}.json: expected format vlm2vec-golden-v1, found ${meta.format}`);
  }
  const bin = readFileSync(new URL(`${group}.bin`, DIR));
  return {
    caseNames: () => Object.keys(meta.cases),
    case(name: string): GoldenCase {
      const entry = meta.cases[name];
      if (!entry) throw new Vlm2VecError('golden', `${group}.json has no case '${name}'`);
      return new GoldenCase(group, name, entry, bin);
    },
  };
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise and reports the worst
 * element (index, both values) when it fails.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: { rtol: number; atol: number; what: string; mask?: (i: number) => boolean },
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${opts.what}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  let checked = 0;
  for (let i = 0; i < expected.length; i++) {
    if (opts.mask && !opts.mask(i)) continue;
    checked++;
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e);
    const tol = opts.atol + opts.rtol * Math.abs(e);
    if (!(err <= tol)) {
      const excess = Number.isNaN(err) ? Infinity : err / tol;
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
  }
  if (checked === 0) throw new Error(`${opts.what}: mask selected no elements`);
  if (worst >= 0) {
    throw new Error(
      `${opts.what}: element ${worst} is ${actual[worst]} but PyTorch gives ${expected[worst]} ` +
        `(rtol ${opts.rtol}, atol ${opts.atol}; ${worstExcess.toFixed(1)}x over tolerance)`,
    );
  }
}
