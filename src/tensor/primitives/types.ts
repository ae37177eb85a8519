// The closed primitive set: names, attribute types, and the shape of a primitive definition.
// Adding a name to PrimAttrs is a compile error until the registry (primitives/index.ts) has a
// definition with a shape rule, an ONNX lowering and a VJP decision for it.

import type { DType, TypedArray } from '../dtype.ts';
import type { Dim, Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import type * as Ops from '../ops/index.ts';
import type { backward } from '../autodiff/backward.ts';

type NoAttrs = Record<never, never>;
export interface ReduceAttrs {
  axes: number[]; // normalized, sorted
  keepdims: boolean;
}
export interface SliceAttrs {
  axes: number[]; // normalized
  starts: number[];
  ends: number[]; // Number.MAX_SAFE_INTEGER means "to the end"
  steps: number[];
}
/** Cotangent rule of a customVjp node: cotangent of this output -> cotangents of the primal inputs. */
export type CustomBwd = (g: Tensor) => readonly (Tensor | null)[];

/** A fused ONNX kernel standing for a composition of primitives (see ops/fused.ts). */
export interface FusedAttrs {
  opType: string;
  domain: string;
  onnxAttrs: Record<string, OnnxAttr>;
  /** ONNX input slot -> index into the node's inputs, or null for an omitted optional input. */
  slots: (number | null)[];
  /** The same function built from primitives: the reference, and the source of gradients. */
  reference: Tensor;
}

/**
 * A quantized [N, K] weight matrix (primitives/quant.ts): 'int8' per output channel, or 'q4'
 * blocks of `blockSize` along K; `accuracyLevel` is MatMulNBits' (4 = int8 compute, 1 = float32).
 */
export interface QuantAttrs {
  scheme: 'int8' | 'q4';
  n: number;
  k: number;
  /** q4 only (0 for int8). */
  blockSize: number;
  /** q4 only (0 for int8). */
  accuracyLevel: number;
  /**
   * int8 only: q is stored [N, K] (row-major: a token table, read by rows) instead of [K, N]
   * (MatMulInteger's B). Same values and scales; gathering rows of [K, N] is a strided read per
   * value, measured 10× slower than a float16 table's gather (docs/quantization.md).
   */
  rowMajor?: boolean | undefined;
}

/** Attributes of each primitive. The keys are the primitive names. */
export interface PrimAttrs {
  constant: { data: TypedArray };
  input: { name: string };
  add: NoAttrs;
  sub: NoAttrs;
  mul: NoAttrs;
  div: NoAttrs;
  pow: NoAttrs;
  maximum: NoAttrs;
  minimum: NoAttrs;
  equal: NoAttrs;
  less: NoAttrs;
  lessEqual: NoAttrs;
  greater: NoAttrs;
  greaterEqual: NoAttrs;
  logicalAnd: NoAttrs;
  logicalOr: NoAttrs;
  logicalNot: NoAttrs;
  neg: NoAttrs;
  exp: NoAttrs;
  log: NoAttrs;
  sqrt: NoAttrs;
  rsqrt: NoAttrs;
  tanh: NoAttrs;
  sigmoid: NoAttrs;
  erf: NoAttrs;
  abs: NoAttrs;
  sign: NoAttrs;
  sin: NoAttrs;
  cos: NoAttrs;
  where: NoAttrs;
  cast: { dtype: DType };
  stopGradient: NoAttrs;
  custom: { name: string; bwd: CustomBwd };
  fused: FusedAttrs;
  reduceSum: ReduceAttrs;
  reduceMax: ReduceAttrs;
  argMax: { axis: number; keepdims: boolean };
  dimSize: { axes: number[]; dtype: DType };
  matmul: NoAttrs;
  reshape: { shape: Dim[] };
  permute: { perm: number[] };
  expand: { shape: Dim[] };
  slice: SliceAttrs;
  sliceGrad: SliceAttrs;
  concat: { axis: number };
  pad: { pads: [number, number][]; value: number };
  gather: { axis: number };
  gatherND: NoAttrs;
  scatterND: { reduction: 'none' | 'add' };
  cumsum: { axis: number; exclusive: boolean; reverse: boolean };
  arange: { start: number; end: Dim; step: number; dtype: DType };
  full: { shape: Dim[]; value: number; dtype: DType };
  dequantize: QuantAttrs;
  quantMatMul: QuantAttrs;
  quantGather: QuantAttrs;
}

export type PrimitiveName = keyof PrimAttrs;

/** A tensor known to be produced by primitive P. */
export type NodeOf<P extends PrimitiveName> = Tensor & { readonly prim: P; readonly attrs: PrimAttrs[P] };

/** ONNX attribute values (onnx.proto AttributeProto). */
export type OnnxAttr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: { dtype: DType; dims: readonly number[]; data: TypedArray } };

/** What a lowering rule may do: emit ONNX nodes and constants into the graph being built. */
export interface LowerCtx {
  /** Emits one ONNX node and returns the name of its (single) output. */
  emit(opType: string, inputs: readonly string[], attrs?: Record<string, OnnxAttr>, domain?: string): string;
  /** An int64 1-D initializer. */
  i64(values: readonly number[]): string;
  /** A scalar (rank 0) initializer of the given dtype. */
  scalar(value: number, dtype: DType): string;
  /** An int64 1-D tensor holding `dims` (symbolic dims read at run time from the graph inputs). */
  shapeOf(dims: Shape): string;
  /** An int64 scalar holding one dim. */
  dimScalar(d: Dim): string;
}

/**
 * What a VJP rule builds its cotangents with: the public ops (and `backward`, for rules that
 * differentiate a composition). The autodiff driver passes them in, so no rule file imports ops:
 * ops build their nodes through the rules' shape rules, and importing them back would close a
 * cycle.
 */
export type VjpOps = typeof Ops & { backward: typeof backward };

/** The definition of a primitive: shape rule, ONNX lowering and VJP side by side. */
export interface PrimitiveDef<P extends PrimitiveName> {
  /** Output shape and dtype; throws Vlm2VecError naming the op and the shapes on bad input. */
  infer(inputs: readonly Tensor[], attrs: PrimAttrs[P]): { shape: Shape; dtype: DType };
  /** Emits ONNX nodes computing the output from the already-lowered inputs. */
  lower(ctx: LowerCtx, ins: readonly string[], node: NodeOf<P>): string;
  /**
   * Cotangents of the inputs (null = no gradient), written with public ops so they can be
   * differentiated again. May return broadcast-shaped cotangents: the driver sums them down.
   * `null` means the primitive is not differentiable (leaves, comparisons, integer ops).
   */
  vjp: ((node: NodeOf<P>, g: Tensor, ops: VjpOps) => readonly (Tensor | null)[]) | null;
}

export type PrimitiveRegistry = { [P in PrimitiveName]: PrimitiveDef<P> };
