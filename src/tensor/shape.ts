// Shapes with symbolic dimensions. A dim is a number or a string monomial: a symbol name ("T"),
// or a product with an optional integer coefficient ("B*T", "4*T"). Products arise from reshapes
// such as [B, T, D] -> [-1, D]; keeping them as monomials lets a later reshape divide them back.

import { Vlm2VecError } from '../errors.ts';

/** One dimension: a size, or a symbolic size named by a string (e.g. 'B', 'T', 'B*T'). */
export type Dim = number | string;
/** A tensor shape. */
export type Shape = readonly Dim[];

export interface Mono {
  coef: number;
  syms: string[]; // sorted
}

const SYM_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A dim as coefficient times a sorted list of symbols ('2*T' -> {coef: 2, syms: ['T']}). */
export function dimFactors(d: Dim): Mono {
  return parseDim(d);
}

function parseDim(d: Dim): Mono {
  if (typeof d === 'number') return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const part of d.split('*')) {
    const p = part.trim();
    if (/^\d+$/.test(p)) coef *= Number(p);
    else if (SYM_RE.test(p)) syms.push(p);
    else throw new Vlm2VecError('tensor', `invalid symbolic dim '${d}': expected names joined by '*'`);
  }
  syms.sort();
  return { coef, syms };
}

function formatMono(m: Mono): Dim {
  if (m.syms.length === 0) return m.coef;
  const s = m.syms.join('*');
  return m.coef === 1 ? s : `${m.coef}*${s}`;
}

/** Canonical form of a dim ('T*B' -> 'B*T', '1*T' -> 'T'). */
export function canonDim(d: Dim): Dim {
  return formatMono(parseDim(d));
}

/** True when both dims denote the same size for every binding of the symbols. */
export function dimEq(a: Dim, b: Dim): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  return canonDim(a) === canonDim(b);
}

export function isStatic(s: Shape): s is readonly number[] {
  return s.every((d) => typeof d === 'number');
}

/** Product of dims as a monomial. */
export function dimProd(dims: Shape): Dim {
  const m: Mono = { coef: 1, syms: [] };
  for (const d of dims) {
    const p = parseDim(d);
    m.coef *= p.coef;
    m.syms.push(...p.syms);
  }
  m.syms.sort();
  return formatMono(m);
}

/** a / b as a monomial, or undefined when not exactly divisible. */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const x = parseDim(a);
  const y = parseDim(b);
  if (y.coef === 0 || x.coef % y.coef !== 0) return undefined;
  const rest = [...x.syms];
  for (const s of y.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return formatMono({ coef: x.coef / y.coef, syms: rest });
}

/** Number of elements of a static shape. */
export function numel(s: Shape, op = 'tensor'): number {
  let n = 1;
  for (const d of s) {
    if (typeof d !== 'number') throw new Vlm2VecError(op, `shape ${fmtShape(s)} has symbolic dims; a concrete shape is needed`);
    n *= d;
  }
  return n;
}

export function fmtShape(s: Shape): string {
  return `[${s.join(',')}]`;
}

/** Normalizes a possibly negative axis, naming the op and shape on error. */
export function normAxis(axis: number, rank: number, op: string, shape?: Shape): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new Vlm2VecError(op, `axis ${axis} is out of range for rank ${rank}${shape ? ` (shape ${fmtShape(shape)})` : ''}`);
  }
  return a;
}

/** Numpy broadcasting of several shapes; throws naming the op and all shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (!dimEq(d, e)) {
        throw new Vlm2VecError(op, `shapes ${shapes.map(fmtShape).join(' and ')} are not broadcastable (axis ${i}: ${d} vs ${e})`);
      }
    }
    out.push(typeof d === 'string' ? canonDim(d) : d);
  }
  return out;
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}

let freshCount = 0;
/** A new symbolic dim for sizes the shape algebra cannot express (e.g. T - 1 after a slice). */
export function freshDim(): string {
  return `_u${freshCount++}`;
}
