// The training loop end to end on the fixtures (tiny-a, the three MMEB-train subsets of
// test/fixtures/train/data/): a few steps write checkpoints, the logs and the final adapter; a
// run stopped (cleanly, and by SIGKILL from outside) and resumed with --resume_from auto ends
// with exactly the bytes of an uninterrupted run's adapter.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint } from '../io/weights/checkpoint.ts';
import { loadAdapter } from '../io/weights/peft.ts';
import { saveAdapter } from '../io/weights/peft-write.ts';
import { LocalEmbedder } from '../embed/local.ts';
import { runEval } from '../mmeb/run/eval.ts';
import { configureRuntime } from '../tensor/index.ts';
import { parseTrainArgs } from './args.ts';
import { listCheckpoints } from './checkpoint.ts';
import { readTrainerState } from './checkpoint-trainer-state.ts';
import { runTraining, trainSummary, TRAIN_LOG_FILE, TRAIN_REPORT_FILE } from './loop.ts';

configureRuntime({ threads: 1 });

const ROOT = join(import.meta.dirname, '..', '..');
const DATA = join(ROOT, 'test', 'fixtures', 'train', 'data');

/** Flags of a small run: 3 sources, batches of 2 (5 per pass), r 4 on the reference's targets. */
function flags(out: string, extra: string[] = []): string[] {
  return [
    '--model_name', join(ROOT, 'test', 'fixtures', 'model', 'tiny-a'), '--lora', '--lora_r', '4', '--lora_alpha', '8',
    '--dataset_config', join(DATA, 'mix.yaml'), '--data_basedir', join(DATA, 'basedir'), '--data', join(DATA, 'hub'),
    '--output_dir', out, '--per_device_train_batch_size', '2', '--interleave_batch_size', '2', '--normalize', 'True',
    '--learning_rate', '1e-3', '--warmup_steps', '1', '--save_steps', '2', '--lora_dropout', '0', ...extra,
  ];
}

const made: string[] = [];
const tmp = (name: string): string => {
  const d = mkdtempSync(join(tmpdir(), `train-loop-${name}-`));
  made.push(d);
  return d;
};
// Full-model checkpoints carry the model and tokenizer files: tens of MB per run.
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const quiet = { onWarning: () => undefined };
/** trainer_state.json's text without the wall-clock values of the end-of-training entry. */
const untimed = (file: string): string => readFileSync(file, 'utf8').replace(/("train_(runtime|samples_per_second|steps_per_second)": )[^,\n]+/g, '$1<t>');

test('four LoRA steps: finite losses, the schedule, checkpoints 2 and 4, trainer_state.json, the JSONL log, the final adapter', async () => {
  const out = tmp('e2e');
  const { args } = parseTrainArgs(flags(out, ['--lora_type', 'lora', '--max_steps', '4']));
  const steps: { loss: number; learningRate: number; gradNorm: number }[] = [];
  const r = await runTraining(args, { ...quiet, onStep: (s) => steps.push(s) });
  assert.deepEqual([r.globalStep, r.maxSteps, r.finished, r.resumedFrom], [4, 4, true, 0]);
  assert.ok(steps.every((s) => Number.isFinite(s.loss) && s.loss > 0 && s.gradNorm > 0), JSON.stringify(steps));
  // Linear with 1 warmup step over 4 (HF's lr_lambda): 0, 1, 2/3, 1/3 of 1e-3.
  const lrs = [0, 1e-3, 1e-3 * (2 / 3), 1e-3 * (1 / 3)];
  steps.forEach((s, k) => assert.ok(Math.abs(s.learningRate - lrs[k]!) < 1e-15, `step ${k + 1} lr ${s.learningRate}`));
  const cks = await listCheckpoints(out);
  assert.deepEqual(cks.map((c) => [c.step, c.complete, c.weights]), [[2, true, 'adapter'], [4, true, 'adapter']]);
  const state = await readTrainerState(join(out, 'trainer_state.json'));
  assert.equal(state.global_step, 4);
  assert.deepEqual(state.log_history.map((e) => e.step), [1, 2, 3, 4, 4]);
  // HF's end-of-training entry (transformers 5.18 _finalize_training): speeds over max_steps × batch,
  // total_flos 0 (the reference's MMEBModel has no num_parameters), train_loss the mean step loss.
  const summary = state.log_history.at(-1)!;
  assert.deepEqual(Object.keys(summary).sort(), ['epoch', 'step', 'total_flos', 'train_loss', 'train_runtime', 'train_samples_per_second', 'train_steps_per_second']);
  assert.deepEqual([summary.step, summary.epoch, summary.total_flos], [4, 1, 0]);
  assert.equal(summary.train_loss, steps.reduce((s, x) => s + x.loss, 0) / 4);
  assert.ok(summary.train_runtime! > 0 && Math.abs(summary.train_steps_per_second! - 4 / summary.train_runtime!) <= 5e-4 + 1e-3 * (4 / summary.train_runtime!), JSON.stringify(summary));
  assert.ok(Math.abs(summary.train_samples_per_second! - 2 * summary.train_steps_per_second!) <= 2e-3, JSON.stringify(summary));
  assert.match(readFileSync(join(out, 'trainer_state.json'), 'utf8'), /"total_flos": 0\.0,\n\s*"train_loss": /);
  // transformers 5.18 logs the lr the step used (read before lr_scheduler.step()); grad_norm before clipping.
  state.log_history.slice(0, 4).forEach((e, k) => {
    assert.deepEqual(Object.keys(e).sort(), ['epoch', 'grad_norm', 'learning_rate', 'loss', 'step']);
    assert.ok(Math.abs(e.learning_rate! - lrs[k]!) < 1e-15, `log ${k}: lr ${e.learning_rate}`);
    assert.equal(e.loss, steps[k]!.loss);
    assert.equal(e.grad_norm, steps[k]!.gradNorm);
    // HF's epoch for a dataset without a length (the reference's mixture): step / max_steps in the first pass.
    assert.equal(e.epoch, (k + 1) / 4);
  });
  const log = readFileSync(join(out, TRAIN_LOG_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; sources: string[] });
  assert.deepEqual(log.map((l) => l.step), [1, 2, 3, 4]);
  assert.ok(log.every((l) => l.sources.length === 2 && l.sources.every((s) => s.startsWith('mmeb/'))));
  // The final adapter: peft's format, the reference's default targets that exist in Qwen2-VL
  // (q/k/v/o_proj, down_proj of each LM layer; none in the vision tower), B trained away from 0.
  const ad = await loadAdapter(out);
  assert.deepEqual([ad.config.r, ad.config.loraAlpha, ad.config.useDora, ad.config.initLoraWeights], [4, 8, false, 'gaussian']);
  const kinds = new Set([...ad.modules.keys()].map((m) => m.split('.').at(-1)));
  assert.deepEqual([...kinds].sort(), ['down_proj', 'k_proj', 'o_proj', 'q_proj', 'v_proj']);
  assert.ok([...ad.modules.keys()].every((m) => m.startsWith('model.layers.')));
  const b = [...ad.modules.values()][0]!.loraB.data as Float32Array;
  assert.ok(b.some((x) => x !== 0), 'lora_B moved from its zero init');
  const report = readFileSync(join(out, TRAIN_REPORT_FILE), 'utf8');
  assert.deepEqual([...report.matchAll(/data-field="(\w+)" data-points="(\d+)"/g)].map((m) => [m[1], Number(m[2])]), [['loss', 4], ['learning_rate', 4], ['grad_norm', 4]]);
  // The last checkpoint holds the same adapter as OUT/.
  assert.deepEqual(readFileSync(join(out, 'checkpoint-4', 'adapter_model.safetensors')), readFileSync(join(out, 'adapter_model.safetensors')));
});

test("the end-of-training entry against transformers' Trainer on a reference-like model (tools/reference/trainer_summary.py): keys in order, total_flos 0, train_loss the mean, speeds from max_steps × batch", () => {
  const g = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'train', 'trainer_summary.json'), 'utf8')) as {
    keys: string[]; total_flos: number; step: number; epoch: number; train_loss: number; mean_logged_loss: number;
    samples_per_second_times_runtime: number; steps_per_second_times_runtime: number;
  };
  assert.equal(g.train_loss, g.mean_logged_loss, 'HF: train_loss is the mean step loss');
  // HF's run: 3 steps of batch 2 (6 samples), runtime 0.152 s; ours given the same.
  const s = trainSummary({ runtimeMs: 152.4, maxSteps: 3, batchSize: 2, lossSum: 3 * g.mean_logged_loss, globalStep: g.step, epoch: g.epoch });
  assert.deepEqual(Object.keys(s), g.keys);
  assert.deepEqual([s.total_flos, s.step, s.epoch], [g.total_flos, g.step, g.epoch]);
  assert.ok(Math.abs(s.train_loss! - g.train_loss) <= 1e-12 * g.train_loss);
  assert.equal(s.train_runtime, 0.1524);
  assert.deepEqual([s.train_samples_per_second, s.train_steps_per_second], [39.37, 19.685]);
  assert.ok(Math.abs(g.samples_per_second_times_runtime - 6) < 0.01 && Math.abs(g.steps_per_second_times_runtime - 3) < 0.01);
});

test('stopped after step 3 and resumed with --resume_from auto (from checkpoint-2): the same final DoRA adapter bytes and log as one run (GradCache on)', async () => {
  const extra = ['--max_steps', '5', '--grad_cache', 'True', '--gc_q_chunk_size', '1', '--gc_p_chunk_size', '2', '--save_total_limit', '1'];
  const whole = tmp('whole');
  await runTraining(parseTrainArgs(flags(whole, extra)).args, quiet);
  const cut = tmp('cut');
  const first = await runTraining(parseTrainArgs(flags(cut, extra)).args, { ...quiet, stopAfterStep: 3 });
  assert.deepEqual([first.globalStep, first.finished], [3, false]);
  assert.ok(!existsSync(join(cut, 'adapter_model.safetensors')));
  const again = await runTraining(parseTrainArgs(flags(cut, [...extra, '--resume_from', 'auto'])).args, quiet);
  assert.deepEqual([again.resumedFrom, again.globalStep, again.finished], [2, 5, true]);
  assert.deepEqual((await listCheckpoints(cut)).map((c) => c.step), [5], 'save_total_limit 1; the last step is saved too, as HF does');
  assert.deepEqual(readFileSync(join(cut, 'adapter_model.safetensors')), readFileSync(join(whole, 'adapter_model.safetensors')));
  // The same text but for the wall-clock timings; train_loss too is the whole run's mean.
  assert.deepEqual(untimed(join(cut, 'trainer_state.json')), untimed(join(whole, 'trainer_state.json')));
  assert.match(untimed(join(cut, 'trainer_state.json')), /"train_loss": \d/);
  assert.ok((await loadAdapter(whole)).config.useDora, "--lora trains DoRA, as the reference's");
});

test('vlm2vec train killed with SIGKILL after its first checkpoint, then --resume_from auto: the adapter of an uninterrupted run, bit for bit', async () => {
  const extra = ['--lora_type', 'lora', '--max_steps', '8'];
  const whole = tmp('kill-whole');
  await runTraining(parseTrainArgs(flags(whole, extra)).args, quiet);
  const out = tmp('kill');
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'vlm2vec.js'), 'train', ...flags(out, extra)], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, sig) => res(sig)));
  let killedAt = -1;
  for (;;) {
    const done = (await listCheckpoints(out)).filter((c) => c.complete);
    if (done.length > 0) {
      child.kill('SIGKILL');
      killedAt = done.at(-1)!.step;
      break;
    }
    if (child.exitCode !== null) break;
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.equal(await exited, 'SIGKILL', 'the child was killed mid-run');
  assert.ok(killedAt >= 2 && killedAt < 8, `killed after checkpoint-${killedAt}`);
  assert.ok(!existsSync(join(out, 'adapter_model.safetensors')), 'no final adapter yet');
  const r = await runTraining(parseTrainArgs(flags(out, [...extra, '--resume_from', 'auto'])).args, quiet);
  assert.ok(r.resumedFrom >= 2 && r.finished);
  assert.deepEqual(readFileSync(join(out, 'adapter_model.safetensors')), readFileSync(join(whole, 'adapter_model.safetensors')));
  assert.equal(untimed(join(out, 'trainer_state.json')), untimed(join(whole, 'trainer_state.json')));
});

test('full fine-tuning with --image_encoder_freeze: the vision tower stays the base weights, the rest trains; stopped and resumed = one run, bit for bit', async () => {
  const extra = ['--max_steps', '4', '--weight_decay', '0.1', '--image_encoder_freeze'];
  const full = (out: string): string[] => flags(out, extra).filter((f, i, a) => f !== '--lora' && !['--lora_r', '--lora_alpha'].includes(a[i - 1]!) && !['--lora_r', '--lora_alpha'].includes(f));
  const whole = tmp('full-whole');
  await runTraining(parseTrainArgs(full(whole)).args, quiet);
  const cut = tmp('full-cut');
  await runTraining(parseTrainArgs(full(cut)).args, { ...quiet, stopAfterStep: 3 });
  const r = await runTraining(parseTrainArgs([...full(cut), '--resume_from', 'auto']).args, quiet);
  assert.deepEqual([r.resumedFrom, r.globalStep], [2, 4]);
  assert.deepEqual((await listCheckpoints(cut)).map((c) => [c.step, c.weights]), [[2, 'model'], [4, 'model']]);
  assert.deepEqual(readFileSync(join(cut, 'model.safetensors')), readFileSync(join(whole, 'model.safetensors')));
  const base = await Checkpoint.open(join(ROOT, 'test', 'fixtures', 'model', 'tiny-a'));
  const got = await Checkpoint.open(whole);
  try {
    for (const n of base.names()) {
      const same = Buffer.from((await base.readFloat32(n)).buffer).equals(Buffer.from((await got.readFloat32(n)).buffer));
      assert.equal(same, n.startsWith('visual.'), `${n}: ${n.startsWith('visual.') ? 'frozen' : 'trained'}`);
    }
  } finally {
    await base.close();
    await got.close();
  }
});

test('--eval_tasks: MMEB scores of the trained weights every --eval_steps, in log_history and the report, equal to eval on the saved checkpoint', async () => {
  const out = tmp('eval');
  const mmeb = join(ROOT, 'test', 'fixtures', 'mmeb', 'data');
  await runTraining(parseTrainArgs(flags(out, ['--lora_type', 'lora', '--max_steps', '4', '--eval_tasks', 'OK-VQA,ImageNet-1K', '--eval_data', mmeb])).args, quiet);
  const state = await readTrainerState(join(out, 'trainer_state.json'));
  const evals = state.log_history.filter((e) => Object.keys(e).some((k) => k.startsWith('eval_')));
  assert.deepEqual(evals.map((e) => e.step), [2, 4]);
  // The adapter evaluated at step 2 is checkpoint-2's, and its scores are those of `eval` on
  // checkpoint-2 (loaded as base + adapter). (On these fixtures the scores are coarse: a few
  // queries each, and the same as the base model's, so the bytes are what shows the weights.)
  assert.deepEqual(readFileSync(join(out, 'eval', 'step-2', 'model', 'adapter_model.safetensors')), readFileSync(join(out, 'checkpoint-2', 'adapter_model.safetensors')));
  const embedder = await LocalEmbedder.load(join(out, 'checkpoint-2'));
  try {
    const r = await runEval({ embedder, benchmark: 'mmeb-v2', tasks: ['OK-VQA', 'ImageNet-1K'], dataDir: mmeb, outDir: tmp('eval-direct'), cacheDir: null, onWarning: () => undefined });
    const want = Object.fromEntries(Object.entries(r.summary.scores).map(([g, v]) => [`eval_${g}`, v]));
    assert.ok(Object.keys(want).includes('eval_image/QA') && Object.keys(want).includes('eval_image/CLS'), Object.keys(want).join(', '));
    const { step, epoch, ...got } = evals[0]!;
    assert.deepEqual([step, epoch], [2, 0.5]);
    assert.deepEqual(got, want);
  } finally {
    await embedder.close();
  }
  assert.match(readFileSync(join(out, TRAIN_REPORT_FILE), 'utf8'), /data-field="eval_image\/QA" data-points="2"/);
});

test('--logging_steps 2: an entry every second step with the mean loss since the last one (HF: not at a last step off the interval)', async () => {
  const out = tmp('logsteps');
  const steps: { loss: number; gradNorm: number }[] = [];
  const a = parseTrainArgs(flags(out, ['--lora_type', 'lora', '--max_steps', '5', '--logging_steps', '2'])).args;
  await runTraining(a, { ...quiet, onStep: (s) => steps.push(s) });
  const log = (await readTrainerState(join(out, 'trainer_state.json'))).log_history.filter((e) => 'loss' in e);
  assert.equal(steps.length, 5);
  assert.deepEqual(log.map((e) => e.step), [2, 4]);
  assert.deepEqual(log.map((e) => e.loss), [(steps[0]!.loss + steps[1]!.loss) / 2, (steps[2]!.loss + steps[3]!.loss) / 2]);
  assert.deepEqual(log.map((e) => e.grad_norm), [steps[1]!.gradNorm, steps[3]!.gradNorm]);
  // save_steps 2 over 5 steps: 2, 4, and the last step.
  assert.deepEqual((await listCheckpoints(out)).map((c) => c.step), [2, 4, 5]);
});

test('--num_hardneg 1: each query gets its positive and its hard negative as targets, which raises the first loss over in-batch negatives alone', async () => {
  const dir = tmp('hardneg');
  const yaml = join(dir, 'cirr.yaml');
  // CIRR of the fixture hub: every row has a neg_text / neg_image_path.
  writeFileSync(yaml, 'CIRR:\n  dataset_parser: mmeb\n  dataset_name: TIGER-Lab/MMEB-train\n  subset_name: CIRR\n  dataset_split: original\n  image_dir: mmeb-images\n  weight: 1\n');
  const first = async (hardneg: string, gc: string[]): Promise<number> => {
    const a = parseTrainArgs(flags(tmp('hardneg-out'), ['--lora_type', 'lora', '--max_steps', '1', '--num_hardneg', hardneg, ...gc])).args;
    a.dataset_config = yaml;
    const losses: number[] = [];
    await runTraining(a, { ...quiet, onStep: (s) => losses.push(s.loss) });
    return losses[0]!;
  };
  const plain = await first('0', []);
  const withNeg = await first('1', []);
  const withNegGc = await first('1', ['--grad_cache', 'True', '--gc_q_chunk_size', '1', '--gc_p_chunk_size', '2']);
  assert.ok(Number.isFinite(plain) && withNeg > plain, `loss with hard negatives ${withNeg}, without ${plain}`);
  assert.ok(Math.abs(withNegGc - withNeg) <= 1e-6 * withNeg, `GradCache ${withNegGc} vs ${withNeg}`);
});

test('bad input: a non-adapter --checkpoint_path with --lora, a missing dataset_config, an adapter for another base, a NaN loss, a corrupt image; a continued adapter keeps its own config', async () => {
  const out = tmp('bad');
  const adapter = join(ROOT, 'test', 'fixtures', 'train', 'checkpoint', 'adapter-lora');
  await assert.rejects(runTraining(parseTrainArgs(flags(out, ['--checkpoint_path', join(DATA, 'basedir')])).args, quiet),
    /--checkpoint_path .*basedir has no adapter_config\.json; with --lora it must be a PEFT adapter folder/);
  const missing = parseTrainArgs(flags(out)).args;
  missing.dataset_config = join(DATA, 'nope.yaml');
  await assert.rejects(runTraining(missing, quiet), /cannot read dataset_config .*nope\.yaml/);
  // An adapter made for a wider model: its q_proj factors do not fit tiny-a's q_proj.
  const wrong = tmp('wrong');
  const inF = (await loadAdapter(adapter)).modules.get('model.layers.0.self_attn.k_proj')!.loraA.shape[1]!;
  await saveAdapter(wrong, { r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ['q_proj'], useDora: false, useRslora: false, baseModelNameOrPath: 'other', revision: undefined, rankPattern: {}, alphaPattern: {}, initLoraWeights: true },
    new Map([['model.layers.0.self_attn.q_proj.lora_A.weight', { shape: [2, inF + 8], data: new Float32Array(2 * (inF + 8)) }], ['model.layers.0.self_attn.q_proj.lora_B.weight', { shape: [inF, 2], data: new Float32Array(2 * inF) }]]));
  await assert.rejects(runTraining(parseTrainArgs(flags(out, ['--checkpoint_path', wrong])).args, quiet),
    new RegExp(`adapter tensor model\\.layers\\.0\\.self_attn\\.q_proj\\.lora_A\\.weight is \\[2, ${inF + 8}\\], but model\\.layers\\.0\\.self_attn\\.q_proj\\.weight of this model is \\[\\d+, ${inF}\\] \\(is the adapter for another base model\\?\\)`));
  // A loss that turns NaN (lr 1e30 blows the weights up after step 1): the error names the step
  // and the batch's sources, and checkpoint-1 stays complete.
  const nan = tmp('nan');
  await assert.rejects(runTraining(parseTrainArgs(flags(nan, ['--lora_type', 'lora', '--max_steps', '4', '--lr_scheduler_type', 'constant']).map((f, i, a) => ({ '--save_steps': '1', '--warmup_steps': '0', '--learning_rate': '1e30' } as Record<string, string>)[a[i - 1]!] ?? f)).args, quiet),
    /training step 2 \(batch from mmeb\/[A-Za-z_0-9]+(, mmeb\/[A-Za-z_0-9]+)*\) failed: the loss is NaN; the weights were not updated; the last good checkpoint .*checkpoint-1 is kept/);
  assert.deepEqual((await listCheckpoints(nan)).map((c) => [c.step, c.complete]), [[1, true]]);
  // A corrupt image (the file exists, so parsing passes): the step that needs it names the source,
  // the data file and row, the side and the image file.
  const based = tmp('corrupt');
  cpSync(join(DATA, 'basedir'), based, { recursive: true });
  const imnet = join(based, 'mmeb-images', 'images', 'ImageNet_1K', 'Train');
  for (const f of readdirSync(imnet)) writeFileSync(join(imnet, f), 'not an image');
  const corrupt = parseTrainArgs(flags(tmp('corrupt-out'), ['--lora_type', 'lora', '--max_steps', '5'])).args;
  corrupt.data_basedir = based;
  await assert.rejects(runTraining(corrupt, quiet), /mmeb\/ImageNet_1K \(.*original.*row \d+\) query: cannot decode .*ImageNet_1K\/Train\/n\d+_\d+\.(jpg|JPEG)/);
  // Continuing from the fixture LoRA adapter keeps its own config (r 2, alpha 6, k/gate/up_proj), not --lora_r 4.
  const cont = tmp('cont');
  await runTraining(parseTrainArgs(flags(cont, ['--checkpoint_path', adapter, '--max_steps', '2'])).args, quiet);
  const ad = await loadAdapter(cont);
  assert.deepEqual([ad.config.r, ad.config.loraAlpha, ad.config.useDora, [...ad.config.targetModules]], [2, 6, false, ['k_proj', 'gate_proj', 'up_proj']]);
});
