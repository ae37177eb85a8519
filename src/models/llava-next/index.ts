// LLaVA-NeXT (llava-v1.6; VLM2Vec-LLaVa-Next): config, image processor, parameters, math, runtime,
// encoder and registry record.

export { parseLlavaNextConfig, DEFAULT_GRID_PINPOINTS, type LlavaNextConfig, type LlavaTextConfig } from './config.ts';
export { processImage, selectBestResolution, patchOutputSize, imageFeatureLayout, featureRows, type LlavaNextImage, type LlavaNextImageSettings, type FeatureLayout } from './processor.ts';
export { declareLlavaNextParams, canonicalLlavaName, llavaNextParamSpecs, readLlavaNextWeights, buildLlavaNextParams, type LlavaNextParams } from './params.ts';
export { llavaImageFeatures, llavaTextGraph } from './forward.ts';
export { LlavaNextModel, lastTokenPairs, type LlavaNextBatch, type LlavaBatchImage, type LlavaNextEncoded } from './model.ts';
export { LlavaNextEncoder, readLlavaImageSettings, parseLlavaImageSettings, LLAVA_NEXT_PAD_TOKEN_ID, IMAGE_TOKEN, type LlavaNextExportManifest, type LlavaNextPrepared } from './encoder.ts';
export { LLAVA_NEXT } from './record.ts';
