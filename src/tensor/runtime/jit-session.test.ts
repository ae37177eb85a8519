// jit session builds: large graphs go to ORT through a temp .onnx + external data file, small ones
// as bytes; `onSerialized` runs once per build, after serialization and before ORT reads the
// model, so the host weights can be freed there without changing the results (hand-computed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureRuntime, fromArray, jit, matmul, tensor } from '../index.ts';
import type { Tensor } from '../index.ts';

configureRuntime({ threads: 1 });

// x @ w by hand: [1, 2] · [[1, 2, 3], [4, 5, 6]] = [9, 12, 15]; [0, 1] · w = [4, 5, 6].
const W = [1, 2, 3, 4, 5, 6];

for (const [label, threshold] of [['temp file + external data', 0], ['in-memory bytes', undefined]] as const) {
  test(`onSerialized may free the host weights (${label}); the session keeps its own copy`, async () => {
    const data = Float32Array.from(W);
    const w = fromArray(data, [2, 3], 'float32');
    const events: string[] = [];
    const f = jit((x: Tensor) => matmul(x, w), {
      name: `hook_${threshold ?? 'default'}`,
      dynamic: { '0': ['B', null] },
      ...(threshold === undefined ? {} : { externalDataThreshold: threshold }),
      onSerialized: () => {
        events.push(`serialized (sessions ${f.sessionCount})`);
        structuredClone(data.buffer, { transfer: [data.buffer] }); // detach: the host copy is gone
      },
    });
    const y = await f(tensor([[1, 2]]));
    assert.equal(data.byteLength, 0, 'the hook ran and detached the weights');
    assert.deepEqual(await y.toArray(), [9, 12, 15]);
    // Same signature (symbolic batch): the cached session runs without the host weights.
    const y2 = await f(tensor([[0, 1], [1, 2]]));
    assert.deepEqual(await y2.toArray(), [4, 5, 6, 9, 12, 15]);
    assert.deepEqual(events, ['serialized (sessions 1)'], 'one build, one call');
  });
}

test('large graphs load from a temp .onnx + .data file that is removed once the session exists', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vlm2vec-jit-session-test-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp; // os.tmpdir() reads it on each call
  try {
    const w = fromArray(Float32Array.from(W), [2, 3], 'float32');
    let seen: string[] = [];
    const f = jit((x: Tensor) => matmul(x, w), {
      name: 'file_path',
      externalDataThreshold: 0,
      onSerialized: () => {
        const [d] = readdirSync(tmp);
        seen = readdirSync(join(tmp, d!)).sort();
      },
    });
    assert.deepEqual(await (await f(tensor([[1, 2]]))).toArray(), [9, 12, 15]);
    assert.deepEqual(seen, ['model.onnx', 'model.onnx.data']);
    assert.deepEqual(readdirSync(tmp), [], 'the temp directory is gone');
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(tmp, { recursive: true, force: true });
  }
});
