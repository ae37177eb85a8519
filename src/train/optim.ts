// The optimizer side of one training step, as HF's Trainer runs it with torch's AdamW:
// clip_grad_norm_ (total L2 norm over every gradient, coefficient max_norm / (norm + 1e-6)
// clamped to 1, the pre-clip norm returned and logged), AdamW (decoupled decay p ← p·(1 − lr·wd),
// bias-corrected moments, eps added outside the square root), then the LambdaLR step; the lr of
// optimizer step k (0-based) is base_lr · lr_lambda(k), so with warmup the first step has lr 0.
//
// Host-side on Float32Arrays, every operation rounded to float32 in torch's order
// (_single_tensor_adamw), so the result tracks torch's float32 arithmetic to an ulp. The element
// loop runs in a WebAssembly SIMD kernel (adamw-simd.ts: the same float32 operations, 4 lanes,
// identical bits), 3.5–4.7× faster than the scalar Math.fround loop that remains for the last
// 1–3 values and as the reference. Why not an ONNX graph: host-side keeps the optimizer state in
// plain arrays that a checkpoint writes as they are, and it needs no copy of 3 × the trainable
// set into ORT tensors and back each step. Full fine-tuning of Qwen2-VL-2B's 2.2 G values spends
// a few seconds per step here (docs/training.md, "Speed").

import { Vlm2VecError } from '../errors.ts';
import type { ParamRole } from '../models/common/param-spec.ts';
import { adamwSimd } from './adamw-simd.ts';

const f = Math.fround;

/** transformers' `lr_scheduler_type` values supported here. */
export type LrSchedulerType = 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';
export const LR_SCHEDULER_TYPES: readonly LrSchedulerType[] = ['linear', 'cosine', 'constant', 'constant_with_warmup'];

/**
 * Warmup steps as TrainingArguments.get_warmup_steps: `warmup_steps` ≥ 1 is a count, a value in
 * (0, 1) a fraction of the total; otherwise `warmup_ratio` · total; fractions round up.
 *
 * @example warmupStepsOf(5000, { warmupSteps: 100 }) // 100; warmupStepsOf(1000, { warmupRatio: 0.05 }) // 50
 */
export function warmupStepsOf(totalSteps: number, opts: { warmupSteps?: number | undefined; warmupRatio?: number | undefined }): number {
  const ws = opts.warmupSteps ?? 0;
  const ratio = opts.warmupRatio ?? 0;
  if (!(ws >= 0) || !(ratio >= 0 && ratio <= 1)) throw new Vlm2VecError('lr_scheduler', `warmup_steps must be ≥ 0 and warmup_ratio in [0, 1], got ${ws} and ${ratio}`);
  if (ws >= 1) return Math.trunc(ws);
  return Math.ceil(totalSteps * (ws > 0 ? ws : ratio));
}

/** Options of {@link lrLambda}. */
export interface ScheduleOptions {
  warmupSteps: number;
  totalSteps: number;
  /** Cosine only: number of half-waves … transformers' `num_cycles` (default 0.5: one decay to 0). */
  numCycles?: number;
}

/**
 * transformers' lr_lambda of a schedule (optimization.py `_get_*_lr_lambda`): the factor on the
 * base lr at scheduler step `k`.
 *
 * @example lrLambda('linear', { warmupSteps: 100, totalSteps: 5000 })(0) // 0 (the first step's lr)
 */
export function lrLambda(type: LrSchedulerType, opts: ScheduleOptions): (k: number) => number {
  const { warmupSteps: w, totalSteps: n } = opts;
  const warm = (k: number): number => k / Math.max(1, w);
  switch (type) {
    case 'constant':
      return () => 1;
    case 'constant_with_warmup':
      return (k) => (k < w ? warm(k) : 1);
    case 'linear':
      return (k) => (k < w ? warm(k) : Math.max(0, (n - k) / Math.max(1, n - w)));
    case 'cosine': {
      const cycles = opts.numCycles ?? 0.5;
      return (k) => {
        if (k < w) return warm(k);
        const progress = (k - w) / Math.max(1, n - w);
        return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
      };
    }
    default:
      throw new Vlm2VecError('lr_scheduler', `lr_scheduler_type '${String(type)}' is not supported (supported: ${LR_SCHEDULER_TYPES.join(', ')})`);
  }
}

// Trainer.get_decay_parameter_names: parameters inside an nn.LayerNorm, or whose lower-cased
// dotted name matches one of these, get no weight decay.
const NO_DECAY_NAME = [/bias/, /layernorm/, /rmsnorm/, /(?:^|\.)norm(?:$|\.)/, /_norm(?:$|\.)/];

/**
 * Whether HF's Trainer applies weight decay to a parameter: not to biases and norm weights
 * (by role, which stands for its LayerNorm-type test, and by its name patterns); LoRA factors,
 * DoRA magnitudes, linear and embedding weights decay.
 *
 * @example decays('model.norm.weight', 'norm') // false; decays('model.layers.0.self_attn.q_proj.lora_A.weight', 'lora') // true
 */
export function decays(path: string, role: ParamRole): boolean {
  if (role === 'bias' || role === 'norm') return false;
  const name = path.toLowerCase();
  return !NO_DECAY_NAME.some((re) => re.test(name));
}

/**
 * torch.nn.utils.clip_grad_norm_ over every gradient (L2, in place): scales them by
 * min(1, maxNorm / (norm + 1e-6)) and returns the norm before clipping. A non-finite norm is
 * returned as is (the caller stops on it) and the gradients are left alone.
 *
 * @example const gradNorm = clipGradNorm(grads, 1.0); // what HF logs as grad_norm
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const norm = Math.sqrt(sq);
  if (!Number.isFinite(norm)) return norm;
  const coef = f(Math.min(1, maxNorm / (norm + 1e-6)));
  if (coef < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = f(g[i]! * coef);
  return norm;
}

/** One trainable tensor: its name, its float32 master values (updated in place), its group. */
export interface TrainableParam {
  readonly name: string;
  readonly data: Float32Array;
  /** In the weight-decay group ({@link decays}). */
  readonly decay: boolean;
}

/** torch.optim.AdamW's hyper-parameters (TrainingArguments' adam_* and weight_decay). */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** HF TrainingArguments' defaults. */
export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/**
 * AdamW's state as a checkpoint keeps it: steps taken and both moments by parameter name (the
 * shape src/train/checkpoint.ts writes as optimizer.safetensors).
 */
export interface AdamWState {
  readonly step: number;
  readonly moments: ReadonlyMap<string, { readonly expAvg: Float32Array; readonly expAvgSq: Float32Array }>;
}

/**
 * torch.optim.AdamW (amsgrad off, maximize off) over float32 parameters, with HF's two groups:
 * `weightDecay` for the decaying ones, 0 for the rest. State: the step count and both moments.
 *
 * @example const opt = new AdamW(params, ADAMW_DEFAULTS); opt.step(grads, 5e-5);
 */
export class AdamW {
  readonly expAvg: Float32Array[];
  readonly expAvgSq: Float32Array[];
  /** Optimizer steps taken (torch's per-parameter `step`, the same for all here). */
  stepCount = 0;
  /** Run the element loop through the WebAssembly SIMD kernel (adamw-simd.ts; identical bits). */
  simd = true;

  constructor(readonly params: readonly TrainableParam[], readonly opts: AdamWOptions) {
    this.expAvg = params.map((p) => new Float32Array(p.data.length));
    this.expAvgSq = params.map((p) => new Float32Array(p.data.length));
  }

  /** A copy of the state (for a checkpoint). */
  state(): AdamWState {
    return {
      step: this.stepCount,
      moments: new Map(this.params.map((p, j) => [p.name, { expAvg: this.expAvg[j]!.slice(), expAvgSq: this.expAvgSq[j]!.slice() }])),
    };
  }

  /** Takes a saved state: the same parameter names, each moment the parameter's length. */
  loadState(s: AdamWState): void {
    if (!Number.isInteger(s.step) || s.step < 0) throw new Vlm2VecError('adamw', `saved step ${s.step} is not a step count`);
    const extra = [...s.moments.keys()].filter((n) => !this.params.some((p) => p.name === n));
    if (extra.length > 0) throw new Vlm2VecError('adamw', `the saved state has moments for parameters this run does not train: ${extra.slice(0, 3).join(', ')}`);
    this.params.forEach((p, j) => {
      const m = s.moments.get(p.name);
      if (!m) throw new Vlm2VecError('adamw', `the saved state has no moments for ${p.name}`);
      if (m.expAvg.length !== p.data.length || m.expAvgSq.length !== p.data.length) {
        throw new Vlm2VecError('adamw', `${p.name}: saved moments have ${m.expAvg.length} / ${m.expAvgSq.length} values, the parameter ${p.data.length}`);
      }
      this.expAvg[j]!.set(m.expAvg);
      this.expAvgSq[j]!.set(m.expAvgSq);
    });
    this.stepCount = s.step;
  }

  /** One update with gradients `grads` (one per parameter, same lengths) at learning rate `lr`. */
  step(grads: readonly Float32Array[], lr: number): void {
    if (grads.length !== this.params.length) throw new Vlm2VecError('adamw', `got ${grads.length} gradients for ${this.params.length} parameters`);
    const { beta1, beta2, eps } = this.opts;
    this.stepCount++;
    const t = this.stepCount;
    // Python floats (double) in torch, as scalars of the float32 ops.
    const bc1 = 1 - beta1 ** t;
    const stepSize = lr / bc1;
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    // The scalars reach the float32 kernels as float32 values.
    const a1 = f(1 - beta1);
    const b2 = f(beta2);
    const a2 = f(1 - beta2);
    const negStep = f(-stepSize);
    const bc2 = f(bc2Sqrt);
    const epsF = f(eps);
    this.params.forEach((p, j) => {
      const g = grads[j]!;
      const w = p.data;
      if (g.length !== w.length) throw new Vlm2VecError('adamw', `${p.name}: gradient has ${g.length} values, the parameter ${w.length}`);
      const m = this.expAvg[j]!;
      const v = this.expAvgSq[j]!;
      const keep = f(p.decay ? 1 - lr * this.opts.weightDecay : 1);
      // The SIMD kernel takes the leading multiple of 4 (the same bits); the loop below the rest.
      const start = this.simd ? adamwSimd(w, g, m, v, { keep, a1, b2, a2, negStep, bc2, eps: epsF }) : 0;
      for (let i = start; i < w.length; i++) {
        const gi = g[i]!;
        const wi = f(w[i]! * keep); // param.mul_(1 − lr·wd)
        const mi = f(m[i]! + f(a1 * f(gi - m[i]!))); // exp_avg.lerp_(grad, 1 − β1)
        const vi = f(f(v[i]! * b2) + f(f(a2 * gi) * gi)); // exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2)
        const denom = f(f(f(Math.sqrt(vi)) / bc2) + epsF); // (√v / √bc2).add_(eps)
        m[i] = mi;
        v[i] = vi;
        w[i] = f(wi + f(f(negStep * mi) / denom)); // param.addcdiv_(m, denom, −lr / bc1)
      }
    });
  }
}

/** Options of {@link OptimizerLoop}: AdamW's, the schedule's and clipping. */
export interface OptimizerLoopOptions extends AdamWOptions {
  learningRate: number;
  schedule: LrSchedulerType;
  warmupSteps: number;
  totalSteps: number;
  /** Clip the total gradient norm to this (HF `max_grad_norm`; ≤ 0: no clipping). */
  maxGradNorm: number;
}

/** What one optimizer step did, as HF logs it. */
export interface OptimizerStepInfo {
  /** The lr the update used. */
  learningRate: number;
  /** The total gradient norm before clipping. */
  gradNorm: number;
}

/**
 * HF Trainer's order per step: clip, AdamW at base_lr · lr_lambda(k), scheduler step.
 *
 * @example const loop = new OptimizerLoop(params, { ...ADAMW_DEFAULTS, learningRate: 5e-5, schedule: 'linear', warmupSteps: 100, totalSteps: 5000, maxGradNorm: 1 });
 * const { learningRate, gradNorm } = loop.step(grads);
 */
export class OptimizerLoop {
  readonly adamw: AdamW;
  private readonly lambda: (k: number) => number;
  /** Scheduler steps taken (= optimizer steps). */
  schedulerStep = 0;

  constructor(params: readonly TrainableParam[], readonly opts: OptimizerLoopOptions) {
    this.adamw = new AdamW(params, opts);
    this.lambda = lrLambda(opts.schedule, opts);
  }

  /** The lr the next step will use. */
  get learningRate(): number {
    return this.opts.learningRate * this.lambda(this.schedulerStep);
  }

  /** Clips `grads` in place, updates the parameters, advances the schedule. */
  step(grads: readonly Float32Array[]): OptimizerStepInfo {
    const gradNorm = this.opts.maxGradNorm > 0 ? clipGradNorm(grads, this.opts.maxGradNorm) : totalNorm(grads);
    const learningRate = this.learningRate;
    this.adamw.step(grads, learningRate);
    this.schedulerStep++;
    return { learningRate, gradNorm };
  }
}

function totalNorm(grads: readonly Float32Array[]): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  return Math.sqrt(sq);
}
