// A model's weights: one file, or several shards listed by an index
// (`{"metadata": {...}, "weight_map": {"<tensor>": "<shard file>"}}`), in either format a Hugging
// Face folder carries — safetensors (`model.safetensors[.index.json]`, preferred) or torch.save
// pickles (`pytorch_model.bin[.index.json]`, what transformers wrote before 4.35 and with
// `safe_serialization=False`; read by the safe unpickler, never executed). All shard headers are
// read up front (cheap, and it catches a missing or inconsistent shard before hours of work);
// tensor data is read lazily.

import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { Vlm2VecError } from '../../errors.ts';
import { SafetensorsFile, missingTensorError, type RawTensor } from './safetensors.ts';
import { TorchCheckpointFile } from './torch-pickle-file.ts';
import type { TorchDType } from './torch-pickle.ts';

export type CheckpointFormat = 'safetensors' | 'torch';

/** The weight files a folder may hold, in the order they are looked for. */
export const WEIGHT_FILES: readonly { readonly file: string; readonly format: CheckpointFormat; readonly index: boolean }[] = [
  { file: 'model.safetensors.index.json', format: 'safetensors', index: true },
  { file: 'model.safetensors', format: 'safetensors', index: false },
  { file: 'pytorch_model.bin.index.json', format: 'torch', index: true },
  { file: 'pytorch_model.bin', format: 'torch', index: false },
];

const IndexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string()),
});

/** What a checkpoint needs of one weight file (SafetensorsFile and TorchCheckpointFile both fit). */
interface WeightFile {
  readonly path: string;
  names(): string[];
  has(name: string): boolean;
  info(name: string): { readonly dtype: TorchDType; readonly shape: readonly number[] };
  read(name: string, expectShape?: readonly number[]): Promise<RawTensor>;
  readFloat32(name: string, expectShape?: readonly number[]): Promise<Float32Array>;
  close(): Promise<void>;
}

/** A tensor's dtype and shape plus the shard file that holds it. */
export interface CheckpointTensorInfo {
  readonly name: string;
  readonly dtype: TorchDType;
  readonly shape: readonly number[];
  readonly file: string;
}

/** The format of a weight file from its name: `.safetensors`, or torch's `.bin` / `.pt` / `.pth`. */
function formatOf(file: string): CheckpointFormat | undefined {
  if (file.endsWith('.safetensors')) return 'safetensors';
  if (/\.(bin|pt|pth)$/.test(file)) return 'torch';
  return undefined;
}

function openFile(path: string, format: CheckpointFormat): Promise<WeightFile> {
  return format === 'safetensors' ? SafetensorsFile.open(path) : TorchCheckpointFile.open(path);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function closeAll(files: Iterable<WeightFile>): Promise<void> {
  await Promise.all([...files].map((f) => f.close()));
}

/**
 * All tensors of a (possibly sharded) checkpoint, safetensors or torch.save, behind one
 * name → tensor API.
 *
 * @example
 * const ckpt = await Checkpoint.open('/models/Qwen2-VL-2B-Instruct');
 * const emb = await ckpt.read('model.embed_tokens.weight', [151936, 1536]); // BF16 raw bits
 * await ckpt.close();
 */
export class Checkpoint {
  private constructor(
    /** The folder (or single file) it was opened from. */
    readonly source: string,
    readonly format: CheckpointFormat,
    private readonly files: ReadonlyMap<string, WeightFile>,
    private readonly where: ReadonlyMap<string, WeightFile>,
    readonly indexMetadata: Readonly<Record<string, unknown>>,
  ) {}

  /**
   * Opens a checkpoint from a folder (the first of {@link WEIGHT_FILES} it holds), an index file
   * (`*.index.json`), or a single `.safetensors` / `.bin` / `.pt` file.
   */
  static async open(pathOrDir: string): Promise<Checkpoint> {
    const st = await stat(pathOrDir).catch((e: unknown) => {
      throw new Vlm2VecError('checkpoint', `${pathOrDir}: not found (${(e as Error).message})`, { cause: e });
    });
    if (st.isDirectory()) {
      for (const w of WEIGHT_FILES) {
        const p = join(pathOrDir, w.file);
        if (!(await exists(p))) continue;
        return w.index ? Checkpoint.openIndex(p, pathOrDir) : Checkpoint.openSingle(pathOrDir, p, w.format);
      }
      throw new Vlm2VecError('checkpoint', `${pathOrDir}: no weights found (looked for ${WEIGHT_FILES.map((w) => w.file).join(', ')})`);
    }
    if (pathOrDir.endsWith('.index.json')) return Checkpoint.openIndex(pathOrDir, join(pathOrDir, '..'));
    const format = formatOf(pathOrDir);
    if (!format) throw new Vlm2VecError('checkpoint', `${pathOrDir}: not a weight file (expected .safetensors, .bin, .pt or .pth, or an .index.json)`);
    return Checkpoint.openSingle(pathOrDir, pathOrDir, format);
  }

  private static async openIndex(indexPath: string, dir: string): Promise<Checkpoint> {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(indexPath, 'utf8'));
    } catch (e) {
      throw new Vlm2VecError('checkpoint', `${indexPath}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    const parsed = IndexSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Vlm2VecError('checkpoint', `${indexPath}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
    }
    const weightMap = parsed.data.weight_map;
    const shardNames = [...new Set(Object.values(weightMap))];
    const formats = new Set<CheckpointFormat>();
    for (const s of shardNames) {
      // Shard names come from a downloaded file: refuse anything that escapes the folder.
      if (s.includes('/') || s.includes('\\') || s === '..' || s === '.') {
        throw new Vlm2VecError('checkpoint', `${indexPath}: shard name '${s}' must be a plain file name`);
      }
      const f = formatOf(s);
      if (!f) throw new Vlm2VecError('checkpoint', `${indexPath}: shard '${s}' is neither .safetensors nor a torch .bin / .pt / .pth file`);
      formats.add(f);
    }
    if (formats.size > 1) throw new Vlm2VecError('checkpoint', `${indexPath}: shards mix safetensors and torch files`);
    const format: CheckpointFormat = formats.values().next().value ?? (indexPath.endsWith('.bin.index.json') ? 'torch' : 'safetensors');
    const files = new Map<string, WeightFile>();
    try {
      for (const s of shardNames) files.set(s, await openFile(join(dir, s), format));
    } catch (e) {
      await closeAll(files.values());
      throw e;
    }
    const where = new Map<string, WeightFile>();
    for (const [name, shard] of Object.entries(weightMap)) {
      const f = files.get(shard) as WeightFile;
      if (!f.has(name)) {
        await closeAll(files.values());
        throw new Vlm2VecError(format, `${name}: ${basename(indexPath)} maps it to ${shard}, which has no such tensor`);
      }
      where.set(name, f);
    }
    return new Checkpoint(dir, format, files, where, parsed.data.metadata ?? {});
  }

  private static async openSingle(source: string, path: string, format: CheckpointFormat): Promise<Checkpoint> {
    const f = await openFile(path, format);
    return new Checkpoint(source, format, new Map([[basename(path), f]]), new Map(f.names().map((n) => [n, f])), {});
  }

  /** All tensor names (index order for sharded checkpoints, file order otherwise). */
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

  /** `__metadata__` of the first safetensors shard (transformers writes `{format: 'pt'}`); torch files have none. */
  get metadata(): Readonly<Record<string, string>> {
    const first = this.files.values().next().value;
    return first instanceof SafetensorsFile ? first.metadata : {};
  }

  private fileOf(name: string): WeightFile {
    const f = this.where.get(name);
    if (!f) throw missingTensorError(this.source, name, this.names(), this.format);
    return f;
  }

  info(name: string): CheckpointTensorInfo {
    const f = this.fileOf(name);
    const { dtype, shape } = f.info(name);
    return { name, dtype, shape, file: basename(f.path) };
  }

  /** Reads one tensor in its stored dtype; `expectShape` is checked before reading. */
  async read(name: string, expectShape?: readonly number[]): Promise<RawTensor> {
    return this.fileOf(name).read(name, expectShape);
  }

  /** Reads a float tensor widened to float32 (torch F64 rounded to nearest). */
  async readFloat32(name: string, expectShape?: readonly number[]): Promise<Float32Array> {
    return this.fileOf(name).readFloat32(name, expectShape);
  }

  async close(): Promise<void> {
    await closeAll(this.files.values());
  }
}
