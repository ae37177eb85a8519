// Checkpoint.open over both weight formats of a Hugging Face folder. The torch.save fixtures are
// written by PyTorch (tools/reference/model_torch_bin.py) from the float32 safetensors model in
// test/fixtures/model/fp16, so every tensor must come back bit-identical to that file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, WEIGHT_FILES } from './checkpoint.ts';
import { writeSafetensors } from './safetensors-write.ts';

const FP16 = 'test/fixtures/model/fp16';
const SHARDED = 'test/fixtures/model/fp16-torch/sharded';
const SINGLE = 'test/fixtures/model/fp16-torch/single';

/** The 5.x state-dict key of a 4.x checkpoint key (torch-single holds 5.x keys). */
function key5x(name: string): string {
  if (name.startsWith('visual.')) return `model.${name}`;
  if (name.startsWith('model.')) return `model.language_model.${name.slice('model.'.length)}`;
  return name;
}

async function bytesOf(ck: Checkpoint, name: string): Promise<Uint8Array> {
  const t = await ck.read(name);
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

test('torch.save checkpoints (3 shards + index, and one pytorch_model.bin) read bit-identical to the safetensors original', async () => {
  const st = await Checkpoint.open(FP16);
  const sh = await Checkpoint.open(SHARDED);
  const one = await Checkpoint.open(SINGLE);
  try {
    assert.equal(st.format, 'safetensors');
    assert.equal(sh.format, 'torch');
    assert.equal(one.format, 'torch');
    assert.deepEqual(sh.shards().sort(), ['pytorch_model-00001-of-00003.bin', 'pytorch_model-00002-of-00003.bin', 'pytorch_model-00003-of-00003.bin']);
    assert.deepEqual(one.shards(), ['pytorch_model.bin']);
    assert.deepEqual(new Set(sh.names()), new Set(st.names()));
    // torch.save(model.state_dict()) also keeps the tied lm_head: a second view of the embeddings.
    assert.deepEqual(new Set(one.names()), new Set([...st.names().map(key5x), 'lm_head.weight']));
    let total = 0;
    for (const name of st.names()) {
      const want = await bytesOf(st, name);
      assert.deepEqual(sh.info(name).shape, st.info(name).shape, name);
      assert.equal(sh.info(name).dtype, 'F32', name);
      assert.ok(Buffer.from(await bytesOf(sh, name)).equals(Buffer.from(want)), `sharded ${name}`);
      assert.ok(Buffer.from(await bytesOf(one, key5x(name))).equals(Buffer.from(want)), `single ${name}`);
      total += want.byteLength;
    }
    assert.equal(sh.indexMetadata.total_size, total);
    assert.ok(Buffer.from(await bytesOf(one, 'lm_head.weight')).equals(Buffer.from(await bytesOf(st, 'model.embed_tokens.weight'))));
    assert.match(sh.info('visual.patch_embed.proj.weight').file, /^pytorch_model-0000[1-3]-of-00003\.bin$/);
    assert.deepEqual(sh.metadata, {});
    assert.deepEqual(st.metadata, { format: 'pt' });
    const norm = await sh.readFloat32('model.norm.weight', [24]);
    assert.deepEqual([...norm], [...(await st.readFloat32('model.norm.weight', [24]))]);
    await assert.rejects(sh.read('model.norm.weight', [25]), { message: '[torch] model.norm.weight: expected [25], found [24]' });
    await assert.rejects(sh.read('model.norm.weigth'), /\[torch\] model\.norm\.weigth: no such tensor in .*sharded \(57 tensors\); did you mean model\.norm\.weight\?/);
  } finally {
    await Promise.all([st.close(), sh.close(), one.close()]);
  }
});

test('a folder is opened by the first weight file it holds: safetensors before torch, index before single file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-ckpt-'));
  try {
    await assert.rejects(Checkpoint.open(dir), {
      message: `[checkpoint] ${dir}: no weights found (looked for ${WEIGHT_FILES.map((w) => w.file).join(', ')})`,
    });
    await copyFile(join(SINGLE, 'pytorch_model.bin'), join(dir, 'pytorch_model.bin'));
    let ck = await Checkpoint.open(dir);
    assert.equal(ck.format, 'torch');
    assert.equal(ck.names().length, 58);
    await ck.close();
    await writeSafetensors(join(dir, 'model.safetensors'), { w: { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) } }, { format: 'pt' });
    ck = await Checkpoint.open(dir);
    assert.equal(ck.format, 'safetensors');
    assert.deepEqual(ck.names(), ['w']);
    await ck.close();
    // Single files and index files open directly, by extension.
    ck = await Checkpoint.open(join(dir, 'pytorch_model.bin'));
    assert.equal(ck.format, 'torch');
    await ck.close();
    ck = await Checkpoint.open(join(SHARDED, 'pytorch_model.bin.index.json'));
    assert.equal(ck.names().length, 57);
    await ck.close();
    await writeFile(join(dir, 'weights.npz'), 'x');
    await assert.rejects(Checkpoint.open(join(dir, 'weights.npz')), /weights\.npz: not a weight file \(expected \.safetensors, \.bin, \.pt or \.pth, or an \.index\.json\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('torch index inconsistencies fail naming the index, the shard and the tensor', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-ckpt-'));
  const idx = join(dir, 'pytorch_model.bin.index.json');
  try {
    await copyFile(join(SINGLE, 'pytorch_model.bin'), join(dir, 'part-1.bin'));
    await writeSafetensors(join(dir, 'part-2.safetensors'), { w: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } }, {});
    await writeFile(idx, JSON.stringify({ weight_map: { 'lm_head.weight': 'part-1.bin', w: 'part-2.safetensors' } }));
    await assert.rejects(Checkpoint.open(dir), { message: `[checkpoint] ${idx}: shards mix safetensors and torch files` });
    await writeFile(idx, JSON.stringify({ weight_map: { 'lm_head.weight': 'part-1.bin', 'model.norm.weight': 'part-1.bin' } }));
    await assert.rejects(Checkpoint.open(dir), /\[torch\] model\.norm\.weight: pytorch_model\.bin\.index\.json maps it to part-1\.bin, which has no such tensor/);
    await writeFile(idx, JSON.stringify({ weight_map: { 'lm_head.weight': 'part-1.npy' } }));
    await assert.rejects(Checkpoint.open(dir), /shard 'part-1\.npy' is neither \.safetensors nor a torch \.bin \/ \.pt \/ \.pth file/);
    await writeFile(idx, JSON.stringify({ weight_map: { 'lm_head.weight': 'part-9.bin' } }));
    await assert.rejects(Checkpoint.open(dir), /\[torch\] .*part-9\.bin: cannot open/);
    await writeFile(idx, '{"weight_map": ');
    await assert.rejects(Checkpoint.open(dir), /pytorch_model\.bin\.index\.json: not valid JSON/);
    const ck = await Checkpoint.open(join(dir, 'part-1.bin'));
    assert.equal((await ck.read('lm_head.weight', [256, 24])).dtype, 'F32');
    await ck.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
