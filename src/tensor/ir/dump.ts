// Readable text of a graph, one node a line, for snapshot tests and error messages:
//   %0 = input 'x' : float32[B,4]
//   %2 = matmul(%0, %1) : float32[B,3]

import { typedToNumbers } from '../dtype.ts';
import type { PrimAttrs, PrimitiveName } from '../primitives/types.ts';
import { fmtShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { treeLeaves } from '../tree.ts';
import { topoSort } from './graph.ts';
import type { OnnxModel } from '../onnx/model.ts';

/** The attributes of a node as short text. Exhaustive: a new primitive must say how it prints. */
export function fmtAttrs(p: PrimitiveName, attrs: PrimAttrs[PrimitiveName]): string {
  const a = attrs as Record<string, unknown>;
  switch (p) {
    case 'constant':
    case 'input':
    case 'custom':
      return ''; // printed by the caller (values / name)
    case 'fused':
      return ` ${(attrs as PrimAttrs['fused']).domain ? (attrs as PrimAttrs['fused']).domain + '.' : ''}${(attrs as PrimAttrs['fused']).opType}`;
    case 'add': case 'sub': case 'mul': case 'div': case 'pow': case 'maximum': case 'minimum':
    case 'equal': case 'less': case 'lessEqual': case 'greater': case 'greaterEqual':
    case 'logicalAnd': case 'logicalOr': case 'logicalNot': case 'neg': case 'exp': case 'log':
    case 'sqrt': case 'rsqrt': case 'tanh': case 'sigmoid': case 'erf': case 'abs': case 'sign':
    case 'sin': case 'cos': case 'where': case 'stopGradient': case 'matmul': case 'gatherND':
      return '';
    case 'cast':
      return ` to=${a.dtype}`;
    case 'reduceSum': case 'reduceMax':
      return ` axes=[${(a.axes as number[]).join(',')}]${a.keepdims ? ' keepdims' : ''}`;
    case 'argMax':
      return ` axis=${a.axis}${a.keepdims ? ' keepdims' : ''}`;
    case 'dimSize':
      return ` axes=[${(a.axes as number[]).join(',')}] ${a.dtype}`;
    case 'reshape': case 'expand':
      return ` ${fmtShape(a.shape as string[])}`;
    case 'permute':
      return ` [${(a.perm as number[]).join(',')}]`;
    case 'slice': case 'sliceGrad': {
      const s = attrs as PrimAttrs['slice'];
      const end = (e: number) => (Math.abs(e) >= Number.MAX_SAFE_INTEGER ? '' : String(e));
      return ` ${s.axes.map((ax, i) => `${ax}:${s.starts[i]}:${end(s.ends[i]!)}:${s.steps[i]}`).join(' ')}`;
    }
    case 'concat': case 'gather':
      return ` axis=${a.axis}`;
    case 'pad':
      return ` ${JSON.stringify(a.pads)} value=${a.value}`;
    case 'scatterND':
      return ` ${a.reduction}`;
    case 'cumsum':
      return ` axis=${a.axis}${a.exclusive ? ' exclusive' : ''}${a.reverse ? ' reverse' : ''}`;
    case 'arange':
      return ` ${a.start}..${a.end} step ${a.step}`;
    case 'full':
      return ` ${fmtShape(a.shape as string[])} value=${a.value}`;
    case 'dequantize': case 'quantMatMul': case 'quantGather':
      return ` ${a.scheme} [${a.n},${a.k}]${a.scheme === 'q4' ? ` block=${a.blockSize} accuracy=${a.accuracyLevel}` : a.rowMajor ? ' row-major' : ''}`;
    default: {
      const never: never = p;
      return String(never);
    }
  }
}

/**
 * One line per node of the graph computing the tensors of `tree` (stops at realized tensors).
 * @example console.log(dumpGraph(y))
 */
export function dumpGraph(tree: unknown): string {
  const outs = treeLeaves(tree);
  const order = topoSort(outs, (t) => t.value !== undefined);
  const id = new Map<Tensor, number>(order.map((t, i) => [t, i]));
  const lines = order.map((t, i) => {
    const ty = `${t.dtype}${fmtShape(t.shape)}`;
    if (t.prim === 'input') return `%${i} = input '${(t.attrs as PrimAttrs['input']).name}' : ${ty}`;
    if (t.value !== undefined) {
      const vals = t.value.length <= 6 ? ` [${typedToNumbers(t.dtype, t.value).map((v) => +v.toPrecision(6)).join(', ')}]` : '';
      return `%${i} = ${t.prim === 'constant' ? 'constant' : 'realized'}${vals} : ${ty}`;
    }
    const name = t.prim === 'custom' ? `custom<${(t.attrs as PrimAttrs['custom']).name}>` : t.prim;
    return `%${i} = ${name}(${t.inputs.map((x) => `%${id.get(x)}`).join(', ')})${fmtAttrs(t.prim, t.attrs)} : ${ty}`;
  });
  lines.push(`return ${outs.map((o) => `%${id.get(o)}`).join(', ')}`);
  return lines.join('\n');
}

/**
 * One line per ONNX node, for debugging exported models. Initializer values are shown when small,
 * or always with `allValues` (the eager session cache uses that text as its key, so two graphs that
 * differ only in a constant must not print alike).
 */
export function dumpOnnx(m: OnnxModel, opts: { allValues?: boolean } = {}): string {
  const g = m.graph;
  const show = (dtype: Parameters<typeof typedToNumbers>[0], data: Parameters<typeof typedToNumbers>[1]) =>
    opts.allValues || data.length <= 4 ? ` = [${typedToNumbers(dtype, data).join(', ')}]` : '';
  const lines: string[] = [];
  for (const i of g.inputs) lines.push(`input ${i.name} : ${i.dtype}${fmtShape(i.shape)}`);
  for (const t of g.initializers) lines.push(`init ${t.name} : ${t.dtype}${fmtShape(t.dims)}${show(t.dtype, t.data)}`);
  for (const n of g.nodes) {
    const attrs = Object.entries(n.attrs).map(([k, a]) => `${k}=${a.kind === 'tensor' ? `${a.value.dtype}${show(a.value.dtype, a.value.data)}` : JSON.stringify(a.value)}`);
    lines.push(`${n.outputs.join(', ')} = ${n.domain ? n.domain + '.' : ''}${n.opType}(${n.inputs.join(', ')})${attrs.length ? ` {${attrs.join(', ')}}` : ''}`);
  }
  for (const o of g.outputs) lines.push(`output ${o.name} : ${o.dtype}${fmtShape(o.shape)}`);
  return lines.join('\n');
}
