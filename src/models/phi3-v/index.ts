// Phi-3-Vision / Phi-3.5-Vision (VLM2Vec V1's backbone): config, HD image processor, weights,
// forward, runtime model, Encoder and registry record.

export { parsePhi3VConfig, longRopeAttentionFactor, type Phi3VConfig, type Phi3TextConfig, type Phi3ImageEmbeddingConfig } from './config.ts';
export { processPhi3VImage, phi3VPromptIds, phi3VImageTokens, hdResizeSize, CROP_SIZE, DEFAULT_NUM_CROPS, type Phi3VImage } from './processor.ts';
export { declarePhi3VParams, phi3VParamSpecs, canonicalPhi3VName, type Phi3VParams } from './weights.ts';
export { imageFeatures, imageTokenOrder, textGraph, phi3Rotary } from './forward.ts';
export { Phi3VModel, type Phi3VBatch, type Phi3VEncoded } from './model.ts';
export { Phi3VEncoder, PHI3V_PAD_TOKEN_ID, PHI3V_IMAGE_TOKEN, type Phi3VPrepared, type Phi3VExportManifest } from './encoder.ts';
export { PHI3_V } from './record.ts';
