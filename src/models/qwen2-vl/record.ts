// Qwen2-VL's registry record (models/registry.ts): everything code above models/ needs to know
// about this architecture, and nothing it must import from this folder.

import type { ModelRecord } from '../registry.ts';
import { parseQwen2VLConfig, type Qwen2VLConfig } from './config.ts';
import { Qwen2VLEncoder, QWEN2VL_PAD_TOKEN_ID } from './encoder.ts';
import { Qwen2VLModel } from './model.ts';
import { IMAGE_PAD, VIDEO_PAD } from './processor.ts';
import { loadQwen2VLTrainModel } from './train-model.ts';

/** Qwen2-VL (VLM2Vec, VLM2Vec-V2, GME): last-token pooling over the final-norm hidden states. */
export const QWEN2_VL: ModelRecord<Qwen2VLConfig, Qwen2VLEncoder> = {
  name: 'Qwen2-VL',
  modelTypes: ['qwen2_vl'],
  parseConfig: parseQwen2VLConfig,
  promptStyle: 'qwen2_vl',
  imageToken: IMAGE_PAD,
  videoToken: VIDEO_PAD,
  padTokenId: QWEN2VL_PAD_TOKEN_ID,
  paddingSide: 'left',
  async loadEncoder({ dir, config, tokenizer, adapter, dtype, processor, onProgress }) {
    const model = await Qwen2VLModel.load(dir, { adapter, dtype, onProgress, config });
    return new Qwen2VLEncoder(model, tokenizer, processor);
  },
  loadTrainModel: loadQwen2VLTrainModel,
};
