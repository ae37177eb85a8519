// The CLIP ViT vision tower shared by the V1 backbones (LLaVA-NeXT, Phi-3-V): config, parameter
// declaration under a caller-chosen prefix, the forward up to a selected hidden layer, and CLIP's
// pixel normalization.

export { parseClipVisionConfig, hiddenStateIndex, CLIP_VIT_LARGE_PATCH14_336, CLIP_VISION_KEYS, CLIP_VISION_DEFAULTS, type ClipVisionConfig, type ClipActivation } from './config.ts';
export { declareClipVisionParams, type ClipVisionParams, type ClipEncoderLayerParams } from './params.ts';
export { clipVisionFeatures, clipUnusedPaths, clipEmbeddings, clipEncoderLayer, clipPooledOutput, type ClipFeatureOptions, type ClipFeatureStrategy } from './tower.ts';
export { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, CLIP_NORMALIZATION, normalizationLut, normalizeChw, type PixelNormalization } from './pixels.ts';
