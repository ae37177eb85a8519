// On-disk embedding cache: append-only segment files of checksummed records.
//
// Why this shape: a run may be killed at any instant (kill -9 included) and must lose nothing
// that finished and corrupt nothing. Each process appends to its own fresh segment with one
// write() per batch, so a crash can only leave a torn record at the tail of the segment it was
// writing. Every record carries a header checksum and a payload checksum; opening the cache
// scans the headers (not the payloads: 10^5 records of 1,536 dims is 600 MB), skips a torn tail,
// resynchronises past a damaged header, and a payload whose checksum fails when it is read is
// dropped from the index so the caller recomputes it. Later records win, so the recomputed
// vector supersedes the bad one. Segments are never rewritten, so a reader never races a writer.
//
// Record layout (little endian), 48-byte header then the payload:
//   0 magic u32 'VEC1' | 4 dim u32 | 8 key[32] | 40 payload crc32 u32 | 44 header crc32 u32
//   48 float32[dim]

import { closeSync, fdatasyncSync, fstatSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from './hash.ts';
import { Vlm2VecError } from '../errors.ts';
import { ensureOutputDir } from '../util/fs.ts';

const MAGIC = 0x31434556; // bytes 'VEC1'
const HEADER = 48;
const KEY_BYTES = 32;
const SEGMENT_EXT = '.v2ec';
/** Upper bound on a plausible dimension; a header claiming more is treated as damage. */
const MAX_DIM = 1 << 20;

interface Location {
  seg: number;
  offset: number;
  dim: number;
  crc: number;
}

interface Segment {
  path: string;
  fd: number;
}

/** Counters describing what opening and reading the cache found. */
export interface CacheStats {
  entries: number;
  segments: number;
  /** Segments whose last record was cut short (a crash mid-write); the fragment is ignored. */
  tornTails: number;
  /** Damaged headers skipped while scanning (bytes resynchronised past). */
  damagedHeaders: number;
  /** Records whose payload checksum failed on read (dropped; the caller recomputes them). */
  corruptPayloads: number;
}

/** Options of {@link EmbeddingCache.open}. */
export interface CacheOptions {
  /** fdatasync after every {@link EmbeddingCache.putMany} (survives power loss, not only a
   *  killed process). Default true; a killed process loses nothing even without it. */
  syncEachWrite?: boolean;
}

/**
 * A content-addressed store of float32 vectors keyed by 32-byte item keys
 * ({@link FileHasher.itemKey}).
 *
 * @example
 * const cache = await EmbeddingCache.open('out/.embed-cache');
 * cache.putMany([{ key, vector }]);
 * cache.get(key); // Float32Array, or undefined when absent or corrupt
 * cache.close();
 */
export class EmbeddingCache {
  readonly dir: string;
  readonly #index = new Map<string, Location>();
  readonly #segments: Segment[] = [];
  readonly #sync: boolean;
  #writer: { seg: number; size: number } | undefined;
  #closed = false;
  readonly #stats = { tornTails: 0, damagedHeaders: 0, corruptPayloads: 0 };

  private constructor(dir: string, sync: boolean) {
    this.dir = dir;
    this.#sync = sync;
  }

  /** Open (creating if needed) the cache in `dir` and index every intact record. */
  static async open(dir: string, opts: CacheOptions = {}): Promise<EmbeddingCache> {
    // Not mkdir -p: it spins forever under /proc (see util/fs).
    ensureOutputDir(dir, { what: 'cache folder', area: 'cache' });
    const cache = new EmbeddingCache(dir, opts.syncEachWrite ?? true);
    const names = readdirSync(dir).filter((n) => n.endsWith(SEGMENT_EXT)).sort();
    for (const name of names) cache.#scan(join(dir, name));
    return cache;
  }

  get size(): number {
    return this.#index.size;
  }

  get stats(): CacheStats {
    return { entries: this.#index.size, segments: this.#segments.length, ...this.#stats };
  }

  has(key: Uint8Array): boolean {
    return this.#index.has(keyString(key));
  }

  /** The stored vector, or undefined when absent or when its checksum fails (then forgotten). */
  get(key: Uint8Array): Float32Array | undefined {
    this.#assertOpen();
    const k = keyString(key);
    const loc = this.#index.get(k);
    if (!loc) return undefined;
    const seg = this.#segments[loc.seg]!;
    const out = new Float32Array(loc.dim);
    const bytes = new Uint8Array(out.buffer);
    // Synchronous pread: a few KB from the page cache costs microseconds, less than a promise.
    const n = readSync(seg.fd, bytes, 0, bytes.length, loc.offset + HEADER);
    if (n !== bytes.length || crc32(bytes) !== loc.crc) {
      this.#stats.corruptPayloads++;
      this.#index.delete(k);
      return undefined;
    }
    return out;
  }

  /**
   * Append vectors with one write (and one fdatasync when enabled), then index them. When this
   * returns, a killed process keeps them.
   */
  putMany(entries: readonly { key: Uint8Array; vector: Float32Array }[]): void {
    this.#assertOpen();
    if (entries.length === 0) return;
    let total = 0;
    for (const e of entries) {
      if (e.key.length !== KEY_BYTES) throw new Vlm2VecError('cache', `key must be ${KEY_BYTES} bytes, got ${e.key.length}`);
      if (e.vector.length === 0 || e.vector.length > MAX_DIM) {
        throw new Vlm2VecError('cache', `vector dimension ${e.vector.length} is outside 1..${MAX_DIM}`);
      }
      total += HEADER + e.vector.length * 4;
    }
    const buf = Buffer.alloc(total);
    const locs: [string, Location][] = [];
    const w = this.#openWriter();
    let pos = 0;
    for (const e of entries) {
      const payload = new Uint8Array(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength);
      const pcrc = crc32(payload);
      buf.writeUInt32LE(MAGIC, pos);
      buf.writeUInt32LE(e.vector.length, pos + 4);
      buf.set(e.key, pos + 8);
      buf.writeUInt32LE(pcrc, pos + 40);
      buf.writeUInt32LE(crc32(buf.subarray(pos, pos + 44)), pos + 44);
      buf.set(payload, pos + HEADER);
      locs.push([keyString(e.key), { seg: w.seg, offset: w.size + pos, dim: e.vector.length, crc: pcrc }]);
      pos += HEADER + e.vector.length * 4;
    }
    const fd = this.#segments[w.seg]!.fd;
    let written = 0;
    while (written < buf.length) written += writeSync(fd, buf, written, buf.length - written);
    if (this.#sync) fdatasyncSync(fd);
    w.size += buf.length;
    for (const [k, loc] of locs) this.#index.set(k, loc);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#segments) closeSync(s.fd);
  }

  #assertOpen(): void {
    if (this.#closed) throw new Vlm2VecError('cache', `cache ${this.dir} is closed`);
  }

  #openWriter(): { seg: number; size: number } {
    if (this.#writer) return this.#writer;
    // A fresh segment per process: nothing else ever appends to it, so its only possible damage
    // is our own torn tail after a crash, which the next open skips.
    const name = `seg-${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}${SEGMENT_EXT}`;
    const path = join(this.dir, name);
    const fd = openSync(path, 'a+');
    this.#segments.push({ path, fd });
    this.#writer = { seg: this.#segments.length - 1, size: 0 };
    return this.#writer;
  }

  #scan(path: string): void {
    const fd = openSync(path, 'r');
    const seg = this.#segments.length;
    this.#segments.push({ path, fd });
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(HEADER);
    let offset = 0;
    while (offset < size) {
      if (size - offset < HEADER) {
        this.#stats.tornTails++;
        break;
      }
      readSync(fd, head, 0, HEADER, offset);
      const dim = head.readUInt32LE(4);
      const valid = head.readUInt32LE(0) === MAGIC && dim > 0 && dim <= MAX_DIM &&
        crc32(head.subarray(0, 44)) === head.readUInt32LE(44);
      if (!valid) {
        this.#stats.damagedHeaders++;
        const next = resync(fd, offset + 1, size);
        if (next < 0) break;
        offset = next;
        continue;
      }
      const end = offset + HEADER + dim * 4;
      if (end > size) {
        this.#stats.tornTails++;
        break;
      }
      this.#index.set(keyString(head.subarray(8, 40)), { seg, offset, dim, crc: head.readUInt32LE(40) });
      offset = end;
    }
  }
}

/** Offset of the next intact header at or after `from`, or -1. */
function resync(fd: number, from: number, size: number): number {
  const chunk = Buffer.alloc(1 << 20);
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(MAGIC, 0);
  let base = from;
  while (base < size) {
    const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - base), base);
    let i = chunk.subarray(0, n).indexOf(magic);
    while (i >= 0) {
      const at = base + i;
      const head = Buffer.alloc(HEADER);
      if (readSync(fd, head, 0, HEADER, at) === HEADER) {
        const dim = head.readUInt32LE(4);
        if (dim > 0 && dim <= MAX_DIM && crc32(head.subarray(0, 44)) === head.readUInt32LE(44)) return at;
      }
      i = chunk.subarray(0, n).indexOf(magic, i + 1);
    }
    // Overlap by 3 bytes so a magic split across chunks is still found.
    if (n < 4) break;
    base += n - 3;
  }
  return -1;
}

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}
