// Parameters declared once (candle's VarBuilder): an architecture writes one function that
// builds its parameter tree through a `VarBuilder`, naming each leaf by its dotted checkpoint path
// (the object keys ARE the path segments), its checkpoint shape and its role. Running that one
// function with different leaf makers gives everything that used to be written separately:
//   - the list of specs (path → shape, role): the checkpoint name/shape check and the loader's plan,
//   - the tree of tensors the math reads (the loader's leaf maker builds each tensor),
//   - the tree's type (`ReturnType<typeof declare<Tensor>>`), so the model code is typed by it,
//   - the trainable/frozen split (by role: LoRA factors train, everything else is frozen).

import { Vlm2VecError } from '../../errors.ts';

/**
 * What a parameter is, which decides how it is held and whether it trains:
 * - `linear`: a matrix applied as x·Wᵀ ([out, in], or a Conv kernel used as one) — float16-held
 *   transposed, a LoRA target;
 * - `embedding`: a lookup table [vocab, D] — float16-held as is (rows are gathered, then cast);
 * - `bias` / `norm`: vectors — never float16 matrices;
 * - `lora`: an adapter factor (lora_A [r, in], lora_B [out, r]) — the trainable part.
 */
export type ParamRole = 'linear' | 'embedding' | 'bias' | 'norm' | 'lora';

/** One parameter: its checkpoint name and shape, how the math uses it, its role. */
export interface ParamSpec {
  /** Dotted checkpoint name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  readonly path: string;
  /** Shape in the checkpoint. */
  readonly shape: readonly number[];
  /** Shape the math reads, when it differs (a Conv3d kernel used as a linear [E, C·T·P·P]). */
  readonly use?: readonly number[] | undefined;
  /** Compute dtype (held float16 or float32, see common/float16.ts; computed in float32). */
  readonly dtype: 'float32';
  readonly role: ParamRole;
}

/**
 * A linear layer's leaves (`{weight, bias}` as torch.nn.Linear names them), plus the LoRA factors
 * a training step or an unmerged adapter attaches (PEFT's names; nn/linear.ts LinearParams).
 */
export interface LinearLeaves<L> {
  weight: L;
  bias: L;
  lora_A?: { weight: L } | undefined;
  lora_B?: { weight: L } | undefined;
  lora_scaling?: number | undefined;
  lora_magnitude_vector?: { weight: L } | undefined;
}

/** A bias-free linear layer's leaves. */
export type BiasFreeLinearLeaves<L> = Omit<LinearLeaves<L>, 'bias'>;

/**
 * Builds a parameter tree whose leaves are made by `make` from their {@link ParamSpec}; the
 * current path prefix grows with {@link pp}, {@link obj} and {@link list}.
 *
 * @example
 * const specs = collectParamSpecs((vb) => vb.obj({ proj: (v) => v.linear(8, 4, true) }));
 * specs.map((s) => s.path); // ['proj.weight', 'proj.bias']
 */
export class VarBuilder<L> {
  constructor(private readonly make: (spec: ParamSpec) => L, readonly prefix = '') {}

  /** A builder one path segment deeper (`vb.pp('self_attn').pp('q_proj')`). */
  pp(name: string | number): VarBuilder<L> {
    return new VarBuilder(this.make, this.prefix === '' ? String(name) : `${this.prefix}.${name}`);
  }

  /** The leaf at the current path. */
  param(shape: readonly number[], role: ParamRole, use?: readonly number[]): L {
    if (this.prefix === '') throw new Vlm2VecError('params', 'a parameter needs a path (declare it inside obj/pp)');
    return this.make({ path: this.prefix, shape: [...shape], use: use === undefined ? undefined : [...use], dtype: 'float32', role });
  }

  /** An object whose keys are path segments; each field is built one segment deeper. */
  obj<F extends Record<string, (vb: VarBuilder<L>) => unknown>>(fields: F): { [K in keyof F]: ReturnType<F[K]> } {
    const out: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(fields)) out[k] = f(this.pp(k));
    return out as { [K in keyof F]: ReturnType<F[K]> };
  }

  /** `n` numbered children (`layers.0`, `layers.1`, …). */
  list<T>(n: number, f: (vb: VarBuilder<L>, i: number) => T): T[] {
    return Array.from({ length: n }, (_, i) => f(this.pp(i), i));
  }

  /** torch.nn.Linear: weight [out, in] (+ bias [out]). */
  linear(out: number, inF: number, bias: true): LinearLeaves<L>;
  linear(out: number, inF: number, bias: false): BiasFreeLinearLeaves<L>;
  linear(out: number, inF: number, bias: boolean): LinearLeaves<L> | BiasFreeLinearLeaves<L> {
    const weight = this.pp('weight').param([out, inF], 'linear');
    return bias ? { weight, bias: this.pp('bias').param([out], 'bias') } : { weight };
  }

  /** torch.nn.LayerNorm: weight and bias [d]. */
  layerNorm(d: number): { weight: L; bias: L } {
    return { weight: this.pp('weight').param([d], 'norm'), bias: this.pp('bias').param([d], 'norm') };
  }

  /** RMSNorm: weight [d]. */
  rmsNorm(d: number): { weight: L } {
    return { weight: this.pp('weight').param([d], 'norm') };
  }

  /** torch.nn.Embedding: weight [vocab, d]. */
  embedding(vocab: number, d: number): { weight: L } {
    return { weight: this.pp('weight').param([vocab, d], 'embedding') };
  }
}

/**
 * Every spec a declaration makes, in declaration order.
 *
 * @example collectParamSpecs((vb) => declareQwen2VLParams(cfg, vb)).length // 2 + 12·depth + 6 + 1 + 12·layers + 1
 */
export function collectParamSpecs(declare: (vb: VarBuilder<ParamSpec>) => unknown): ParamSpec[] {
  const specs: ParamSpec[] = [];
  declare(new VarBuilder((s) => {
    specs.push(s);
    return s;
  }));
  return specs;
}

/**
 * The LoRA factors of every linear weight whose module path `target` selects (PEFT's
 * target_modules): `<module>.lora_A.weight` [r, in] and `<module>.lora_B.weight` [out, r].
 *
 * @example loraParamSpecs(specs, (m) => m.endsWith('q_proj'), 8) // two specs per q_proj
 */
export function loraParamSpecs(specs: readonly ParamSpec[], target: (module: string) => boolean, r: number): ParamSpec[] {
  if (!Number.isInteger(r) || r < 1) throw new Vlm2VecError('params', `LoRA rank must be a positive integer, got ${r}`);
  const out: ParamSpec[] = [];
  for (const s of specs) {
    if (s.role !== 'linear' || s.shape.length !== 2 || !s.path.endsWith('.weight')) continue;
    const module = s.path.slice(0, -'.weight'.length);
    if (!target(module)) continue;
    const [o, i] = s.shape as [number, number];
    out.push({ path: `${module}.lora_A.weight`, shape: [r, i], dtype: 'float32', role: 'lora' });
    out.push({ path: `${module}.lora_B.weight`, shape: [o, r], dtype: 'float32', role: 'lora' });
  }
  return out;
}

/**
 * Splits specs into what trains (`trainableRoles`, default LoRA factors) and what stays frozen
 * (graph initializers under jit).
 *
 * @example const { trainable, frozen } = splitTrainable([...base, ...loraParamSpecs(base, isTarget, 8)]);
 */
export function splitTrainable(specs: readonly ParamSpec[], trainableRoles: readonly ParamRole[] = ['lora']): { trainable: ParamSpec[]; frozen: ParamSpec[] } {
  const trainable = specs.filter((s) => trainableRoles.includes(s.role));
  return { trainable, frozen: specs.filter((s) => !trainableRoles.includes(s.role)) };
}

/**
 * LoRA factors of one linear module: A [r, in], B [out, r] (PEFT's lora_A / lora_B weights), and
 * for DoRA the magnitude m [out] (PEFT's lora_magnitude_vector).
 */
export interface LoraFactors<L> {
  A: L;
  B: L;
  m?: L | undefined;
}

/**
 * A copy of `tree` whose linear modules named in `factors` (dotted module paths, e.g.
 * `model.layers.0.self_attn.q_proj`) carry the LoRA factors and `scaling` (alpha / r), so the
 * forward computes W·x + s·B(A·x) (DoRA with `m`: scaled per output row by m / ‖W + s·BA‖, the
 * norm detached) with A, B and m as whatever the caller passes: graph inputs under
 * `valueAndGrad` / `vjp` when training, constants otherwise. Untouched subtrees are shared.
 * `dropout` (training forwards only) gives each adapted module its LoRA dropout (nn/dropout.ts
 * `LoraDropout`, by module path).
 *
 * @example const p = attachLora(params, { 'model.layers.0.self_attn.q_proj': { A, B } }, 2);
 */
export function attachLora<T, L>(tree: T, factors: Readonly<Record<string, LoraFactors<L>>>, scaling: number, dropout?: (module: string) => unknown): T {
  const byModule = new Map(Object.entries(factors));
  const walk = (node: unknown, path: string): unknown => {
    const f = byModule.get(path);
    if (f !== undefined) {
      byModule.delete(path);
      if (typeof node !== 'object' || node === null || !('weight' in node)) throw new Vlm2VecError('params', `${path} is not a linear module`);
      return {
        ...node, lora_A: { weight: f.A }, lora_B: { weight: f.B }, lora_scaling: scaling,
        ...(f.m === undefined ? {} : { lora_magnitude_vector: { weight: f.m } }),
        ...(dropout === undefined ? {} : { lora_dropout: dropout(path) }),
      };
    }
    if (Array.isArray(node)) {
      const prefix = `${path}.`;
      if (![...byModule.keys()].some((m) => m.startsWith(prefix))) return node;
      return node.map((x, i) => walk(x, `${path}.${i}`));
    }
    if (typeof node === 'object' && node !== null && Object.getPrototypeOf(node) === Object.prototype) {
      const prefix = path === '' ? '' : `${path}.`;
      if (![...byModule.keys()].some((m) => m.startsWith(prefix))) return node;
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, `${prefix}${k}`)]));
    }
    return node;
  };
  const out = walk(tree, '') as T;
  if (byModule.size > 0) throw new Vlm2VecError('params', `LoRA factors for modules the tree does not have: ${[...byModule.keys()].slice(0, 3).join(', ')}`);
  return out;
}
