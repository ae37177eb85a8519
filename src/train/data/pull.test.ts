// `vlm2vec data pull --train` against a fake hub on loopback serving repos in their real layout:
// TIGER-Lab/MMEB-train (card, `<Subset>/original-*.parquet`, `images_zip/<Subset>.zip` holding
// `<Subset>/Train/…`) and ShareGPTVideo/train_video_and_instruction (`video_instruction/train/sft/
// *.jsonl`, `train_300k/*.tar.gz` of frame folders). The pulled folders train as they are.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { crc32 } from 'node:zlib';
import { fakeHub, walk } from '../../mmeb/data/fake-hub.test-helper.ts';
import { readDatasetConfig } from './config.ts';
import { loadTrainSources } from './load.ts';
import { planTrainPull, pullTrainData } from './pull.ts';

const FIX = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'train', 'data');
const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'vlm2vec.js');
const made: string[] = [];
const tmp = (name: string): string => {
  const d = mkdtempSync(join(tmpdir(), `train-pull-${name}-`));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A zip (STORED entries) of every file under `root`, names relative to `base`. */
function zipOf(root: string, base: string): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const rel of walk(root).sort()) {
    const data = readFileSync(join(root, rel));
    const name = Buffer.from(relative(base, join(root, rel)));
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(name.length, 28); central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(centrals.length / 2, 8); end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** The two hub repos, built from the training-data fixtures in the real layout. */
function hubRepos(): { mmeb: string; hound: string } {
  const mmeb = tmp('repo-mmeb');
  cpSync(join(FIX, 'hub', 'TIGER-Lab', 'MMEB-train'), mmeb, { recursive: true });
  mkdirSync(join(mmeb, 'images_zip'));
  for (const subset of ['ImageNet_1K', 'MSCOCO_t2i', 'CIRR']) {
    const images = join(FIX, 'basedir', 'mmeb-images', 'images');
    writeFileSync(join(mmeb, 'images_zip', `${subset}.zip`), zipOf(join(images, subset), images));
  }
  const hound = tmp('repo-hound');
  mkdirSync(join(hound, 'video_instruction', 'train', 'sft'), { recursive: true });
  mkdirSync(join(hound, 'train_300k'));
  for (const f of ['video_caption.jsonl', 'video_qa.jsonl']) cpSync(join(FIX, 'basedir', 'llava-hound', f), join(hound, 'video_instruction', 'train', 'sft', f));
  // Two archives of frame folders, as the repo splits train_300k.
  const frames = join(FIX, 'basedir', 'llava-hound', 'train_300k');
  execFileSync('tar', ['-czf', join(hound, 'train_300k', 'chunk_0.tar.gz'), '-C', frames, 'v_ten']);
  execFileSync('tar', ['-czf', join(hound, 'train_300k', 'chunk_1.tar.gz'), '-C', frames, 'v_five', 'v_none']);
  return { mmeb, hound };
}

/** A config like the V2 mix (three MMEB subsets, two LLaVA-Hound sources), paths under --data_basedir. */
function config(dir: string): string {
  const f = join(dir, 'mix.yaml');
  const mmeb = (s: string, extra = ''): string => `${s}:\n  dataset_parser: mmeb\n  dataset_name: TIGER-Lab/MMEB-train\n  subset_name: ${s}\n  dataset_split: original\n  image_dir: vlm2vec_train/MMEB-train\n  weight: 1\n${extra}`;
  const hound = (name: string, parser: string, file: string): string => `${name}:\n  dataset_parser: ${parser}\n  dataset_name: ${name}\n` +
    `  dataset_path: vlm2vec_train/train_video_and_instruction/video_instruction/train/sft/${file}\n  video_frame_basedir: vlm2vec_train/train_video_and_instruction/train_300k\n  weight: 5\n  num_frames: 8\n`;
  writeFileSync(f, mmeb('ImageNet_1K', '  num_sample_per_subset: 6\n') + mmeb('MSCOCO_t2i') + mmeb('CIRR') +
    `${hound('video_caption_300k', 'llavahound_caption', 'video_caption.jsonl')}  data_mode: caption_retrieval\n` + hound('video_qa_240k', 'llavahound_qa', 'video_qa.jsonl'));
  return f;
}

test('plan: MMEB-train subset parquet + image zips; LLaVA-Hound rooted where dataset_path says, its frame archives from video_frame_basedir', () => {
  const dir = tmp('plan');
  const plan = planTrainPull(readDatasetConfig(config(dir), { dataBasedir: '/b' }), '/d');
  assert.deepEqual(plan.repos.map((r) => [r.repo, r.dir, r.include]), [
    ['TIGER-Lab/MMEB-train', '/d/TIGER-Lab/MMEB-train', ['README.md', 'ImageNet_1K/original-*.parquet', 'MSCOCO_t2i/original-*.parquet', 'CIRR/original-*.parquet']],
    ['ShareGPTVideo/train_video_and_instruction', '/b/vlm2vec_train/train_video_and_instruction',
      ['README.md', 'video_instruction/train/sft/video_caption.jsonl', 'video_instruction/train/sft/video_qa.jsonl']],
  ]);
  assert.deepEqual(plan.archives.map((a) => [a.glob, a.kind, a.into]), [
    ['images_zip/ImageNet_1K.zip', 'zip', '/b/vlm2vec_train/MMEB-train'], ['images_zip/MSCOCO_t2i.zip', 'zip', '/b/vlm2vec_train/MMEB-train'],
    ['images_zip/CIRR.zip', 'zip', '/b/vlm2vec_train/MMEB-train'], ['train_300k/*.tar.gz', 'tar', '/b/vlm2vec_train/train_video_and_instruction/train_300k'],
  ]);
  writeFileSync(join(dir, 'bad.yaml'), 'V:\n  dataset_parser: llavahound_qa\n  dataset_path: my/qa.jsonl\n  video_frame_basedir: my/frames\n  weight: 1\n  num_frames: 8\n');
  assert.throws(() => planTrainPull(readDatasetConfig(join(dir, 'bad.yaml')), '/d'), /source 'V' of .*bad\.yaml: dataset_path my\/qa\.jsonl is not inside a copy of ShareGPTVideo\/train_video_and_instruction/);
});

test('pull --train with media: the parquet, unzipped images and untarred frames in the layout train reads, equal to the fixtures; a rerun fetches and unpacks nothing', async () => {
  const { mmeb, hound } = hubRepos();
  const hub = await fakeHub({ 'TIGER-Lab/MMEB-train': mmeb, 'ShareGPTVideo/train_video_and_instruction': hound });
  try {
    const data = tmp('data');
    const cfg = config(tmp('cfg'));
    const events: string[] = [];
    const unzipped: number[] = [];
    const r = await pullTrainData({ config: cfg, dataDir: data, extract: true, hubUrl: hub.url, onEvent: (e) => events.push(`${e.type}`), onUnzip: (_a, done) => unzipped.push(done) });
    // Only the original split, never the legacy train-* or diverse_instruction files.
    const repo = join(data, 'TIGER-Lab', 'MMEB-train');
    assert.deepEqual(walk(repo).filter((p) => p.endsWith('.parquet')).sort(), ['CIRR/original-00000-of-00001.parquet', 'ImageNet_1K/original-00000-of-00001.parquet', 'MSCOCO_t2i/original-00000-of-00001.parquet']);
    assert.deepEqual(readFileSync(join(repo, 'CIRR', 'original-00000-of-00001.parquet')), readFileSync(join(mmeb, 'CIRR', 'original-00000-of-00001.parquet')));
    // Images where the rows point: image_dir/images/<Subset>/Train/…
    const img = join(data, 'vlm2vec_train', 'MMEB-train', 'images', 'ImageNet_1K', 'Train');
    assert.deepEqual(readdirSync(img).sort(), readdirSync(join(FIX, 'basedir', 'mmeb-images', 'images', 'ImageNet_1K', 'Train')).sort());
    assert.deepEqual(readdirSync(join(data, 'vlm2vec_train', 'train_video_and_instruction', 'train_300k')).filter((f) => !f.startsWith('.')).sort(), ['chunk_0.tar.gz', 'chunk_1.tar.gz', 'v_five', 'v_none', 'v_ten']);
    assert.equal(r.extracted.length, 5);
    assert.ok(events.includes('extract') && unzipped.length > 0);
    // The pulled sources parse as the fixtures do (the same examples, images and frames checked).
    const want = await loadTrainSources(readDatasetConfig(join(FIX, 'mix.yaml'), { dataBasedir: join(FIX, 'basedir') }), { dataDir: join(FIX, 'hub'), style: 'qwen2_vl' });
    assert.deepEqual(r.parsed.slice(0, 3).map((p) => [p.name, p.examples.length, p.skipped]), want.map((p) => [p.name, p.examples.length, p.skipped]));
    const wantHound = await loadTrainSources(readDatasetConfig(join(FIX, 'llavahound.yaml'), { dataBasedir: join(FIX, 'basedir') }), { dataDir: FIX, style: 'qwen2_vl' });
    assert.deepEqual(r.parsed.slice(3).map((p) => [p.examples.length, p.skipped]), [wantHound[0]!, wantHound[2]!].map((p) => [p.examples.length, p.skipped]));
    assert.ok(r.parsed[3]!.examples[0]!.query.video!.length === 8);

    // Rerun: every file is there with its size and every archive is unpacked: no download, no tar.
    const before = hub.requests.filter((p) => p.includes('/resolve/')).length;
    const again: string[] = [];
    await pullTrainData({ config: cfg, dataDir: data, extract: true, hubUrl: hub.url, onEvent: (e) => again.push(e.type === 'file' ? `file ${e.skipped}` : e.type) });
    assert.equal(hub.requests.filter((p) => p.includes('/resolve/')).length, before);
    assert.ok(again.filter((e) => e.startsWith('file')).every((e) => e === 'file true'));
    assert.deepEqual(again.filter((e) => e === 'extract'), ['extract', 'extract', 'extract'], 'the zips are re-read (their files skipped), the tars not');
  } finally {
    hub.server.close();
  }
});

test('pull --train without media: only annotations (no zips, no archives); with a zip missing on the hub and an unreachable hub: errors naming what and where', async () => {
  const { mmeb, hound } = hubRepos();
  rmSync(join(mmeb, 'images_zip', 'CIRR.zip'));
  const hub = await fakeHub({ 'TIGER-Lab/MMEB-train': mmeb, 'ShareGPTVideo/train_video_and_instruction': hound });
  try {
    const data = tmp('data-ann');
    const cfg = config(tmp('cfg-ann'));
    const r = await pullTrainData({ config: cfg, dataDir: data, hubUrl: hub.url });
    assert.ok(!walk(data).some((p) => p.endsWith('.zip') || p.endsWith('.tar.gz')), walk(data).join(', '));
    assert.equal(r.parsed[0]!.examples.length, 4, 'annotations parse (images not checked yet)');
    await assert.rejects(pullTrainData({ config: cfg, dataDir: data, extract: true, hubUrl: hub.url }),
      /TIGER-Lab\/MMEB-train has no images_zip\/CIRR\.zip \(for source 'CIRR'\)/);
  } finally {
    hub.server.close();
  }
  const dead = createServer();
  await new Promise<void>((res) => dead.listen(0, '127.0.0.1', res));
  const port = (dead.address() as AddressInfo).port;
  await new Promise<void>((res) => dead.close(() => res()));
  await assert.rejects(pullTrainData({ config: config(tmp('cfg-off')), dataDir: tmp('data-off'), hubUrl: `http://127.0.0.1:${port}` }),
    /dataset TIGER-Lab\/MMEB-train: cannot reach .*\(ECONNREFUSED\).*vlm2vec data pull --train .*mix\.yaml/s);
  assert.ok(existsSync(FIX));
});

test('the CLI: `vlm2vec data pull --train` (dry run, then --media --extract), then `vlm2vec train` on the pulled folder for one step', async () => {
  const { mmeb, hound } = hubRepos();
  const hub = await fakeHub({ 'TIGER-Lab/MMEB-train': mmeb, 'ShareGPTVideo/train_video_and_instruction': hound });
  const run = (args: string[]): Promise<{ stdout: string; stderr: string }> => new Promise((res, rej) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) => (err ? rej(new Error(`${err.message}\n${stderr}`)) : res({ stdout, stderr })));
  });
  try {
    const data = tmp('cli');
    const cfgDir = tmp('cli-cfg');
    const cfg = config(cfgDir);
    // Only the MMEB subsets: one training step needs no video.
    writeFileSync(cfg, readFileSync(cfg, 'utf8').split('video_caption_300k:')[0]!);
    const dry = await run(['data', 'pull', '--train', cfg, '--data', data, '--dry-run']);
    assert.match(dry.stdout, /TIGER-Lab\/MMEB-train \(README\.md, ImageNet_1K\/original-\*\.parquet, MSCOCO_t2i\/original-\*\.parquet, CIRR\/original-\*\.parquet\) → .*TIGER-Lab\/MMEB-train\/ for ImageNet_1K, MSCOCO_t2i, CIRR/);
    assert.match(dry.stdout, /media TIGER-Lab\/MMEB-train: images_zip\/CIRR\.zip \(zip\) → unpacked into .*vlm2vec_train\/MMEB-train for CIRR/);
    assert.deepEqual(readdirSync(data), [], 'a dry run writes nothing');
    const r = await run(['data', 'pull', '--train', cfg, '--data', data, '--media', '--extract', '--hub-url', hub.url]);
    assert.match(r.stdout, /got {2}images_zip\/ImageNet_1K\.zip/);
    // Progress on stderr: a byte bar per repo, an entry bar per zip (their final lines).
    assert.match(r.stderr, /downloading TIGER-Lab\/MMEB-train.*100%/);
    assert.match(r.stderr, /unzipping .*images_zip\/CIRR\.zip.*100%/);
    assert.match(r.stdout, /done: \d+ file\(s\); ImageNet_1K 4 examples, MSCOCO_t2i 3 examples, CIRR 3 examples/);
    const out = join(tmp('cli-out'), 'run');
    const t = await run(['train', '--model_name', join(FIX, '..', '..', 'model', 'tiny-a'), '--lora', '--lora_r', '2', '--dataset_config', cfg, '--data_basedir', data,
      '--output_dir', out, '--per_device_train_batch_size', '2', '--max_steps', '1', '--normalize', 'True']);
    assert.match(t.stderr, /done at step 1\/1/);
    assert.ok(existsSync(join(out, 'adapter_model.safetensors')));
  } finally {
    hub.server.close();
  }
});

test('pull --train for the visdoc sources (vidore, visrag): the card and the train split only (not test-*), parsing as the fixtures', async () => {
  const hub = await fakeHub({
    'vidore/colpali_train_set': join(FIX, 'hub', 'vidore', 'colpali_train_set'),
    'openbmb/VisRAG-Ret-Train-In-domain-data': join(FIX, 'hub', 'openbmb', 'VisRAG-Ret-Train-In-domain-data'),
  });
  try {
    const data = tmp('visdoc');
    const r = await pullTrainData({ config: join(FIX, 'visdoc.yaml'), dataDir: data, extract: true, hubUrl: hub.url });
    assert.deepEqual(walk(data).filter((p) => !p.endsWith('.vlm2vec-download.json')).sort(), [
      'openbmb/VisRAG-Ret-Train-In-domain-data/README.md', 'openbmb/VisRAG-Ret-Train-In-domain-data/data/train-00000-of-00001.parquet',
      'vidore/colpali_train_set/README.md', 'vidore/colpali_train_set/data/train-00000-of-00002.parquet', 'vidore/colpali_train_set/data/train-00001-of-00002.parquet',
    ]);
    assert.deepEqual(r.plan.archives, [], 'page images live in the parquet');
    const want = await loadTrainSources(readDatasetConfig(join(FIX, 'visdoc.yaml')), { dataDir: join(FIX, 'hub'), style: 'qwen2_vl' });
    assert.deepEqual(r.parsed.map((p) => [p.name, p.numRows, p.examples.length]), want.map((p) => [p.name, p.numRows, p.examples.length]));
  } finally {
    hub.server.close();
  }
});
