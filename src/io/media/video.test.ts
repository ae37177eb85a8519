import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { processVideo } from '../../models/qwen2-vl/processor.ts';
import { listFrames } from './frames.ts';
import { loadImageRGB } from './image.ts';
import { countVideoFrames, extractVideoFrames, loadVideoFrames, savedFrameIndices } from './video.ts';

// The goldens were extracted with the static ffmpeg of @ffmpeg-installer/ffmpeg; a system ffmpeg of
// another version may encode the JPEG frames differently, so the test pins the same binary.
process.env['VLM2VEC_FFMPEG'] = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;

const dir = new URL('../../../test/fixtures/io/video/', import.meta.url);
interface Golden { frames: string[]; grid_thw: number[]; n_patches: number; rows: number[]; pixel_values_sha256: string }
const index = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8')) as {
  folder: Golden & { listed: string[] };
  odd: Golden;
  file: Golden & { total_frames: number; saved_indices: number[]; extracted_sha256: Record<string, string>; decoded_sha256: Record<string, string> };
};

function sha(a: Uint8Array | Float32Array): string {
  return createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
}

function checkAgainst(name: string, g: Golden, pv: Float32Array, grid: number[]): void {
  assert.deepEqual(grid, g.grid_thw, `${name} grid`);
  assert.equal(pv.length, g.n_patches * 1176);
  const b = readFileSync(new URL(`${name}.rows.f32`, dir));
  const rows = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  g.rows.forEach((r, k) => {
    for (let j = 0; j < 1176; j++) {
      if (Math.abs(pv[r * 1176 + j]! - rows[k * 1176 + j]!) > 1e-6) assert.fail(`${name} row ${r} col ${j}`);
    }
  });
  const c = readFileSync(new URL(`${name}.colsum.f64`, dir));
  const colsum = new Float64Array(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength));
  for (let j = 0; j < 1176; j++) {
    let s = 0;
    for (let r = 0; r < g.n_patches; r++) s += pv[r * 1176 + j]!;
    assert.ok(Math.abs(s - colsum[j]!) <= 1e-6 * g.n_patches, `${name} column ${j}`);
  }
  assert.equal(sha(pv), g.pixel_values_sha256, `${name}: pixel_values_videos not bit-identical`);
}

test('frame folder: natural order, 8-frame sampling, pixel_values_videos as the reference', async () => {
  const folder = new URL('frames', dir).pathname;
  const listed = (await listFrames(folder)).map((p) => basename(p));
  assert.deepEqual(listed, index.folder.listed);
  const frames = await loadVideoFrames(folder);
  assert.equal(frames.length, 8);
  // frame img_6 is 150×110 while frame 1 is 160×120: all go to frame 1's target 168×112.
  const out = processVideo(frames);
  assert.equal(out.gridThw.length, 1);
  checkAgainst('folder', index.folder, out.pixelValues, out.gridThw[0]!);
});

test('odd frame count repeats the last frame (3 frames → grid_t 2)', async () => {
  const frames = await Promise.all(index.odd.frames.map((f) => loadImageRGB(new URL(f, dir).pathname)));
  const out = processVideo(frames);
  checkAgainst('odd', index.odd, out.pixelValues, out.gridThw[0]!);
});

test('video file: ffmpeg frame count, ≤64 frames by floor(i·total/64), same JPEGs and values', async () => {
  const mp4 = new URL('pan.mp4', dir).pathname;
  assert.equal(await countVideoFrames(mp4), index.file.total_frames);
  assert.deepEqual(savedFrameIndices(index.file.total_frames), index.file.saved_indices);
  assert.deepEqual(savedFrameIndices(5), [0, 1, 2, 3, 4]);
  const out = await mkdtemp(join(tmpdir(), 'vlm2vec-frames-'));
  try {
    const files = await extractVideoFrames(mp4, out);
    assert.equal(files.length, index.file.saved_indices.length);
    assert.equal(basename(files[0]!), 'frame_0001.jpg');
    for (const [name, want] of Object.entries(index.file.extracted_sha256)) {
      assert.equal(sha(await readFile(join(out, name))), want, `${name} differs from the reference extraction`);
    }
    const frames = await loadVideoFrames(out);
    for (const [k, f] of index.file.frames.entries()) {
      assert.equal(sha(frames[k]!.data), index.file.decoded_sha256[basename(f)], `${f} decoded`);
    }
    const v = processVideo(frames);
    checkAgainst('file', index.file, v.pixelValues, v.gridThw[0]!);
    // A second call finds the frames already there and does not run ffmpeg again.
    const again = await extractVideoFrames('/nonexistent.mp4', out);
    assert.equal(again.length, files.length);
    assert.equal((await readdir(out)).length, files.length);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  await assert.rejects(countVideoFrames('/nonexistent.mp4'), /\[video\] video file '\/nonexistent.mp4' does not exist/);
  await assert.rejects(loadVideoFrames(new URL('.', dir).pathname + 'nope'), /\[frames\] cannot read frame directory/);
});
