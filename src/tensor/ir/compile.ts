// Lowers the Tensor IR reachable from some outputs into an ONNX graph. Leaves become graph inputs
// (jit placeholders; in eager mode also constants, so one session serves new values) or
// initializers (constants captured by a jitted function: frozen weights ORT can pre-pack).

import { Vlm2VecError } from '../../errors.ts';
import type { DType } from '../dtype.ts';
import { typedFromNumbers } from '../dtype.ts';
import type { OnnxGraph, OnnxInitializer, OnnxModel, OnnxNode, OnnxValueInfo } from '../onnx/model.ts';
import { IR_VERSION, OPSET } from '../onnx/model.ts';
import type { LowerCtx, NodeOf, OnnxAttr, PrimitiveName } from '../primitives/types.ts';
import type { Dim, Shape } from '../shape.ts';
import { dimFactors, fmtShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { defOf, symbolOrigin } from './node.ts';
import { topoSort } from './graph.ts';

export interface CompileOptions {
  /** Graph inputs in order, with their ONNX names (jit placeholders). */
  inputs: readonly { tensor: Tensor; name: string }[];
  /** How concrete leaves (constants / realized tensors) enter the graph. */
  constants: 'inputs' | 'initializers';
  /** Output names (default out0, out1, ...). */
  outputNames?: readonly string[];
  name?: string;
}

export interface Compiled {
  model: OnnxModel;
  /** Constants fed as inputs (constants: 'inputs'), in input order after the placeholders. */
  fedConstants: Tensor[];
  fedNames: string[];
  inputNames: string[];
  outputNames: string[];
  /** Any float64 value in the graph (ORT's fusions lack double kernels: see session.ts). */
  hasFloat64: boolean;
}

class Ctx implements LowerCtx {
  nodes: OnnxNode[] = [];
  inits: OnnxInitializer[] = [];
  private memo = new Map<string, string>();
  private symSrc = new Map<string, { value: string; axis: number }>();
  private n = 0;
  /** Lowers (ahead of topological order) a tensor whose shape defines symbol `s`, if any. */
  demand: ((s: string) => void) | undefined;

  fresh(prefix: string): string {
    return `${prefix}${this.n++}`;
  }

  /** Non-default operator domains used (each needs an opset import). */
  domains = new Set<string>();

  emit(opType: string, inputs: readonly string[], attrs: Record<string, OnnxAttr> = {}, domain = ''): string {
    if (domain) this.domains.add(domain);
    const out = this.fresh('v');
    this.nodes.push({ opType, domain, name: `${opType}_${this.nodes.length}`, inputs: [...inputs], outputs: [out], attrs });
    return out;
  }

  initializer(dtype: DType, dims: readonly number[], values: readonly number[]): string {
    const key = `${dtype}|${dims.join(',')}|${values.join(',')}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const name = this.fresh('k');
    this.inits.push({ name, dtype, dims, data: typedFromNumbers(dtype, values) });
    this.memo.set(key, name);
    return name;
  }

  i64(values: readonly number[]): string {
    return this.initializer('int64', [values.length], values);
  }

  scalar(value: number, dtype: DType): string {
    return this.initializer(dtype, [], [value]);
  }

  /** Records where a symbol's runtime value can be read (first tensor seen with it). */
  registerSymbols(value: string, shape: Shape): void {
    shape.forEach((d, axis) => {
      if (typeof d === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(d) && !this.symSrc.has(d)) this.symSrc.set(d, { value, axis });
    });
  }

  private symbol(s: string): string {
    const key = `sym|${s}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    if (!this.symSrc.has(s)) this.demand?.(s);
    const src = this.symSrc.get(s);
    if (!src) throw new Vlm2VecError('compile', `symbolic dim '${s}' is not the size of any axis computed before it is needed`);
    const v = this.emit('Shape', [src.value], { start: { kind: 'int', value: src.axis }, end: { kind: 'int', value: src.axis + 1 } });
    this.memo.set(key, v);
    return v;
  }

  private dim1(d: Dim): string {
    if (typeof d === 'number') return this.i64([d]);
    const { coef, syms } = dimFactors(d);
    let v = this.symbol(syms[0]!);
    for (const s of syms.slice(1)) v = this.emit('Mul', [v, this.symbol(s)]);
    return coef === 1 ? v : this.emit('Mul', [v, this.i64([coef])]);
  }

  shapeOf(dims: Shape): string {
    if (dims.every((d) => typeof d === 'number')) return this.i64(dims as number[]);
    const key = `shape|${dims.join(',')}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const v = dims.length === 1 ? this.dim1(dims[0]!) : this.emit('Concat', dims.map((d) => this.dim1(d)), { axis: { kind: 'int', value: 0 } });
    this.memo.set(key, v);
    return v;
  }

  dimScalar(d: Dim): string {
    if (typeof d === 'number') return this.scalar(d, 'int64');
    return this.emit('Squeeze', [this.shapeOf([d]), this.i64([0])]);
  }
}

/** Lowers the graph of `outputs` to an ONNX model. */
export function compile(outputs: readonly Tensor[], opts: CompileOptions): Compiled {
  const inputNameOf = new Map(opts.inputs.map((i) => [i.tensor, i.name]));
  const isLeaf = (t: Tensor) => t.value !== undefined || inputNameOf.has(t);
  const order = topoSort(outputs, isLeaf);
  const ctx = new Ctx();
  const names = new Map<Tensor, string>();
  const graphInputs: OnnxValueInfo[] = [];
  const fedConstants: Tensor[] = [];
  const fedNames: string[] = [];

  for (const { tensor, name } of opts.inputs) {
    names.set(tensor, name);
    graphInputs.push({ name, dtype: tensor.dtype, shape: tensor.shape });
    ctx.registerSymbols(name, tensor.shape);
  }
  // The node that introduced each symbol (a slice or pad whose output size has no name in terms
  // of its inputs). A node needing that size (arange('_u2'), or an expand in a gradient) gets the
  // origin lowered first, even when topological order would put it later. Origins never depend
  // on their own symbol, so this cannot recurse forever.
  const symTensor = new Map<string, Tensor>();
  const fromAttrs = new Set<PrimitiveName>(['arange', 'full', 'reshape', 'expand']);
  for (const t of order) {
    if (fromAttrs.has(t.prim)) continue;
    for (const d of t.shape) {
      if (typeof d !== 'string' || symTensor.has(d)) continue;
      if (!t.inputs.some((i) => i.shape.includes(d))) symTensor.set(d, t);
    }
  }

  const lowerOne = (t: Tensor): void => {
    if (names.has(t)) return;
    if (t.value !== undefined) {
      const dims = t.shape as number[];
      if (opts.constants === 'inputs') {
        const name = `c${fedConstants.length}`;
        fedConstants.push(t);
        fedNames.push(name);
        graphInputs.push({ name, dtype: t.dtype, shape: dims });
        names.set(t, name);
      } else {
        const name = ctx.fresh('w');
        ctx.inits.push({ name, dtype: t.dtype, dims, data: t.value });
        names.set(t, name);
      }
      return;
    }
    if (t.prim === 'input') {
      throw new Vlm2VecError('compile', `tensor depends on graph input '${(t.attrs as { name: string }).name}' ${fmtShape(t.shape)}, which has no value here (was a traced tensor used outside its jit function?)`);
    }
    const ins = t.inputs.map((i) => names.get(i)!);
    const out = defOf(t.prim).lower(ctx, ins, t as NodeOf<PrimitiveName>);
    names.set(t, out);
    ctx.registerSymbols(out, t.shape);
  };
  ctx.demand = (s: string) => {
    const src = symTensor.get(s) ?? symbolOrigin(s);
    if (src) for (const t of topoSort([src], isLeaf)) lowerOne(t);
  };
  for (const t of order) lowerOne(t);

  const outputNames = outputs.map((_, i) => opts.outputNames?.[i] ?? `out${i}`);
  const graphOutputs: OnnxValueInfo[] = outputs.map((t, i) => {
    // Identity gives every output its own name even when it is an input or repeated.
    ctx.nodes.push({ opType: 'Identity', domain: '', name: `output_${i}`, inputs: [names.get(t)!], outputs: [outputNames[i]!], attrs: {} });
    return { name: outputNames[i]!, dtype: t.dtype, shape: t.shape };
  });

  const graph: OnnxGraph = { name: opts.name ?? 'vlm2vec', nodes: ctx.nodes, initializers: ctx.inits, inputs: graphInputs, outputs: graphOutputs };
  const model: OnnxModel = {
    irVersion: IR_VERSION,
    // ORT's contrib domain (com.microsoft) is versioned 1.
    opsets: [{ domain: '', version: OPSET }, ...[...ctx.domains].sort().map((domain) => ({ domain, version: 1 }))],
    producer: 'vlm2vec-tensor',
    graph,
  };
  const hasFloat64 = order.some((t) => t.dtype === 'float64');
  return { model, fedConstants, fedNames, inputNames: graphInputs.map((g) => g.name), outputNames, hasFloat64 };
}
