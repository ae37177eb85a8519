// `vlm2vec embed --model DIR --input items.jsonl --out out.jsonl [--batch-size N]`
// One input line `{"instruction"?, "text"?, "image"?, "video"?}` → one output line
// `{"index": i, "embedding": [...]}` (i counts the non-blank input lines from 0). A bad line
// (invalid JSON, unknown field, unreadable image, missing frames...) becomes
// `{"index": i, "line": n, "error": "..."}` (n: its physical line number, blank lines counted),
// is reported on stderr, and the job goes on; the exit code is 1 when any item failed.
//
// Resumable like `eval`: output lines are appended as each chunk finishes, so a rerun keeps the
// embedded items of OUT, drops its error lines and a torn last line (a crash mid-write), and
// embeds only the rest. OUT.settings.json records the model identity, input and prompt settings;
// a rerun with other ones is refused rather than mixing embeddings of two models in one file.

import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { LocalEmbedder, modelPromptStyle, type LoadEvent, type LocalEmbedderOptions } from '../embed/local.ts';
import { DEFAULT_PROMPT_STYLE, formatInput, PROMPT_STYLES, type PromptStyle } from '../embed/prompt.ts';
import type { EmbedItem } from '../embed/types.ts';
import { Vlm2VecError, errorDetail } from '../errors.ts';
import type { WeightDtype } from '../models/common/float16.ts';
import { sampleFramePaths } from '../io/media/frames.ts';
import { extractVideoFrames } from '../io/media/video.ts';
import { checkOutputFile, ensureOutputDir, writeFileAtomic } from '../util/fs.ts';
import { hiddenAlias, pointToHelp, positiveInt } from '../util/cli-args.ts';
import { BUNDLED_MODEL_HELP, modelOrBundled } from '../embed/bundled.ts';
import { addLocalModelOptions } from './model-options.ts';
import { formatDuration, loadReporter, ProgressBar, type ProgressStream } from './progress.ts';

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
  /** The output JSONL file (appended to when resuming). */
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
  /** Phi-3-V's HD crops per image (4 or 16); refused for other architectures. */
  numCrops?: number | undefined;
  promptStyle?: PromptStyle | undefined;
  /** Frames sampled per video (VLM2Vec: 8). */
  numFrames?: number | undefined;
  /** Progress / error stream (default stderr). */
  stderr?: ProgressStream | undefined;
  /** Model loading progress (default: none; the CLI draws it on stderr). */
  onLoad?: ((e: LoadEvent) => void) | undefined;
  /** Stops the job after the chunk in flight (its lines are written): the CLI's Ctrl-C. */
  signal?: AbortSignal | undefined;
}

/** Summary of a job (also of an interrupted one). */
export interface EmbedJobResult {
  /** Items (non-blank input lines). */
  total: number;
  /** Embedded by this run. */
  embedded: number;
  /** Already embedded in the output by an earlier run, skipped. */
  resumed: number;
  /** Error lines written by this run. */
  failed: number;
  /** True when `signal` stopped the job before every item was done. */
  interrupted: boolean;
  seconds: number;
}

/** What OUT.settings.json records: a rerun must match it to resume. */
interface EmbedSettings {
  model: string;
  input: string;
  promptStyle: PromptStyle;
  numFrames: number;
}

/** An input item: its text and its physical line number (1-based, blank lines counted). */
interface InputRow {
  line: number;
  text: string;
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

async function readInput(path: string): Promise<InputRow[]> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new Vlm2VecError('embed', `input file (--input) ${path} does not exist`);
  if (st.isDirectory()) throw new Vlm2VecError('embed', `input file (--input) ${path} is a folder: expected a JSONL file`);
  const rows: InputRow[] = [];
  let line = 0;
  try {
    const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
    for await (const text of rl) {
      line++;
      if (text.trim() !== '') rows.push({ line, text });
    }
  } catch (e) {
    throw new Vlm2VecError('embed', `cannot read input file (--input) ${path}: ${(e as Error).message}`, { cause: e });
  }
  return rows;
}

/** What an existing output holds: the embedded indices, and how to trim it before appending. */
interface PriorOutput {
  done: Set<number>;
  /** Kept lines, when the file must be rewritten (error lines or damaged lines dropped). */
  rewrite: string[] | undefined;
  /** Byte length of the intact lines when only a torn last line must go. */
  truncateTo: number | undefined;
}

/**
 * Reads an earlier run's output: embedding lines are kept, error lines dropped (their items are
 * retried), and an unterminated or unparsable line (a crash mid-write) is cut off.
 */
async function readPriorOutput(path: string, total: number, settingsFile: string): Promise<PriorOutput> {
  const text = await readFile(path, 'utf8');
  const done = new Set<number>();
  const kept: string[] = [];
  let dropped = 0;
  let intactBytes = 0;
  const lines = text.split('\n');
  const last = lines.pop(); // '' when the file ends with a newline, else a torn line
  for (const l of lines) {
    let rec: { index?: unknown; embedding?: unknown } | undefined;
    try {
      rec = JSON.parse(l) as typeof rec;
    } catch {
      rec = undefined;
    }
    const i = rec?.index;
    if (typeof i === 'number' && Array.isArray(rec?.embedding) && !done.has(i)) {
      if (i >= total) {
        throw new Vlm2VecError('embed', `${path} holds item ${i}, but the input has ${total} item(s): the input changed since it was ` +
          `written (${settingsFile}); delete it or choose another --out`);
      }
      done.add(i);
      kept.push(l);
    } else {
      dropped++;
    }
    if (dropped === 0) intactBytes += Buffer.byteLength(l) + 1;
  }
  const torn = last !== undefined && last !== '';
  if (dropped > 0) return { done, rewrite: kept, truncateTo: undefined };
  return { done, rewrite: undefined, truncateTo: torn ? intactBytes : undefined };
}

function sameSettings(a: EmbedSettings, b: EmbedSettings): string | undefined {
  for (const k of ['model', 'input', 'promptStyle', 'numFrames'] as const) {
    if (a[k] !== b[k]) return `${k} ${String(a[k])} (now ${String(b[k])})`;
  }
  return undefined;
}

/**
 * Runs an embedding job over a JSONL file; the library entry of `vlm2vec embed`. The output is
 * checked before the model loads; a rerun resumes (see the file comment).
 *
 * @example
 * const { failed } = await runEmbed({ model: 'models/vlm2vec', input: 'items.jsonl', output: 'out.jsonl' });
 */
export async function runEmbed(opts: EmbedJobOptions): Promise<EmbedJobResult> {
  const t0 = performance.now();
  const err = opts.stderr ?? process.stderr;
  // The style of the model's architecture unless one is named.
  const style = opts.promptStyle ?? (await modelPromptStyle(opts.model)) ?? DEFAULT_PROMPT_STYLE;
  const numFrames = opts.numFrames ?? 8;
  const out = opts.output;
  const settingsFile = `${out}.settings.json`;

  // Everything that can be wrong with the paths is found before the (slow) model load.
  const outStat = checkOutputFile(out, { what: 'output file (--out)', area: 'embed' });
  // A device or pipe (/dev/stdout) is written as a stream: nothing to resume, no settings file.
  const resumable = outStat === undefined || outStat.isFile();
  if (resumable) checkOutputFile(settingsFile, { what: 'settings file', area: 'embed' });
  const rows = await readInput(opts.input);
  let prior: PriorOutput = { done: new Set(), rewrite: undefined, truncateTo: undefined };
  let recorded: EmbedSettings | undefined;
  if (outStat?.isFile() && outStat.size > 0) {
    const s = await readFile(settingsFile, 'utf8').catch(() => undefined);
    if (s === undefined) {
      throw new Vlm2VecError('embed', `${out} exists but has no ${settingsFile}, so it cannot be resumed safely; delete it or choose another --out`);
    }
    recorded = JSON.parse(s) as EmbedSettings;
    const inputNow = resolve(opts.input);
    const early = sameSettings({ ...recorded, model: '' }, { model: '', input: inputNow, promptStyle: style, numFrames });
    if (early) throw new Vlm2VecError('embed', `${out} was written with ${early}; delete it or choose another --out`);
    prior = await readPriorOutput(out, rows.length, settingsFile);
  }
  const todo = rows.map((_, i) => i).filter((i) => !prior.done.has(i));
  const result: EmbedJobResult = { total: rows.length, embedded: 0, resumed: prior.done.size, failed: 0, interrupted: false, seconds: 0 };
  const finish = (): EmbedJobResult => {
    result.seconds = (performance.now() - t0) / 1000;
    const left = rows.length - result.resumed - result.embedded - result.failed;
    const parts = [`${result.embedded} embedded`];
    if (result.resumed > 0) parts.push(`${result.resumed} already done (skipped)`);
    parts.push(`${result.failed} failed`);
    if (left > 0) parts.push(`${left} left`);
    err.write(`vlm2vec embed: ${result.interrupted ? 'interrupted' : 'done'}: ${parts.join(', ')} of ${rows.length} item(s) ` +
      `in ${formatDuration(result.seconds)}; output ${out}\n`);
    if (result.failed > 0) err.write(`vlm2vec embed: the failed items are error lines in ${out}; a rerun retries them\n`);
    if (result.interrupted) err.write('vlm2vec embed: run the same command again to resume (finished lines are kept)\n');
    return result;
  };
  if (todo.length === 0 && prior.rewrite === undefined) return finish();

  const embedder = await LocalEmbedder.load(opts.model, {
    adapter: opts.adapter,
    tokenizerDir: opts.tokenizer,
    batchSize: opts.batchSize,
    threads: opts.threads,
    dtype: opts.dtype,
    minPixels: opts.minPixels,
    maxPixels: opts.maxPixels,
    numCrops: opts.numCrops,
    promptStyle: style,
    onLoad: opts.onLoad,
  } satisfies LocalEmbedderOptions);
  const settings: EmbedSettings = { model: embedder.id, input: resolve(opts.input), promptStyle: style, numFrames };
  if (recorded) {
    const diff = sameSettings(recorded, settings);
    if (diff) throw new Vlm2VecError('embed', `${out} was written with ${diff}; delete it or choose another --out`);
  }

  ensureOutputDir(dirname(out), { what: 'folder of the output file (--out)', area: 'embed' });
  if (resumable) await writeFileAtomic(settingsFile, `${JSON.stringify(settings, null, 1)}\n`);
  if (prior.rewrite) await writeFileAtomic(out, prior.rewrite.map((l) => `${l}\n`).join(''));
  else if (prior.truncateTo !== undefined) await truncate(out, prior.truncateTo);
  const fh = await open(out, resumable ? 'a' : 'w');
  let scratchDir: string | undefined;
  const scratch = async (): Promise<string> => (scratchDir ??= await mkdtemp(join(tmpdir(), 'vlm2vec-frames-')));
  // Relative media paths are relative to the JSONL file, not to where the command runs.
  const base = dirname(resolve(opts.input));
  const bar = new ProgressBar('embed', { stream: err });
  const fail = (i: number, message: string): string => {
    result.failed++;
    err.write(`${err.isTTY ? '\n' : ''}vlm2vec embed: line ${rows[i]!.line}: ${message}\n`);
    return JSON.stringify({ index: i, line: rows[i]!.line, error: message });
  };
  try {
    // Chunks bound memory (decoded media of a chunk only) while keeping batches full.
    const chunk = embedder.batchSize * 4;
    for (let start = 0; start < todo.length && !opts.signal?.aborted; start += chunk) {
      const idx = todo.slice(start, start + chunk);
      const items: (EmbedItem | Error)[] = await Promise.all(
        idx.map(async (i) => {
          try {
            let json: unknown;
            try {
              json = JSON.parse(rows[i]!.text);
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
            const video = v.video === undefined ? undefined : await videoFrames(resolve(base, v.video), numFrames, scratch);
            return formatInput(
              {
                ...(v.instruction !== undefined ? { instruction: v.instruction } : {}),
                ...(v.text !== undefined ? { text: v.text } : {}),
                ...(v.image !== undefined ? { images: [resolve(base, v.image)] } : {}),
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
      const before = result.resumed + start + (idx.length - good.length);
      const res = await embedder.embedSettled(good.map((i) => items[idx.indexOf(i)] as EmbedItem), (d) => bar.update(before + d, rows.length));
      const byIndex = new Map(good.map((i, k) => [i, res[k]!]));
      const lines: string[] = [];
      for (const [k, i] of idx.entries()) {
        const it = items[k]!;
        const r = byIndex.get(i);
        if (it instanceof Error) lines.push(fail(i, errorDetail(it, 'embed')));
        else if (!r!.ok) lines.push(fail(i, r!.error.message.replace(/item \d+: /, '')));
        else {
          result.embedded++;
          lines.push(JSON.stringify({ index: i, embedding: Array.from(r!.embedding) }));
        }
      }
      // One write per chunk: a kill leaves whole chunks plus at most one torn line.
      await fh.write(`${lines.join('\n')}\n`);
    }
    result.interrupted = result.resumed + result.embedded + result.failed < rows.length;
    if (!result.interrupted) bar.update(rows.length, rows.length);
    else if (err.isTTY) err.write('\n');
  } finally {
    await fh.close();
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
  }
  return finish();
}

/** `vlm2vec embed --help` examples (exported for its test). */
export const EMBED_EXAMPLES = `
Examples:
  # No --model: the bundled small demo model (offline; a notice on stderr says so)
  $ vlm2vec embed --input items.jsonl -o out.jsonl

  # A model folder; items.jsonl has one {"instruction"?, "text"?, "image"?, "video"?} per line
  $ vlm2vec embed -m ~/models/VLM2Vec-Qwen2VL-2B --input items.jsonl -o out.jsonl

  # A hub id (downloaded once into $VLM2VEC_CACHE or ~/.cache/vlm2vec; offline: the cache only)
  $ vlm2vec embed -m TIGER-Lab/VLM2Vec-Qwen2VL-2B --input items.jsonl -o out.jsonl --threads 8

  # A PEFT adapter folder: its adapter_config.json names the base model, merged at load
  $ vlm2vec embed -m ~/ckpt/VLM2Vec-V2.0 --input items.jsonl -o out.jsonl
  # ... or the base model and the adapter given separately, with smaller images
  $ vlm2vec embed -m Qwen/Qwen2-VL-2B-Instruct --adapter ~/ckpt/VLM2Vec-V2.0 --max-pixels 401408 \\
      --input items.jsonl -o out.jsonl

Input line examples (relative image/video paths are relative to the folder of the input file):
  {"instruction": "Represent the given image.", "image": "photos/cat.jpg"}
  {"text": "A cat sitting on a mat"}
  {"instruction": "Find the video that matches.", "video": "clips/jump.mp4"}

Output: {"index": i, "embedding": [...]} per item (i counts non-blank input lines from 0). A bad
line (invalid JSON, unreadable image, ...) is written as {"index": i, "line": n, "error": "..."}
(n: its line number in the input); the others go on, and the exit code is 1.

Resuming: run the same command again (after Ctrl-C, a crash or failed items). Embedded items in
OUT are kept and skipped, failed ones retried; OUT.settings.json records the model, input and
prompt settings, and a run with other ones is refused (use another --out).
`;

/** Registers `vlm2vec embed`. */
export function registerEmbed(program: Command): void {
  const cmd = addLocalModelOptions(pointToHelp(program.command('embed'))
    .description('Embed JSONL items ({instruction?, text?, image?, video?} per line) with a local VLM2Vec / Qwen2-VL model')
    .option('-m, --model <dir|hub-id>', `model folder (config.json + safetensors or pytorch_model.bin), hub id owner/name[@rev], or PEFT adapter folder ${BUNDLED_MODEL_HELP}`)
    .requiredOption('-i, --input <file>', 'JSONL input, one item per line (relative media paths: relative to its folder)')
    .requiredOption('-o, --out <file>', 'JSONL output: {"index", "embedding"} per line (reused to resume)'))
    .option('--batch-size <n>', 'items per forward pass', positiveInt('--batch-size'), 8)
    .addOption(new Option('--prompt-style <style>', 'prompt format (default: the model\'s, from its config.json)').choices([...PROMPT_STYLES]));
  hiddenAlias(cmd, '--output <file>', 'out');
  cmd
    .addHelpText('after', EMBED_EXAMPLES)
    .action(async (o: Omit<EmbedJobOptions, 'output' | 'model'> & { model?: string; out: string; batchSize: number; promptStyle?: PromptStyle }) => {
      const err = process.stderr;
      const { out, ...rest } = modelOrBundled(o, err, 'embed');
      const ctl = new AbortController();
      let loading = true; // until the model is ready (or found not needed)
      const report = loadReporter(err);
      const onLoad = (e: LoadEvent): void => {
        loading = e.type !== 'ready';
        report(e);
      };
      // First Ctrl-C: finish the chunk in flight, write it, print the summary. Second (or one
      // while the model loads, which cannot be cut short): stop now.
      const onSigint = (): void => {
        if (loading) {
          err.write('\nvlm2vec embed: interrupted while loading the model; nothing new was written\n');
          process.exit(130);
        }
        if (ctl.signal.aborted) {
          err.write(`\nvlm2vec embed: stopped; lines already in ${out} are kept: run the same command again to resume\n`);
          process.exit(130);
        }
        err.write('\nvlm2vec embed: interrupted: writing the items in flight (Ctrl-C again to stop at once)\n');
        ctl.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        const r = await runEmbed({ ...rest, output: out, stderr: err, onLoad, signal: ctl.signal });
        if (r.interrupted) process.exitCode = 130;
        else if (r.failed > 0) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
