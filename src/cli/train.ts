// `vlm2vec train`: the reference's own command line (train/args.ts: its flag names, defaults and
// HfArgumentParser syntax, so the reference's scripts run with `torchrun … train.py` replaced by
// `vlm2vec train`) over runTraining (train/loop.ts), with a progress bar. Unlike the other
// commands it keeps the reference's snake_case flags (no -m / -o): that is the point of it.

import type { Command } from 'commander';
import { parseTrainArgs, TRAIN_FLAGS, IGNORED_FLAGS } from '../train/args.ts';
import { runTraining } from '../train/loop.ts';
import { configureRuntime } from '../tensor/index.ts';
import { pointToHelp } from '../util/cli-args.ts';
import { ProgressBar } from './progress.ts';

const TRAIN_EXAMPLES = `
Examples:
  # The reference's V2 recipe (experiments/public/train/train_v2-qwen2vl-2B.sh), one process
  $ vlm2vec train --lora --lora_r 16 --model_name Qwen/Qwen2-VL-2B-Instruct --pooling eos --normalize True \\
      --temperature 0.02 --dataset_config train_alltasks.yaml --data_basedir data --output_dir runs/v2 \\
      --grad_cache True --per_device_train_batch_size 128 --gc_q_chunk_size 8 --gc_p_chunk_size 8 \\
      --interleave_batch_size 64 --lr_scheduler_type linear --learning_rate 5e-5 --max_steps 5000 \\
      --warmup_steps 100 --save_steps 50 --logging_steps 1 --resume_from auto

  # Continue the published adapter on your own pairs, plain LoRA settings kept from the adapter
  $ vlm2vec train --model_name Qwen/Qwen2-VL-2B-Instruct --checkpoint_path ckpt/VLM2Vec-V2.0 --lora \\
      --dataset_config mine.yaml --data_basedir data --output_dir runs/mine --max_steps 200

  # Score MMEB image QA tasks every 100 steps while training (log_history, train_report.html)
  $ vlm2vec train --config run.yaml --eval_tasks image/QA --eval_data data/mmeb --eval_steps 100

  # The same keys from a file (YAML or JSON); flags on the command line win
  $ vlm2vec train --config run.yaml --learning_rate 2e-5

  # Fetch what a dataset_config needs first; look at a run (curves, scores) afterwards or while it runs
  $ vlm2vec data pull --train train_alltasks.yaml --media --extract --data data
  $ vlm2vec report runs/v2

--lora trains DoRA, as the reference's --lora does (peft use_dora=True, init_lora_weights
"gaussian", alpha 64, dropout 0.1 by default); --lora_type lora trains plain LoRA.
Output: OUT/checkpoint-<step>/ every --save_steps (PEFT adapter or full model, optimizer,
scheduler and sampler state), OUT/trainer_state.json, OUT/train_log.jsonl, OUT/train_report.html
(curves), OUT/eval/step-<N>/ with --eval_tasks, and the final adapter (or model) in OUT/. --resume_from auto continues from the newest complete checkpoint.
`;

function flagsHelp(): string {
  const lines = Object.entries(TRAIN_FLAGS).map(([name, s]) => {
    const spec = s as { kind: string; def?: unknown; help: string; required?: boolean };
    const def = spec.required ? ' (required)' : spec.def === undefined ? '' : ` (default: ${Array.isArray(spec.def) ? spec.def.join(',') : String(spec.def)})`;
    return `  --${name}${spec.kind === 'bool' ? ' [bool]' : ' <value>'}`.padEnd(44) + `${spec.help}${def}`;
  });
  const config = `${'  --config <file>'.padEnd(44)}a YAML/JSON file with the same keys (the command line wins)`;
  return `\nFlags (the reference's names; --flag value or --flag=value; bools also bare):\n${config}\n` +
    `${lines.join('\n')}\n\nAccepted and ignored with a warning: ${Object.keys(IGNORED_FLAGS).map((f) => `--${f}`).join(', ')}\n`;
}

/** Registers `vlm2vec train`. */
export function registerTrain(program: Command): void {
  pointToHelp(program.command('train'))
    .description("Train a VLM2Vec embedder (contrastive InfoNCE, GradCache, DoRA/LoRA) with the reference's train.py flags")
    .usage('--model_name <model> --dataset_config <yaml> --output_dir <dir> [flags]')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .helpOption('-h, --help', 'show the flags and examples')
    .addHelpText('after', flagsHelp() + TRAIN_EXAMPLES)
    .action(async (_o: unknown, cmd: Command) => {
      const { args, warnings } = parseTrainArgs(cmd.args);
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      // ORT's CPU arena keeps each session's peak activations; a step runs four sessions (forward
      // and VJP of query and target chunks), so with it on their peaks add up: bench:train's peak
      // RSS 6.5 GB instead of 3.2 GB, at the same CPU time per step (docs/training.md, "Speed").
      // Each step's graphs have their batch's shapes, so they rarely recur: keeping the default 256
      // eager sessions only accumulates memory (a from-scratch run was OOM-killed at 9 GB by step 74).
      configureRuntime({ cpuMemArena: false, maxCachedSessions: 16 });
      let bar: ProgressBar | undefined;
      const r = await runTraining(args, {
        onEvent: (m) => process.stderr.write(`vlm2vec train: ${m}\n`),
        onStep: (s) => {
          bar ??= new ProgressBar('train');
          bar.setLabel(`train loss ${s.loss.toFixed(4)} lr ${s.learningRate.toExponential(2)} ${s.samplesPerSecond.toFixed(1)} samples/s`);
          bar.update(s.step, s.maxSteps);
        },
      });
      bar?.done();
      // HF's end-of-training entry (loop.ts trainSummary), as the reference's log prints it.
      const sum = r.finished ? r.logHistory.at(-1) : undefined;
      const tail = sum?.['train_loss'] === undefined ? '' : `; train_loss ${sum['train_loss'].toFixed(4)}, ${sum['train_runtime']} s, ${sum['train_samples_per_second'] ?? '–'} samples/s`;
      process.stderr.write(`vlm2vec train: ${r.finished ? 'done' : 'stopped'} at step ${r.globalStep}/${r.maxSteps}${r.resumedFrom > 0 ? ` (resumed from ${r.resumedFrom})` : ''}${tail}; ${args.output_dir}\n`);
    });
}
