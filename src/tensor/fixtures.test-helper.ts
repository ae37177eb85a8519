// Loading of the PyTorch golden fixtures written by tools/reference/engine_*.py, and numeric
// comparison helpers for tests. Not part of the public API.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { DType, TypedArray } from './dtype.ts';
import { typedToNumbers } from './dtype.ts';
import { fromArray } from './ops/create.ts';
import type { Tensor } from './tensor.ts';

export interface FixtureTensor {
  dtype: DType;
  shape: number[];
  offset: number;
}

export interface OpCase {
  name: string;
  inputs: FixtureTensor[];
  output: FixtureTensor;
  cotangent?: FixtureTensor;
  grads?: (FixtureTensor | null)[];
}

const ROOT = new URL('../../test/fixtures/engine/', import.meta.url).pathname;

export function loadFixture(sub: string): { cases: OpCase[]; read: (t: FixtureTensor) => Tensor } {
  const index = JSON.parse(readFileSync(join(ROOT, sub, 'index.json'), 'utf8')) as { cases: OpCase[] };
  const blob = readFileSync(join(ROOT, sub, 'data.bin'));
  const buf = blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength);
  const read = (t: FixtureTensor): Tensor => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    let data: TypedArray;
    if (t.dtype === 'float32') data = new Float32Array(buf, t.offset, n).slice();
    else if (t.dtype === 'int64') data = new BigInt64Array(buf, t.offset, n).slice();
    else data = new Uint8Array(buf, t.offset, n).slice();
    return fromArray(data, t.shape, t.dtype);
  };
  return { cases: index.cases, read };
}

/** Asserts |a - b| <= atol + rtol |b| elementwise, with a message naming the first bad element. */
export async function assertClose(actual: Tensor, expected: Tensor, what: string, rtol = 1e-5, atol = 1e-6): Promise<void> {
  assert.deepEqual([...actual.shape], [...expected.shape], `${what}: shape ${JSON.stringify(actual.shape)} vs expected ${JSON.stringify(expected.shape)}`);
  const a = typedToNumbers(actual.dtype, await actual.data());
  const b = typedToNumbers(expected.dtype, await expected.data());
  for (let i = 0; i < b.length; i++) {
    const ok = Math.abs(a[i]! - b[i]!) <= atol + rtol * Math.abs(b[i]!);
    if (!ok) assert.fail(`${what}: element ${i} is ${a[i]}, expected ${b[i]} (rtol ${rtol}, atol ${atol})`);
  }
}
