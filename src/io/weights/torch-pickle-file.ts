// `torch.save` checkpoints (`adapter_model.bin`, `pytorch_model.bin`, `*.pt`) read without Python,
// behind the same lazy name → tensor API as SafetensorsFile, so callers can take either.
//
// Opening reads the zip central directory and `<archive>/data.pkl` (via the safe unpickler in
// torch-pickle.ts) and checks every tensor view against its storage; tensor bytes are read on
// demand. A tensor is a strided view (offset, shape, stride) into a storage that other tensors may
// share; `read` returns it materialized row-major, like `tensor.contiguous()`.
//
// Names: the keys of the saved dict; nested dicts and lists are joined with '.' (a checkpoint
// `{'model': sd, 'step': 3}` gives `model.<key>`), and non-tensor leaves are in `values`.
// The legacy pre-1.6 format (`_use_new_zipfile_serialization=False`, one pickle stream) is refused.

import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename } from 'node:path';
import { constants as bufferConstants } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { Vlm2VecError } from '../../errors.ts';
import { isSafetensorsDType, toFloat32, viewAs } from './safetensors-dtype.ts';
import { formatShape, type RawTensor } from './safetensors.ts';
import { PyDict, PyTuple, TORCH_DTYPE_BYTES, unpickle, type PyValue, type TensorRef, type TorchDType } from './torch-pickle.ts';
import { entryDataOffset, readAt, readZipDirectory, type ZipEntry } from '../archive/torch-zip.ts';

const MAX_LENGTH = bufferConstants.MAX_LENGTH;

/** data.pkl of a 7B model is ~1 MB; anything near this is not a state dict. */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

/** One tensor of a torch checkpoint: a strided view into a stored storage. */
export interface TorchTensorInfo {
  readonly name: string;
  readonly dtype: TorchDType;
  readonly shape: readonly number[];
  /** Element strides of the view (torch's `tensor.stride()`). */
  readonly stride: readonly number[];
  /** Element offset into the storage (`tensor.storage_offset()`). */
  readonly storageOffset: number;
  /** Storage key: zip entry `<archive>/data/<key>`. */
  readonly storageKey: string;
  /** Elements in the whole storage, as the persistent id records it. */
  readonly storageNumel: number;
}

/** Non-tensor leaves of the saved object (ints beyond 2^53 as bigint). */
export type TorchLeaf = string | number | bigint | boolean | null;

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Whether a view with these strides is row-major contiguous (size-1 dims may have any stride). */
function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if ((shape[d] as number) !== 1 && stride[d] !== expect) return false;
    expect *= shape[d] as number;
  }
  return true;
}

/**
 * Copies the elements of a strided view of `src` (element size `size` bytes, starting at element 0
 * of `src`) into a new row-major buffer.
 */
function gather(src: Uint8Array, size: number, shape: readonly number[], stride: readonly number[]): Uint8Array {
  const n = product(shape);
  const out = new Uint8Array(n * size);
  // Copy in machine words where the element size allows it (src and out are fresh, aligned buffers).
  const w = size >= 4 ? 4 : size;
  const per = size / w;
  const mk = (b: Uint8Array): Uint8Array | Uint16Array | Uint32Array =>
    w === 4 ? new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4) : w === 2 ? new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2) : b;
  const s = mk(src);
  const o = mk(out);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  let at = 0; // element index into src
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < per; k++) o[i * per + k] = s[at * per + k] as number;
    // Advance the multi-index (last dimension fastest) and the source position with it.
    for (let d = nd - 1; d >= 0; d--) {
      const sd = stride[d] as number;
      if ((idx[d] as number) + 1 < (shape[d] as number)) {
        idx[d] = (idx[d] as number) + 1;
        at += sd;
        break;
      }
      at -= sd * ((shape[d] as number) - 1);
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * A torch.save (zip) checkpoint opened for lazy per-tensor reads. Close it when done.
 *
 * @example
 * const f = await TorchCheckpointFile.open('adapter_model.bin');
 * const a = await f.read('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'); // { dtype: 'F32', shape: [8, 1536], data }
 * await f.close();
 */
export class TorchCheckpointFile {
  private readonly dataOffsets = new Map<string, number>();

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly archive: string,
    private readonly entries: ReadonlyMap<string, ZipEntry>,
    /** In the order of the saved dict. */
    readonly tensors: ReadonlyMap<string, TorchTensorInfo>,
    readonly values: ReadonlyMap<string, TorchLeaf>,
  ) {}

  /** Opens `path`, reads its zip directory and data.pkl, and validates every tensor view. */
  static async open(path: string): Promise<TorchCheckpointFile> {
    if (endianness() !== 'LE') throw new Vlm2VecError('torch', 'big-endian hosts are not supported');
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new Vlm2VecError('torch', `${path}: cannot open (${(e as Error).message})`, { cause: e });
    }
    try {
      const size = (await fh.stat()).size;
      const magic = await readAt(fh, path, 0, Math.min(size, 4), 'file magic');
      if (magic[0] === 0x80) {
        throw new Vlm2VecError(
          'torch',
          `${path}: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it once with ` +
            `torch.save(torch.load(f), f) (the zip format, default since PyTorch 1.6) or convert it to safetensors`,
        );
      }
      if (magic[0] !== 0x50 || magic[1] !== 0x4b) {
        throw new Vlm2VecError('torch', `${path}: not a torch.save checkpoint (expected a zip file starting with 'PK')`);
      }
      const entries = await readZipDirectory(fh, path, size);
      const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
      if (pkls.length !== 1) {
        const torchscript = [...entries.keys()].some((n) => /^[^/]+\/constants\.pkl$/.test(n));
        throw new Vlm2VecError(
          'torch',
          torchscript
            ? `${path}: this is a TorchScript archive (torch.jit.save), not a torch.save state dict`
            : `${path}: expected exactly one '<archive>/data.pkl' entry, found ${pkls.length}; not a torch.save checkpoint`,
        );
      }
      const archive = (pkls[0] as string).slice(0, -'data.pkl'.length);
      const f = { fh, path, size };
      const order = entries.get(`${archive}byteorder`);
      if (order) {
        const bo = new TextDecoder().decode(await readEntry(f, order, 16)).trim();
        if (bo !== 'little') throw new Vlm2VecError('torch', `${path}: byteorder is '${bo}'; only little-endian checkpoints are supported`);
      }
      const pkl = await readEntry(f, entries.get(pkls[0] as string) as ZipEntry, MAX_PICKLE_BYTES);
      const root = unpickle(pkl, path);
      if (!(root instanceof PyDict)) {
        throw new Vlm2VecError('torch', `${path}: the saved object is not a dict (a state dict); torch.save of other objects is not supported`);
      }
      const tensors = new Map<string, TorchTensorInfo>();
      const values = new Map<string, TorchLeaf>();
      flatten(root, '', tensors, values, path);
      for (const t of tensors.values()) checkView(t, entries, archive, path);
      return new TorchCheckpointFile(path, fh, size, archive, entries, tensors, values);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Tensor names in the order of the saved dict. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TorchTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new Vlm2VecError('torch', `${name}: no such tensor in ${basename(this.path)} (${this.tensors.size} tensors)`);
    return t;
  }

  /** The tensor's elements as contiguous row-major little-endian bytes (any dtype). */
  async readBytes(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    const size = TORCH_DTYPE_BYTES[t.dtype];
    const n = product(t.shape);
    if (n === 0) return new Uint8Array(0);
    if (n * size > MAX_LENGTH) {
      throw new Vlm2VecError('torch', `${this.path}: ${name}: ${t.dtype}${formatShape(t.shape)} is ${n * size} bytes, more than one buffer can hold (${MAX_LENGTH})`);
    }
    const entry = this.entries.get(`${this.archive}data/${t.storageKey}`) as ZipEntry;
    let start = this.dataOffsets.get(entry.name);
    if (start === undefined) {
      start = await entryDataOffset(this.fh, this.path, this.size, entry);
      this.dataOffsets.set(entry.name, start);
    }
    // Read only the storage span the view touches: [offset, offset + Σ (size_d − 1)·stride_d].
    const span = 1 + t.shape.reduce((acc, d, i) => acc + (d - 1) * (t.stride[i] as number), 0);
    const raw = await readAt(this.fh, this.path, start + t.storageOffset * size, span * size, `tensor ${name}`);
    return isContiguous(t.shape, t.stride) ? raw : gather(raw, size, t.shape, t.stride);
  }

  /**
   * Reads one tensor as a safetensors-style RawTensor (F64/I16/I8 tensors are refused: the rest of
   * the project has no such dtypes; use readFloat32 for F64). With `expectShape`, a different shape
   * throws before any data is read.
   */
  async read(name: string, expectShape?: readonly number[]): Promise<RawTensor> {
    const t = this.info(name);
    if (expectShape) checkTorchShape(name, expectShape, t.shape);
    const dtype = t.dtype;
    if (!isSafetensorsDType(dtype)) {
      throw new Vlm2VecError('torch', `${name}: dtype ${dtype} is not supported here (supported: F32, F16, BF16, I64, I32, U8, BOOL)`);
    }
    return { name, dtype, shape: t.shape, data: viewAs(dtype, await this.readBytes(name)) };
  }

  /** Reads a float tensor (F32/F16/BF16, or F64 rounded to nearest) as float32. */
  async readFloat32(name: string, expectShape?: readonly number[]): Promise<Float32Array> {
    const t = this.info(name);
    if (t.dtype === 'F64') {
      if (expectShape) checkTorchShape(name, expectShape, t.shape);
      const b = await this.readBytes(name);
      return Float32Array.from(new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8));
    }
    const r = await this.read(name, expectShape);
    return toFloat32(r.dtype, r.data, name);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

function checkTorchShape(name: string, expected: readonly number[], found: readonly number[]): void {
  if (expected.length !== found.length || expected.some((d, i) => d !== found[i])) {
    throw new Vlm2VecError('torch', `${name}: expected ${formatShape(expected)}, found ${formatShape(found)}`);
  }
}

async function readEntry(f: { fh: FileHandle; path: string; size: number }, entry: ZipEntry, limit: number): Promise<Uint8Array> {
  if (entry.size > limit) throw new Vlm2VecError('torch', `${f.path}: entry '${entry.name}' has ${entry.size} bytes, more than the ${limit} expected`);
  const start = await entryDataOffset(f.fh, f.path, f.size, entry);
  const bytes = await readAt(f.fh, f.path, start, entry.size, `entry '${entry.name}'`);
  if (crc32(bytes) >>> 0 !== entry.crc32) {
    throw new Vlm2VecError('torch', `${f.path}: entry '${entry.name}' fails its CRC-32 check; the file is corrupt`);
  }
  return bytes;
}

/** Deeper nesting than this is not a state dict (and a hostile pickle could recurse forever). */
const MAX_DEPTH = 64;

function flatten(
  v: PyValue,
  prefix: string,
  tensors: Map<string, TorchTensorInfo>,
  values: Map<string, TorchLeaf>,
  path: string,
  depth = 0,
): void {
  const child = (k: string): string => (prefix ? `${prefix}.${k}` : k);
  if (v instanceof PyDict || Array.isArray(v) || v instanceof PyTuple) {
    // The memo lets a pickle put a container inside itself; the depth bound also ends such cycles.
    if (depth >= MAX_DEPTH) throw new Vlm2VecError('torch', `${path}: '${prefix}' is nested more than ${MAX_DEPTH} levels deep (or contains itself)`);
    const entries: [string, PyValue][] =
      v instanceof PyDict ? [...v.map].map(([k, x]) => [String(k), x]) : (Array.isArray(v) ? v : v.items).map((x, i) => [String(i), x]);
    for (const [k, x] of entries) flatten(x, child(k), tensors, values, path, depth + 1);
  } else if (v !== null && typeof v === 'object') {
    if (v.kind !== 'tensor') throw new Vlm2VecError('torch', `${path}: '${prefix}' holds a bare ${v.kind}, expected a tensor or a plain value`);
    if (tensors.has(prefix) || values.has(prefix)) throw new Vlm2VecError('torch', `${path}: two entries flatten to the name '${prefix}'`);
    tensors.set(prefix, tensorInfo(prefix, v));
  } else {
    if (tensors.has(prefix) || values.has(prefix)) throw new Vlm2VecError('torch', `${path}: two entries flatten to the name '${prefix}'`);
    values.set(prefix, v);
  }
}

function tensorInfo(name: string, t: TensorRef): TorchTensorInfo {
  return { name, dtype: t.storage.dtype, shape: t.shape, stride: t.stride, storageOffset: t.offset, storageKey: t.storage.key, storageNumel: t.storage.numel };
}

// Every view must lie inside its storage, and the storage entry must hold exactly numel elements:
// otherwise a corrupt file would make us read a neighbour's bytes as this tensor.
function checkView(t: TorchTensorInfo, entries: ReadonlyMap<string, ZipEntry>, archive: string, path: string): void {
  const entryName = `${archive}data/${t.storageKey}`;
  const entry = entries.get(entryName);
  if (!entry) throw new Vlm2VecError('torch', `${path}: tensor ${t.name}: its storage entry '${entryName}' is missing`);
  const size = TORCH_DTYPE_BYTES[t.dtype];
  if (entry.size % size !== 0) {
    throw new Vlm2VecError('torch', `${path}: storage '${entryName}' has ${entry.size} bytes, not a whole number of ${t.dtype} elements`);
  }
  if (!Number.isSafeInteger(product(t.shape))) {
    throw new Vlm2VecError('torch', `${path}: tensor ${t.name} has an implausible shape ${formatShape(t.shape)}; the file is corrupt`);
  }
  const storageNumel = entry.size / size;
  if (storageNumel !== t.storageNumel) {
    throw new Vlm2VecError('torch', `${path}: tensor ${t.name}: storage '${entryName}' has ${storageNumel} ${t.dtype} elements but data.pkl records ${t.storageNumel}; the file is corrupt`);
  }
  if (product(t.shape) === 0) return;
  const last = t.storageOffset + t.shape.reduce((acc, d, i) => acc + (d - 1) * (t.stride[i] as number), 0);
  if (last >= storageNumel) {
    throw new Vlm2VecError(
      'torch',
      `${path}: tensor ${t.name} ${t.dtype}${formatShape(t.shape)} (offset ${t.storageOffset}, stride ${formatShape(t.stride)}) ` +
        `reaches element ${last} of a storage with ${storageNumel} elements; the file is corrupt`,
    );
  }
}
