// Pytrees: nested arrays and plain objects whose leaves are tensors. Non-tensor leaves (numbers,
// strings, booleans, null, undefined) are carried along as static values.

import { Tensor } from './tensor.ts';

/** A nested structure of arrays / plain objects with leaves of type T. */
export type Tree<T> = T | readonly Tree<T>[] | { readonly [k: string]: Tree<T> };

export interface Flat {
  /** The tensor leaves in a deterministic order (array order, then object keys in insertion order). */
  leaves: Tensor[];
  /** Dotted path of each leaf ('0', '1.ids', 'layers.3.q_proj.weight'). */
  paths: string[];
  /** Structure + static leaves, as a string (part of jit cache keys). */
  structure: string;
  /** Rebuilds the tree with new leaves. */
  unflatten<U>(leaves: readonly U[]): Tree<U>;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !(x instanceof Tensor) && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

/**
 * Flattens a tree into its tensor leaves.
 * @example treeFlatten({ w: a, b: [c, d] }).paths // ['w', 'b.0', 'b.1']
 */
export function treeFlatten(tree: unknown, prefix = ''): Flat {
  const leaves: Tensor[] = [];
  const paths: string[] = [];
  const parts: string[] = [];
  const join = (p: string, k: string | number) => (p === '' ? String(k) : `${p}.${k}`);
  const walk = (x: unknown, path: string): void => {
    if (x instanceof Tensor) {
      leaves.push(x);
      paths.push(path);
      parts.push('T');
    } else if (Array.isArray(x)) {
      parts.push('[');
      x.forEach((y, i) => walk(y, join(path, i)));
      parts.push(']');
    } else if (isPlainObject(x)) {
      parts.push('{');
      for (const k of Object.keys(x)) {
        parts.push(JSON.stringify(k) + ':');
        walk(x[k], join(path, k));
      }
      parts.push('}');
    } else parts.push(JSON.stringify(x) ?? 'undefined');
  };
  walk(tree, prefix);
  const unflatten = <U>(newLeaves: readonly U[]): Tree<U> => {
    let i = 0;
    const rebuild = (x: unknown): unknown => {
      if (x instanceof Tensor) return newLeaves[i++];
      if (Array.isArray(x)) return x.map(rebuild);
      if (isPlainObject(x)) {
        const o: Record<string, unknown> = {};
        for (const k of Object.keys(x)) o[k] = rebuild(x[k]);
        return o;
      }
      return x;
    };
    return rebuild(tree) as Tree<U>;
  };
  return { leaves, paths, structure: parts.join(''), unflatten };
}

/** The tensor leaves of a tree. */
export function treeLeaves(tree: unknown): Tensor[] {
  return treeFlatten(tree).leaves;
}

/** Rebuilds `tree` with `leaves` (same order as treeFlatten). */
export function treeUnflatten<U>(tree: unknown, leaves: readonly U[]): Tree<U> {
  return treeFlatten(tree).unflatten(leaves);
}

/**
 * Maps every tensor leaf (with its dotted path) to a new value.
 * @example treeMap(params, (t, path) => path.endsWith('bias') ? t : t.mul(0.5))
 */
export function treeMap<U>(tree: unknown, fn: (t: Tensor, path: string) => U): Tree<U> {
  const f = treeFlatten(tree);
  return f.unflatten(f.leaves.map((t, i) => fn(t, f.paths[i]!)));
}
