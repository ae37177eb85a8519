// Lazy safetensors reader (https://github.com/huggingface/safetensors, format section).
//
// Layout: u64 little-endian header length N, N bytes of JSON header
// `{ "__metadata__"?: {str: str}, "<name>": {dtype, shape, data_offsets: [begin, end]} ... }`,
// then the data buffer; offsets are relative to the start of the data buffer.
//
// We open the file, read and validate only the header, and read each tensor's byte range on
// request: a 4 GB bf16 shard never sits in memory at once. Validation mirrors the reference
// library's (`safetensors` `Metadata::validate`): known dtypes, byte size = numel·itemsize, tensors
// tile the data buffer exactly (no overlap, no hole, nothing past the end), header ≤ 100 MB.

import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { editDistance } from '../../util/text.ts';
import {
  DTYPE_BYTES,
  SAFETENSORS_DTYPES,
  isSafetensorsDType,
  toFloat32,
  viewAs,
  type DTypeArrayMap,
  type SafetensorsDType,
} from './safetensors-dtype.ts';

/** The reference library refuses headers above 100 MB; so do we (a corrupt length would otherwise allocate GBs). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Where one tensor lives inside a safetensors file. `begin`/`end` are relative to the data buffer. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A tensor read from disk: its dtype, shape and elements (F16/BF16 as raw bits, see safetensors-dtype.ts). */
export interface RawTensor<D extends SafetensorsDType = SafetensorsDType> {
  readonly name: string;
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DTypeArrayMap[D];
}

/** Parsed, validated header of a safetensors file. */
export interface SafetensorsHeader {
  readonly metadata: Readonly<Record<string, string>>;
  /** In file order of their data (sorted by begin offset). */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** Absolute file offset of the data buffer (8 + header length). */
  readonly dataOffset: number;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Throws the standard mis-shaped-tensor error unless `found` equals `expected`. */
export function checkShape(name: string, expected: readonly number[], found: readonly number[]): void {
  if (expected.length !== found.length || expected.some((d, i) => d !== found[i])) {
    throw new Vlm2VecError('safetensors', `${name}: expected ${formatShape(expected)}, found ${formatShape(found)}`);
  }
}

/** The error for a tensor name that is not in `names`, with the closest names as suggestions. */
export function missingTensorError(where: string, name: string, names: readonly string[], area = 'safetensors'): Vlm2VecError {
  const close = names
    .map((n) => ({ n, d: editDistance(n, name) }))
    .filter(({ d }) => d <= Math.max(2, Math.floor(name.length / 4)))
    .sort((x, y) => x.d - y.d)
    .slice(0, 3)
    .map(({ n }) => n);
  const hint = close.length > 0 ? `; did you mean ${close.join(', ')}?` : '';
  return new Vlm2VecError(area, `${name}: no such tensor in ${where} (${names.length} tensors)${hint}`);
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Parses and validates a header. `headerBytes` is the JSON, `dataLength` the byte length of the
 * data buffer that follows it (file size − 8 − N). Exposed for tests and for in-memory buffers.
 */
export function parseHeader(file: string, headerBytes: Uint8Array, dataLength: number): SafetensorsHeader {
  const fail = (msg: string): never => {
    throw new Vlm2VecError('safetensors', `${file}: ${msg}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(`bad header JSON (${(e as Error).message}); the file is not safetensors or is corrupt`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('header is not a JSON object');
  const entries = Object.entries(json as Record<string, unknown>);
  const metadata: Record<string, string> = {};
  const infos: TensorInfo[] = [];
  for (const [name, v] of entries) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('__metadata__ must be an object of strings');
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') fail(`__metadata__.${k} must be a string, found ${JSON.stringify(s)}`);
        metadata[k] = s as string;
      }
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof t !== 'object' || t === null) fail(`${name}: header entry must be an object`);
    const { dtype, shape, data_offsets: offs } = t as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !isSafetensorsDType(dtype)) {
      fail(`${name}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${SAFETENSORS_DTYPES.join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      fail(`${name}: shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt) || (offs[0] as number) > (offs[1] as number)) {
      fail(`${name}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end, found ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const dt = dtype as SafetensorsDType;
    const shp = shape as number[];
    const want = numel(shp) * DTYPE_BYTES[dt];
    if (end - begin !== want) {
      fail(
        `${name}: dtype/shape do not match its byte size: ${dt} ${formatShape(shp)} needs ${want} bytes, ` +
          `data_offsets [${begin}, ${end}] hold ${end - begin}`,
      );
    }
    infos.push({ name, dtype: dt, shape: shp, begin, end });
  }
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: TensorInfo | undefined;
  for (const t of infos) {
    if (t.begin < cursor) {
      fail(`${t.name}: data_offsets [${t.begin}, ${t.end}] overlap ${prev?.name} [${prev?.begin}, ${prev?.end}]`);
    }
    if (t.begin > cursor) {
      fail(`${t.name}: data_offsets [${t.begin}, ${t.end}] leave a hole after byte ${cursor} (tensors must tile the data buffer)`);
    }
    if (t.end > dataLength) {
      fail(`${t.name}: data_offsets [${t.begin}, ${t.end}] run past the end of the data (${dataLength} bytes); the file is truncated`);
    }
    cursor = t.end;
    prev = t;
  }
  if (cursor !== dataLength) {
    fail(`data buffer has ${dataLength} bytes but the tensors cover ${cursor}; the header does not describe the whole file`);
  }
  return { metadata, tensors: new Map(infos.map((t) => [t.name, t])), dataOffset: 0 };
}

/**
 * A safetensors file opened for lazy per-tensor reads. Close it when done.
 *
 * @example
 * const st = await SafetensorsFile.open('model.safetensors');
 * const w = await st.readFloat32('model.norm.weight', [1536]); // bf16 on disk → Float32Array
 * await st.close();
 */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly header: SafetensorsHeader,
  ) {}

  /** Opens `path` and reads and validates its header (only the header). */
  static async open(path: string): Promise<SafetensorsFile> {
    if (endianness() !== 'LE') throw new Vlm2VecError('safetensors', 'big-endian hosts are not supported');
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new Vlm2VecError('safetensors', `${path}: cannot open (${(e as Error).message})`, { cause: e });
    }
    try {
      const size = (await fh.stat()).size;
      const name = basename(path);
      if (size < 8) {
        throw new Vlm2VecError('safetensors', `${path}: truncated: ${size} bytes, shorter than the 8-byte header length`);
      }
      const lenBuf = new Uint8Array(8);
      await readExactly(fh, lenBuf, 0, path);
      const n = new DataView(lenBuf.buffer).getBigUint64(0, true);
      if (n > BigInt(MAX_HEADER_BYTES)) {
        throw new Vlm2VecError('safetensors', `${path}: header length too large: ${n} bytes (limit ${MAX_HEADER_BYTES}); not a safetensors file or corrupt`);
      }
      const hlen = Number(n);
      if (8 + hlen > size) {
        throw new Vlm2VecError('safetensors', `${path}: truncated: header claims ${hlen} bytes but the file has only ${size - 8} after the length`);
      }
      const hbuf = new Uint8Array(hlen);
      await readExactly(fh, hbuf, 8, path);
      const parsed = parseHeader(name, hbuf, size - 8 - hlen);
      return new SafetensorsFile(path, fh, { ...parsed, dataOffset: 8 + hlen });
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
  }

  /** Tensor names in data order. */
  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  /** Dtype, shape and offsets of `name`; throws a did-you-mean error when it is absent. */
  info(name: string): TensorInfo {
    const t = this.header.tensors.get(name);
    if (!t) throw missingTensorError(basename(this.path), name, this.names());
    return t;
  }

  /** Reads the raw bytes of one tensor (one positioned read of exactly its byte range). */
  async readBytes(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    // A fresh ArrayBuffer per tensor is 8-byte aligned, so typed views need no copy.
    const buf = new Uint8Array(t.end - t.begin);
    await readExactly(this.fh, buf, this.header.dataOffset + t.begin, `${this.path} (${name})`);
    return buf;
  }

  /**
   * Reads one tensor in its stored dtype. With `expectShape`, a different shape throws
   * `[safetensors] <name>: expected [..], found [..]` before any data is read.
   */
  async read(name: string, expectShape?: readonly number[]): Promise<RawTensor> {
    const t = this.info(name);
    if (expectShape) checkShape(name, expectShape, t.shape);
    const bytes = await this.readBytes(name);
    return { name, dtype: t.dtype, shape: t.shape, data: viewAs(t.dtype, bytes) };
  }

  /** Reads a float tensor (F32/F16/BF16) widened to float32. */
  async readFloat32(name: string, expectShape?: readonly number[]): Promise<Float32Array> {
    const t = await this.read(name, expectShape);
    return toFloat32(t.dtype, t.data, name);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

async function readExactly(fh: FileHandle, buf: Uint8Array, position: number, what: string): Promise<void> {
  let off = 0;
  while (off < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, off, buf.byteLength - off, position + off);
    if (bytesRead === 0) {
      throw new Vlm2VecError('safetensors', `${what}: truncated: wanted ${buf.byteLength} bytes at offset ${position}, got ${off}`);
    }
    off += bytesRead;
  }
}
