// The architecture-independent half of `loadTrainModel` (models/common/train-model.ts): the LoRA /
// DoRA leaves to start from (a new adapter as peft initializes it, or an adapter's tensors checked
// against the model's linear modules), their order, the one scaling, the trained leaves back as
// PEFT tensors, and full fine-tuning's leaves with a frozen subtree. Each architecture's
// train-model.ts adds only what is its own: reading its weights, preparing and batching items,
// and its trainable forward.
//
// A new adapter starts as peft 0.21's LoraLayer.reset_lora_parameters does: B = 0; A uniform in
// ±1/√in (kaiming_uniform_ with a = √5, `init_lora_weights=True`) or normal with std 1/r
// (`"gaussian"`, the reference's choice); DoRA's magnitude = the row norms of W (B = 0). The
// random values come from our seeded generator, not torch's, so they are not the reference's
// numbers for the same seed (the distribution is the same; B = 0 makes the start the base model).

import { Vlm2VecError } from '../../errors.ts';
import { rowKeyedDropout, type LoraDropout } from '../../nn/dropout.ts';
import { isTargetModule, moduleScaling } from '../../io/weights/peft.ts';
import type { AdapterWriteConfig, Float32Tensor, PeftKeyLayout } from '../../io/weights/peft-write.ts';
import type { Tensor } from '../../tensor/index.ts';
import { fromArray, reshape, stopGradient, where } from '../../tensor/index.ts';
import type { RepsRandom } from '../encoder.ts';
import { rng } from '../../util/random.ts';
import type { HostWeights } from './float16.ts';
import type { LoraFactors, ParamRole, ParamSpec } from './param-spec.ts';
import { attachLora } from './param-spec.ts';
import type { HfTokenizer } from '../../io/text/tokenizer.ts';
import type { TrainedWeights, TrainWeightsInit } from './train-model.ts';

/** LoRA factors by checkpoint module path (`model.layers.0.self_attn.q_proj`). */
export type LoraFactorTree = Record<string, LoraFactors<Tensor>>;

/** Box–Muller normals from the seeded uniform generator. */
function normals(n: number, std: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** The adapter leaves of a training run and what the trainable forward needs to use them. */
export interface AdapterTrainSetup {
  /** Factors in the model's module order (the order of the gradient-norm sum). */
  readonly factors: LoraFactorTree;
  readonly config: AdapterWriteConfig;
  /** alpha / r (one for every module). */
  readonly scaling: number;
  /** The adapter's lora_dropout. */
  readonly dropout: number;
}

/**
 * The adapter leaves of `init` over a model's parameter specs (`tag` names the architecture in
 * errors; `examples` lists module suffixes the model has, for the error when none is selected;
 * `canonicalName` maps an adapter tensor's name of another transformers layout to the specs').
 *
 * @example const a = adapterTrainSetup('phi3_v', phi3VParamSpecs(cfg), host, init, 'qkv_proj, o_proj, gate_up_proj, down_proj');
 */
export function adapterTrainSetup(tag: string, specs: readonly ParamSpec[], host: HostWeights,
  init: Exclude<TrainWeightsInit, { kind: 'full' }>, examples: string, canonicalName: (name: string) => string = (n) => n): AdapterTrainSetup {
  const roles = new Map(specs.map((s) => [s.path, s.role]));
  const shapes = new Map(specs.map((s) => [s.path, s.shape]));
  const factors: LoraFactorTree = {};
  let config: AdapterWriteConfig;
  if (init.kind === 'new-adapter') {
    config = init.config;
    const next = rng(init.seed);
    const r = config.r;
    for (const s of specs) {
      if (s.role !== 'linear' || s.shape.length !== 2 || !s.path.endsWith('.weight')) continue;
      const module = s.path.slice(0, -'.weight'.length);
      if (!isTargetModule(config, module)) continue;
      const [out, inF] = s.shape as [number, number];
      const A = config.initLoraWeights === 'gaussian' ? normals(r * inF, 1 / r, next)
        : Float32Array.from({ length: r * inF }, () => (2 * next() - 1) / Math.sqrt(inF));
      const f: LoraFactors<Tensor> = { A: fromArray(A, [r, inF], 'float32'), B: fromArray(new Float32Array(out * r), [out, r], 'float32') };
      if (config.useDora) {
        const w = host.get(s.path)!.data as Float32Array;
        const m = new Float32Array(out);
        for (let o = 0; o < out; o++) {
          let sq = 0;
          for (let i = 0; i < inF; i++) sq += w[o * inF + i]! ** 2;
          m[o] = Math.sqrt(sq);
        }
        f.m = fromArray(m, [out], 'float32');
      }
      factors[module] = f;
    }
    if (Object.keys(factors).length === 0) {
      throw new Vlm2VecError(tag, `--lora_target_modules ${JSON.stringify(config.targetModules)} selects no linear module of this model (e.g. ${examples})`);
    }
  } else {
    config = { ...init.config, taskType: null };
    for (const [stored, t] of init.tensors) {
      const name = canonicalName(stored);
      const m = /^(.+)\.(lora_A\.weight|lora_B\.weight|lora_magnitude_vector)$/.exec(name);
      if (!m) throw new Vlm2VecError(tag, `adapter tensor '${name}' is not lora_A / lora_B / lora_magnitude_vector`);
      const module = m[1]!;
      if (!roles.has(`${module}.weight`)) throw new Vlm2VecError(tag, `the adapter has ${name}, but the model has no module ${module} (is it for another base model?)`);
      const [out, inF] = shapes.get(`${module}.weight`) as [number, number];
      const okShape = m[2] === 'lora_A.weight' ? t.shape.length === 2 && t.shape[1] === inF
        : m[2] === 'lora_B.weight' ? t.shape.length === 2 && t.shape[0] === out : t.shape.length === 1 && t.shape[0] === out;
      if (!okShape) {
        throw new Vlm2VecError(tag, `adapter tensor ${name} is [${t.shape.join(', ')}], but ${module}.weight of this model is [${out}, ${inF}] (is the adapter for another base model?)`);
      }
      const f = (factors[module] ??= {} as LoraFactors<Tensor>) as unknown as Record<string, Tensor>;
      f[m[2] === 'lora_A.weight' ? 'A' : m[2] === 'lora_B.weight' ? 'B' : 'm'] = fromArray(t.data.slice(), [...t.shape], 'float32');
    }
  }
  // Leaves in the model's module order, wherever they came from (a file lists them sorted by
  // name): the order of the gradient-norm sum, so a resumed run clips exactly as an unbroken one.
  const order = new Map(specs.map((s, i) => [s.path.replace(/\.weight$/, ''), i]));
  const sorted = Object.keys(factors).sort((x, y) => order.get(x)! - order.get(y)!);
  const ordered: LoraFactorTree = Object.fromEntries(sorted.map((k) => {
    const f = factors[k]!;
    return [k, f.m === undefined ? { A: f.A, B: f.B } : { A: f.A, B: f.B, m: f.m }];
  }));
  const scalings = new Set(sorted.map((module) => moduleScaling(config, module).scaling));
  if (scalings.size !== 1) throw new Vlm2VecError(tag, `the adapter's rank_pattern / alpha_pattern give ${scalings.size} different scalings; training supports one`);
  if (config.useDora && Object.values(factors).some((f) => f.m === undefined)) {
    throw new Vlm2VecError(tag, 'a DoRA adapter (use_dora) without lora_magnitude_vector tensors');
  }
  const dropout = config.loraDropout;
  if (!(dropout >= 0 && dropout < 1)) throw new Vlm2VecError(tag, `lora_dropout ${dropout} must be in [0, 1)`);
  return { factors: ordered, config, scaling: [...scalings][0]!, dropout };
}

const LEAF_KEYS: Record<string, string> = { A: 'lora_A.weight', B: 'lora_B.weight', m: 'lora_magnitude_vector' };

/**
 * Trained adapter leaves (`<module>.A|B|m`) as PEFT tensors, saved in `layout` (see
 * io/weights/peft-write.ts; the published V1 adapters use 'transformers4').
 */
export function adapterTrainedWeights(tag: string, specs: readonly ParamSpec[], config: AdapterWriteConfig,
  leaves: readonly { readonly name: string; readonly data: Float32Array }[], layout?: PeftKeyLayout): TrainedWeights {
  const shapes = new Map(specs.map((s) => [s.path, s.shape]));
  return {
    kind: 'adapter', config, ...(layout === undefined ? {} : { layout }),
    tensors: new Map(leaves.map((l) => {
      const m = /^(.+)\.(A|B|m)$/.exec(l.name);
      const shape0 = m ? shapes.get(`${m[1]}.weight`) : undefined;
      if (!m || !shape0) throw new Vlm2VecError(tag, `unexpected trainable leaf ${l.name}`);
      const [out, inF] = shape0 as [number, number];
      const r = l.data.length / (m[2] === 'A' ? inF : out);
      const shape = m[2] === 'A' ? [r, inF] : m[2] === 'B' ? [out, r] : [out];
      return [`${m[1]}.${LEAF_KEYS[m[2]!]}`, { shape, data: l.data }];
    })),
  };
}

/**
 * Full fine-tuning's leaves: the tree with the subtrees at `paths` (dotted, e.g. the vision tower
 * or `…encoder.layers.23`) emptied (an empty object has no leaves; list indices stay), and `join`
 * putting them back for the forward.
 *
 * @example const { trainable, join } = splitFrozen(params, ['vision_tower']); reps(join(trainable), batch)
 */
export function splitFrozen<T>(tree: T, paths: readonly string[]): { trainable: unknown; join: (trainable: unknown) => T } {
  const set = (node: unknown, keys: readonly string[], value: (old: unknown) => unknown, at: string): unknown => {
    if (typeof node !== 'object' || node === null || !(keys[0]! in node)) throw new Vlm2VecError('params', `the parameter tree has no ${at}${keys[0]}`);
    const child = (node as Record<string, unknown>)[keys[0]!];
    const v = keys.length === 1 ? value(child) : set(child, keys.slice(1), value, `${at}${keys[0]}.`);
    if (Array.isArray(node)) return node.map((x, i) => (String(i) === keys[0] ? v : x));
    return { ...(node as Record<string, unknown>), [keys[0]!]: v };
  };
  const saved = paths.map((p) => p.split('.').reduce((n: unknown, k) => (n as Record<string, unknown>)[k], tree));
  let trainable: unknown = tree;
  for (const p of paths) trainable = set(trainable, p.split('.'), () => ({}), '');
  return {
    trainable,
    join: (t) => paths.reduce((acc: unknown, p, i) => set(acc, p.split('.'), () => saved[i], ''), t) as T,
  };
}

/** Whether `name` (a parameter or module path) lies under one of the dotted `prefixes`. */
export const underAny = (name: string, prefixes: readonly string[]): boolean => prefixes.some((p) => name === p || name.startsWith(`${p}.`));

/**
 * Full fine-tuning's trained leaves as the model's tensors (those under `kept`, which did not
 * train, taken from `host`), with config.json written again.
 */
export function fullTrainedWeights(specs: readonly ParamSpec[], host: HostWeights, configJson: Readonly<Record<string, unknown>>, dir: string,
  leaves: readonly { readonly name: string; readonly data: Float32Array }[], kept: readonly string[]): TrainedWeights {
  const shapes = new Map(specs.map((s) => [s.path, s.shape]));
  const frozen: [string, Float32Tensor][] = specs.filter((s) => underAny(s.path, kept))
    .map((s) => [s.path, { shape: [...s.shape], data: host.get(s.path)!.data as Float32Array }]);
  return {
    kind: 'model', config: configJson, processorFrom: dir,
    tensors: new Map([...frozen, ...leaves.map((l) => [l.name, { shape: [...(shapes.get(l.name) ?? [l.data.length])], data: l.data }] as [string, Float32Tensor])]),
  };
}

/**
 * The adapter's factors split into those that train and those under `unused` (modules the
 * embedding never runs, e.g. CLIP layers after the feature layer: torch gives them no gradient,
 * so AdamW leaves them as they are, weight decay included); the latter go back into the saved
 * adapter unchanged.
 */
export function splitUnusedFactors(factors: LoraFactorTree, unused: readonly string[]): { trained: LoraFactorTree; kept: LoraFactorTree } {
  const trained: LoraFactorTree = {};
  const kept: LoraFactorTree = {};
  for (const [k, f] of Object.entries(factors)) (underAny(k, unused) ? kept : trained)[k] = f;
  return { trained, kept };
}

/** {@link splitUnusedFactors}' kept factors as trained-leaf records (`<module>.A|B|m`), to save with the trained ones. */
export async function factorLeaves(factors: LoraFactorTree): Promise<{ name: string; data: Float32Array }[]> {
  const out: { name: string; data: Float32Array }[] = [];
  for (const [k, f] of Object.entries(factors)) {
    for (const [leaf, t] of [['A', f.A], ['B', f.B], ['m', f.m]] as const) if (t !== undefined) out.push({ name: `${k}.${leaf}`, data: (await t.data()) as Float32Array });
  }
  return out;
}

/**
 * The LoRA dropout of a vision-tower module that runs once per image (CLIP: [patches, tokens, in],
 * no row axis): nn/dropout.ts's chunk key with the image's index in the chunk as the `part`, over
 * all the input's units whatever its rank.
 *
 * @example attachLora(params, lora, s, (m) => partDropout(0.1, random, m, 2))
 */
export function partDropout(p: number, r: RepsRandom, module: string, part: number): LoraDropout {
  const d = rowKeyedDropout(p, { seed: r.seed, step: r.step, side: r.side, module }, r.firstRow, part);
  return { p, keepMask: (shape) => reshape(d.keepMask([shape.slice(0, -1).reduce((n, x) => n * x, 1), shape.at(-1)!]), [...shape]) };
}

/**
 * An embedding table whose `padId` row gets no gradient, as torch's nn.Embedding(padding_idx)
 * gives it none (the row still takes weight decay): that row is read through stopGradient.
 *
 * @example tree.model.embed_tokens.weight = paddingRowFrozen(tree.model.embed_tokens.weight, 32000)
 */
export function paddingRowFrozen(table: Tensor, padId: number): Tensor {
  const rows = table.shape[0] as number;
  if (!(padId >= 0 && padId < rows)) return table;
  const mask = new Uint8Array(rows);
  mask[padId] = 1;
  return where(fromArray(mask, [rows, 1], 'bool'), stopGradient(table), table);
}

/**
 * Full fine-tuning's leaf roles for HF's weight-decay groups (train/optim.ts decays): as declared,
 * except that a vector declared 'bias' whose name is not a bias (CLIP's class_embedding, LLaVA's
 * image_newline, Phi-3-V's glb_GN / sub_GN) is no nn.Linear bias nor a norm to HF's Trainer,
 * which decays it (its name matches none of the no-decay patterns): it is given 'embedding'.
 */
export function decayRoles(specs: readonly ParamSpec[]): (path: string) => ParamRole {
  const roles = new Map(specs.map((s) => [s.path, s.role]));
  return (path) => {
    const r = roles.get(path) ?? 'linear';
    return r === 'bias' && !/(?:^|\.)bias$/.test(path) ? 'embedding' : r;
  };
}

/** A training batch whose images run through a vision tower one at a time (CLIP-based backbones). */
export interface PerImageBatch<I> {
  readonly shape: readonly [number, number];
  readonly images: readonly I[];
  /** A frozen tower's features per image, computed once by `prepare`. */
  readonly frozenFeatures?: readonly Float32Array[] | undefined;
}

/** What a CLIP-based backbone gives {@link perImageTrainable}. */
export interface PerImageHooks<P, I, B extends PerImageBatch<I>> {
  /** Checkpoint path prefix of the vision tower's modules (`vision_tower.`). */
  vision: string;
  sliceRows: (batch: B, start: number, end: number) => B;
  /** One image's features [K, D] under `params`. */
  imageFeatures: (params: P, image: I) => Tensor;
  /** Pooled reps; `params(j)` is the tree for image j (its own vision dropout masks), `params(-1)` the language model's. */
  reps: (params: (image: number) => P, batch: B) => Tensor;
}

/**
 * The trainable encoder of a backbone whose vision tower runs per image, with LoRA / DoRA factors
 * as the leaves (`params` frozen, captured): peft's LoRA dropout on the language model by batch row,
 * on vision modules by image (partDropout), and a frozen tower's features computed once per batch.
 *
 * @example const enc = perImageTrainable(params, { scaling: 4, dropout: 0.1 }, { vision: 'vision_tower.', sliceRows, imageFeatures, reps });
 */
export function perImageTrainable<P, I, B extends PerImageBatch<I>>(params: P, opts: { scaling: number; dropout: number }, hooks: PerImageHooks<P, I, B>):
  { rows: (b: B) => number; sliceRows: (b: B, s: number, e: number) => B; reps: (lora: LoraFactorTree, batch: B, random?: RepsRandom) => Tensor; prepare: (lora: LoraFactorTree, batch: B) => Promise<B> } {
  const p = opts.dropout;
  const { vision } = hooks;
  const visionAdapted = (lora: LoraFactorTree) => Object.keys(lora).some((k) => k.startsWith(vision));
  return {
    rows: (batch) => batch.shape[0],
    sliceRows: hooks.sliceRows,
    reps: (lora, batch, random) => {
      if (!(p > 0 && random !== undefined)) {
        const tree = attachLora(params, lora, opts.scaling);
        return hooks.reps(() => tree, batch);
      }
      const lm = attachLora(params, lora, opts.scaling, (module) =>
        (module.startsWith(vision) ? undefined : rowKeyedDropout(p, { seed: random.seed, step: random.step, side: random.side, module }, random.firstRow)));
      const perImage = (j: number): P => (j < 0 || !visionAdapted(lora) ? lm
        : attachLora(params, lora, opts.scaling, (module) => (module.startsWith(vision) ? partDropout(p, random, module, j) : undefined)));
      return hooks.reps(perImage, batch);
    },
    prepare: async (lora, batch) => {
      if (visionAdapted(lora) || batch.frozenFeatures !== undefined) return batch; // the tower trains
      const feats: Float32Array[] = [];
      for (const img of batch.images) feats.push((await hooks.imageFeatures(params, img).data()) as Float32Array);
      return { ...batch, frozenFeatures: feats };
    },
  };
}

/** A padded training batch of rows with their images in row order (Phi-3-V, LLaVA-NeXT). */
export interface ImageRowsBatch<I> extends PerImageBatch<I> {
  readonly inputIds: BigInt64Array;
  readonly attentionMask: BigInt64Array;
  readonly imagesPerRow: readonly number[];
}

/**
 * Prepared rows padded into a batch (`side` as the backbone pads), each row's images kept in order.
 *
 * @example const b = padImageRows([row], tokenizer, 'left'); b.shape // [1, T]
 */
export function padImageRows<I>(rows: readonly { ids: readonly number[]; images: readonly I[] }[], tokenizer: HfTokenizer, side: 'left' | 'right'): ImageRowsBatch<I> {
  const b = tokenizer.padBatch(rows.map((r) => r.ids), { paddingSide: side });
  return { inputIds: b.inputIds, attentionMask: b.attentionMask, shape: b.shape, images: rows.flatMap((r) => r.images), imagesPerRow: rows.map((r) => r.images.length) };
}

/**
 * Rows [start, end) at the batch's full length, with their own images (and frozen features).
 * `what` names the backbone in the error.
 */
export function sliceImageRows<I, B extends ImageRowsBatch<I>>(batch: B, start: number, end: number, what: string): B {
  const [b, l] = batch.shape;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > b || start >= end) {
    throw new Vlm2VecError(what, `row range [${start}, ${end}) is not inside the batch of ${b} rows`);
  }
  const first = batch.imagesPerRow.slice(0, start).reduce((a, n) => a + n, 0);
  const count = batch.imagesPerRow.slice(start, end).reduce((a, n) => a + n, 0);
  const rows: ImageRowsBatch<I> = {
    inputIds: batch.inputIds.subarray(start * l, end * l),
    attentionMask: batch.attentionMask.subarray(start * l, end * l),
    shape: [end - start, l],
    images: batch.images.slice(first, first + count),
    imagesPerRow: batch.imagesPerRow.slice(start, end),
    ...(batch.frozenFeatures === undefined ? {} : { frozenFeatures: batch.frozenFeatures.slice(first, first + count) }),
  };
  return rows as B; // B adds no fields of its own (Phi3VTrainBatch, LlavaTrainBatch)
}
