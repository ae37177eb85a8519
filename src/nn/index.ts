// Neural-network layers as plain functions over parameter trees named like HF checkpoints.

export * from './linear.ts';
export * from './norm.ts';
export * from './activation.ts';
export * from './rope.ts';
export * from './attention.ts';
export * from './mlp.ts';
export * from './loss.ts';
export * from './qwen2-decoder.ts';
export * from './qwen2-vision-block.ts';
