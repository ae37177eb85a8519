// Public ops, re-exported as one module (the Tensor methods and src/tensor/index.ts use it).
export * from './create.ts';
export * from './elementwise.ts';
export * from './shape.ts';
export * from './reduce.ts';
export * from './compose.ts';
export * from './fused.ts';
export * from './quant.ts';
