// The reference's command line parses into typed values: defaults from TIGER-AI-Lab/VLM2Vec
// src/arguments.py (ModelArguments, DataArguments, its TrainingArguments subclass) and
// transformers' TrainingArguments; the V2 script's train.py arguments as written there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainArgs, REFERENCE_LORA_TARGETS } from './args.ts';

// TIGER-AI-Lab/VLM2Vec experiments/public/train/train_v2-qwen2vl-2B.sh: the arguments after
// `torchrun --nproc_per_node=8 --master_port=2207 --max_restarts=0 train.py`, with $EXP_NAME and
// $EXP_DIR filled in.
const V2_SCRIPT = '--lora --lora_r 16 --model_name Qwen/Qwen2-VL-2B-Instruct --bf16 --pooling eos --normalize True --temperature 0.02 ' +
  '--dataloader_num_workers 8 --dataset_config experiments/public/train/train_alltasks.yaml --run_name exp --output_dir runs/exp ' +
  '--grad_cache True --per_device_train_batch_size 128 --gc_q_chunk_size 8 --gc_p_chunk_size 8 --interleave_batch_size 64 ' +
  '--lr_scheduler_type linear --learning_rate 5e-5 --max_steps 5000 --warmup_steps 100 --save_steps 50 --logging_steps 1 ' +
  '--save_safetensors True --remove_unused_columns False --resume_from auto --report_to wandb';

const BASE = ['--model_name', 'm', '--dataset_config', 'd.yaml', '--output_dir', 'o'];

test("the reference's train_v2-qwen2vl-2B.sh line parses into its values", () => {
  const { args, warnings } = parseTrainArgs(V2_SCRIPT.split(' '));
  assert.equal(args.lora, true);
  assert.equal(args.lora_type, 'dora');
  assert.equal(args.lora_r, 16);
  assert.equal(args.lora_alpha, 64); // not in the script: the reference's default
  assert.equal(args.lora_dropout, 0.1);
  assert.deepEqual(args.lora_target_modules, [...REFERENCE_LORA_TARGETS]);
  assert.equal(args.model_name, 'Qwen/Qwen2-VL-2B-Instruct');
  assert.equal(args.pooling, 'eos');
  assert.equal(args.normalize, true);
  assert.equal(args.temperature, 0.02);
  assert.equal(args.dataset_config, 'experiments/public/train/train_alltasks.yaml');
  assert.equal(args.output_dir, 'runs/exp');
  assert.equal(args.grad_cache, true);
  assert.equal(args.per_device_train_batch_size, 128);
  assert.deepEqual([args.gc_q_chunk_size, args.gc_p_chunk_size], [8, 8]);
  assert.equal(args.interleave_batch_size, 64);
  assert.equal(args.homogeneous_batch_size_per_device, 0);
  assert.equal(args.interleave_stopping_strategy, 'all_exhausted');
  assert.equal(args.lr_scheduler_type, 'linear');
  assert.equal(args.learning_rate, 5e-5);
  assert.equal(args.max_steps, 5000);
  assert.equal(args.warmup_steps, 100);
  assert.equal(args.save_steps, 50);
  assert.equal(args.logging_steps, 1);
  assert.equal(args.resume_from, 'auto');
  // transformers' TrainingArguments defaults for what the script leaves out
  assert.deepEqual([args.weight_decay, args.adam_beta1, args.adam_beta2, args.adam_epsilon, args.max_grad_norm, args.seed, args.warmup_ratio],
    [0, 0.9, 0.999, 1e-8, 1, 42, 0]);
  assert.equal(args.save_total_limit, undefined);
  assert.deepEqual([args.resize_min_pixels, args.resize_max_pixels, args.num_hardneg, args.image_encoder_freeze], [3136, 1003520, 0, false]);
  assert.deepEqual(warnings.map((w) => w.split(' ')[0]), ['--bf16', '--dataloader_num_workers', '--run_name', '--save_safetensors', '--remove_unused_columns', '--report_to']);
  assert.match(warnings[0]!, /^--bf16 is ignored: .*float32 master weights/);
});

test("the reference's defaults when a flag is absent; HfArgumentParser's bool and = syntax", () => {
  const { args } = parseTrainArgs([...BASE, '--grad_cache=yes', '--normalize', 'F', '--lora_type', 'lora', '--lora', '--resume_from', '150', '--lora_target_modules', 'q_proj, v_proj']);
  assert.deepEqual([args.pooling, args.lora, args.lora_type, args.normalize, args.grad_cache], ['last', true, 'lora', false, true]);
  assert.deepEqual([args.gc_q_chunk_size, args.gc_p_chunk_size, args.per_device_train_batch_size, args.max_steps, args.num_train_epochs], [2, 2, 8, -1, 1]);
  assert.deepEqual([args.save_steps, args.logging_steps, args.lr_scheduler_type], [500, 1, 'linear']);
  assert.equal(args.resume_from, 150);
  assert.deepEqual(args.lora_target_modules, ['q_proj', 'v_proj']);
  assert.equal(parseTrainArgs(BASE).args.resume_from, 'none');
  assert.equal(parseTrainArgs(BASE).args.eval_benchmark, 'mmeb-v2');
  assert.equal(parseTrainArgs([...BASE, '--eval_benchmark', 'mini']).args.eval_benchmark, 'mini');
});

test('a --config file (YAML or JSON) holds the same keys; the command line wins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'train-args-'));
  const yaml = join(dir, 'run.yaml');
  writeFileSync(yaml, 'model_name: Qwen/Qwen2-VL-2B-Instruct\ndataset_config: mix.yaml\noutput_dir: out\nlora: true\nlearning_rate: 1e-4\nlora_target_modules: [q_proj, k_proj]\nbf16: true\n');
  const a = parseTrainArgs(['--config', yaml, '--learning_rate', '2e-5']).args;
  assert.deepEqual([a.model_name, a.lora, a.learning_rate, a.lora_target_modules], ['Qwen/Qwen2-VL-2B-Instruct', true, 2e-5, ['q_proj', 'k_proj']]);
  const json = join(dir, 'run.json');
  writeFileSync(json, JSON.stringify({ model_name: 'm', dataset_config: 'd', output_dir: 'o', max_steps: 7, grad_cache: 'True' }));
  const b = parseTrainArgs([`--config=${json}`]).args;
  assert.deepEqual([b.max_steps, b.grad_cache], [7, true]);
  writeFileSync(json, JSON.stringify({ model_name: 'm', lerning_rate: 1 }));
  assert.throws(() => parseTrainArgs(['--config', json]), /unknown key in .*run\.json: 'lerning_rate' \(did you mean 'learning_rate'\?\)/);
});

test('bad values and unknown flags are clear errors', () => {
  const bad: [string[], RegExp][] = [
    [['--lerning_rate', '1'], /unknown flag 'lerning_rate' \(did you mean 'learning_rate'\?\)/],
    [['--learning_rate', 'fast'], /--learning_rate expects a number, got 'fast'/],
    [['--lora_r', '1.5'], /--lora_r expects an integer, got '1.5'/],
    [['--grad_cache', 'maybe'], /--grad_cache expects a boolean \(True\/False, yes\/no, 1\/0\), got 'maybe'/],
    [['--lr_scheduler_type', 'cosin'], /--lr_scheduler_type must be one of linear, cosine, constant, constant_with_warmup, got 'cosin' \(did you mean 'cosine'\?\)/],
    [['--pooling', 'mean'], /--pooling must be one of last, eos, got 'mean'/],
    [['--eval_benchmark', 'mmeb'], /--eval_benchmark must be one of mmeb-v2, mmeb-v1, mini, got 'mmeb'/],
    [['--resume_from', 'latest'], /--resume_from must be auto, none or a checkpoint step, got 'latest'/],
    [['--grad_cache', '--per_device_train_batch_size', '6', '--gc_q_chunk_size', '4'], /--gc_q_chunk_size 4 does not divide --per_device_train_batch_size 6/],
    [['--temperature', '0'], /--temperature must be > 0, got 0/],
    [['--seed'], /--seed expects a value/],
    [['--seed', '1', '--seed', '2'], /--seed is given twice/],
    [['positional'], /unexpected argument 'positional'/],
  ];
  for (const [extra, re] of bad) assert.throws(() => parseTrainArgs([...BASE, ...extra]), re, extra.join(' '));
  assert.throws(() => parseTrainArgs(['--dataset_config', 'd', '--output_dir', 'o']), /--model_name is required/);
});
