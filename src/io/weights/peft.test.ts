// PEFT adapters saved as adapter_model.bin (torch.save) load like their safetensors twin and merge
// to PEFT's own merge_and_unload() weights (fixtures: tools/reference/torch_pickle.py).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAdapter } from './peft.ts';
import { resolveModelFolder, openCheckpoint } from './model-folder.ts';
import { SafetensorsFile } from './safetensors.ts';
import { toFloat32 } from './safetensors-dtype.ts';
import { mergeAdapter } from '../../models/common/merge-adapter.ts';

const T = 'test/fixtures/io/torch';
const BIN = `${T}/lora-bin`;
const ST = `${T}/lora-st`;

test('adapter_model.bin loads to exactly the tensors of the same adapter saved as safetensors', async () => {
  const bin = await loadAdapter(BIN);
  const st = await loadAdapter(ST);
  assert.equal(bin.modules.size, 6); // q_proj, v_proj, up_proj × 2 layers
  assert.deepEqual([...bin.modules.keys()].sort(), [...st.modules.keys()].sort());
  const q = bin.modules.get('model.layers.1.self_attn.q_proj');
  assert.ok(q);
  assert.equal(q.scaling, 2); // lora_alpha 8 / r 4
  assert.equal(q.loraA.dtype, 'F32');
  assert.deepEqual(q.loraA.shape, [4, 32]);
  assert.deepEqual(bin.modules.get('model.layers.0.self_attn.v_proj')?.loraB.shape, [16, 4]);
  assert.deepEqual(bin.modules.get('model.layers.0.mlp.up_proj')?.loraB.shape, [64, 4]);
  for (const [k, m] of bin.modules) {
    const o = st.modules.get(k);
    assert.ok(o, k);
    assert.equal(m.r, o.r);
    assert.equal(m.scaling, o.scaling);
    assert.deepEqual(m.loraA.shape, o.loraA.shape, k);
    assert.deepEqual(m.loraB.shape, o.loraB.shape, k);
    assert.deepEqual([...(m.loraA.data as Float32Array)], [...(o.loraA.data as Float32Array)], `${k} lora_A`);
    assert.deepEqual([...(m.loraB.data as Float32Array)], [...(o.loraB.data as Float32Array)], `${k} lora_B`);
    assert.equal(m.magnitude, undefined);
  }
});

test('the .bin adapter merges to the same weights as the safetensors one and as PEFT merge_and_unload()', async () => {
  const bin = await loadAdapter(BIN);
  const st = await loadAdapter(ST);
  const folder = await resolveModelFolder(BIN);
  assert.equal(folder.dir, 'test/fixtures/io/models/qwen2vl-tiny');
  const base = await openCheckpoint(folder);
  const ref = await SafetensorsFile.open(`${T}/lora-merged-reference.safetensors`);
  try {
    assert.equal(ref.names().length, bin.modules.size);
    for (const m of bin.modules.values()) {
      const [out, inF] = base.info(m.baseWeight).shape as [number, number];
      const w = await base.readFloat32(m.baseWeight);
      const delta = (x: typeof m) => ({
        module: x.module,
        a: toFloat32(x.loraA.dtype, x.loraA.data, 'A'),
        b: toFloat32(x.loraB.dtype, x.loraB.data, 'B'),
        r: x.r,
        scaling: x.scaling,
      });
      const fromBin = mergeAdapter(w, out, inF, delta(m));
      const fromSt = mergeAdapter(w, out, inF, delta(st.modules.get(m.module)!));
      assert.deepEqual([...fromBin], [...fromSt], m.module);
      const want = await ref.readFloat32(m.baseWeight, [out, inF]);
      let maxErr = 0;
      let maxDelta = 0;
      for (let i = 0; i < want.length; i++) {
        maxErr = Math.max(maxErr, Math.abs((fromBin[i] as number) - (want[i] as number)));
        maxDelta = Math.max(maxDelta, Math.abs((want[i] as number) - (w[i] as number)));
      }
      assert.ok(maxErr < 1e-6, `${m.module}: max error ${maxErr}`);
      assert.ok(maxDelta > 1e-3, `${m.module}: the adapter must actually change the weight (max delta ${maxDelta})`);
    }
  } finally {
    await base.close();
    await ref.close();
  }
});

test('adapter_model.safetensors is preferred over .bin; missing and corrupt weights are named', async () => {
  const root = await mkdtemp(join(tmpdir(), 'vlm2vec-peft-'));
  try {
    await copyFile(`${ST}/adapter_config.json`, join(root, 'adapter_config.json'));
    await assert.rejects(loadAdapter(root), /\[peft\] .*: neither adapter_model\.safetensors nor adapter_model\.bin found/);
    await writeFile(join(root, 'adapter_model.bin'), 'pickle');
    await assert.rejects(loadAdapter(root), /\[torch\] .*adapter_model\.bin: not a torch\.save checkpoint/);
    // With both present the safetensors file is read (the broken .bin is never opened).
    await copyFile(`${ST}/adapter_model.safetensors`, join(root, 'adapter_model.safetensors'));
    assert.equal((await loadAdapter(root)).modules.size, 6);
    await rm(join(root, 'adapter_model.safetensors'));
    await copyFile(`${T}/evil.pt`, join(root, 'adapter_model.bin'));
    await assert.rejects(loadAdapter(root), /adapter_model\.bin: data\.pkl byte 2: pickle GLOBAL 'os system' is not allowed/);
    await copyFile(`${T}/state.pt`, join(root, 'adapter_model.bin'));
    await assert.rejects(loadAdapter(root), /adapter_model\.bin: unexpected tensor 'f32' \(expected lora_A/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
