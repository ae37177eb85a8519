// Runtime entry points re-exported by src/tensor/index.ts.
export { realize } from './eager.ts';
export { configureRuntime, runtimeStats, clearSessionCache } from './session.ts';
export type { RuntimeOptions, RuntimeStats } from './session.ts';
