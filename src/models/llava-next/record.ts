// LLaVA-NeXT's registry record (models/registry.ts): what code above models/ needs to know about
// this architecture.

import type { ModelRecord } from '../registry.ts';
import { parseLlavaNextConfig, type LlavaNextConfig } from './config.ts';
import { IMAGE_TOKEN, LLAVA_NEXT_PAD_TOKEN_ID, LlavaNextEncoder, readLlavaImageSettings } from './encoder.ts';
import { LlavaNextModel } from './model.ts';
import { loadLlavaNextTrainModel } from './train-model.ts';

/**
 * LLaVA-NeXT (VLM2Vec-LLaVa-Next on llava-v1.6-mistral-7b): last-token pooling over the
 * final-norm hidden states, left padding with `<pad>`. The image processor reads the model
 * folder's preprocessor_config.json (the generic pixel-limit settings do not apply to it).
 */
export const LLAVA_NEXT: ModelRecord<LlavaNextConfig, LlavaNextEncoder> = {
  name: 'LLaVA-NeXT',
  modelTypes: ['llava_next'],
  parseConfig: parseLlavaNextConfig,
  promptStyle: 'llava_next',
  imageToken: IMAGE_TOKEN,
  videoToken: IMAGE_TOKEN,
  padTokenId: LLAVA_NEXT_PAD_TOKEN_ID,
  paddingSide: 'left',
  async loadEncoder({ dir, config, tokenizer, adapter, dtype, onProgress }) {
    const model = await LlavaNextModel.load(dir, { adapter, dtype, onProgress, config });
    return new LlavaNextEncoder(model, tokenizer, await readLlavaImageSettings(dir, config));
  },
  loadTrainModel: loadLlavaNextTrainModel,
};
