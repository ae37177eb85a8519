// Phi-3-V trained through its registry record's loadTrainModel (what `vlm2vec train` runs) against
// PyTorch + peft on the reference's own Phi-3-V code (tools/reference/train_step_v1.py --model
// phi3v, num_crops 4): LoRA and DoRA on the reference's default --lora_target_modules (decoder
// qkv/o/gate_up/down_proj and the CLIP tower's q/k/v/out_proj) and full fine-tuning, GradCache
// on and off, and LoRA and DoRA with dropout 0.1 (peft given our masks; see
// common/train-golden.test-helper.ts for what is compared and the tolerances).

import { join } from 'node:path';
import { loadImageRGB } from '../../io/media/image.ts';
import { configureRuntime } from '../../tensor/index.ts';
import { v1GoldenTests, v1TrainRunTest } from '../common/train-golden.test-helper.ts';
import { ITEMS, TINY } from './fixtures.test-helper.ts';

configureRuntime({ threads: 1 });

v1GoldenTests('phi3-v', 'phi3v', TINY, { numCrops: 4 } as object, async (key) => {
  const it = ITEMS[key]!;
  return { text: it.text, images: it.image === undefined ? [] : [await loadImageRGB(join(TINY, it.image))], frames: [] };
});

v1TrainRunTest('phi3-v', TINY);
