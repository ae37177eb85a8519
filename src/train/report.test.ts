import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport } from '../mmeb/report/index.ts';
import { newTrainerState, writeTrainerState } from './checkpoint-trainer-state.ts';
import { isTrainingDir, readTrainingRun, trainCurveSpec, trainReportHtml } from './report.ts';

const LOG = [
  { step: 1, loss: 2.5, learning_rate: 1e-3, grad_norm: 3, epoch: 0.5 },
  { step: 2, loss: 1.25, learning_rate: 5e-4, grad_norm: Number.NaN, epoch: 1 },
  { step: 3, loss: 0.75, learning_rate: 0, grad_norm: 1.5, epoch: 1.5 },
];

test('a curve per log_history field, non-finite points left out', () => {
  assert.deepEqual(trainCurveSpec(LOG, 'loss').data.values, [{ step: 1, value: 2.5 }, { step: 2, value: 1.25 }, { step: 3, value: 0.75 }]);
  assert.deepEqual(trainCurveSpec(LOG, 'grad_norm').data.values, [{ step: 1, value: 3 }, { step: 3, value: 1.5 }]);
  assert.deepEqual(trainCurveSpec(LOG, 'learning_rate').data.values.map((v) => v.value), [1e-3, 5e-4, 0]);
});

test('the page: three SVG charts with their point counts, the model name escaped', async () => {
  const html = await trainReportHtml(LOG, { model: 'a<b>', outputDir: 'runs/x', globalStep: 3, maxSteps: 10 });
  assert.deepEqual([...html.matchAll(/data-field="(\w+)" data-points="(\d+)"><svg/g)].map((m) => [m[1], Number(m[2])]), [['loss', 3], ['learning_rate', 3], ['grad_norm', 2]]);
  assert.match(html, /Training run: a&lt;b&gt;/);
  assert.match(html, /step 3 of 10; 3 log entries/);
  const withEval = await trainReportHtml([...LOG, { step: 3, epoch: 1.5, 'eval_image/QA': 33.33 }], { model: 'm', outputDir: 'o', globalStep: 3, maxSteps: 3 });
  assert.deepEqual([...withEval.matchAll(/data-field="([\w/]+)" data-points="(\d+)"/g)].map((m) => [m[1], Number(m[2])]), [['loss', 3], ['learning_rate', 3], ['grad_norm', 2], ['eval_image/QA', 1]]);
});

// `vlm2vec report OUT`: a training output folder becomes a section of the MMEB report. (trainer_state.json
// sorts the keys of each entry, so eval groups come back in name order.)

const EVAL2 = { step: 2, epoch: 1, 'eval_image/QA': 12.5, 'eval_image/CLS': 40 };
const SUMMARY = { train_runtime: 12.3456, train_samples_per_second: 0.972, train_steps_per_second: 0.243, total_flos: 0, train_loss: 1.5, epoch: 1.5, step: 3 };

async function finishedRun(): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'train-report-')), 'run-a');
  mkdirSync(dir);
  await writeTrainerState(join(dir, 'trainer_state.json'), newTrainerState({ global_step: 3, max_steps: 3, log_history: [LOG[0]!, LOG[1]!, EVAL2, LOG[2]!, SUMMARY] }));
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ base_model_name_or_path: 'Qwen/Qwen2-VL-2B-Instruct', peft_type: 'LORA' }));
  return dir;
}

test('vlm2vec report on a finished training folder: curves and eval-score charts in HTML, the scores table in Markdown, facts in the table, log_history in JSON', async () => {
  const dir = await finishedRun();
  assert.ok(isTrainingDir(dir));
  const html = await renderReport([dir], 'html');
  assert.deepEqual([...html.matchAll(/data-field="([\w/]+)" data-points="(\d+)"><svg/g)].map((m) => [m[1], Number(m[2])]),
    [['loss', 3], ['learning_rate', 3], ['grad_norm', 2], ['eval_image/CLS', 1], ['eval_image/QA', 1]]);
  assert.match(html, /<h2>Training: <code>.*run-a<\/code><\/h2>/);
  assert.match(html, /step 3 of 3, adapter on Qwen\/Qwen2-VL-2B-Instruct \(from trainer_state\.json\); loss 2\.5000 at step 1 → 0\.7500 at step 3; finished: train_loss 1\.5000, 12\.3456 s, 0\.243 steps\/s\./);
  const md = await renderReport([dir], 'md');
  assert.match(md, /\| step \| image\/CLS \| image\/QA \|\n\|---:\|---:\|---:\|\n\| 2 \| 40\.00 \| 12\.50 \|/);
  assert.match(await renderReport([dir], 'table'), /training run .*run-a: step 3 of 3.*\n {2}step 2: image\/CLS 40\.00, image\/QA 12\.50\n/);
  const json = JSON.parse(await renderReport([dir], 'json')) as { results: unknown; training: { global_step: number; log_history: unknown[] }[] };
  assert.equal(json.results, null);
  assert.deepEqual([json.training[0]!.global_step, json.training[0]!.log_history.length], [3, 5]);
});

test('vlm2vec report with an MMEB result folder and a training folder: the MMEB page with the training section appended', async () => {
  const dir = await finishedRun();
  const res = join(mkdtempSync(join(tmpdir(), 'train-report-res-')), 'step-3');
  mkdirSync(join(res, 'image'), { recursive: true });
  writeFileSync(join(res, 'image', 'OK-VQA_score.json'), JSON.stringify({ 'hit@1': 0.4 }));
  const html = await renderReport([res, dir], 'html');
  assert.match(html, /<h1>MMEB report \(mmeb-v2\)<\/h1>[\s\S]*<h2>Training: <code>.*run-a<\/code><\/h2>[\s\S]*data-field="loss"[\s\S]*<\/body>/);
  const json = JSON.parse(await renderReport([res, dir], 'json')) as { results: { model: string }; training: unknown[] };
  assert.equal(json.results.model, 'step-3');
  assert.equal(json.training.length, 1);
});

test('a run still going (or killed): curves from train_log.jsonl (a step run again after a resume counts once, a cut last line skipped), scores from the newest checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'train-report-live-'));
  const line = (step: number, loss: number): string => JSON.stringify({ step, loss, learning_rate: 1e-3, grad_norm: 1, epoch: step / 4, sources: ['mmeb/X'] });
  writeFileSync(join(dir, 'train_log.jsonl'), [line(1, 3), line(2, 2.5), line(3, 9), line(3, 2), line(4, 1.75), '{"step": 5, "lo'].join('\n'));
  mkdirSync(join(dir, 'checkpoint-2'));
  mkdirSync(join(dir, 'checkpoint-4'));
  await writeTrainerState(join(dir, 'checkpoint-4', 'trainer_state.json'), newTrainerState({ global_step: 4, max_steps: 10, log_history: [{ step: 4, loss: 1.75 }, { step: 4, epoch: 1, 'eval_image/QA': 20 }] }));
  const run = await readTrainingRun(dir);
  assert.equal(run.from, 'train_log.jsonl');
  assert.deepEqual(run.log.filter((e) => 'loss' in e).map((e) => [e.step, e['loss']]), [[1, 3], [2, 2.5], [3, 2], [4, 1.75]]);
  assert.deepEqual([run.globalStep, run.maxSteps, run.summary], [4, 10, undefined]);
  const html = await renderReport([dir], 'html');
  assert.match(html, /data-field="loss" data-points="4"[\s\S]*data-field="eval_image\/QA" data-points="1"/);
  writeFileSync(join(dir, 'train_log.jsonl'), `${line(1, 3)}\nnot json\n${line(2, 2)}\n`);
  await assert.rejects(readTrainingRun(dir), /train_log\.jsonl line 2: not JSON/);
});
