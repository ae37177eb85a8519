// Qwen2-VL: config, processor, weights, vision tower, language model, position ids, encoder.

export * from './config.ts';
export * from './processor.ts';
export * from './weights.ts';
export * from './vision.ts';
export * from './text.ts';
export * from './rope.ts';
export * from './rope-index.ts';
export * from './decoder-layer.ts';
export * from './vision-block.ts';
export * from './forward.ts';
export * from './batch.ts';
export * from './model.ts';
export * from './encoder.ts';
export * from './record.ts';
