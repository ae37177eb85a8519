// pullV1Data against a loopback hub serving the V1 fixture repo plus a zipfile-made images.zip.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeHub, walk } from '../data/fake-hub.test-helper.ts';
import { loadV1Subset } from './load.ts';
import { pullV1Data, v1Include } from './pull.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures');

test('pull-v1: the chosen subsets and images.zip land in DATA/TIGER-Lab/MMEB-eval, the images unpacked beside', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'vlm2vec-v1repo-'));
  cpSync(join(FIXTURES, 'mmeb/v1/TIGER-Lab/MMEB-eval'), repo, { recursive: true });
  cpSync(join(FIXTURES, 'io/zip/images.zip'), join(repo, 'images.zip'));
  const hub = await fakeHub({ 'TIGER-Lab/MMEB-eval': repo });
  try {
    const data = mkdtempSync(join(tmpdir(), 'vlm2vec-v1data-'));
    const unzipped: number[] = [];
    const r = await pullV1Data({ dataDir: data, subsets: ['ImageNet-1K', 'WebQA'], extract: true, hubUrl: hub.url, onUnzip: (d) => unzipped.push(d) });
    assert.equal(r.repoDir, join(data, 'TIGER-Lab/MMEB-eval'));
    // (.vlm2vec-download.json is the downloader's own record of what it fetched.)
    assert.deepEqual(walk(r.repoDir).sort(), ['.vlm2vec-download.json', 'ImageNet-1K/test-00000-of-00001.parquet', 'README.md', 'WebQA/test-00000-of-00001.parquet', 'images.zip']);
    assert.equal(r.files, 4);
    // Every file of images.zip sits under eval_images/: that folder is what eval-v1's --image-dir wants.
    assert.equal(r.imageDir, join(data, 'MMEB-eval-images', 'eval_images'));
    assert.deepEqual(unzipped, [1, 2, 3, 4, 5, 6]);
    const subset = await loadV1Subset(data, 'ImageNet-1K');
    const paths = [...subset.queries, ...subset.targets].map((p) => p.imgPath).filter((p) => p !== '');
    assert.ok(paths.length > 0);
    for (const p of paths) assert.ok(existsSync(join(r.imageDir!, p)), `${p} under ${r.imageDir}`);
    // A rerun downloads nothing again.
    const before = hub.requests.filter((u) => u.includes('/resolve/')).length;
    await pullV1Data({ dataDir: data, subsets: ['ImageNet-1K', 'WebQA'], extract: true, hubUrl: hub.url });
    assert.equal(hub.requests.filter((u) => u.includes('/resolve/')).length, before);
  } finally {
    hub.server.close();
  }
});

test('pull-v1: without --images only the annotation files are fetched', () => {
  assert.deepEqual(v1Include(['MSCOCO_t2i'], false), ['README.md', 'MSCOCO_t2i/**/*.parquet']);
  assert.deepEqual(v1Include(['MSCOCO_t2i'], true), ['README.md', 'MSCOCO_t2i/**/*.parquet', 'images.zip']);
});

test('pull-v1: an unreachable hub fails fast, saying how to prepare the folder by hand', async () => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r())); // nothing listens there any more
  const t0 = Date.now();
  await assert.rejects(
    pullV1Data({ dataDir: mkdtempSync(join(tmpdir(), 'vlm2vec-v1off-')), subsets: ['WebQA'], hubUrl: `http://127.0.0.1:${port}`, apiTimeoutMs: 2000 }),
    /dataset TIGER-Lab\/MMEB-eval: cannot reach http:\/\/127\.0\.0\.1:\d+ .*copy them to <DATA>\/<org>\/<repo>\/ and run `vlm2vec eval-v1`/,
  );
  assert.ok(Date.now() - t0 < 10_000);
});
