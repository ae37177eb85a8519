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
// The reference replays each chunk's RNG state in pass 2 so dropout masks match; our trainable
// forwards have no dropout, so both passes are the same function.
// Gradients come back as host Float32Arrays in the leaves' treeFlatten order (what optim.ts takes).

import { Vlm2VecError } from '../errors.ts';
import type { TrainableEncoder } from '../models/encoder.ts';
import type { Tensor } from '../tensor/index.ts';
import { fromArray, realize, treeFlatten, valueAndGrad, vjp } from '../tensor/index.ts';
import { infoNCE } from './loss.ts';

/** Options of a step. */
export interface StepOptions {
  /** InfoNCE temperature (`--temperature`). */
  temperature: number;
}

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
  const f = valueAndGrad((p: P) => infoNCE(enc.reps(p, queries), enc.reps(p, targets), opts));
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
  const sides = [
    { batch: queries, ranges: chunks(enc.rows(queries), opts.qChunkSize, 'gc_q_chunk_size') },
    { batch: targets, ranges: chunks(enc.rows(targets), opts.pChunkSize, 'gc_p_chunk_size') },
  ];
  // 1. Reps without gradient, chunk by chunk (nothing is differentiated, so no graph is kept).
  const reps: { data: Float32Array; dim: number }[] = [];
  for (const side of sides) {
    const parts: Float32Array[] = [];
    let dim = 0;
    for (const [a, b] of side.ranges) {
      const r = enc.reps(params, enc.sliceRows(side.batch, a, b));
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
      const { vjp: back } = vjp((pp: P) => enc.reps(pp, chunk), params);
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
