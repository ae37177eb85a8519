// Pack a trained float32 model folder (what `vlm2vec train` leaves in its output dir) into the
// folder the package ships (assets/model): the same HF layout, with
//   - model.safetensors in float16 (half the bytes; every weight of this model is far inside
//     float16's range, and both our loader and transformers widen it to float32 on load),
//   - config.json's `dtype` set to float16 (what the file holds),
//   - tokenizer.json re-serialised without indentation (the same JSON value, 5.4 instead of 11.4 MB),
//   - preprocessor_config.json with the image pixel limits the recipe trains at (train.yaml's
//     resize_min_pixels / resize_max_pixels), which the bundled-model loader reads, so that
//     inference sees images at the training resolution rather than VLM2Vec's up-to-1-M pixels,
//   - tokenizer_config.json copied unchanged.
// The model card (README.md) is written by hand and left as it is.
//
// Usage: node --import tsx scripts/open-data/recipe/pack.ts --from RUN_DIR --to DIR

import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { Vlm2VecError } from '../../../src/errors.ts';
import { f32ToF16 } from '../../../src/io/weights/safetensors-dtype.ts';
import { SafetensorsFile } from '../../../src/io/weights/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../../src/io/weights/safetensors-write.ts';

/** Writes the float16 folder `to` from the float32 model folder `from`. */
export async function packModel(from: string, to: string): Promise<void> {
  mkdirSync(to, { recursive: true });
  const file = await SafetensorsFile.open(join(from, 'model.safetensors'));
  const tensors: Record<string, TensorToWrite> = {};
  try {
    for (const name of file.names()) {
      const info = file.info(name);
      if (info.dtype !== 'F32') throw new Vlm2VecError('pack', `${join(from, 'model.safetensors')}: tensor ${name} is ${info.dtype}, expected F32 (a vlm2vec train output)`);
      const f32 = await file.readFloat32(name);
      let max = 0;
      for (const x of f32) max = Math.max(max, Math.abs(x));
      if (!(max < 65504)) throw new Vlm2VecError('pack', `${name}: largest |value| ${max} does not fit float16`);
      tensors[name] = { dtype: 'F16', shape: info.shape, data: f32ToF16(f32) };
    }
  } finally {
    await file.close();
  }
  await writeSafetensors(join(to, 'model.safetensors'), tensors, { format: 'pt' });
  const config = JSON.parse(readFileSync(join(from, 'config.json'), 'utf8')) as Record<string, unknown>;
  config['dtype'] = 'float16';
  writeFileSync(join(to, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(join(to, 'tokenizer.json'), JSON.stringify(JSON.parse(readFileSync(join(from, 'tokenizer.json'), 'utf8'))));
  copyFileSync(join(from, 'tokenizer_config.json'), join(to, 'tokenizer_config.json'));
  const recipe = parse(readFileSync(join(import.meta.dirname, 'train.yaml'), 'utf8')) as Record<string, unknown>;
  const pre = JSON.parse(readFileSync(join(from, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
  pre['min_pixels'] = recipe['resize_min_pixels'];
  pre['max_pixels'] = recipe['resize_max_pixels'];
  writeFileSync(join(to, 'preprocessor_config.json'), `${JSON.stringify(pre, null, 1)}\n`);
}

if (process.argv[1] === import.meta.filename) {
  const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' } } });
  if (!values.from || !values.to) throw new Vlm2VecError('pack', 'usage: pack.ts --from RUN_DIR --to DIR');
  await packModel(values.from, values.to);
  process.stderr.write(`packed ${values.from} → ${values.to}\n`);
}
