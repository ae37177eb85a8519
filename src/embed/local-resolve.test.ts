// LocalEmbedder.load resolves --model like the rest of the toolkit (resolveModel): an adapter
// folder given as the model loads its base + the adapter and matches base + explicit adapter (and
// the transformers+peft reference); missing folders, bad hub ids and offline hub ids fail fast
// with clear errors; pixel limits and the tokenizer folder come from the documented sources.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureRuntime } from '../tensor/index.ts';
import { compareRows, FIXTURES, goldenCase, goldenF32, TOKENIZER_DIR, type GoldenItem } from '../models/qwen2-vl/fixtures.test-helper.ts';
import type { Qwen2VLPrepared } from '../models/qwen2-vl/encoder.ts';
import { LocalEmbedder } from './local.ts';
import { resolveLocalModel } from './local-resolve.ts';
import type { EmbedItem } from './types.ts';

configureRuntime({ threads: 1 });

const work = mkdtempSync(join(tmpdir(), 'vlm2vec-resolve-'));
after(() => rmSync(work, { recursive: true, force: true }));

const abs = (it: GoldenItem): EmbedItem => ({
  text: it.text,
  ...(it.images ? { images: it.images.map((p) => join(FIXTURES, p)) } : {}),
  ...(it.video ? { video: it.video.map((p) => join(FIXTURES, p)) } : {}),
});

/** A copy of the DoRA adapter whose adapter_config.json names `base` (the fixture has null). */
function adapterCopy(name: string, base: string): string {
  const dir = join(work, name);
  cpSync(join(FIXTURES, 'tiny-a-dora'), dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  cfg.base_model_name_or_path = base;
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(cfg));
  return dir;
}

/** A copy of tiny-a, which carries the real Qwen tokenizer.json (and an optional preprocessor config). */
function modelCopy(name: string, preprocessor?: Record<string, unknown>): string {
  const dir = join(work, name);
  cpSync(join(FIXTURES, 'tiny-a'), dir, { recursive: true });
  if (preprocessor) writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(preprocessor));
  return dir;
}

function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  a.forEach((v, i) => v.forEach((x, j) => (m = Math.max(m, Math.abs(x - b[i]![j]!)))));
  return m;
}

test('an adapter folder as --model resolves to its base and equals base + --adapter (and the peft reference)', async () => {
  const c = goldenCase('dora_mixed_left');
  const items = c.items.map(abs);
  const explicit = await LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { adapter: join(FIXTURES, 'tiny-a-dora'), tokenizerDir: TOKENIZER_DIR });
  const want = await explicit.embed(items);
  // Absolute base path, and a base path relative to the adapter folder (PEFT's cwd rule fails here).
  for (const [name, base] of [['ad-abs', join(FIXTURES, 'tiny-a')], ['ad-rel', join('..', 'base-copy')]] as const) {
    if (name === 'ad-rel') cpSync(join(FIXTURES, 'tiny-a'), join(work, 'base-copy'), { recursive: true });
    const emb = await LocalEmbedder.load(adapterCopy(name, base), { tokenizerDir: TOKENIZER_DIR });
    const got = await emb.embed(items);
    assert.ok(maxAbsDiff(got, want) <= 1e-6, `${name}: adapter-as-model vs base + adapter differ by ${maxAbsDiff(got, want)}`);
    const flat = new Float32Array(got.length * emb.dim);
    got.forEach((g, i) => flat.set(g, i * emb.dim));
    const r = compareRows(flat, goldenF32(c, 'embedding'), emb.dim);
    assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `${name} vs peft: cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
    assert.match(emb.id, /adapter:/, 'the adapter is part of the cache identity');
  }
  // Without the adapter the embeddings differ: the merge really happened.
  const plain = await LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { tokenizerDir: TOKENIZER_DIR });
  assert.ok(maxAbsDiff(await plain.embed(items), want) > 1e-3);
  assert.notEqual(plain.id, explicit.id);
});

test('an adapter folder as --model plus --adapter is refused (no stacked adapters)', async () => {
  const ad = adapterCopy('ad-stack', join(FIXTURES, 'tiny-a'));
  await assert.rejects(LocalEmbedder.load(ad, { adapter: join(FIXTURES, 'tiny-a-dora'), tokenizerDir: TOKENIZER_DIR }), /already a PEFT adapter folder.*not both/);
  await assert.rejects(LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { adapter: join(FIXTURES, 'tiny-b'), tokenizerDir: TOKENIZER_DIR }), /--adapter .*tiny-b is not a PEFT adapter folder/);
});

test('missing folders, malformed hub ids and offline hub ids fail fast with clear errors', async () => {
  await assert.rejects(LocalEmbedder.load(join(work, 'nope')), /model folder .*nope does not exist/);
  await assert.rejects(LocalEmbedder.load('./also-missing'), /also-missing does not exist/);
  await assert.rejects(LocalEmbedder.load('not a hub id!'), /neither a local folder nor a hub id/);
  const cacheDir = join(work, 'hub-cache');
  let t0 = Date.now();
  await assert.rejects(LocalEmbedder.load('TIGER-Lab/VLM2Vec-Qwen2VL-2B', { resolve: { cacheDir, offline: true } }), /not in the cache .*offline mode is on/);
  assert.ok(Date.now() - t0 < 2000);
  // Online mode with a dead network (DNS failure): one "offline" error, no hang, no stack trace.
  const dead: typeof fetch = () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND huggingface.co'), { code: 'ENOTFOUND' }) }));
  t0 = Date.now();
  await assert.rejects(LocalEmbedder.load('TIGER-Lab/VLM2Vec-Qwen2VL-2B', { resolve: { cacheDir, offline: false, download: { fetch: dead } } }), /ENOTFOUND.*network looks offline/);
  assert.ok(Date.now() - t0 < 2000);
  // A mistyped relative folder has the shape of a hub id: the missing folder is said first.
  mkdirSync(join(work, 'models', 'VLM2Vec-V2.0'), { recursive: true });
  const cwd = process.cwd();
  process.chdir(work);
  try {
    await assert.rejects(LocalEmbedder.load('models/VLM2Vec-V2', { resolve: { cacheDir, offline: false, download: { fetch: dead } } }),
      new RegExp(`\\[model\\] --model models/VLM2Vec-V2: there is no local folder \\S*${join('models', 'VLM2Vec-V2')} \\(models/ holds VLM2Vec-V2\\.0\\); ` +
        'read as a hub id, it could not be fetched: cannot reach https://huggingface.co \\(ENOTFOUND\\)'));
    await assert.rejects(LocalEmbedder.load('models/foo@v1', { resolve: { cacheDir, offline: true } }),
      /\[model\] --model models\/foo@v1: there is no local folder .*models\/foo \(models\/ holds VLM2Vec-V2\.0\); read as a hub id, it could not be fetched: models\/foo@v1 is not in the cache/);
    await assert.rejects(LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { adapter: 'ckpt/lora', resolve: { cacheDir, offline: true } }),
      /\[model\] --adapter ckpt\/lora: there is no local folder .*ckpt\/lora; read as a hub id, it could not be fetched/);
  } finally {
    process.chdir(cwd);
  }
  // An adapter whose base is a hub id resolves the base the same way (offline: from the cache only).
  await assert.rejects(LocalEmbedder.load(adapterCopy('ad-hub', 'Qwen/Qwen2-VL-2B-Instruct'), { resolve: { cacheDir, offline: true } }), /Qwen\/Qwen2-VL-2B-Instruct@main is not in the cache/);
});

test('tokenizer: the model folder, then the adapter, then --tokenizer; a clear error when none has one', async () => {
  const m = modelCopy('with-tok');
  const r = await resolveLocalModel(m);
  assert.equal(r.tokenizerDir, m);
  const ad = adapterCopy('ad-tok', join(FIXTURES, 'tiny-a'));
  cpSync(join(TOKENIZER_DIR, 'tokenizer.json'), join(ad, 'tokenizer.json'));
  assert.equal((await resolveLocalModel(ad)).tokenizerDir, ad, 'adapter folder as model: its own tokenizer first');
  const bare = join(work, 'no-tok');
  cpSync(join(FIXTURES, 'tiny-a'), bare, { recursive: true, filter: (src) => !src.endsWith('tokenizer.json') });
  assert.equal((await resolveLocalModel(bare, { adapter: ad })).tokenizerDir, ad, 'base without one: the adapter');
  assert.equal((await resolveLocalModel(m, { adapter: ad })).tokenizerDir, m, 'the model folder before the adapter');
  await assert.rejects(resolveLocalModel(bare), /no tokenizer\.json in .*no-tok; pass the folder that has it with --tokenizer/);
  await assert.rejects(resolveLocalModel(m, { tokenizerDir: work }), /--tokenizer .*: no tokenizer\.json/);
});

test("pixel limits: VLM2Vec's 3,136 / 1,003,520 over preprocessor_config.json unless overridden", async () => {
  // Qwen2-VL's own file says max 12,845,056; VLM2Vec passes 1,003,520 over it (docs/vlm2vec.md §1.4).
  const m = modelCopy('qwen-pre', { min_pixels: 3136, max_pixels: 12845056, patch_size: 14, merge_size: 2, temporal_patch_size: 2, image_mean: [0.5, 0.5, 0.5] });
  const r = await resolveLocalModel(m);
  assert.equal(r.processor.minPixels, 3136);
  assert.equal(r.processor.maxPixels, 1003520);
  assert.deepEqual(r.processor.imageMean, [0.5, 0.5, 0.5], 'other settings come from the file');
  const small = await resolveLocalModel(m, { maxPixels: 3136 });
  assert.equal(small.processor.maxPixels, 3136);
  assert.notEqual(small.id, r.id, 'pixel limits change embeddings, so they change the cache identity');
  await assert.rejects(resolveLocalModel(m, { minPixels: 5000, maxPixels: 4000 }), /minPixels 5000 exceeds maxPixels 4000/);

  // a.png is 70×90: default limits → grid 4×6 (README); max 3,136 → by hand: round → 56×84 = 4,704 >
  // 3,136, β = √(70·90/3136) = 1.4174, floor(70/β/28)·28 = 28, floor(90/β/28)·28 = 56 → grid [1, 2, 4].
  const img = join(FIXTURES, 'images', 'a.png');
  const item = { text: '<|image_pad|> x', images: [img] };
  const base = await LocalEmbedder.load(m);
  assert.deepEqual(((await base.prepare(item, 0)) as Qwen2VLPrepared).imageGrids, [[1, 4, 6]]);
  const tiny = await LocalEmbedder.load(m, { maxPixels: 3136 });
  assert.deepEqual(((await tiny.prepare(item, 0)) as Qwen2VLPrepared).imageGrids, [[1, 2, 4]]);
});
