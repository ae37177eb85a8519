import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainCurveSpec, trainReportHtml } from './report.ts';

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
