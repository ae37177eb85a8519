// Content hashing for the embedding cache: sha256 of media files (memoized per path, size and
// mtime so the frames shared by many video-QA rows are read once) or of media bytes, and the
// cache key of one item: media enter it by content, so bytes and their file give the same key.
// Also a CRC-32 for the cache's record checksums (zlib's when the running Node has it).

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import type { EmbedItem, MediaInput } from './types.ts';
import { Vlm2VecError } from '../errors.ts';

interface MemoEntry {
  size: number;
  mtimeMs: number;
  digest: Promise<string>;
}

/** sha256 of file contents, remembered per path while size and mtime stay the same. */
export class FileHasher {
  readonly #memo = new Map<string, MemoEntry>();

  /**
   * Hex sha256 of the file's bytes. When the file is actually read (not remembered), its bytes
   * are also put into `keep`, if given.
   *
   * @example
   * const h = new FileHasher();
   * await h.hashFile('/data/image-tasks/ImageNet-1K/0.jpg'); // 'e3b0c442…'
   */
  async hashFile(path: string, keep?: Map<string, Uint8Array>): Promise<string> {
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      throw new Vlm2VecError('embed', `media file ${path} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const hit = this.#memo.get(path);
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.digest;
    const digest = readFile(path).then(
      (buf) => {
        // The caller may send these bytes next: keep them so the file is read once.
        keep?.set(path, buf);
        return createHash('sha256').update(buf).digest('hex');
      },
      (err: unknown) => {
        this.#memo.delete(path);
        throw new Vlm2VecError('embed', `media file ${path} cannot be read: ${(err as Error).message}`, { cause: err });
      },
    );
    this.#memo.set(path, { size: st.size, mtimeMs: st.mtimeMs, digest });
    return digest;
  }

  /**
   * Hex sha256 of an image or frame: of its file's bytes for a path (see {@link hashFile}), of
   * the bytes themselves otherwise.
   *
   * @example
   * await new FileHasher().hashMedia(Buffer.from('abc')); // 'ba7816bf…'
   */
  async hashMedia(media: MediaInput, keep?: Map<string, Uint8Array>): Promise<string> {
    return typeof media === 'string' ? this.hashFile(media, keep) : createHash('sha256').update(media).digest('hex');
  }

  /**
   * The 32-byte cache key of an item: sha256 over the model id, the formatted text and the
   * hashes of every image and frame, in order. Paths do not enter the key, so moving a data
   * folder keeps its cache valid, editing a file invalidates it, and an item carrying a file's
   * bytes has the key of the item naming that file. File bytes read on the way go into `keep`
   * (see {@link hashFile}).
   *
   * @example
   * const key = await new FileHasher().itemKey('vlm2vec:VLM2Vec-V2.0', { text: 'a cat' });
   * key.length; // 32
   */
  async itemKey(modelId: string, item: EmbedItem, keep?: Map<string, Uint8Array>): Promise<Buffer> {
    const images = await Promise.all((item.images ?? []).map((m) => this.hashMedia(m, keep)));
    const video = await Promise.all((item.video ?? []).map((m) => this.hashMedia(m, keep)));
    // JSON keeps field boundaries unambiguous (a text that contains a hash cannot collide with
    // an item that has that image), and "video" absent differs from "video": [].
    const canon = JSON.stringify({
      m: modelId,
      t: item.text,
      i: item.images === undefined ? null : images,
      v: item.video === undefined ? null : video,
    });
    return createHash('sha256').update(canon, 'utf8').digest();
  }
}

let crcTable: Uint32Array | undefined;

function crc32Js(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// zlib.crc32 arrived in Node 20.15; older 20.x falls back to the table version (same result).
const zlibCrc = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;

/**
 * CRC-32 (IEEE, the zlib/PNG one) of bytes.
 *
 * @example
 * crc32(Buffer.from('123456789')); // 0xcbf43926
 */
export function crc32(data: Uint8Array): number {
  return zlibCrc ? zlibCrc(data) >>> 0 : crc32Js(data);
}

/** Exposed for the test that checks both implementations agree. */
export const crc32Fallback = crc32Js;
