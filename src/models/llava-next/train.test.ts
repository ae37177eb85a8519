// LLaVA-NeXT trained through its registry record's loadTrainModel (what `vlm2vec train` runs)
// against PyTorch + peft on transformers' LlavaNextForConditionalGeneration
// (tools/reference/train_step_v1.py --model llava_next): LoRA and DoRA on the reference's default
// --lora_target_modules (Mistral's q/k/v/o/gate/up/down_proj and the CLIP tower's q/k/v/out_proj)
// and full fine-tuning, GradCache on and off, LoRA and DoRA with dropout 0.1 (peft given our masks),
// and full fine-tuning with a text_config.pad_token_id that is a real token (see
// common/train-golden.test-helper.ts for what is compared and the tolerances).

import { join } from 'node:path';
import { loadImageRGB } from '../../io/media/image.ts';
import { configureRuntime } from '../../tensor/index.ts';
import { v1GoldenTests, v1PaddingRowTest, v1TrainRunTest } from '../common/train-golden.test-helper.ts';
import { goldenCase, IMAGES_DIR, MEDIA, MODEL_DIR } from './fixtures.test-helper.ts';

configureRuntime({ threads: 1 });

const item = async (key: string) => {
  const it = goldenCase(key).items[0]!; // the single-item case of each prompt
  return { text: it.text, images: await Promise.all((it.images ?? []).map((n) => loadImageRGB(join(IMAGES_DIR, MEDIA[n]!)))), frames: [] };
};

v1GoldenTests('llava-next', 'llava_next', MODEL_DIR, {}, item);
v1PaddingRowTest('llava-next', 'llava_next', MODEL_DIR, {}, item);

v1TrainRunTest('llava-next', MODEL_DIR);
