// safetensors writer. Produces byte-identical files to the reference Python library
// (`safetensors.torch.save_file` / `safetensors.numpy.save`) for the same tensors and at most one
// `__metadata__` key: tensors ordered by dtype (wider first, the library's Dtype enum order
// descending) then by name (byte order), header JSON padded with spaces to a multiple of 8 bytes.

import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { DTYPE_BYTES, bytesOf, type SafetensorsDType, type TensorArray } from './safetensors-dtype.ts';
import { formatShape, numel } from './safetensors.ts';

/** One tensor to write. `data` may be the dtype's typed array or its raw little-endian bytes. */
export interface TensorToWrite {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: TensorArray | Uint8Array;
}

export type TensorsToWrite = Readonly<Record<string, TensorToWrite>> | ReadonlyMap<string, TensorToWrite>;

// Rank in the safetensors Rust `Dtype` enum (BOOL < U8 < ... < F16 < BF16 < I32 < F32 < I64).
const DTYPE_RANK: Record<SafetensorsDType, number> = { BOOL: 0, U8: 1, F16: 2, BF16: 3, I32: 4, F32: 5, I64: 6 };

interface Planned {
  name: string;
  t: TensorToWrite;
  bytes: Uint8Array;
}

function plan(tensors: TensorsToWrite): Planned[] {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const out: Planned[] = [];
  for (const [name, t] of entries as [string, TensorToWrite][]) {
    if (name === '__metadata__') throw new Vlm2VecError('safetensors', `'__metadata__' is reserved and cannot name a tensor`);
    const bytes = t.data instanceof Uint8Array ? t.data : bytesOf(t.data);
    const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (bytes.byteLength !== want) {
      throw new Vlm2VecError(
        'safetensors',
        `${name}: ${t.dtype} ${formatShape(t.shape)} needs ${want} bytes, data has ${bytes.byteLength}`,
      );
    }
    out.push({ name, t, bytes });
  }
  out.sort(
    (a, b) => DTYPE_RANK[b.t.dtype] - DTYPE_RANK[a.t.dtype] || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
  );
  return out;
}

function headerBytes(planned: Planned[], metadata: Readonly<Record<string, string>> | undefined): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const p of planned) {
    header[p.name] = { dtype: p.t.dtype, shape: p.t.shape, data_offsets: [offset, offset + p.bytes.byteLength] };
    offset += p.bytes.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}

/**
 * Serializes tensors to a safetensors byte buffer in memory (for small files and tests).
 *
 * @example
 * const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } }, { format: 'pt' });
 */
export function serializeSafetensors(tensors: TensorsToWrite, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const planned = plan(tensors);
  const head = headerBytes(planned, metadata);
  const total = head.byteLength + planned.reduce((s, p) => s + p.bytes.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(head, 0);
  let off = head.byteLength;
  for (const p of planned) {
    out.set(p.bytes, off);
    off += p.bytes.byteLength;
  }
  return out;
}

/**
 * Writes tensors to `path` as safetensors, streaming tensor by tensor (no whole-file buffer), via a
 * temporary file renamed into place so readers never see a half-written file.
 *
 * @example
 * await writeSafetensors('adapter_model.safetensors', tensors, { format: 'pt' });
 */
export async function writeSafetensors(
  path: string,
  tensors: TensorsToWrite,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const planned = plan(tensors);
  const head = headerBytes(planned, metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(head, 0, head.byteLength, 0);
    let pos = head.byteLength;
    for (const p of planned) {
      let off = 0;
      while (off < p.bytes.byteLength) {
        const { bytesWritten } = await fh.write(p.bytes, off, p.bytes.byteLength - off, pos + off);
        off += bytesWritten;
      }
      pos += p.bytes.byteLength;
    }
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw new Vlm2VecError('safetensors', `${path}: write failed (${(e as Error).message})`, { cause: e });
  }
}

export interface ShardedWriteOptions {
  /** Start a new shard before a tensor would push the current one past this size; default 5 GB (transformers' default). */
  readonly maxShardBytes?: number;
  /** `__metadata__` of every shard; default `{format: 'pt'}` as transformers writes it. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Writes tensors as `model.safetensors` (one shard) or `model-0000i-of-0000N.safetensors` shards
 * plus `model.safetensors.index.json`, the layout transformers' `save_pretrained` produces and
 * {@link Checkpoint.open} reads. Tensors keep their order within the name-sorted list.
 *
 * @example
 * const files = await writeShardedSafetensors('out/merged', tensors, { maxShardBytes: 2 ** 31 });
 */
export async function writeShardedSafetensors(
  dir: string,
  tensors: TensorsToWrite,
  options: ShardedWriteOptions = {},
): Promise<string[]> {
  const max = options.maxShardBytes ?? 5 * 10 ** 9;
  const metadata = options.metadata ?? { format: 'pt' };
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)) as [string, TensorToWrite][];
  entries.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const shards: [string, TensorToWrite][][] = [[]];
  let size = 0;
  let total = 0;
  for (const e of entries) {
    const bytes = e[1].data.byteLength;
    const current = shards[shards.length - 1] as [string, TensorToWrite][];
    if (current.length > 0 && size + bytes > max) {
      shards.push([e]);
      size = bytes;
    } else {
      current.push(e);
      size += bytes;
    }
    total += bytes;
  }
  await mkdir(dir, { recursive: true });
  if (shards.length === 1) {
    await writeSafetensors(join(dir, 'model.safetensors'), new Map(shards[0]), metadata);
    return ['model.safetensors'];
  }
  const n = shards.length;
  const pad = (i: number) => String(i).padStart(5, '0');
  const names = shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(n)}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (const [i, shard] of shards.entries()) {
    await writeSafetensors(join(dir, names[i] as string), new Map(shard), metadata);
    for (const [name] of shard) weightMap[name] = names[i] as string;
  }
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  await writeFile(join(dir, 'model.safetensors.index.json'), `${JSON.stringify(index, null, 2)}\n`);
  return [...names, 'model.safetensors.index.json'];
}
