// The Tensor methods, attached to Tensor.prototype in this one place (as JAX attaches its array
// methods in jax/_src/numpy/array_methods.py): tensor.ts holds the node's data only, so ops, the
// compiler and the runtime can import it without importing each other back. index.ts loads this
// module first; every other area imports the engine through index.ts.

import { Vlm2VecError } from '../errors.ts';
import type { DType, TypedArray } from './dtype.ts';
import { typedToNumbers } from './dtype.ts';
import type { Dim } from './shape.ts';
import { fmtShape } from './shape.ts';
import { Tensor } from './tensor.ts';
import * as ops from './ops/index.ts';
import type { Scalar, SliceSpec } from './ops/index.ts';
import { realize } from './runtime/eager.ts';

/** The methods of a {@link Tensor}; each mirrors the function of the same name. */
export interface TensorMethods {
  /** Realizes this tensor (compiling and running its pending graph) and returns its elements. */
  data(): Promise<TypedArray>;
  /** The elements as JS numbers (int64 via Number, float16 decoded, bool as 0/1). */
  toArray(): Promise<number[]>;
  /** The single element of a one-element tensor. */
  item(): Promise<number>;
  add(o: Tensor | Scalar): Tensor;
  sub(o: Tensor | Scalar): Tensor;
  mul(o: Tensor | Scalar): Tensor;
  div(o: Tensor | Scalar): Tensor;
  pow(o: Tensor | Scalar): Tensor;
  neg(): Tensor;
  exp(): Tensor;
  log(): Tensor;
  sqrt(): Tensor;
  rsqrt(): Tensor;
  tanh(): Tensor;
  sigmoid(): Tensor;
  abs(): Tensor;
  square(): Tensor;
  matmul(o: Tensor): Tensor;
  cast(dtype: DType): Tensor;
  reshape(shape: readonly Dim[]): Tensor;
  permute(perm: readonly number[]): Tensor;
  transpose(a?: number, b?: number): Tensor;
  expand(shape: readonly Dim[]): Tensor;
  unsqueeze(axis: number): Tensor;
  squeeze(axis: number): Tensor;
  slice(spec: SliceSpec): Tensor;
  gather(indices: Tensor, axis?: number): Tensor;
  sum(axes?: number | readonly number[], keepdims?: boolean): Tensor;
  mean(axes?: number | readonly number[], keepdims?: boolean): Tensor;
  max(axes?: number | readonly number[], keepdims?: boolean): Tensor;
  softmax(axis?: number): Tensor;
}

declare module './tensor.ts' {
  // Declaration merging: the class Tensor gains the methods below (attached at load time).
  interface Tensor extends TensorMethods {}
}

const methods: TensorMethods & ThisType<Tensor> = {
  async data() {
    if (this.value === undefined) await realize([this]);
    return this.value!;
  },
  async toArray() {
    return typedToNumbers(this.dtype, await this.data());
  },
  async item() {
    const a = await this.toArray();
    if (a.length !== 1) throw new Vlm2VecError('tensor', `item() needs one element, tensor has shape ${fmtShape(this.shape)}`);
    return a[0]!;
  },
  add(o) { return ops.add(this, o); },
  sub(o) { return ops.sub(this, o); },
  mul(o) { return ops.mul(this, o); },
  div(o) { return ops.div(this, o); },
  pow(o) { return ops.pow(this, o); },
  neg() { return ops.neg(this); },
  exp() { return ops.exp(this); },
  log() { return ops.log(this); },
  sqrt() { return ops.sqrt(this); },
  rsqrt() { return ops.rsqrt(this); },
  tanh() { return ops.tanh(this); },
  sigmoid() { return ops.sigmoid(this); },
  abs() { return ops.abs(this); },
  square() { return ops.square(this); },
  matmul(o) { return ops.matmul(this, o); },
  cast(dtype) { return ops.cast(this, dtype); },
  reshape(shape) { return ops.reshape(this, shape); },
  permute(perm) { return ops.permute(this, perm); },
  transpose(a = -2, b = -1) { return ops.transpose(this, a, b); },
  expand(shape) { return ops.expand(this, shape); },
  unsqueeze(axis) { return ops.unsqueeze(this, axis); },
  squeeze(axis) { return ops.squeeze(this, axis); },
  slice(spec) { return ops.slice(this, spec); },
  gather(indices, axis = 0) { return ops.gather(this, indices, axis); },
  sum(axes, keepdims = false) { return ops.sum(this, axes, keepdims); },
  mean(axes, keepdims = false) { return ops.mean(this, axes, keepdims); },
  max(axes, keepdims = false) { return ops.max(this, axes, keepdims); },
  softmax(axis = -1) { return ops.softmax(this, axis); },
};
// Plain data properties would be enumerable and show in `console.log(t)`; define them like class
// methods (non-enumerable) instead.
for (const [name, fn] of Object.entries(methods)) {
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });
}
