// Generic neural-network layers as plain functions over parameter trees named like HF checkpoints.
// Architecture-specific blocks (e.g. Qwen2-VL's decoder layer, ViT block, M-RoPE) live in their
// model folder under src/models/.

export * from './linear.ts';
export * from './norm.ts';
export * from './activation.ts';
export * from './rope.ts';
export * from './attention.ts';
export * from './pooled.ts';
export * from './mlp.ts';
export * from './loss.ts';
