// torch.save checkpoints read without Python, against what torch itself recorded
// (tools/reference/torch_pickle.py → test/fixtures/io/torch/manifest.json).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PyDict, PyTuple, unpickle, type PyValue } from './torch-pickle.ts';
import { TorchCheckpointFile } from './torch-pickle-file.ts';

const DIR = 'test/fixtures/io/torch';

interface TensorRecord {
  dtype: string;
  shape: number[];
  stride: number[];
  storageOffset: number;
  sha256: string;
  values?: (number | string)[];
  bits?: number[];
}
interface FileRecord {
  tensors: Record<string, TensorRecord>;
  leaves: Record<string, unknown>;
}
const manifest = JSON.parse(await readFile(join(DIR, 'manifest.json'), 'utf8')) as Record<string, FileRecord> & {
  pickles: Record<string, { hex: string; value: unknown }>;
};

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Our tensor's elements in the manifest's notation (f16/bf16 as bits, i64 as decimal strings). */
function valuesOf(dtype: string, b: Uint8Array): (number | string)[] {
  const buf = b.slice().buffer;
  switch (dtype) {
    case 'F32':
      return [...new Float32Array(buf)];
    case 'F64':
      return [...new Float64Array(buf)];
    case 'F16':
    case 'BF16':
      return [...new Uint16Array(buf)];
    case 'I64':
      return [...new BigInt64Array(buf)].map(String);
    case 'I32':
      return [...new Int32Array(buf)];
    case 'I16':
      return [...new Int16Array(buf)];
    case 'I8':
      return [...new Int8Array(buf)];
    default:
      return [...new Uint8Array(buf)];
  }
}

async function checkAgainstManifest(file: string, rec: FileRecord): Promise<void> {
  const ck = await TorchCheckpointFile.open(join(DIR, file));
  try {
    assert.deepEqual(new Set(ck.names()), new Set(Object.keys(rec.tensors)), `${file}: tensor names`);
    for (const [name, want] of Object.entries(rec.tensors)) {
      const info = ck.info(name);
      assert.equal(info.dtype, want.dtype, `${file} ${name} dtype`);
      assert.deepEqual(info.shape, want.shape, `${file} ${name} shape`);
      assert.deepEqual(info.stride, want.stride, `${file} ${name} stride`);
      assert.equal(info.storageOffset, want.storageOffset, `${file} ${name} storage offset`);
      const bytes = await ck.readBytes(name);
      assert.equal(sha256(bytes), want.sha256, `${file} ${name}: bytes differ from torch's .contiguous()`);
      const vals = want.values ?? want.bits;
      if (vals) assert.deepEqual(valuesOf(want.dtype, bytes), vals, `${file} ${name} values`);
    }
    const leaves = Object.fromEntries([...ck.values].map(([k, v]) => [k, typeof v === 'bigint' ? String(v) : v]));
    assert.deepEqual(leaves, rec.leaves, `${file}: non-tensor leaves`);
  } finally {
    await ck.close();
  }
}

test('state.pt: every dtype, 0-d, empty, views, shared storage and 120 memoized tensors match torch', async () => {
  const rec = manifest['state.pt'] as FileRecord;
  assert.equal(Object.keys(rec.tensors).length, 147);
  await checkAgainstManifest('state.pt', rec);
});

test('non-contiguous views are materialized like tensor.contiguous() (checked by hand against the base)', async () => {
  const ck = await TorchCheckpointFile.open(join(DIR, 'state.pt'));
  try {
    const base = (manifest['state.pt'] as FileRecord).tensors.base?.values as number[]; // [4, 6]
    const at = (r: number, c: number): number => base[r * 6 + c] as number;
    const tr = await ck.readFloat32('transposed', [6, 4]);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) assert.equal(tr[i * 4 + j], at(j, i));
    assert.deepEqual([...(await ck.readFloat32('slice', [2, 3]))], [at(1, 2), at(1, 3), at(1, 4), at(2, 2), at(2, 3), at(2, 4)]);
    assert.deepEqual([...(await ck.readFloat32('strided', [2, 2]))], [at(0, 0), at(0, 3), at(2, 0), at(2, 3)]);
    const ex = await ck.readFloat32('expanded', [70000]);
    assert.equal(ex.length, 70000);
    assert.ok(ex.every((x) => x === 1.5));
    // shared_a = s[:6].view(2,3), shared_b = s[4:]: elements 4 and 5 of the storage are in both.
    assert.equal(ck.info('shared_a').storageKey, ck.info('shared_b').storageKey);
    const a = await ck.readFloat32('shared_a');
    const b = await ck.readFloat32('shared_b');
    assert.deepEqual([a[4], a[5]], [b[0], b[1]]);
    // RawTensor shape of the safetensors reader: dtype names, typed data.
    const f16T = await ck.read('f16_T');
    assert.equal(f16T.dtype, 'F16');
    assert.deepEqual(f16T.shape, [3, 2]);
    const f16 = (manifest['state.pt'] as FileRecord).tensors.f16?.bits as number[]; // [2, 3]
    assert.deepEqual([...(f16T.data as Uint16Array)], [f16[0], f16[3], f16[1], f16[4], f16[2], f16[5]]);
    const i64 = await ck.read('i64');
    assert.deepEqual([...(i64.data as BigInt64Array)], [0n, -1n, 2n ** 40n + 3n, -(2n ** 62n), 2n ** 63n - 1n]);
    const bool = await ck.read('bool');
    assert.equal(bool.dtype, 'BOOL');
    assert.deepEqual([...(bool.data as Uint8Array)], [1, 0, 0, 1, 1, 0]);
    const scalar = await ck.read('scalar');
    assert.deepEqual(scalar.shape, []);
    assert.deepEqual([...(scalar.data as Float32Array)], [-2.5]);
    assert.equal((await ck.read('empty', [0, 3])).data.length, 0);
    // F64 has no RawTensor dtype here; readFloat32 rounds it like torch's .float().
    await assert.rejects(ck.read('f64'), /\[torch\] f64: dtype F64 is not supported here/);
    const f64 = (manifest['state.pt'] as FileRecord).tensors.f64?.values as number[];
    assert.deepEqual([...(await ck.readFloat32('f64'))], f64.map(Math.fround));
    await assert.rejects(ck.readFloat32('i32'), /i32: expected a float tensor/);
    await assert.rejects(ck.read('f32', [5, 3]), /\[torch\] f32: expected \[5,3\], found \[3,5\]/);
    assert.throws(() => ck.info('f33'), /\[torch\] f33: no such tensor in state\.pt \(147 tensors\)/);
  } finally {
    await ck.close();
  }
});

test('nested dicts, lists, a module state_dict (_metadata via BUILD) and plain leaves', async () => {
  await checkAgainstManifest('nested.pt', manifest['nested.pt'] as FileRecord);
  const ck = await TorchCheckpointFile.open(join(DIR, 'nested.pt'));
  assert.deepEqual(ck.names(), ['model.counter', 'model.0.weight', 'model.0.bias', 'model.1.weight', 'model.1.bias', 'extra.inner.deep', 'layers.0', 'layers.1']);
  assert.equal(ck.values.get('step'), 2 ** 40);
  assert.equal(ck.values.get('lr'), 0.001);
  await ck.close();
});

test('protocol-4 pickles (FRAME, STACK_GLOBAL, MEMOIZE) and zip64 extra fields read the same', async () => {
  await checkAgainstManifest('proto4.pt', manifest['proto4.pt'] as FileRecord);
  // zip64-extra.pt holds state.pt's entries with every size and offset moved into zip64 extras.
  await checkAgainstManifest('zip64-extra.pt', manifest['state.pt'] as FileRecord);
});

function toJson(v: PyValue): unknown {
  if (v instanceof PyDict) return Object.fromEntries([...v.map].map(([k, x]) => [String(k), toJson(x)]));
  if (v instanceof PyTuple) return v.items.map(toJson);
  if (Array.isArray(v)) return v.map(toJson);
  return v;
}

test('plain pickles written by CPython (protocols 2 and 4) unpickle to the same values', () => {
  for (const [name, p] of Object.entries(manifest.pickles)) {
    assert.deepEqual(toJson(unpickle(Buffer.from(p.hex, 'hex'), name)), p.value, name);
  }
});

test('memo and mark opcodes beyond what the fixtures use: LONG_BINPUT/LONG_BINGET, DICT, LIST, TUPLE3', () => {
  const P = (s: string): Uint8Array => Buffer.from(s, 'latin1');
  // ['a', 'a'] with the string memoized at index 256
  assert.deepEqual(toJson(unpickle(P('\x80\x02](X\x01\x00\x00\x00ar\x00\x01\x00\x00j\x00\x01\x00\x00e.'), 'x')), ['a', 'a']);
  // {'a': [1, 2, (None, True, False)]} via DICT and LIST over marks
  assert.deepEqual(toJson(unpickle(P('\x80\x02(X\x01\x00\x00\x00a(K\x01K\x02N\x88\x89\x87ld.'), 'x')), { a: [1, 2, [null, true, false]] });
  // BININT is signed, BININT2 unsigned; LONG1 of 9 bytes beyond 2^53 stays exact as a bigint
  assert.deepEqual(toJson(unpickle(P('\x80\x02(J\xfe\xff\xff\xffM\xff\xff\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01l.'), 'x')), [-2, 65535, 2n ** 64n]);
});

test('refused: legacy format, compressed entries, disallowed globals and opcodes, corrupt pickles', async () => {
  await assert.rejects(TorchCheckpointFile.open(join(DIR, 'legacy.pt')), /legacy \(pre-1\.6, non-zip\) torch\.save format is not supported/);
  await assert.rejects(TorchCheckpointFile.open(join(DIR, 'deflated.pt')), /entry 'small\/.*' is compressed \(deflate\); torch\.save writes uncompressed \(STORED\) entries only/);
  await assert.rejects(TorchCheckpointFile.open(join(DIR, 'cycle.pt')), /cycle\.pt: 'a(\.a)+' is nested more than 64 levels deep \(or contains itself\)/);
  // Views are checked against their storage before any data is read.
  await assert.rejects(TorchCheckpointFile.open(join(DIR, 'bad-view.pt')), /bad-view\.pt: tensor w F32\[9\] \(offset 0, stride \[1\]\) reaches element 8 of a storage with 4 elements/);
  await assert.rejects(TorchCheckpointFile.open(join(DIR, 'bad-shape.pt')), /bad-shape\.pt: tensor w has an implausible shape \[1099511627776,1099511627776\]/);
  // A stride-0 view of 2^40 elements is valid (torch.load accepts it) but cannot be materialized.
  const huge = await TorchCheckpointFile.open(join(DIR, 'bad-huge.pt'));
  assert.deepEqual(huge.info('w').shape, [2 ** 40]);
  await assert.rejects(huge.readBytes('w'), /bad-huge\.pt: w: F32\[1099511627776\] is 4398046511104 bytes, more than one buffer can hold/);
  await huge.close();
  await assert.rejects(TorchCheckpointFile.open(join(DIR, 'bad-storage.pt')), /bad-storage\.pt: tensor w: storage 'small\/data\/0' has 3 F32 elements but data\.pkl records 4/);
  await assert.rejects(TorchCheckpointFile.open(join(DIR, 'evil.pt')), /evil\.pt: data\.pkl byte 2: pickle GLOBAL 'os system' is not allowed/);
  const P = (s: string): Uint8Array => Buffer.from(s, 'latin1');
  assert.throws(() => unpickle(P('\x80\x02cbuiltins\neval\n.'), 'x.bin'), /\[torch\] x\.bin: data\.pkl byte 2: pickle GLOBAL 'builtins eval' is not allowed/);
  // STACK_GLOBAL goes through the same allow-list.
  assert.throws(() => unpickle(P('\x80\x04\x8c\x05posix\x8c\x06system\x93.'), 'x.bin'), /GLOBAL 'posix system' is not allowed/);
  // An allow-listed storage class is data, never a callable.
  assert.throws(() => unpickle(P('\x80\x02ctorch\nFloatStorage\n)R.'), 'x.bin'), /REDUCE of global torch FloatStorage is not supported/);
  assert.throws(() => unpickle(P('\x80\x02(cos\nsystem\nS\'ls\'\ni.'), 'x.bin'), /GLOBAL 'os system' is not allowed/);
  assert.throws(() => unpickle(P('\x80\x02(X\x01\x00\x00\x00ai.'), 'x.bin'), /byte 9: unsupported pickle opcode 0x69 \(INST\)/);
  assert.throws(() => unpickle(P('\x80\x02C\x01a.'), 'x.bin'), /unsupported pickle opcode 0x43 \(SHORT_BINBYTES\)/);
  assert.throws(() => unpickle(P('\x80\x02}X\x05\x00\x00\x00ab'), 'x.bin'), /truncated pickle/);
  assert.throws(() => unpickle(P('\x80\x02}q\x00h\x01.'), 'x.bin'), /memo index 1 was never stored/);
  assert.throws(() => unpickle(P('\x80\x02}N.'), 'x.bin'), /STOP with 2 values on the stack/);
  assert.throws(() => unpickle(P('\x80\x02]K\x01s.'), 'x.bin'), /stack underflow/);
  assert.throws(() => unpickle(P("\x80\x02(X\x07\x00\x00\x00storageX\x01\x00\x00\x000X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ."), 'x.bin'), /storage type str is not a supported torch.<Type>Storage class/);
  assert.throws(() => unpickle(P('\x80\x02(ctorch\nComplexFloatStorage\n.'), 'x.bin'), /GLOBAL 'torch ComplexFloatStorage' is not allowed/);
});

test('truncated, corrupt and non-zip files are named', async () => {
  const root = await mkdtemp(join(tmpdir(), 'vlm2vec-torch-'));
  try {
    const good = await readFile(join(DIR, 'state.pt'));
    const cut = join(root, 'cut.pt');
    await writeFile(cut, good.subarray(0, Math.floor(good.length * 0.75)));
    await assert.rejects(TorchCheckpointFile.open(cut), /cut\.pt: no zip end-of-central-directory record: the file is truncated or is not a zip/);
    // The first local header's data is data.pkl: flip one byte inside it → CRC mismatch.
    const flipped = Buffer.from(good);
    const pklAt = 30 + 'state/data.pkl'.length + flipped.readUInt16LE(28) + 20;
    flipped[pklAt] = (flipped[pklAt] as number) ^ 0xff;
    const bad = join(root, 'bad.pt');
    await writeFile(bad, flipped);
    await assert.rejects(TorchCheckpointFile.open(bad), /bad\.pt: entry 'state\/data\.pkl' fails its CRC-32 check/);
    // The central directory claims an offset beyond the end.
    const moved = Buffer.from(good);
    const eocd = moved.lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06]));
    moved.writeBigUInt64LE(BigInt(good.length + 10), eocd + 48);
    await writeFile(bad, moved);
    await assert.rejects(TorchCheckpointFile.open(bad), /central directory \[\d+, \d+\) runs past the end of the file/);
    await writeFile(bad, 'not a checkpoint');
    await assert.rejects(TorchCheckpointFile.open(bad), /bad\.pt: not a torch\.save checkpoint \(expected a zip file starting with 'PK'\)/);
    await assert.rejects(TorchCheckpointFile.open(join(root, 'none.pt')), /\[torch\] .*none\.pt: cannot open/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
