// Phi-3-V's registry record (models/registry.ts): everything code above models/ needs to know
// about this architecture, and nothing it must import from this folder.

import type { ModelRecord } from '../registry.ts';
import { parsePhi3VConfig, type Phi3VConfig } from './config.ts';
import { Phi3VEncoder, PHI3V_IMAGE_TOKEN, PHI3V_PAD_TOKEN_ID } from './encoder.ts';
import { Phi3VModel } from './model.ts';
import { DEFAULT_NUM_CROPS } from './processor.ts';
import { loadPhi3VTrainModel } from './train-model.ts';

/** Phi-3.5-Vision (VLM2Vec V1: VLM2Vec-Full, VLM2Vec-LoRA): right padding, last-token pooling. */
export const PHI3_V: ModelRecord<Phi3VConfig, Phi3VEncoder> = {
  name: 'Phi-3-V',
  modelTypes: ['phi3_v'],
  parseConfig: parsePhi3VConfig,
  promptStyle: 'phi3_v',
  imageToken: PHI3V_IMAGE_TOKEN,
  // Phi-3-V takes no videos (the reference has no video token for it); prepare refuses frames.
  videoToken: '',
  padTokenId: PHI3V_PAD_TOKEN_ID,
  paddingSide: 'right',
  // VLM2Vec's --num_crops: 16 by default, 4 as the checkpoint's own preprocessor_config.json says.
  numCrops: { default: DEFAULT_NUM_CROPS, choices: [4, 16] },
  async loadEncoder({ dir, config, tokenizer, adapter, dtype, processor, onProgress }) {
    const model = await Phi3VModel.load(dir, { adapter, dtype, onProgress, config });
    return new Phi3VEncoder(model, tokenizer, processor);
  },
  loadTrainModel: loadPhi3VTrainModel,
};
