// Feed-forward blocks over HF-named parameter trees.

import type { Tensor } from '../tensor/index.ts';
import { mul, quickGelu, silu } from '../tensor/index.ts';
import type { LinearParams } from './linear.ts';
import { linear } from './linear.ts';

/** Qwen2MLP parameters (all three projections bias-free in Qwen2). */
export interface SwigluMlpParams {
  /** weight [I, D] */
  gate_proj: LinearParams;
  /** weight [I, D] */
  up_proj: LinearParams;
  /** weight [D, I] */
  down_proj: LinearParams;
}

/** Two-layer MLP parameters (`fc1`, `fc2`, with biases) as in the Qwen2-VL ViT. */
export interface VisionMlpParams {
  /** weight [H, D], bias [H] */
  fc1: LinearParams;
  /** weight [D, H], bias [D] */
  fc2: LinearParams;
}

/**
 * down(silu(gate(x)) * up(x)) (Qwen2MLP / LLaMA MLP).
 *
 * @example const y = swigluMlp(params.mlp, h); // [B, T, 1536] -> [B, T, 1536]
 */
export function swigluMlp(p: SwigluMlpParams, x: Tensor): Tensor {
  const gate = silu(linear(p.gate_proj, x, 'gate_proj')); // [..., I]
  const up = linear(p.up_proj, x, 'up_proj'); // [..., I]
  return linear(p.down_proj, mul(gate, up), 'down_proj'); // [..., D]
}

/**
 * fc2(act(fc1(x))), QuickGELU by default (Qwen2-VL's VisionMlp with hidden_act quick_gelu).
 *
 * @example const y = visionMlp(params.mlp, h); // [N, 1280] -> [N, 1280]
 */
export function visionMlp(p: VisionMlpParams, x: Tensor, act: (t: Tensor) => Tensor = quickGelu): Tensor {
  return linear(p.fc2, act(linear(p.fc1, x, 'fc1')), 'fc2');
}
