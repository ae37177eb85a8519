// Models: the registry of architectures, the Encoder seam, parameter specs and weight holding,
// and the built-in architectures' public parts. This is what code above models/ (and library
// users) import; the architecture folders stay behind it.

export {
  registerModel, modelRecord, supportedModelTypes, promptStyles, parseModelConfig, loadModelConfig, resolveModel,
  type AnyModelRecord, type ExportManifest, type ModelRecord, type ResolvedModel,
} from './registry.ts';
export type { ModelConfig, ParseConfigOptions } from './common/config.ts';
export type {
  EncodedRows, Encoder, EncoderInput, ExportedGraph, ExportGraphOptions, ImageProcessorSettings, LoadEncoderArgs, PreparedItem,
} from './encoder.ts';
export { VarBuilder, collectParamSpecs, loraParamSpecs, splitTrainable, type LinearLeaves, type ParamRole, type ParamSpec } from './common/param-spec.ts';
export { parseWeightDtype, WEIGHT_DTYPES, type WeightDtype } from './common/float16.ts';
export type { ModelLoadEvent } from './common/weights.ts';
export { mergeAdapter, type AdapterDelta } from './common/merge-adapter.ts';
// Qwen2-VL's processor (public since 0.1: Pillow-exact preprocessing is useful on its own).
export { processImages, processVideo, smartResize } from './qwen2-vl/processor.ts';
