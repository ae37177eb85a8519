// Glue between golden fixtures and engine tensors (test-only).

import type { Tensor } from '../tensor/index.ts';
import { fromArray, realize, vjp } from '../tensor/index.ts';
import type { GoldenCase } from './golden.test-helper.ts';
import { assertClose } from './golden.test-helper.ts';

/** The fixture tensor `key` as an engine constant (float32 or int32, as stored). */
export function goldenTensor(c: GoldenCase, key: string): Tensor {
  const t = c.tensor(key);
  return t.data instanceof Float32Array ? fromArray(t.data, t.shape, 'float32') : fromArray(t.data, t.shape, 'int32');
}

/** Rebuilds the nested parameter tree from dotted `params.<name>` tensors of a case. */
export function goldenParams(c: GoldenCase): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const key of c.names()) {
    if (!key.startsWith('params.')) continue;
    const path = key.slice('params.'.length).split('.');
    let node = root;
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = goldenTensor(c, key);
  }
  return root;
}

/** Dotted names and tensors of a nested tree (the inverse of goldenParams). */
export function flattenNamed(tree: unknown, prefix = ''): [string, Tensor][] {
  if (tree !== null && typeof tree === 'object' && !('shape' in (tree as object))) {
    return Object.entries(tree as Record<string, unknown>).flatMap(([k, v]) => flattenNamed(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, tree as Tensor]];
}

export interface Tolerance {
  rtol: number;
  /** Absolute slack as a fraction of the largest |expected| of each tensor. */
  atolScale: number;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Compares a realized tensor with a golden float32 tensor (shape and values). */
export async function expectGolden(
  actual: Tensor,
  c: GoldenCase,
  key: string,
  tol: Tolerance,
  mask?: (i: number) => boolean,
): Promise<void> {
  const want = c.f32(key);
  const shape = actual.shape.map(Number);
  if (shape.join(',') !== want.shape.join(',')) {
    throw new Error(`${c.name}/${key}: shape [${shape.join(', ')}] != PyTorch [${want.shape.join(', ')}]`);
  }
  const got = (await actual.data()) as Float32Array;
  assertClose(got, want.data, {
    rtol: tol.rtol,
    atol: tol.atolScale * maxAbs(want.data),
    what: `${c.name}/${key}`,
    ...(mask ? { mask } : {}),
  });
}

/**
 * Runs `fn` on the case's inputs, pulls back the stored cotangent, realizes everything in one
 * session and compares `out` and `grad.<input>` for every input with the PyTorch values.
 */
export async function checkVjpCase(
  c: GoldenCase,
  inputs: readonly string[],
  fn: (...xs: Tensor[]) => Tensor,
  tol: Tolerance,
): Promise<void> {
  const primals = inputs.map((k) => goldenTensor(c, k));
  const { out, vjp: pull } = vjp(fn, ...primals);
  const grads = pull(goldenTensor(c, 'cotangent')) as Tensor[];
  await realize([out, ...grads]);
  await expectGolden(out, c, 'out', tol);
  for (let i = 0; i < inputs.length; i++) await expectGolden(grads[i]!, c, `grad.${inputs[i]}`, tol);
}
