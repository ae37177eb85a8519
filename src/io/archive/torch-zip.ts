// The zip container of `torch.save` files (PyTorch ≥ 1.6, `PyTorchStreamWriter`): entries
// `<archive>/data.pkl`, `<archive>/data/<key>`, `<archive>/byteorder`, `<archive>/version`, ...,
// all STORED (uncompressed) with each record padded so its data is 64-byte aligned; torch always
// writes the zip64 end-of-central-directory record and locator, and zip64 extra fields once an
// entry or offset passes 4 GB. (Format: PKWARE APPNOTE.TXT §4.3 and §4.5.3.)
//
// Only the central directory is read up front; entry data is read on demand with positioned reads,
// so a multi-GB pytorch_model.bin never sits in memory. Compressed entries are rejected rather than
// inflated: torch never writes them, so one means the file was re-zipped by another tool.

import type { FileHandle } from 'node:fs/promises';
import { Vlm2VecError } from '../../errors.ts';

/** One STORED entry: where its bytes start in the file and how many there are. */
export interface ZipEntry {
  readonly name: string;
  /** Compression method (0 = STORED; anything else is rejected when the entry is read). */
  readonly method: number;
  readonly size: number;
  /** Bytes the entry's data takes in the file (= size when STORED). */
  readonly compressedSize: number;
  readonly crc32: number;
  /** Offset of the local file header; the data offset needs that header's own lengths. */
  readonly localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CD_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;
const EOCD_LEN = 22;
/** The EOCD comment is at most 65535 bytes, so the record is within this many bytes of the end. */
const EOCD_SEARCH = EOCD_LEN + U16_MAX;
/** A sane upper bound for a central directory (a torch file has a few entries per tensor). */
const MAX_CD_BYTES = 512 * 1024 * 1024;

const METHOD_NAMES: Readonly<Record<number, string>> = { 8: 'deflate', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd' };

function fail(file: string, msg: string): never {
  throw new Vlm2VecError('torch', `${file}: ${msg}`);
}

/** Reads exactly `len` bytes at `position` or throws a truncation error naming `what`. */
export async function readAt(fh: FileHandle, file: string, position: number, len: number, what: string): Promise<Uint8Array> {
  const buf = new Uint8Array(len);
  let off = 0;
  while (off < len) {
    const { bytesRead } = await fh.read(buf, off, len - off, position + off);
    if (bytesRead === 0) fail(file, `truncated: ${what} wants ${len} bytes at offset ${position}, the file ends after ${off}`);
    off += bytesRead;
  }
  return buf;
}

function u64(dv: DataView, at: number, file: string, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(file, `${what} ${v} is beyond 2^53; the zip is corrupt`);
  return Number(v);
}

/**
 * Reads the central directory of a zip file (zip64 or not) into name → entry.
 *
 * @example
 * const entries = await readZipDirectory(fh, 'adapter_model.bin', size);
 * entries.get('adapter_model/data.pkl') // { method: 0, size: 12345, localHeaderOffset: 0, ... }
 */
export async function readZipDirectory(fh: FileHandle, file: string, fileSize: number): Promise<Map<string, ZipEntry>> {
  if (fileSize < EOCD_LEN) fail(file, `truncated or not a zip file: ${fileSize} bytes, shorter than a zip end record`);
  const tailLen = Math.min(fileSize, EOCD_SEARCH);
  const tailStart = fileSize - tailLen;
  const tail = await readAt(fh, file, tailStart, tailLen, 'zip end record');
  const tdv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - EOCD_LEN; i >= 0; i--) {
    // The comment length must reach exactly to the end of the file, which rules out the signature
    // bytes appearing by chance inside a comment or inside the last entry's data.
    if (tdv.getUint32(i, true) === EOCD_SIG && i + EOCD_LEN + tdv.getUint16(i + 20, true) === tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail(file, 'no zip end-of-central-directory record: the file is truncated or is not a zip (torch.save ≥ 1.6) checkpoint');
  let count = tdv.getUint16(eocd + 10, true);
  let cdSize = tdv.getUint32(eocd + 12, true);
  let cdOffset = tdv.getUint32(eocd + 16, true);
  // Prefer the zip64 record whenever its locator is present (torch always writes both).
  const loc = eocd - 20;
  if (loc >= 0 && tdv.getUint32(loc, true) === ZIP64_LOCATOR_SIG) {
    const z64Offset = u64(tdv, loc + 8, file, 'zip64 end record offset');
    if (z64Offset + 56 > tailStart + loc) fail(file, `zip64 end record offset ${z64Offset} points past its locator; the file is truncated or corrupt`);
    const rec = await readAt(fh, file, z64Offset, 56, 'zip64 end record');
    const rdv = new DataView(rec.buffer);
    if (rdv.getUint32(0, true) !== ZIP64_EOCD_SIG) fail(file, `no zip64 end record at offset ${z64Offset}; the file is corrupt`);
    count = u64(rdv, 32, file, 'entry count');
    cdSize = u64(rdv, 40, file, 'central directory size');
    cdOffset = u64(rdv, 48, file, 'central directory offset');
  } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    fail(file, 'the zip end record asks for zip64 but the zip64 locator is missing; the file is corrupt');
  }
  if (cdSize > MAX_CD_BYTES) fail(file, `central directory of ${cdSize} bytes is implausibly large; the file is corrupt`);
  if (cdOffset + cdSize > fileSize) {
    fail(file, `central directory [${cdOffset}, ${cdOffset + cdSize}) runs past the end of the file (${fileSize} bytes); the file is truncated`);
  }
  const cd = await readAt(fh, file, cdOffset, cdSize, 'central directory');
  const dv = new DataView(cd.buffer);
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || dv.getUint32(p, true) !== CD_SIG) fail(file, `central directory entry ${i} of ${count} is missing or corrupt (offset ${cdOffset + p})`);
    const method = dv.getUint16(p + 10, true);
    const crc32 = dv.getUint32(p + 16, true);
    let csize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) fail(file, `central directory entry ${i} runs past the directory's end; the file is corrupt`);
    const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // Zip64 extended information (id 0x0001): 8-byte values, in this order, for exactly the fields
    // that are 0xFFFFFFFF in the fixed part of the record.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + len) fail(file, `${name}: zip64 extra field is too short for the ${what}`);
          const v = u64(dv, q, file, `${name}: ${what}`);
          q += 8;
          return v;
        };
        if (size === U32_MAX) size = take('size');
        if (csize === U32_MAX) csize = take('compressed size');
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take('header offset');
      }
      e += 4 + len;
    }
    if (method === 0 && csize !== size) fail(file, `${name}: stored entry with compressed size ${csize} ≠ size ${size}; the file is corrupt`);
    entries.set(name, { name, method, size, compressedSize: csize, crc32, localHeaderOffset });
    p = end;
  }
  return entries;
}

/**
 * File offset of a STORED entry's data (after its local header). Throws for compressed entries
 * and for data that would run past the end of the file.
 */
export async function entryDataOffset(fh: FileHandle, file: string, fileSize: number, entry: ZipEntry): Promise<number> {
  if (entry.method !== 0) {
    const m = METHOD_NAMES[entry.method] ?? `method ${entry.method}`;
    fail(file, `entry '${entry.name}' is compressed (${m}); torch.save writes uncompressed (STORED) entries only, so the file was re-zipped by another tool — unzip it and zip it again with 'zip -0', or re-save it with torch.save`);
  }
  return localDataOffset(fh, file, fileSize, entry);
}

/** File offset of any entry's (possibly compressed) data, after its local header. */
export async function localDataOffset(fh: FileHandle, file: string, fileSize: number, entry: ZipEntry): Promise<number> {
  const h = await readAt(fh, file, entry.localHeaderOffset, 30, `local header of '${entry.name}'`);
  const dv = new DataView(h.buffer);
  if (dv.getUint32(0, true) !== LOCAL_SIG) fail(file, `entry '${entry.name}': no local file header at offset ${entry.localHeaderOffset}; the file is corrupt`);
  const start = entry.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
  if (start + entry.compressedSize > fileSize) {
    fail(file, `entry '${entry.name}' [${start}, ${start + entry.compressedSize}) runs past the end of the file (${fileSize} bytes); the file is truncated`);
  }
  return start;
}
