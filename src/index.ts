// Public API of vlm2vec. The CLI (src/cli/) is a thin layer over exactly these functions.
// The tensor engine has its own entry point: `vlm2vec/tensor`.

export { Vlm2VecError, errorDetail } from './errors.ts';
export type { WarningSink } from './util/warn.ts';

// Embedding: the narrow interface, the local Qwen2-VL embedder, HTTP endpoints, prompt formats.
export type { Embedder, EmbedContext, EmbedItem, FileEmbedItem, MediaInput } from './embed/types.ts';
export { MediaError, type MediaRef } from './embed/media-error.ts';
export { LocalEmbedder, type LocalEmbedderOptions } from './embed/local.ts';
// The small model that ships in the package (the CLI's default without --model) and the demo.
export { bundledModelPath, bundledModelPixels, RECOMMENDED_MODEL } from './embed/bundled.ts';
export { runDemo, chanceScore, DEMO_QUERIES, type DemoOptions, type DemoResult } from './demo/demo.ts';
export { ThreadedLocalEmbedder } from './embed/local-threaded.ts';
export { createEmbedder, isEndpointSpec, type CreateEmbedderOptions, type CreatedEmbedder } from './embed/create.ts';
export { EmbeddingCache, type CacheOptions, type CacheStats } from './embed/cache.ts';
export { embedThroughCache, type EmbedThroughCacheOptions, type EmbedStats } from './embed/cache-embed.ts';
export { RemoteEmbedder, type RemoteOptions } from './embed/remote.ts';
export { formatInput, processInputText, PROMPT_STYLES, type PromptStyle, type RawInput } from './embed/prompt.ts';
// The HTTP embedding protocol in both directions (what RemoteEmbedder sends, what a server decodes and answers).
export {
  decodeRequest, decodeResponse, encodeResponse, encodeVlm2VecRequest, encodeVllmRequest, errorBody, errorStatus,
  mediaField, parseMediaField, ProtocolError, BadResponseError, DEFAULT_REQUEST_LIMITS,
  type DecodedRequest, type DecodeRequestOptions, type RequestLimits, type EmbeddingsResponse, type EncodingFormat, type RemoteProtocol,
} from './embed/protocol.ts';
// The embedding server of `vlm2vec serve` (OpenAI-compatible /v1/embeddings, dynamic batching).
export { startServer, DEFAULT_SERVE_LIMITS, type ServeOptions, type ServeHandle, type ServeLimits } from './serve/server.ts';

// MMEB / MMEB-V2: tasks, loading, evaluation, metrics, aggregation.
export type { LoadedTask, PredLine, QueryRow, ScoreDict, TaskDef } from './mmeb/tasks/types.ts';
export { BENCHMARKS, TASKS, getTask, selectTasks, buildRegistry } from './mmeb/tasks/registry.ts';
export { loadTask, type LoadTaskOptions } from './mmeb/load/index.ts';
export { runEval, type EvalOptions, type EvalResult } from './mmeb/run/eval.ts';
export { runEvalV1, type EvalV1Options, type V1SubsetResult } from './mmeb/legacy-v1/run.ts';
export { scoreTask } from './mmeb/score/metrics.ts';
export { rankGlobalAsync, rankLocal } from './mmeb/score/rank.ts';
export { readResultFolder, readPublishedScores, summarize, writeSummary } from './mmeb/score/aggregate.ts';

// Model files and inputs.
export { SafetensorsFile } from './io/weights/safetensors.ts';
export { Checkpoint, type CheckpointFormat } from './io/weights/checkpoint.ts';
export { writeSafetensors } from './io/weights/safetensors-write.ts';
export { TorchCheckpointFile } from './io/weights/torch-pickle-file.ts';
export { HfTokenizer } from './io/text/tokenizer.ts';
export { loadImageRGB } from './io/media/image.ts';
export { renderPdfPages } from './io/media/pdf.ts';
export { extractVideoFrames, loadVideoFrames } from './io/media/video.ts';

// Models: the architecture registry, the Encoder seam, parameter specs (docs/ARCHITECTURE.md).
export * from './models/index.ts';

// Generic layers as functions over parameter trees (for custom architectures and training).
export * as nn from './nn/index.ts';
