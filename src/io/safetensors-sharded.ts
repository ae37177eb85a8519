// A checkpoint = one `model.safetensors`, or several shards listed by
// `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {"<tensor>": "<shard file>"}}`),
// as transformers' `save_pretrained` writes them. All shard headers are read up front (cheap, and
// it catches a missing or inconsistent shard before hours of work); tensor data is read lazily.

import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { Vlm2VecError } from '../errors.ts';
import { toFloat32 } from './safetensors-dtype.ts';
import { SafetensorsFile, missingTensorError, type RawTensor, type TensorInfo } from './safetensors.ts';

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

const IndexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string()),
});

/** Tensor info plus the shard file that holds it. */
export interface CheckpointTensorInfo extends TensorInfo {
  readonly file: string;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * All tensors of a (possibly sharded) safetensors checkpoint behind one name → tensor API.
 *
 * @example
 * const ckpt = await SafetensorsCheckpoint.open('/models/Qwen2-VL-2B-Instruct');
 * const emb = await ckpt.read('model.embed_tokens.weight', [151936, 1536]); // BF16 raw bits
 * await ckpt.close();
 */
export class SafetensorsCheckpoint {
  private constructor(
    /** The folder (or single file) it was opened from. */
    readonly source: string,
    private readonly files: ReadonlyMap<string, SafetensorsFile>,
    private readonly where: ReadonlyMap<string, SafetensorsFile>,
    readonly indexMetadata: Readonly<Record<string, unknown>>,
  ) {}

  /**
   * Opens a checkpoint from a folder (prefers `model.safetensors.index.json`, else
   * `model.safetensors`), an index file, or a single `.safetensors` file.
   */
  static async open(pathOrDir: string): Promise<SafetensorsCheckpoint> {
    const st = await stat(pathOrDir).catch((e: unknown) => {
      throw new Vlm2VecError('safetensors', `${pathOrDir}: not found (${(e as Error).message})`, { cause: e });
    });
    if (st.isDirectory()) {
      const idx = join(pathOrDir, INDEX_FILE);
      if (await exists(idx)) return SafetensorsCheckpoint.openIndex(idx, pathOrDir);
      const single = join(pathOrDir, SINGLE_FILE);
      if (await exists(single)) return SafetensorsCheckpoint.openFiles(pathOrDir, [single], {});
      throw new Vlm2VecError('safetensors', `${pathOrDir}: neither ${INDEX_FILE} nor ${SINGLE_FILE} found`);
    }
    if (pathOrDir.endsWith('.index.json')) return SafetensorsCheckpoint.openIndex(pathOrDir, join(pathOrDir, '..'));
    return SafetensorsCheckpoint.openFiles(pathOrDir, [pathOrDir], {});
  }

  private static async openIndex(indexPath: string, dir: string): Promise<SafetensorsCheckpoint> {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(indexPath, 'utf8'));
    } catch (e) {
      throw new Vlm2VecError('safetensors', `${indexPath}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    const parsed = IndexSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Vlm2VecError('safetensors', `${indexPath}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
    }
    const weightMap = parsed.data.weight_map;
    const shardNames = [...new Set(Object.values(weightMap))];
    for (const s of shardNames) {
      // Shard names come from a downloaded file: refuse anything that escapes the folder.
      if (s.includes('/') || s.includes('\\') || s === '..' || s === '.') {
        throw new Vlm2VecError('safetensors', `${indexPath}: shard name '${s}' must be a plain file name`);
      }
    }
    const files = new Map<string, SafetensorsFile>();
    try {
      for (const s of shardNames) files.set(s, await SafetensorsFile.open(join(dir, s)));
    } catch (e) {
      await Promise.all([...files.values()].map((f) => f.close()));
      throw e;
    }
    const where = new Map<string, SafetensorsFile>();
    for (const [name, shard] of Object.entries(weightMap)) {
      const f = files.get(shard) as SafetensorsFile;
      if (!f.has(name)) {
        await Promise.all([...files.values()].map((x) => x.close()));
        throw new Vlm2VecError('safetensors', `${name}: ${INDEX_FILE} maps it to ${shard}, which has no such tensor`);
      }
      where.set(name, f);
    }
    return new SafetensorsCheckpoint(dir, files, where, parsed.data.metadata ?? {});
  }

  private static async openFiles(source: string, paths: string[], meta: Record<string, unknown>): Promise<SafetensorsCheckpoint> {
    const files = new Map<string, SafetensorsFile>();
    const where = new Map<string, SafetensorsFile>();
    for (const p of paths) {
      const f = await SafetensorsFile.open(p);
      files.set(basename(p), f);
      for (const n of f.names()) where.set(n, f);
    }
    return new SafetensorsCheckpoint(source, files, where, meta);
  }

  /** All tensor names (index order for sharded checkpoints, data order otherwise). */
  names(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  /** Shard file names. */
  shards(): string[] {
    return [...this.files.keys()];
  }

  /** `__metadata__` of the first shard (transformers writes `{format: 'pt'}`). */
  get metadata(): Readonly<Record<string, string>> {
    const first = this.files.values().next().value as SafetensorsFile | undefined;
    return first?.metadata ?? {};
  }

  private fileOf(name: string): SafetensorsFile {
    const f = this.where.get(name);
    if (!f) throw missingTensorError(this.source, name, this.names());
    return f;
  }

  info(name: string): CheckpointTensorInfo {
    const f = this.fileOf(name);
    return { ...f.info(name), file: basename(f.path) };
  }

  /** Reads one tensor in its stored dtype; `expectShape` is checked before reading. */
  async read(name: string, expectShape?: readonly number[]): Promise<RawTensor> {
    return this.fileOf(name).read(name, expectShape);
  }

  /** Reads a float tensor widened to float32. */
  async readFloat32(name: string, expectShape?: readonly number[]): Promise<Float32Array> {
    const t = await this.read(name, expectShape);
    return toFloat32(t.dtype, t.data, name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.close()));
  }
}
