// The gradient of one contrastive training step, for any backbone behind `TrainableEncoder`
// (models/encoder.ts): the loss of a batch of queries against a batch of targets and its gradient
// w.r.t. the trainable leaves, either over the whole batch at once or with GradCache (Gao et al.
// 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup"; the reference's
// src/grad_cache/grad_cache.py), which gives the same gradient while holding the activations of
// one chunk at a time:
//   1. reps of every chunk without gradient (queries in chunks of gc_q_chunk_size, targets in
//      chunks of gc_p_chunk_size),
//   2. the loss over all reps and its gradient w.r.t. the reps (the "cache"),
//   3. per chunk again, the encoder's VJP with the cached rep gradients as cotangents, summed into
//      the parameter gradients.
// The reference replays each chunk's RNG state in pass 3 so its dropout masks match pass 1's.
// Here the masks are a function of (seed, step, side, row: models/encoder.ts RepsRandom,
// nn/dropout.ts), so both passes over a chunk draw the same ones by construction, and a row's
// masks are those the whole-batch step gives it.
// Gradients come back as host Float32Arrays in the leaves' treeFlatten order (what optim.ts takes);
// `TrainStep` puts the two together: gradient, clip, AdamW, schedule, new parameter tensors.

import { Vlm2VecError } from '../errors.ts';
import type { RepsRandom, TrainableEncoder } from '../models/encoder.ts';
import type { Tensor } from '../tensor/index.ts';
import { fromArray, realize, treeFlatten, valueAndGrad, vjp } from '../tensor/index.ts';
import { infoNCE } from './loss.ts';
import { decays, OptimizerLoop, type OptimizerLoopOptions, type TrainableParam } from './optim.ts';

/** Options of a step. */
export interface StepOptions {
  /** InfoNCE temperature (`--temperature`). */
  temperature: number;
  /** The run's seed and the optimizer step: a stochastic forward (LoRA dropout) draws from them; absent: none. */
  random?: { seed: number; step: number } | undefined;
}

const randomOf = (opts: StepOptions, side: 0 | 1, firstRow: number): RepsRandom | undefined =>
  opts.random === undefined ? undefined : { ...opts.random, side, firstRow };

/** GradCache's chunk sizes (`--gc_q_chunk_size`, `--gc_p_chunk_size`). */
export interface GradCacheOptions extends StepOptions {
  qChunkSize: number;
  pChunkSize: number;
}

/** The loss of a step and the gradient of every trainable leaf. */
export interface StepGradients {
  loss: number;
  /** One per leaf of the parameter tree, in treeFlatten order. */
  grads: Float32Array[];
  /** The leaves' dotted paths, in the same order. */
  paths: string[];
}

const hostF32 = async (t: Tensor): Promise<Float32Array> => (await t.data()) as Float32Array;

function leavesOf<P>(params: P): { leaves: Tensor[]; paths: string[] } {
  const flat = treeFlatten(params);
  return { leaves: flat.leaves as Tensor[], paths: flat.paths };
}

/**
 * The whole batch in one graph: loss = InfoNCE(reps(q), reps(p)) and its gradient.
 *
 * @example const { loss, grads } = await plainStep(enc, lora, queries, targets, { temperature: 0.02 });
 */
export async function plainStep<P, B>(enc: TrainableEncoder<P, B>, params: P, queries: B, targets: B, opts: StepOptions): Promise<StepGradients> {
  const f = valueAndGrad((p: P) => infoNCE(enc.reps(p, queries, randomOf(opts, 0, 0)), enc.reps(p, targets, randomOf(opts, 1, 0)), opts));
  const [loss, grads] = f(params) as unknown as [Tensor, P];
  const g = leavesOf(grads).leaves;
  await realize([loss, ...g]);
  return { loss: await loss.item(), grads: await Promise.all(g.map(hostF32)), paths: leavesOf(params).paths };
}

/** Row ranges [start, end) of `n` rows in chunks of `size` (which must divide n). */
function chunks(n: number, size: number, what: string): [number, number][] {
  if (!Number.isInteger(size) || size < 1 || n % size !== 0) {
    throw new Vlm2VecError('grad_cache', `${what} ${size} must be a positive integer dividing the batch of ${n}`);
  }
  return Array.from({ length: n / size }, (_, i) => [i * size, (i + 1) * size]);
}

/**
 * GradCache: the same loss and gradient as {@link plainStep}, one chunk's activations at a time.
 *
 * @example const { loss, grads } = await gradCacheStep(enc, lora, queries, targets, { temperature: 0.02, qChunkSize: 8, pChunkSize: 8 });
 */
export async function gradCacheStep<P, B>(enc: TrainableEncoder<P, B>, params: P, queries: B, targets: B, opts: GradCacheOptions): Promise<StepGradients> {
  // What does not depend on the leaves (a frozen vision tower) once, not in both passes.
  if (enc.prepare) {
    queries = await enc.prepare(params, queries);
    targets = await enc.prepare(params, targets);
  }
  const sides = [
    { side: 0 as const, batch: queries, ranges: chunks(enc.rows(queries), opts.qChunkSize, 'gc_q_chunk_size') },
    { side: 1 as const, batch: targets, ranges: chunks(enc.rows(targets), opts.pChunkSize, 'gc_p_chunk_size') },
  ];
  // 1. Reps without gradient, chunk by chunk (nothing is differentiated, so no graph is kept).
  const reps: { data: Float32Array; dim: number }[] = [];
  for (const side of sides) {
    const parts: Float32Array[] = [];
    let dim = 0;
    for (const [a, b] of side.ranges) {
      const r = enc.reps(params, enc.sliceRows(side.batch, a, b), randomOf(opts, side.side, a));
      dim = r.shape[1] as number;
      parts.push(await hostF32(r));
    }
    const data = new Float32Array(parts.reduce((n, x) => n + x.length, 0));
    let off = 0;
    for (const x of parts) {
      data.set(x, off);
      off += x.length;
    }
    reps.push({ data, dim });
  }
  // 2. The loss over the whole batch and its gradient w.r.t. the reps.
  const [q, p] = reps.map((r) => fromArray(r.data, [r.data.length / r.dim, r.dim], 'float32')) as [Tensor, Tensor];
  const [lossT, [dq, dp]] = valueAndGrad((qq: Tensor, pp: Tensor) => infoNCE(qq, pp, opts), { argnums: [0, 1] })(q, p) as unknown as [Tensor, [Tensor, Tensor]];
  await realize([lossT, dq, dp]);
  const cache = [await hostF32(dq), await hostF32(dp)];
  // 3. Per chunk, the encoder's VJP with the cached rep gradients, summed into the parameter gradients.
  const { leaves, paths } = leavesOf(params);
  const grads = leaves.map((t) => new Float32Array(t.shape.reduce((n: number, d) => n * (d as number), 1)));
  for (const [s, side] of sides.entries()) {
    const dim = reps[s]!.dim;
    for (const [a, b] of side.ranges) {
      const chunk = enc.sliceRows(side.batch, a, b);
      const { vjp: back } = vjp((pp: P) => enc.reps(pp, chunk, randomOf(opts, side.side, a)), params);
      const cot = fromArray(cache[s]!.slice(a * dim, b * dim), [b - a, dim], 'float32');
      const g = leavesOf(back(cot)[0] as P).leaves;
      await realize(g);
      for (const [j, t] of g.entries()) {
        const x = await hostF32(t);
        const acc = grads[j]!;
        for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + x[i]!;
      }
    }
  }
  return { loss: await lossT.item(), grads, paths };
}

/** Options of {@link TrainStep}. */
export interface TrainStepOptions extends OptimizerLoopOptions, StepOptions {
  /** GradCache's chunk sizes; absent: the whole batch in one graph. */
  gradCache?: { qChunkSize: number; pChunkSize: number } | undefined;
  /**
   * Whether a leaf (by dotted path) is in the weight-decay group; default: HF's name rule
   * ({@link decays} with the role unknown). Full fine-tuning passes the roles of the parameter
   * specs, since HF also exempts LayerNorm weights whose names do not say "norm".
   */
  decay?: ((path: string) => boolean) | undefined;
  /** `--seed`: with the optimizer step, the key of the step's dropout masks (default 42, HF's). */
  seed?: number | undefined;
}

/** What one step did, as HF logs it. */
export interface TrainStepInfo {
  loss: number;
  learningRate: number;
  /** Total gradient norm before clipping. */
  gradNorm: number;
}

/**
 * One optimizer step after another over the trainable leaves of `params`: the step's gradient
 * (whole batch or GradCache), clip_grad_norm_, AdamW at the scheduled lr, then fresh tensors over
 * the updated float32 master values (`params`).
 *
 * @example
 * const train = await TrainStep.create(enc, factors, { ...ADAMW_DEFAULTS, temperature: 0.02, learningRate: 5e-5, schedule: 'linear', warmupSteps: 100, totalSteps: 5000, maxGradNorm: 1 });
 * const { loss, learningRate, gradNorm } = await train.step(queries, targets);
 */
export class TrainStep<P, B> {
  readonly optimizer: OptimizerLoop;
  private current: P;

  private constructor(readonly enc: TrainableEncoder<P, B>, readonly master: readonly TrainableParam[], private readonly shapes: number[][],
    private readonly unflatten: (leaves: Tensor[]) => P, readonly opts: TrainStepOptions) {
    this.optimizer = new OptimizerLoop(master, opts);
    this.current = this.tensors();
  }

  /** Reads the leaves of `params` into float32 master values (copies) and sets up the optimizer. */
  static async create<P, B>(enc: TrainableEncoder<P, B>, params: P, opts: TrainStepOptions): Promise<TrainStep<P, B>> {
    const flat = treeFlatten(params);
    const leaves = flat.leaves as Tensor[];
    const decay = opts.decay ?? ((path: string) => decays(path, 'linear'));
    await realize(leaves);
    const master: TrainableParam[] = [];
    for (const [i, t] of leaves.entries()) {
      if (t.dtype !== 'float32') throw new Vlm2VecError('train', `trainable ${flat.paths[i]} is ${t.dtype}; float32 master weights are needed`);
      master.push({ name: flat.paths[i]!, data: Float32Array.from((await t.data()) as Float32Array), decay: decay(flat.paths[i]!) });
    }
    return new TrainStep(enc, master, leaves.map((t) => t.shape as number[]), (l) => flat.unflatten(l) as P, opts);
  }

  /** The parameters as tensors over the current master values. */
  get params(): P {
    return this.current;
  }

  // Fresh tensors over copies of the master values: a realized tensor may keep its old value.
  private tensors(): P {
    return this.unflatten(this.master.map((m, i) => fromArray(m.data.slice(), this.shapes[i]!, 'float32')));
  }

  /**
   * One step on a batch of queries and their targets. A non-finite loss or gradient throws
   * (naming the step) before anything is updated, so the weights stay those of the last good step.
   */
  async step(queries: B, targets: B): Promise<TrainStepInfo> {
    const at = this.optimizer.schedulerStep;
    // The masks of step k are keyed by k itself, so a resumed run draws an unbroken run's masks.
    const step = { temperature: this.opts.temperature, random: { seed: this.opts.seed ?? 42, step: at } };
    const g = this.opts.gradCache
      ? await gradCacheStep(this.enc, this.current, queries, targets, { ...step, ...this.opts.gradCache })
      : await plainStep(this.enc, this.current, queries, targets, step);
    if (!Number.isFinite(g.loss)) throw new Vlm2VecError('train', `step ${at}: the loss is ${g.loss}; the weights were not updated`);
    const bad = g.grads.findIndex((x) => !x.every(Number.isFinite));
    if (bad >= 0) throw new Vlm2VecError('train', `step ${at}: the gradient of ${g.paths[bad]} is not finite; the weights were not updated`);
    const { learningRate, gradNorm } = this.optimizer.step(g.grads);
    this.current = this.tensors();
    return { loss: g.loss, learningRate, gradNorm };
  }
}
