// `vlm2vec embed --model DIR --input items.jsonl --output out.jsonl [--batch-size N]`
// One input line `{"instruction"?, "text"?, "image"?, "video"?}` → one output line
// `{"index": i, "embedding": [...]}` in input order. A bad line (invalid JSON, unknown field,
// unreadable image, missing frames...) becomes `{"index": i, "error": "..."}`, is reported on
// stderr, and the job goes on; the exit code is 1 when any item failed.

import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import { z } from 'zod';
import { LocalEmbedder, type LocalEmbedderOptions } from '../embed/local.ts';
import { DEFAULT_PROMPT_STYLE, formatInput, parsePromptStyle, type PromptStyle } from '../embed/prompt.ts';
import type { EmbedItem } from '../embed/types.ts';
import { Vlm2VecError } from '../errors.ts';
import { parseWeightDtype, type WeightDtype } from '../models/qwen2-vl/weights.ts';
import { sampleFramePaths } from '../io/frames.ts';
import { extractVideoFrames } from '../io/video.ts';
import { ProgressBar, type ProgressStream } from './progress.ts';

const InputLine = z
  .object({
    instruction: z.string().optional(),
    text: z.string().optional(),
    image: z.string().min(1).optional(),
    video: z.string().min(1).optional(),
  })
  .strict();

/** Options of {@link runEmbed} (the CLI's, parsed). */
export interface EmbedJobOptions {
  model: string;
  input: string;
  output: string;
  adapter?: string | undefined;
  tokenizer?: string | undefined;
  batchSize?: number | undefined;
  threads?: number | undefined;
  /** How the weights are held (default float32; see LocalEmbedderOptions.dtype). */
  dtype?: WeightDtype | undefined;
  /** Image pixel limits (default VLM2Vec's 3,136 / 1,003,520). */
  minPixels?: number | undefined;
  maxPixels?: number | undefined;
  promptStyle?: PromptStyle | undefined;
  /** Frames sampled per video (VLM2Vec: 8). */
  numFrames?: number | undefined;
  /** Progress / error stream (default stderr). */
  stderr?: ProgressStream | undefined;
}

/** Summary of a finished job. */
export interface EmbedJobResult {
  total: number;
  failed: number;
}

/** Resolves a line's video (frame folder or video file) to the sampled frame paths. */
async function videoFrames(path: string, numFrames: number, scratch: () => Promise<string>): Promise<string[]> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new Vlm2VecError('embed', `video '${path}' not found`);
  if (st.isDirectory()) {
    const frames = await sampleFramePaths(path, numFrames);
    if (frames.length === 0) throw new Vlm2VecError('embed', `video folder '${path}' has no frames`);
    return frames;
  }
  const dir = join(await scratch(), `v${Math.random().toString(36).slice(2)}`);
  await extractVideoFrames(path, dir);
  return sampleFramePaths(dir, numFrames);
}

/**
 * Runs an embedding job over a JSONL file; the library entry of `vlm2vec embed`.
 *
 * @example
 * const { failed } = await runEmbed({ model: 'models/vlm2vec', input: 'items.jsonl', output: 'out.jsonl' });
 */
export async function runEmbed(opts: EmbedJobOptions): Promise<EmbedJobResult> {
  const err = opts.stderr ?? process.stderr;
  const style = opts.promptStyle ?? DEFAULT_PROMPT_STYLE;
  const numFrames = opts.numFrames ?? 8;
  const embedderOpts: LocalEmbedderOptions = {
    adapter: opts.adapter,
    tokenizerDir: opts.tokenizer,
    batchSize: opts.batchSize,
    threads: opts.threads,
    dtype: opts.dtype,
    minPixels: opts.minPixels,
    maxPixels: opts.maxPixels,
    promptStyle: style,
  };
  const embedder = await LocalEmbedder.load(opts.model, embedderOpts);

  const lines: string[] = [];
  const rl = createInterface({ input: createReadStream(opts.input, 'utf8'), crlfDelay: Infinity });
  try {
    for await (const line of rl) if (line.trim() !== '') lines.push(line);
  } catch (e) {
    throw new Vlm2VecError('embed', `cannot read --input '${opts.input}': ${(e as Error).message}`, { cause: e });
  }
  let scratchDir: string | undefined;
  const scratch = async (): Promise<string> => (scratchDir ??= await mkdtemp(join(tmpdir(), 'vlm2vec-frames-')));
  const out = await open(opts.output, 'w');
  const bar = new ProgressBar('embed', { stream: err });
  let failed = 0;
  const fail = async (i: number, message: string): Promise<void> => {
    failed++;
    err.write(`vlm2vec embed: line ${i + 1}: ${message}\n`);
    await out.write(`${JSON.stringify({ index: i, error: message })}\n`);
  };
  try {
    // Chunks bound memory (decoded media of a chunk only) while keeping batches full.
    const chunk = embedder.batchSize * 8;
    for (let start = 0; start < lines.length; start += chunk) {
      const idx = lines.slice(start, start + chunk).map((_, k) => start + k);
      const items: (EmbedItem | Error)[] = await Promise.all(
        idx.map(async (i) => {
          try {
            let json: unknown;
            try {
              json = JSON.parse(lines[i]!);
            } catch {
              throw new Vlm2VecError('embed', 'not valid JSON');
            }
            const r = InputLine.safeParse(json);
            if (!r.success) {
              const issue = r.error.issues[0];
              throw new Vlm2VecError('embed', `${issue?.path.join('.') || 'line'}: ${issue?.message} (expected {"instruction"?, "text"?, "image"?, "video"?})`);
            }
            const v = r.data;
            if (v.instruction === undefined && v.text === undefined && v.image === undefined && v.video === undefined) {
              throw new Vlm2VecError('embed', 'empty item: give at least one of instruction, text, image, video');
            }
            const video = v.video === undefined ? undefined : await videoFrames(resolve(v.video), numFrames, scratch);
            return formatInput(
              {
                ...(v.instruction !== undefined ? { instruction: v.instruction } : {}),
                ...(v.text !== undefined ? { text: v.text } : {}),
                ...(v.image !== undefined ? { images: [resolve(v.image)] } : {}),
                ...(video ? { video } : {}),
              },
              style,
            );
          } catch (e) {
            return e instanceof Error ? e : new Error(String(e));
          }
        }),
      );
      const good = idx.filter((_, k) => !(items[k] instanceof Error));
      const res = await embedder.embedSettled(good.map((i) => items[i - start] as EmbedItem), (done) => bar.update(start + (idx.length - good.length) + done, lines.length));
      const byIndex = new Map(good.map((i, k) => [i, res[k]!]));
      for (const i of idx) {
        const it = items[i - start]!;
        if (it instanceof Error) {
          await fail(i, it.message);
          continue;
        }
        const r = byIndex.get(i)!;
        if (!r.ok) await fail(i, r.error.message.replace(/item \d+: /, ''));
        else await out.write(`${JSON.stringify({ index: i, embedding: Array.from(r.embedding) })}\n`);
      }
    }
    bar.update(lines.length, lines.length);
  } finally {
    await out.close();
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
  }
  if (failed > 0) err.write(`vlm2vec embed: ${failed} of ${lines.length} item(s) failed (error lines in ${opts.output})\n`);
  return { total: lines.length, failed };
}

/** Help text of `--dtype` (embed, eval --model, export). */
export const DTYPE_HELP = 'weights: float32 (default) or float16 (matrices held in float16, compute in float32: ' +
  'about half the weight memory, ~20-30% slower on CPU, embeddings within ~1e-3 of float32)';

/**
 * Commander parser of `--dtype` (a clear error with a did-you-mean for fp16/half).
 *
 * @example program.option('--dtype <dtype>', DTYPE_HELP, parseDtypeOption)
 */
export function parseDtypeOption(v: string): WeightDtype {
  try {
    return parseWeightDtype(v, '--dtype');
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^\[weights\] /, ''));
  }
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

/** `vlm2vec embed --help` examples (exported for its test). */
export const EMBED_EXAMPLES = `
Examples:
  # A model folder; items.jsonl has one {"instruction"?, "text"?, "image"?, "video"?} per line
  $ vlm2vec embed --model ~/models/VLM2Vec-Qwen2VL-2B --input items.jsonl --output out.jsonl

  # A hub id (downloaded once into $VLM2VEC_CACHE or ~/.cache/vlm2vec; offline: the cache only)
  $ vlm2vec embed --model TIGER-Lab/VLM2Vec-Qwen2VL-2B --input items.jsonl --output out.jsonl --threads 8

  # A PEFT adapter folder: its adapter_config.json names the base model, merged at load
  $ vlm2vec embed --model ~/ckpt/VLM2Vec-V2.0 --input items.jsonl --output out.jsonl
  # ... or the base model and the adapter given separately, with smaller images
  $ vlm2vec embed --model Qwen/Qwen2-VL-2B-Instruct --adapter ~/ckpt/VLM2Vec-V2.0 --max-pixels 401408 \\
      --input items.jsonl --output out.jsonl

Input line examples:
  {"instruction": "Represent the given image.", "image": "photos/cat.jpg"}
  {"text": "A cat sitting on a mat"}
  {"instruction": "Find the video that matches.", "video": "clips/jump.mp4"}

A bad line (invalid JSON, unreadable image, ...) is written as {"index": i, "error": "..."}; the
others go on, and the exit code is 1.
`;

/** Registers `vlm2vec embed`. */
export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('Embed JSONL items ({instruction?, text?, image?, video?} per line) with a local VLM2Vec / Qwen2-VL model')
    .requiredOption('--model <dir|hub-id>', 'model folder (config.json + safetensors or pytorch_model.bin), hub id owner/name[@rev], or PEFT adapter folder')
    .requiredOption('--input <file>', 'JSONL input, one item per line')
    .requiredOption('--output <file>', 'JSONL output: {"index", "embedding"} per line')
    .option('--adapter <dir|hub-id>', 'PEFT LoRA/DoRA adapter merged into --model at load')
    .option('--tokenizer <dir>', 'folder with tokenizer.json (default: the model folder, then the adapter, then the base)')
    .option('--batch-size <n>', 'items per forward pass', positiveInt('--batch-size'), 8)
    .option('--threads <n>', 'ONNX Runtime threads', positiveInt('--threads'))
    .option('--dtype <dtype>', DTYPE_HELP, parseDtypeOption)
    .option('--min-pixels <n>', "image min pixels (default 3136, VLM2Vec's)", positiveInt('--min-pixels'))
    .option('--max-pixels <n>', "image max pixels (default 1003520, VLM2Vec's)", positiveInt('--max-pixels'))
    .option('--prompt-style <style>', 'prompt format', parsePromptStyle, DEFAULT_PROMPT_STYLE)
    .addHelpText('after', EMBED_EXAMPLES)
    .action(async (o: EmbedJobOptions & { batchSize: number; promptStyle: PromptStyle }) => {
      const r = await runEmbed({ ...o });
      if (r.failed > 0) process.exitCode = 1;
    });
}
