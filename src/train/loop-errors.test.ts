// Bad input through the training loop and the CLI (issue 13 §7), on tiny-a and the fixture
// MMEB-train subsets: each stops with an error naming what is wrong (file, column, source, step,
// module), before anything is written over, and the checkpoint already saved stays intact and
// resumable.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HfTokenizer } from '../io/text/tokenizer.ts';
import { loadAdapter } from '../io/weights/peft.ts';
import { saveAdapter } from '../io/weights/peft-write.ts';
import { configureRuntime } from '../tensor/index.ts';
import { parseTrainArgs } from './args.ts';
import { listCheckpoints } from './checkpoint.ts';
import { runTraining } from './loop.ts';

configureRuntime({ threads: 1 });

const ROOT = join(import.meta.dirname, '..', '..');
const DATA = join(ROOT, 'test', 'fixtures', 'train', 'data');
const TINY = join(ROOT, 'test', 'fixtures', 'model', 'tiny-a');

/** A small run's flags; `extra` pairs (`--flag value`) replace the defaults of the same flag. */
function flags(out: string, extra: string[] = []): string[] {
  const base: [string, string][] = [
    ['--model_name', TINY], ['--lora_type', 'lora'], ['--lora_r', '4'], ['--lora_alpha', '8'], ['--lora_dropout', '0'],
    ['--dataset_config', join(DATA, 'mix.yaml')], ['--data_basedir', join(DATA, 'basedir')], ['--data', join(DATA, 'hub')],
    ['--output_dir', out], ['--per_device_train_batch_size', '2'], ['--interleave_batch_size', '2'], ['--normalize', 'True'],
    ['--learning_rate', '1e-3'], ['--warmup_steps', '1'], ['--save_steps', '2'], ['--max_steps', '4'],
  ];
  const given = new Set(extra.filter((_, i) => i % 2 === 0));
  return ['--lora', ...base.filter(([f]) => !given.has(f)).flat(), ...extra];
}

const made: string[] = [];
const tmp = (name: string): string => {
  const d = mkdtempSync(join(tmpdir(), `train-errors-${name}-`));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const quiet = { onWarning: () => undefined };
const mmebYaml = (dir: string, subset: string): string => {
  const f = join(dir, `${subset}.yaml`);
  writeFileSync(f, `${subset}:\n  dataset_parser: mmeb\n  dataset_name: TIGER-Lab/MMEB-train\n  subset_name: ${subset}\n  dataset_split: original\n  image_dir: mmeb-images\n  weight: 1\n`);
  return f;
};
/** Every file of a folder tree with its bytes. */
const snapshot = (dir: string): Map<string, string> =>
  new Map(readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name)).toString('base64')]));

test('bad data, chunk sizes and parsers against a run with a checkpoint: each a clear error, checkpoint-2 untouched, and the run still resumes to the end', async () => {
  const out = tmp('run');
  await runTraining(parseTrainArgs(flags(out)).args, { ...quiet, stopAfterStep: 2 });
  const ck = join(out, 'checkpoint-2');
  const saved = snapshot(ck);
  const again = (extra: string[] = []) => parseTrainArgs(flags(out, [...extra, '--resume_from', 'auto'])).args;
  const yamls = tmp('yaml');

  // A subset whose parquet lacks a column: the source, the file and the column.
  const noCol = again();
  noCol.dataset_config = mmebYaml(yamls, 'NoPosImage');
  await assert.rejects(runTraining(noCol, quiet),
    /source 'NoPosImage' \(mmeb\/NoPosImage\) of .*NoPosImage\.yaml: .*TIGER-Lab\/MMEB-train\/NoPosImage\/original-00000-of-00001\.parquet has no column\(s\) 'pos_image_path' \(columns: /);

  // A missing image: the source, the image path, the data file, row and column.
  const based = tmp('missing');
  cpSync(join(DATA, 'basedir'), based, { recursive: true });
  const gone = join(based, 'mmeb-images', 'images', 'MSCOCO_t2i', 'Train', 'COCO_train2014_000000000025.jpg');
  rmSync(gone);
  const missing = again();
  missing.data_basedir = based;
  missing.dataset_config = mmebYaml(yamls, 'MSCOCO_t2i');
  const re = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  await assert.rejects(runTraining(missing, quiet),
    new RegExp(`source 'MSCOCO_t2i' \\(mmeb/MSCOCO_t2i\\) of .*: image ${re(gone)} \\(.*original-00000-of-00001\\.parquet row \\d+, column 'pos_image_path'\\) does not exist`));

  // A parser of the reference that is not implemented, and a misspelled one: refused at config load.
  const parser = again();
  parser.dataset_config = join(yamls, 'video.yaml');
  writeFileSync(parser.dataset_config, 'MSRVTT:\n  dataset_parser: msrvtt\n  weight: 1\n');
  await assert.rejects(runTraining(parser, quiet), /source 'MSRVTT' of .*video\.yaml: dataset_parser not implemented: msrvtt .*; implemented: mmeb, vidore, visrag, llavahound_caption, llavahound_qa/);
  writeFileSync(parser.dataset_config, 'Videos:\n  dataset_parser: llavahound_captions\n  weight: 1\n');
  await assert.rejects(runTraining(parser, quiet), /source 'Videos': key 'dataset_parser': unknown parser 'llavahound_captions' \(did you mean 'llavahound_caption'\?\)/);

  // GradCache chunks that do not divide the batch, through the CLI: exit status 1 and the message.
  const cli = spawnSync(process.execPath, [join(ROOT, 'bin', 'vlm2vec.js'), 'train', ...flags(out, ['--grad_cache', 'True', '--gc_q_chunk_size', '3', '--resume_from', 'auto'])], { encoding: 'utf8' });
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stderr, /--gc_q_chunk_size 3 does not divide --per_device_train_batch_size 2/);
  const cliP = spawnSync(process.execPath, [join(ROOT, 'bin', 'vlm2vec.js'), 'train', ...flags(out, ['--grad_cache', 'True', '--gc_p_chunk_size', '4', '--resume_from', 'auto'])], { encoding: 'utf8' });
  assert.equal(cliP.status, 1, cliP.stderr);
  assert.match(cliP.stderr, /--gc_p_chunk_size 4 does not divide the 2 targets of a batch/);

  // Nothing saved was touched, and the run continues from it.
  assert.deepEqual(snapshot(ck), saved);
  assert.deepEqual((await listCheckpoints(out)).map((c) => [c.step, c.complete]), [[2, true]]);
  const r = await runTraining(again(), quiet);
  assert.deepEqual([r.resumedFrom, r.globalStep, r.finished], [2, 4, true]);
});

/**
 * tiny-a with one embedding row set to `value` (bf16 bits): the poisoned weight of a base model,
 * reached only by texts holding that token.
 */
function poisonedTinyA(dir: string, tokenId: number, bits: number): string {
  cpSync(TINY, dir, { recursive: true });
  const file = join(dir, 'model.safetensors');
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const t = (JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>)['model.embed_tokens.weight']!;
  assert.equal(t.dtype, 'BF16');
  const width = t.shape[1]!;
  for (let j = 0; j < width; j++) buf.writeUInt16LE(bits, 8 + n + t.data_offsets[0] + 2 * (tokenId * width + j));
  writeFileSync(file, buf);
  return dir;
}

test('a NaN or infinite loss (a base weight poisoned for one token of CIRR): stops naming the step and the batch\'s sources, keeps the last checkpoint; with the weight fixed, --resume_from auto ends with the clean run\'s adapter', async () => {
  const flags1 = (out: string, model: string, extra: string[] = []): string[] =>
    flags(out, ['--save_steps', '1', '--max_steps', '5', '--model_name', model, ...extra]);
  const clean = tmp('clean');
  await runTraining(parseTrainArgs(flags1(clean, TINY)).args, quiet);
  // ' described' is in every CIRR query and in no text of the other two subsets.
  const DESCRIBED = 7481;
  const tok = await HfTokenizer.fromFolder(TINY);
  assert.equal(tok.decode([DESCRIBED]), ' described');
  const log = readFileSync(join(clean, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; sources: string[] });
  const bad = log.find((l) => l.sources.includes('mmeb/CIRR'))!.step;
  assert.ok(bad >= 2, `the first CIRR batch is step ${bad}: a checkpoint exists before it`);
  // bf16 NaN (0x7fc0) makes the loss NaN; +inf (0x7f80) an infinite, then NaN, activation.
  for (const [what, bits] of [['nan', 0x7fc0], ['inf', 0x7f80]] as const) {
    const model = poisonedTinyA(tmp(`${what}-model`), DESCRIBED, bits);
    const out = tmp(what);
    const srcs = log.find((l) => l.step === bad)!.sources;
    await assert.rejects(runTraining(parseTrainArgs(flags1(out, model)).args, quiet), (e: Error) => {
      assert.match(e.message, new RegExp(`training step ${bad} \\(batch from ${[...new Set(srcs)].join(', ')}\\) failed: the (loss is (NaN|Infinity)|gradient of \\S+ is not finite); the weights were not updated; the last good checkpoint .*checkpoint-${bad - 1} is kept`));
      return true;
    });
    assert.deepEqual((await listCheckpoints(out)).map((c) => [c.step, c.complete]), Array.from({ length: bad - 1 }, (_, k) => [k + 1, true]));
    // The kept checkpoint is the clean run's, bit for bit; with the base fixed, resuming finishes as the clean run.
    const last = `checkpoint-${bad - 1}`;
    assert.deepEqual(readFileSync(join(out, last, 'adapter_model.safetensors')), readFileSync(join(clean, last, 'adapter_model.safetensors')));
    const r = await runTraining(parseTrainArgs(flags1(out, TINY, ['--resume_from', 'auto'])).args, quiet);
    assert.deepEqual([r.resumedFrom, r.globalStep, r.finished], [bad - 1, 5, true]);
    assert.deepEqual(readFileSync(join(out, 'adapter_model.safetensors')), readFileSync(join(clean, 'adapter_model.safetensors')));
  }
});

test('--checkpoint_path for another base: a hub base_model_name_or_path that is not --model_name, and an adapter covering fewer layers than its target_modules select', async () => {
  const adapter = join(ROOT, 'test', 'fixtures', 'train', 'checkpoint', 'adapter-lora');
  const src = await loadAdapter(adapter);
  const cfg = { r: 2, loraAlpha: 4, loraDropout: 0, useDora: false, useRslora: false, revision: undefined, rankPattern: {}, alphaPattern: {}, initLoraWeights: true } as const;
  const layer0 = new Map([...src.modules].filter(([m]) => m === 'model.layers.0.self_attn.k_proj').flatMap(([m, f]) => [
    [`${m}.lora_A.weight`, { shape: [...f.loraA.shape], data: f.loraA.data as Float32Array }],
    [`${m}.lora_B.weight`, { shape: [...f.loraB.shape], data: f.loraB.data as Float32Array }],
  ]));
  // By name, when both are hub ids: refused before the model is looked up (no network needed).
  const hub = tmp('hub-base');
  await saveAdapter(hub, { ...cfg, targetModules: ['k_proj'], baseModelNameOrPath: 'Qwen/Qwen2-VL-7B-Instruct' }, layer0);
  const a = parseTrainArgs(flags(tmp('o1'), ['--checkpoint_path', hub])).args;
  a.model_name = 'Qwen/Qwen2-VL-2B-Instruct';
  await assert.rejects(runTraining(a, quiet), /--checkpoint_path .*hub-base-\w+ is an adapter for Qwen\/Qwen2-VL-7B-Instruct \(adapter_config\.json base_model_name_or_path\), but --model_name is Qwen\/Qwen2-VL-2B-Instruct/);
  // By structure: k_proj in layer 0 only, where target_modules k_proj selects both layers of tiny-a.
  const short = tmp('short');
  await saveAdapter(short, { ...cfg, targetModules: ['k_proj'], baseModelNameOrPath: 'some/model' }, layer0);
  await assert.rejects(runTraining(parseTrainArgs(flags(tmp('o2'), ['--checkpoint_path', short])).args, quiet),
    /--checkpoint_path .*short-\w+: its target_modules \["k_proj"\] select 2 modules of --model_name, but the adapter has factors for 1 of them \(none for model\.layers\.1\.self_attn\.k_proj\); is the adapter for another base model/);
  // The same adapter with its full coverage trains (a local --model_name is not compared by name).
  const full = tmp('full');
  await saveAdapter(full, { ...cfg, targetModules: ['k_proj'], baseModelNameOrPath: 'Qwen/Qwen2-VL-7B-Instruct' }, new Map([...src.modules].filter(([m]) => m.endsWith('k_proj')).flatMap(([m, f]) => [
    [`${m}.lora_A.weight`, { shape: [...f.loraA.shape], data: f.loraA.data as Float32Array }],
    [`${m}.lora_B.weight`, { shape: [...f.loraB.shape], data: f.loraB.data as Float32Array }],
  ])));
  const r = await runTraining(parseTrainArgs(flags(tmp('o3'), ['--checkpoint_path', full])).args, quiet);
  assert.equal(r.globalStep, 4);
});

test('resuming from a checkpoint written before the loss sum was kept: train_loss recomputed from its log (logging_steps 1) equals the uninterrupted run\'s', async () => {
  const extra = ['--logging_steps', '1', '--max_steps', '4', '--save_steps', '2'];
  const whole = tmp('sum-whole');
  const w = await runTraining(parseTrainArgs(flags(whole, extra)).args, quiet);
  const out = tmp('sum');
  await runTraining(parseTrainArgs(flags(out, extra)).args, { ...quiet, stopAfterStep: 2 });
  // Drop `totals` from checkpoint-2's training_state.json, and record the new size in its marker.
  const ck = join(out, 'checkpoint-2');
  const st = JSON.parse(readFileSync(join(ck, 'training_state.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(typeof (st['totals'] as { loss_sum?: unknown }).loss_sum, 'number');
  delete st['totals'];
  writeFileSync(join(ck, 'training_state.json'), `${JSON.stringify(st, null, 2)}\n`);
  const marker = JSON.parse(readFileSync(join(ck, 'checkpoint.json'), 'utf8')) as { files: Record<string, number> };
  marker.files['training_state.json'] = readFileSync(join(ck, 'training_state.json')).length;
  writeFileSync(join(ck, 'checkpoint.json'), `${JSON.stringify(marker, null, 2)}\n`);
  const r = await runTraining(parseTrainArgs(flags(out, [...extra, '--resume_from', 'auto'])).args, quiet);
  assert.equal(r.resumedFrom, 2);
  assert.equal(r.logHistory.at(-1)!['train_loss'], w.logHistory.at(-1)!['train_loss']);
});
