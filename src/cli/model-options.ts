// The options every command that loads a local model shares (embed, eval/eval-v1 with a local
// --model, serve, index, export's --dtype): declared once so their names, parsers and help agree.

import { InvalidArgumentError, type Command } from 'commander';
import { errorDetail } from '../errors.ts';
import { parseWeightDtype, type WeightDtype } from '../models/common/float16.ts';
import { positiveInt } from '../util/cli-args.ts';

/** Help text of `--dtype`. */
export const DTYPE_HELP = 'weights: float32 (default); float16 (matrices held in float16, compute in float32: ' +
  'about half the weight memory, ~20-30% slower on CPU, embeddings within ~1e-3 of float32); ' +
  'int8 (linear matrices int8 per channel, int8 compute) or q4 / q4-128 (4-bit blocks of 32 / 128): ' +
  'inference only, see docs/quantization.md for speed and accuracy';

/** Help text of `--num-crops`. */
export const NUM_CROPS_HELP = 'Phi-3-V models: HD crops per image, 4 or 16 (default 16, as VLM2Vec); other models refuse it';

/**
 * Commander parser of `--dtype` (a clear error with a did-you-mean for fp16/half/q8/int4...).
 *
 * @example program.option('--dtype <dtype>', DTYPE_HELP, parseDtypeOption)
 */
export function parseDtypeOption(v: string): WeightDtype {
  try {
    return parseWeightDtype(v, '--dtype');
  } catch (e) {
    throw new InvalidArgumentError(errorDetail(e, 'weights'));
  }
}

/**
 * Declares --adapter, --tokenizer, --threads, --dtype, --min-pixels, --max-pixels and --num-crops on `cmd`;
 * `prefix` starts each help line (eval: 'local model: ', where --model may also be URLs).
 *
 * @example addLocalModelOptions(program.command('embed').requiredOption('-m, --model <dir|hub-id>', '…'))
 */
export function addLocalModelOptions(cmd: Command, prefix = ''): Command {
  return cmd
    .option('--adapter <dir|hub-id>', `${prefix}PEFT LoRA/DoRA adapter merged into --model at load`)
    .option('--tokenizer <dir>', `${prefix}folder with tokenizer.json (default: the model folder, then the adapter, then the base)`)
    .option('--threads <n>', `${prefix}ONNX Runtime threads`, positiveInt('--threads'))
    .option('--dtype <dtype>', `${prefix}${DTYPE_HELP}`, parseDtypeOption)
    .option('--min-pixels <n>', `${prefix}image min pixels (default 3136, VLM2Vec's)`, positiveInt('--min-pixels'))
    .option('--max-pixels <n>', `${prefix}image max pixels after resizing (default 1003520, VLM2Vec's)`, positiveInt('--max-pixels'))
    .option('--num-crops <n>', `${prefix}${NUM_CROPS_HELP}`, positiveInt('--num-crops'));
}
