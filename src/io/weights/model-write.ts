// Writing a full model folder as transformers' `save_pretrained` lays it out (float32 weights in
// `model.safetensors` or shards + index, `config.json`), plus the tokenizer and processor files
// copied from the base folder, so the folder alone is a model that `Checkpoint.open`,
// `LocalEmbedder`, `embed`, `eval`, `export` and transformers' `from_pretrained` load. Training
// keeps float32 master weights and saves them as float32 (bf16 is a GPU matter), so the config's
// dtype says float32.

import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/fs.ts';
import type { Float32Tensor } from './peft-write.ts';
import { formatShape, numel } from './safetensors.ts';
import { writeShardedSafetensors, type TensorToWrite } from './safetensors-write.ts';

/** The non-weight files of a model folder that a saved model carries over from its base. */
export const PROCESSOR_FILES: readonly string[] = [
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'merges.txt',
  'special_tokens_map.json',
  'added_tokens.json',
  'chat_template.json',
  'chat_template.jinja',
  'preprocessor_config.json',
  'video_preprocessor_config.json',
  'generation_config.json',
];

export interface SaveModelOptions {
  /** Copy {@link PROCESSOR_FILES} that exist here (the base model folder). */
  readonly processorFrom?: string | undefined;
  /** Shard size limit; default transformers' 5 GB. */
  readonly maxShardBytes?: number | undefined;
}

/**
 * config.json for float32 weights: `dtype` (transformers ≥ 5) or `torch_dtype` (4.x), whichever the
 * base config carries, set to float32; everything else unchanged.
 */
export function float32Config(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  if ('torch_dtype' in out) out.torch_dtype = 'float32';
  if ('dtype' in out || !('torch_dtype' in out)) out.dtype = 'float32';
  return out;
}

/**
 * Writes `tensors` (checkpoint names → float32) as `dir/model.safetensors` (or shards + index),
 * `dir/config.json` ({@link float32Config} of `config`) and the base's processor files. Returns the
 * files written.
 *
 * @example await saveModelFolder('out', weights, baseConfigJson, { processorFrom: 'models/Qwen2-VL-2B-Instruct' });
 */
export async function saveModelFolder(
  dir: string,
  tensors: ReadonlyMap<string, Float32Tensor>,
  config: Readonly<Record<string, unknown>>,
  options: SaveModelOptions = {},
): Promise<string[]> {
  if (tensors.size === 0) throw new Vlm2VecError('weights', `${dir}: no tensors to save`);
  const toWrite = new Map<string, TensorToWrite>();
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array) || t.data.length !== numel(t.shape)) {
      throw new Vlm2VecError('weights', `${name}: needs a Float32Array of ${numel(t.shape)} elements for ${formatShape(t.shape)}`);
    }
    toWrite.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
  }
  await mkdir(dir, { recursive: true });
  const files = await writeShardedSafetensors(dir, toWrite, options.maxShardBytes === undefined ? {} : { maxShardBytes: options.maxShardBytes });
  await writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(float32Config(config), null, 2)}\n`);
  files.push('config.json');
  const from = options.processorFrom;
  if (from !== undefined) {
    for (const f of PROCESSOR_FILES) {
      const src = join(from, f);
      if (!(await stat(src).then((s) => s.isFile(), () => false))) continue;
      await copyFile(src, join(dir, f));
      files.push(f);
    }
  }
  return files;
}
