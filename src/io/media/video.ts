// Videos as VLM2Vec's evaluation reads them (docs/mmeb.md §4): frames are pre-extracted JPEGs in a
// folder; when only a video file exists, frames are extracted with ffmpeg by the reference's rule
// (all frames when total ≤ 64, else indices floor(i·total/64), written as frame_%04d.jpg, 1-based)
// using the same ffmpeg command line, so the JPEG files match when the ffmpeg build matches.
// The reference counts frames with ffprobe's nb_read_frames; npm's static build ships no ffprobe,
// so we count decoded frames with ffmpeg itself (`-f null`, passthrough sync), which is the same
// number.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { Vlm2VecError } from '../../errors.ts';
import { isFrameFile, listFrames, sampleFrameIndices } from './frames.ts';
import { loadImageRGB } from './image.ts';
import type { RgbImage } from './image-types.ts';

let cachedFfmpeg: string | undefined;

/**
 * The ffmpeg binary to run: `$VLM2VEC_FFMPEG`, else `ffmpeg` on PATH, else the static binary of
 * the npm package @ffmpeg-installer/ffmpeg (so `npm ci` alone is enough).
 *
 * @example
 * console.log(ffmpegPath()); // '/usr/bin/ffmpeg'
 */
export function ffmpegPath(): string {
  if (cachedFfmpeg) return cachedFfmpeg;
  const env = process.env['VLM2VEC_FFMPEG'];
  if (env) return (cachedFfmpeg = env);
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'ffmpeg'))) return (cachedFfmpeg = join(dir, 'ffmpeg'));
  }
  try {
    const req = createRequire(import.meta.url);
    const pkg = req('@ffmpeg-installer/ffmpeg') as { path: string };
    return (cachedFfmpeg = pkg.path);
  } catch (err) {
    throw new Vlm2VecError('video', 'no ffmpeg found: install ffmpeg, set VLM2VEC_FFMPEG, or install @ffmpeg-installer/ffmpeg', { cause: err });
  }
}

function run(args: string[], what: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new Vlm2VecError('video', `${what}: cannot run ffmpeg: ${err.message}`, { cause: err })));
    child.on('close', (code) => {
      if (code === 0) resolveRun({ stdout, stderr });
      else reject(new Vlm2VecError('video', `${what}: ffmpeg exited with code ${code}: ${stderr.trim().slice(-500)}`));
    });
  });
}

/**
 * Number of decoded frames of the first video stream (ffprobe's `nb_read_frames`).
 *
 * @example
 * await countVideoFrames('clip.mp4') // → 70
 */
export async function countVideoFrames(file: string): Promise<number> {
  if (!existsSync(file)) throw new Vlm2VecError('video', `video file '${file}' does not exist`);
  const { stdout } = await run(
    ['-v', 'error', '-nostats', '-i', file, '-map', '0:v:0', '-vsync', '0', '-f', 'null', '-', '-progress', 'pipe:1'],
    `counting frames of '${file}'`,
  );
  const frames = stdout.split('\n').filter((l) => l.startsWith('frame=')).map((l) => Number(l.slice(6)));
  const n = frames[frames.length - 1];
  if (n === undefined || !Number.isInteger(n)) throw new Vlm2VecError('video', `could not count frames of '${file}'`);
  return n;
}

/** The frame indices the reference saves: all when total ≤ max, else floor(i·total/max). */
export function savedFrameIndices(total: number, maxFramesSaved = 64): number[] {
  if (total <= maxFramesSaved) return Array.from({ length: total }, (_, i) => i);
  const step = total / maxFramesSaved;
  return Array.from({ length: maxFramesSaved }, (_, i) => Math.floor(i * step));
}

/**
 * Extracts frames like VLM2Vec's `save_frames`: skipped when `outDir` already holds frames,
 * otherwise ≤ `maxFramesSaved` frames written as `frame_%04d.jpg`. Returns the sorted frame paths.
 *
 * @example
 * const frames = await extractVideoFrames('clip.mp4', 'cache/clip');
 */
export async function extractVideoFrames(file: string, outDir: string, opts: { maxFramesSaved?: number } = {}): Promise<string[]> {
  if (existsSync(outDir) && readdirSync(outDir).some(isFrameFile)) return listFrames(outDir);
  const total = await countVideoFrames(file);
  if (total === 0) throw new Vlm2VecError('video', `video '${file}' has no decodable frames`);
  await mkdir(outDir, { recursive: true });
  const select = savedFrameIndices(total, opts.maxFramesSaved ?? 64).map((i) => `eq(n\\,${i})`).join('+');
  await run(['-v', 'error', '-i', file, '-vf', `select='${select}'`, '-vsync', 'vfr', join(outDir, 'frame_%04d.jpg')], `extracting frames of '${file}'`);
  const written = (await readdir(outDir)).filter(isFrameFile);
  if (written.length === 0) throw new Vlm2VecError('video', `ffmpeg wrote no frames for '${file}' into '${outDir}'`);
  return listFrames(outDir);
}

/**
 * The frames the reference feeds to the processor for one video: a frame folder's files in
 * natural order, sampled to `numFrames` (default 8) with the linspace rule, decoded to RGB.
 *
 * @example
 * const frames = await loadVideoFrames('frames/video7020'); // 8 RgbImages
 * const { pixelValues, gridThw } = processVideo(frames);
 */
export async function loadVideoFrames(frameDir: string, opts: { numFrames?: number } = {}): Promise<RgbImage[]> {
  const files = await listFrames(frameDir);
  if (files.length === 0) throw new Vlm2VecError('video', `frame folder '${frameDir}' has no .jpg/.jpeg/.png frames`);
  const picked = sampleFrameIndices(files.length, opts.numFrames ?? 8).map((i) => files[i]!);
  return Promise.all(picked.map((f) => loadImageRGB(f)));
}
