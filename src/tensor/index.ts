// Public API of the tensor engine. Everything another area may use is exported here (see API.md);
// names are stable: new ones get added, none get renamed.

// Attaches the Tensor methods (t.add(u), await t.data()); the type export keeps the declaration
// merge in the emitted .d.ts files for library users.
import './methods.ts';
export type { TensorMethods } from './methods.ts';
export { Tensor } from './tensor.ts';
export type { DType, TypedArray } from './dtype.ts';
export { isFloat, floatToHalf, halfToFloat } from './dtype.ts';
export type { Dim, Shape } from './shape.ts';
export { fmtShape, dimProd, dimEq } from './shape.ts';
export type { PrimitiveName } from './primitives/types.ts';
export * from './ops/index.ts';
export type { Tree } from './tree.ts';
export { treeFlatten, treeUnflatten, treeMap, treeLeaves } from './tree.ts';
export { grad, valueAndGrad, vjp, customVjp, backward } from './autodiff/api.ts';
export type { GradOptions } from './autodiff/api.ts';
export { realize, configureRuntime, runtimeStats, clearSessionCache } from './runtime/index.ts';
export type { RuntimeOptions, RuntimeStats } from './runtime/index.ts';
export { jit } from './runtime/jit.ts';
export type { Jitted, JitOptions, ExportResult, ExportOptions } from './runtime/jit.ts';
export { WorkerRuntime } from './runtime/worker.ts';
export type { WorkerFeeds, WorkerOutputs } from './runtime/worker.ts';
export { dumpGraph, dumpOnnx } from './ir/dump.ts';
