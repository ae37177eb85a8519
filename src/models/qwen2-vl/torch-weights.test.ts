// Base weights saved by torch.save (`pytorch_model.bin`, single or sharded; fixtures written by
// PyTorch in tools/reference/model_torch_bin.py from the float32 fp16/ model) load into the same
// model: outputs match transformers' float32 run of that model (tools/reference/model_qwen2vl_fp16.py)
// at the float32 parity tolerance, and equal our safetensors load of it exactly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { configureRuntime } from '../../tensor/index.ts';
import { openCheckpoint, resolveModelFolder } from '../../io/weights/model-folder.ts';
import { compareRows, FP16_FIXTURE, fp16Array, fp16Batch } from './fixtures.test-helper.ts';
import { Qwen2VLModel } from './model.ts';

configureRuntime({ threads: 1 });

test('Qwen2VLModel.load reads pytorch_model.bin folders (3 shards with 4.x keys; one file with 5.x keys and a tied lm_head)', async () => {
  const base = await (await Qwen2VLModel.load(FP16_FIXTURE)).encode(fp16Batch());
  for (const sub of ['sharded', 'single']) {
    const dir = join(FP16_FIXTURE, '..', 'fp16-torch', sub);
    const folder = await resolveModelFolder(dir);
    const ckpt = await openCheckpoint(folder);
    assert.equal(ckpt.format, 'torch', sub);
    await ckpt.close();
    const out = await (await Qwen2VLModel.load(dir)).encode(fp16Batch());
    const r = compareRows(out.hidden, fp16Array('fp32.last_hidden') as Float32Array, out.dim);
    assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `${sub} vs transformers fp32: cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
    assert.deepEqual([...out.embeddings], [...base.embeddings], `${sub}: same embeddings as the safetensors load`);
  }
});
