import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadImageRGB } from '../../io/media/image.ts';
import { prepareV1Images, v1TargetSize } from './images.ts';
import { premultiply, resizeNearest, unpremultiply } from './pillow-resize.ts';

const FIX = fileURLToPath(new URL('../../../test/fixtures/mmeb/v1/', import.meta.url));
interface ResizeCase {
  file: string; mode: string; size: [number, number]; resolution: string; out_size: [number, number]; sha256: string; rgba_sha256?: string;
}
const cases = (JSON.parse(readFileSync(`${FIX}expected.json`, 'utf8')) as { resize: ResizeCase[] }).resize;

let work: string;
before(() => { work = mkdtempSync(join(tmpdir(), 'v2v-v1img-')); });
after(() => rmSync(work, { recursive: true, force: true }));

test('resolution rule of docs/mmeb.md §11: high/mid/low always square, other caps at 1344, none untouched', () => {
  assert.deepEqual(v1TargetSize(300, 200, 'high'), [1344, 1344]);
  assert.deepEqual(v1TargetSize(20, 30, 'high'), [1344, 1344]); // upscaled too
  assert.deepEqual(v1TargetSize(300, 200, 'mid'), [672, 672]);
  assert.deepEqual(v1TargetSize(3000, 2000, 'low'), [128, 128]);
  assert.deepEqual(v1TargetSize(1345, 10, 'other'), [1344, 1344]);
  assert.deepEqual(v1TargetSize(10, 1345, 'xyz'), [1344, 1344]);
  assert.equal(v1TargetSize(1344, 1344, 'other'), undefined); // not larger than the cap
  assert.equal(v1TargetSize(5000, 5000, undefined), undefined);
  assert.equal(v1TargetSize(5000, 5000, ''), undefined); // Python: `if image_resolution:` is false
});

test('resized pixels equal Pillow\'s default-filter resize in every mode: RGB/JPEG bicubic, P nearest, RGBA/LA premultiplied (golden sha256 from Pillow)', async () => {
  assert.equal(cases.length, 12);
  assert.deepEqual([...new Set(cases.map((c) => c.mode))].sort(), ['LA', 'P', 'RGB', 'RGBA']);
  for (const c of cases) {
    const src = join(FIX, 'images', c.file);
    const p = await prepareV1Images([{ path: src, origin: 'test' }], { resolution: c.resolution, workDir: join(work, 'prep') });
    const file = p.files.get(src)!;
    const img = await loadImageRGB(file);
    assert.deepEqual([img.width, img.height], c.out_size, `${c.file} ${c.resolution}: size`);
    const sha = createHash('sha256').update(img.data).digest('hex');
    assert.equal(sha, c.sha256, `${c.file} ${c.resolution} (mode ${c.mode}): pixels differ from Pillow`);
    if (c.rgba_sha256) {
      // The alpha channel survives into the file the embedder gets, premultiplied-resized as Pillow does.
      const raw = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      assert.equal(raw.info.channels, 4, `${c.file}: alpha kept`);
      assert.equal(createHash('sha256').update(raw.data).digest('hex'), c.rgba_sha256, `${c.file} ${c.resolution}: RGBA differs from Pillow`);
    }
    const unchanged = c.out_size[0] === c.size[0] && c.out_size[1] === c.size[1];
    assert.equal(file === src, unchanged, `${c.file} ${c.resolution}: an unchanged image is embedded from its own file`);
    assert.deepEqual(p.approximate, []);
  }
});

test('resized copies are reused by a later run; no resolution leaves every path as is', async () => {
  const src = join(FIX, 'images', 'MSCOCO_t2i', 'a.png');
  const dir = join(work, 'reuse');
  const first = await prepareV1Images([{ path: src, origin: 'r' }, { path: src, origin: 'r2' }], { resolution: 'low', workDir: dir });
  assert.equal(first.resized, 1);
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.png')).length, 1);
  const again = await prepareV1Images([{ path: src, origin: 'r' }], { resolution: 'low', workDir: dir });
  assert.equal(again.resized, 0);
  assert.equal(again.files.get(src), first.files.get(src));
  const none = await prepareV1Images([{ path: src, origin: 'r' }], { resolution: undefined, workDir: join(work, 'none') });
  assert.equal(none.files.get(src), src);
});

test('a missing image is an error naming where it was referenced', async () => {
  await assert.rejects(
    prepareV1Images([{ path: '/nonexistent/x.jpg', origin: "field 'qry_img_path' of f.parquet row 3" }], { resolution: undefined, workDir: work }),
    /\[mmeb-v1\] image \/nonexistent\/x\.jpg \(field 'qry_img_path' of f\.parquet row 3\) not found.*--image-dir/,
  );
});

test('nearest sampling and premultiplication by hand', () => {
  // s = 4/2: source columns trunc(1) = 1 and trunc(3) = 3.
  assert.deepEqual([...resizeNearest(Uint8Array.of(1, 2, 3, 4), 4, 1, 1, 2, 1)], [2, 4]);
  // s = 2/5 = 0.4: o = 0.2, 0.6, 1.0, 1.4, 1.8 → columns 0, 0, 1, 1, 1.
  assert.deepEqual([...resizeNearest(Uint8Array.of(10, 20), 2, 1, 1, 5, 1)], [10, 10, 20, 20, 20]);
  // MULDIV255(200, 128) = (25728 + (25728 >> 8)) >> 8 = 100; back: trunc(255·100/128) = 199.
  const px = Uint8Array.of(200, 255, 0, 128, 7, 9, 11, 0, 1, 2, 3, 255);
  premultiply(px);
  assert.deepEqual([...px], [100, 128, 0, 128, 0, 0, 0, 0, 1, 2, 3, 255]);
  unpremultiply(px);
  assert.deepEqual([...px], [199, 255, 0, 128, 0, 0, 0, 0, 1, 2, 3, 255]);
});
