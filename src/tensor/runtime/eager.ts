// Eager realization: compile the pending graph of some tensors (constants as inputs), fetch or
// build the cached session for its signature, run it and store the values on the tensors.

import { encodeModel } from '../onnx/proto.ts';
import { compile } from '../ir/compile.ts';
import { dumpOnnx } from '../ir/dump.ts';
import type { Tensor } from '../tensor.ts';
import type { TypedArray } from '../dtype.ts';
import { treeLeaves } from '../tree.ts';
import { cachedSession, createSession, runSession, toOrt } from './session.ts';
import ort from 'onnxruntime-node';

/**
 * Computes every unrealized tensor of `tree` in one graph run.
 * @example await realize([a, b]); a.value // Float32Array
 */
export async function realize(tree: unknown): Promise<void> {
  const pending = [...new Set(treeLeaves(tree).filter((t) => t.value === undefined))];
  if (pending.length === 0) return;
  const c = compile(pending, { inputs: [], constants: 'inputs', name: 'eager' });
  const key = dumpOnnx(c.model, { allValues: true });
  const session = await cachedSession(key, () => createSession(encodeModel(c.model), () => `an eager graph:\n${key.split('\n').slice(0, 80).join('\n')}`, c.hasFloat64));
  const feeds: Record<string, ort.Tensor> = {};
  c.fedConstants.forEach((t, i) => (feeds[c.fedNames[i]!] = toOrt(t.dtype, t.value!, t.shape as number[])));
  const res = await runSession(session, feeds, `eager graph\n${key.split('\n').slice(0, 40).join('\n')}`);
  pending.forEach((t: Tensor, i) => {
    t.value = res[c.outputNames[i]!]!.data as TypedArray;
  });
}
