// LoRA / DoRA merge math against values computed by hand from PEFT's formulas
// (W' = W + s·BA; DoRA: W' = m / ‖W + s·BA‖_row · (W + s·BA)). The end-to-end check against
// PEFT's own merge_and_unload() is in src/models/qwen2-vl/model.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeAdapter } from './merge-adapter.ts';

// W [2, 3], A [1, 3], B [2, 1], s = 2  →  s·BA = 2·[[1],[−1]]·[[1, 0, 2]] = [[2, 0, 4], [−2, 0, −4]]
const w = new Float32Array([1, 2, 0, 0, 1, 1]);
const a = new Float32Array([1, 0, 2]);
const b = new Float32Array([1, -1]);

test('LoRA: W + s·BA', () => {
  const got = mergeAdapter(w, 2, 3, { module: 'q_proj', a, b, r: 1, scaling: 2 });
  assert.deepEqual(Array.from(got), [3, 2, 4, -2, 1, -3]);
  assert.deepEqual(Array.from(w), [1, 2, 0, 0, 1, 1], 'input untouched');
});

test('DoRA: rows rescaled to the magnitude vector', () => {
  const got = mergeAdapter(w, 2, 3, { module: 'q_proj', a, b, r: 1, scaling: 2, magnitude: new Float32Array([2, 0.5]) });
  // row 0 = [3, 2, 4], norm √29; row 1 = [−2, 1, −3], norm √14
  const want = [3, 2, 4].map((x) => (2 * x) / Math.sqrt(29)).concat([-2, 1, -3].map((x) => (0.5 * x) / Math.sqrt(14)));
  got.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 1e-6, `${i}: ${x} vs ${want[i]}`));
  // each merged row has exactly the magnitude as its norm
  assert.ok(Math.abs(Math.hypot(got[0]!, got[1]!, got[2]!) - 2) < 1e-6);
  assert.ok(Math.abs(Math.hypot(got[3]!, got[4]!, got[5]!) - 0.5) < 1e-6);
});

test('shape mismatches name the module and the expected shape', () => {
  assert.throws(() => mergeAdapter(w, 2, 3, { module: 'model.layers.0.mlp.up_proj', a: new Float32Array(4), b, r: 1, scaling: 1 }), /model\.layers\.0\.mlp\.up_proj: lora_A has 4 elements, expected \[1, 3\]/);
  assert.throws(() => mergeAdapter(w, 2, 3, { module: 'k', a, b: new Float32Array(3), r: 1, scaling: 1 }), /lora_B has 3 elements, expected \[2, 1\]/);
  assert.throws(() => mergeAdapter(w, 2, 3, { module: 'k', a, b, r: 1, scaling: 1, magnitude: new Float32Array(3) }), /lora_magnitude_vector has 3 elements, expected \[2\]/);
});
