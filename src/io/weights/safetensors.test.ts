import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from './safetensors.ts';
import { Checkpoint } from './checkpoint.ts';
import { serializeSafetensors, writeSafetensors, writeShardedSafetensors, type TensorToWrite } from './safetensors-write.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, type SafetensorsDType } from './safetensors-dtype.ts';

const FIX = 'test/fixtures/io/safetensors';
const MODELS = 'test/fixtures/io/models';
const TORCH_TO_ST: Record<string, SafetensorsDType> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  uint8: 'U8',
  bool: 'BOOL',
};

interface GoldenTensor {
  dtype: string;
  shape: number[];
  hex: string;
  f32?: (number | string)[];
}

async function golden(): Promise<{ metadata: Record<string, string>; tensors: Record<string, GoldenTensor> }> {
  return JSON.parse(await readFile(join(FIX, 'all_dtypes.json'), 'utf8'));
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vlm2vec-st-'));
}

/** A file from a hand-written header (for corruption cases) followed by `dataLen` zero bytes. */
function craft(header: unknown, dataLen: number, rawHeader?: string): Uint8Array {
  const json = Buffer.from(rawHeader ?? JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + dataLen);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  return out;
}

async function openBytes(bytes: Uint8Array): Promise<SafetensorsFile> {
  const dir = await tmp();
  const p = join(dir, 'x.safetensors');
  await writeFile(p, bytes);
  try {
    return await SafetensorsFile.open(p);
  } finally {
    // The file stays open through its handle; the directory can go.
    await rm(dir, { recursive: true, force: true });
  }
}

test('reads a file written by the Python safetensors library bit-exactly, every dtype', async () => {
  const g = await golden();
  const st = await SafetensorsFile.open(join(FIX, 'all_dtypes.safetensors'));
  try {
    assert.deepEqual({ ...st.metadata }, g.metadata);
    assert.deepEqual(new Set(st.names()), new Set(Object.keys(g.tensors)));
    for (const [name, t] of Object.entries(g.tensors)) {
      const r = await st.read(name);
      assert.equal(r.dtype, TORCH_TO_ST[t.dtype], name);
      assert.deepEqual(r.shape, t.shape, name);
      assert.equal(hexOf(await st.readBytes(name)), t.hex, name);
      if (t.f32) {
        const got = await st.readFloat32(name);
        const want = t.f32.map((v) => (typeof v === 'string' ? Number(v.replace('inf', 'Infinity')) : v));
        assert.equal(got.length, want.length);
        // Object.is distinguishes -0 from 0: widening must keep the sign bit.
        want.forEach((w, i) => assert.ok(Object.is(got[i], Math.fround(w)), `${name}[${i}]: ${got[i]} vs ${w}`));
      }
    }
    const ids = await st.read('ids.i64');
    assert.deepEqual([...(ids.data as BigInt64Array)], [0n, -1n, 2n ** 62n, -(2n ** 63n), 151655n]);
    const mask = await st.read('mask.bool');
    assert.deepEqual([...(mask.data as Uint8Array)], [1, 0, 1, 0, 0, 1]);
  } finally {
    await st.close();
  }
});

test('writer output is byte-identical to the Python library for the same tensors', async () => {
  const g = await golden();
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of Object.entries(g.tensors)) {
    tensors[name] = { dtype: TORCH_TO_ST[t.dtype] as SafetensorsDType, shape: t.shape, data: new Uint8Array(Buffer.from(t.hex, 'hex')) };
  }
  const ours = serializeSafetensors(tensors, g.metadata);
  const theirs = await readFile(join(FIX, 'all_dtypes.safetensors'));
  assert.equal(Buffer.compare(Buffer.from(ours), theirs), 0);
});

test('round trip of every dtype through writeSafetensors, with multi-key metadata', async () => {
  const dir = await tmp();
  try {
    const n = 37;
    const f32 = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 10 ** (i % 7));
    const tensors: Record<string, TensorToWrite> = {
      a: { dtype: 'F32', shape: [n], data: f32 },
      b: { dtype: 'F16', shape: [n], data: f32ToF16(f32) },
      c: { dtype: 'BF16', shape: [1, n], data: f32ToBf16(f32) },
      d: { dtype: 'I64', shape: [2, 2], data: BigInt64Array.from([1n, -2n, 9007199254740993n, -(2n ** 63n)]) },
      e: { dtype: 'I32', shape: [3], data: Int32Array.from([-1, 0, 2 ** 31 - 1]) },
      f: { dtype: 'U8', shape: [4], data: Uint8Array.from([0, 7, 128, 255]) },
      g: { dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
      h: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
    };
    const p = join(dir, 'rt.safetensors');
    await writeSafetensors(p, tensors, { format: 'pt', note: 'ünïcode ✓' });
    const st = await SafetensorsFile.open(p);
    try {
      assert.deepEqual({ ...st.metadata }, { format: 'pt', note: 'ünïcode ✓' });
      for (const [name, t] of Object.entries(tensors)) {
        const r = await st.read(name, t.shape);
        assert.equal(r.dtype, t.dtype);
        assert.deepEqual([...(r.data as ArrayLike<unknown> & Iterable<unknown>)], [...(t.data as Iterable<unknown>)], name);
      }
      assert.deepEqual(await st.readFloat32('a'), f32);
    } finally {
      await st.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('f32 → bf16 / f16 rounding and widening match torch bit for bit', async () => {
  const st = await SafetensorsFile.open(join(FIX, 'conversions.safetensors'));
  try {
    const src = (await st.read('src.f32')).data as Float32Array;
    const bf = (await st.read('torch.bf16')).data as Uint16Array;
    const hf = (await st.read('torch.f16')).data as Uint16Array;
    assert.ok(src.length > 500);
    assert.deepEqual([...f32ToBf16(src)], [...bf]);
    assert.deepEqual([...f32ToF16(src)], [...hf]);
    const bfBack = (await st.read('bf16_back.f32')).data as Float32Array;
    const hfBack = (await st.read('f16_back.f32')).data as Float32Array;
    assert.deepEqual(new Uint32Array(bf16ToF32(bf).buffer), new Uint32Array(bfBack.slice().buffer));
    assert.deepEqual(new Uint32Array(f16ToF32(hf).buffer), new Uint32Array(hfBack.slice().buffer));
  } finally {
    await st.close();
  }
  // NaN stays NaN (quiet) in both directions rather than rounding into ±inf.
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(Float32Array.of(NaN)))[0]));
  assert.ok(Number.isNaN(f16ToF32(f32ToF16(Float32Array.of(NaN)))[0]));
});

test('sharded checkpoint written by transformers (index + 4 shards) loads lazily by name', async () => {
  const ckpt = await Checkpoint.open(join(MODELS, 'qwen2vl-tiny'));
  const flat = await Checkpoint.open(join(MODELS, 'qwen2vl-tiny-flat'));
  try {
    assert.equal(ckpt.shards().length, 4);
    assert.equal(ckpt.names().length, 58);
    assert.deepEqual(new Set(ckpt.names()), new Set(flat.names()));
    assert.equal(ckpt.info('model.layers.1.mlp.down_proj.weight').dtype, 'F32');
    assert.match(ckpt.info('visual.patch_embed.proj.weight').file, /^model-0000\d-of-00004\.safetensors$/);
    assert.deepEqual(ckpt.info('visual.patch_embed.proj.weight').shape, [16, 3, 2, 14, 14]);
    // The flat copy is the same weights cast to bf16 by torch: our RNE cast must agree exactly.
    for (const name of ['model.embed_tokens.weight', 'visual.blocks.1.attn.qkv.weight', 'model.norm.weight']) {
      const f = (await ckpt.read(name)).data as Float32Array;
      const b = (await flat.read(name)).data as Uint16Array;
      assert.deepEqual([...f32ToBf16(f)], [...b], name);
    }
    assert.deepEqual(flat.metadata, { format: 'pt' });
  } finally {
    await ckpt.close();
    await flat.close();
  }
});

test('sharded checkpoint written by us: lookups across shards, and index inconsistencies', async () => {
  const dir = await tmp();
  try {
    const t = (v: number[]): TensorToWrite => ({ dtype: 'F32', shape: [v.length], data: Float32Array.from(v) });
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), { a: t([1, 2]), b: t([3]) }, { format: 'pt' });
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), { c: t([4, 5, 6]) }, { format: 'pt' });
    const index = {
      metadata: { total_size: 24 },
      weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' },
    };
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    const ck = await Checkpoint.open(dir);
    assert.deepEqual([...(await ck.readFloat32('c', [3]))], [4, 5, 6]);
    assert.deepEqual([...(await ck.readFloat32('a'))], [1, 2]);
    assert.equal(ck.info('c').file, 'model-00002-of-00002.safetensors');
    await assert.rejects(ck.read('d'), /\[safetensors\] d: no such tensor/);
    await assert.rejects(ck.read('c', [2]), { message: '[safetensors] c: expected [2], found [3]' });
    await ck.close();

    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, z: 'model-00002-of-00002.safetensors' } }));
    await assert.rejects(Checkpoint.open(dir), /z: model\.safetensors\.index\.json maps it to model-00002-of-00002\.safetensors, which has no such tensor/);
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'model-00009-of-00009.safetensors' } }));
    await assert.rejects(Checkpoint.open(dir), /model-00009-of-00009\.safetensors: cannot open/);
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '../evil.safetensors' } }));
    await assert.rejects(Checkpoint.open(dir), /must be a plain file name/);
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weightmap: {} }));
    await assert.rejects(Checkpoint.open(dir), /weight_map/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeShardedSafetensors: index + shards in the transformers layout, or one model.safetensors', async () => {
  const dir = await tmp();
  try {
    const t = (fill: number): TensorToWrite => ({ dtype: 'F32', shape: [10, 10], data: new Float32Array(100).fill(fill) }); // 400 bytes
    const tensors = { 'b.weight': t(2), 'a.weight': t(1), 'c.weight': t(3) };
    const files = await writeShardedSafetensors(join(dir, 'sharded'), tensors, { maxShardBytes: 900 });
    assert.deepEqual(files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    const index = JSON.parse(await readFile(join(dir, 'sharded', 'model.safetensors.index.json'), 'utf8'));
    assert.deepEqual(index, {
      metadata: { total_size: 1200 },
      weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00001-of-00002.safetensors', 'c.weight': 'model-00002-of-00002.safetensors' },
    });
    const ck = await Checkpoint.open(join(dir, 'sharded'));
    assert.deepEqual(ck.metadata, { format: 'pt' });
    for (const [name, fill] of [['a.weight', 1], ['b.weight', 2], ['c.weight', 3]] as const) {
      assert.deepEqual([...(await ck.readFloat32(name, [10, 10]))], new Array(100).fill(fill));
    }
    await ck.close();
    assert.deepEqual(await writeShardedSafetensors(join(dir, 'single'), tensors), ['model.safetensors']);
    const one = await Checkpoint.open(join(dir, 'single'));
    assert.equal(one.names().length, 3);
    await one.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('corrupt files fail with errors naming the problem', async () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  // Too short for the length prefix.
  await assert.rejects(openBytes(new Uint8Array(5)), /truncated: 5 bytes/);
  // Header length beyond the 100 MB limit.
  const huge = craft(ok, 8);
  Buffer.from(huge.buffer).writeBigUInt64LE(2n ** 40n, 0);
  await assert.rejects(openBytes(huge), /header length too large: 1099511627776 bytes/);
  // Header length within the limit but past the end of the file.
  const long = craft(ok, 8);
  Buffer.from(long.buffer).writeBigUInt64LE(5000n, 0);
  await assert.rejects(openBytes(long), /truncated: header claims 5000 bytes but the file has only \d+/);
  // Data cut short.
  const full = craft(ok, 8);
  await assert.rejects(openBytes(full.subarray(0, full.length - 3)), /w: data_offsets \[0, 8\] run past the end of the data \(5 bytes\); the file is truncated/);
  // Not JSON.
  await assert.rejects(openBytes(craft(null, 0, '{"w": {"dtype": "F32",')), /bad header JSON/);
  await assert.rejects(openBytes(craft([1, 2], 0)), /header is not a JSON object/);
  // Overlap, hole, out of range.
  const two = (a: number[], b: number[], len: number) =>
    craft({ a: { dtype: 'F32', shape: [2], data_offsets: a }, b: { dtype: 'F32', shape: [2], data_offsets: b } }, len);
  await assert.rejects(openBytes(two([0, 8], [4, 12], 12)), /b: data_offsets \[4, 12\] overlap a \[0, 8\]/);
  await assert.rejects(openBytes(two([0, 8], [12, 20], 20)), /b: data_offsets \[12, 20\] leave a hole after byte 8/);
  await assert.rejects(openBytes(two([0, 8], [8, 16], 12)), /b: data_offsets \[8, 16\] run past the end of the data \(12 bytes\)/);
  await assert.rejects(openBytes(craft(ok, 12)), /data buffer has 12 bytes but the tensors cover 8/);
  // dtype/shape vs byte size.
  await assert.rejects(
    openBytes(craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8)),
    /w: dtype\/shape do not match its byte size: F32 \[3\] needs 12 bytes, data_offsets \[0, 8\] hold 8/,
  );
  await assert.rejects(
    openBytes(craft({ w: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, 8)),
    /w: unsupported dtype "F8_E4M3" \(supported: F32, F16, BF16, I64, I32, U8, BOOL\)/,
  );
  await assert.rejects(openBytes(craft({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8)), /w: shape must be an array of non-negative integers/);
  await assert.rejects(openBytes(craft({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8)), /w: data_offsets must be \[begin, end\]/);
  await assert.rejects(openBytes(craft({ __metadata__: { a: 1 } }, 0)), /__metadata__\.a must be a string/);
  // A missing file.
  await assert.rejects(SafetensorsFile.open('/nonexistent/x.safetensors'), /\/nonexistent\/x\.safetensors: cannot open/);
});

test('missing and mis-shaped tensors are named with expected and found shapes', async () => {
  const dir = await tmp();
  try {
    // A real-sized header over a sparse file: the shape check happens before any data is read.
    const name = 'model.layers.3.mlp.up_proj.weight';
    const bytes = 8960 * 1535 * 2;
    const p = join(dir, 'big.safetensors');
    await writeFile(p, craft({ [name]: { dtype: 'BF16', shape: [8960, 1535], data_offsets: [0, bytes] } }, 0));
    await truncate(p, (await readFile(p)).length + bytes);
    const st = await SafetensorsFile.open(p);
    try {
      await assert.rejects(st.read(name, [8960, 1536]), {
        message: '[safetensors] model.layers.3.mlp.up_proj.weight: expected [8960,1536], found [8960,1535]',
      });
      await assert.rejects(st.read('model.layers.3.mlp.up_proj.weights'), /no such tensor in big\.safetensors \(1 tensors\); did you mean model\.layers\.3\.mlp\.up_proj\.weight\?/);
      await assert.rejects(st.readFloat32(name, [8960]), /expected \[8960\], found \[8960,1535\]/);
    } finally {
      await st.close();
    }
    const ints = join(dir, 'ints.safetensors');
    await writeSafetensors(ints, { i: { dtype: 'I32', shape: [1], data: Int32Array.of(3) } });
    const si = await SafetensorsFile.open(ints);
    await assert.rejects(si.readFloat32('i'), /i: expected a float tensor \(F32, F16 or BF16\), found I32/);
    await si.close();
    // Writer refuses inconsistent input.
    await assert.rejects(writeSafetensors(join(dir, 'bad.safetensors'), { w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /w: F32 \[3\] needs 12 bytes, data has 8/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
