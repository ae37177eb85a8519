// The V1 backbones behind the commands' shared options: the prompt style defaults to the model's
// own (config.json's architecture) instead of qwen2_vl; --num-crops reaches Phi-3-V's processor,
// is refused for other architectures and other counts, and is part of the cache identity and of
// the export manifest.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEmbedder, modelPromptStyle } from '../embed/local.ts';
import { formatInput } from '../embed/prompt.ts';
import type { Phi3VExportManifest } from '../models/phi3-v/encoder.ts';
import { configureRuntime } from '../tensor/index.ts';
import { runEmbed } from './embed.ts';
import { runExport } from './export.ts';
import { cliPromptStyle } from './embedder-cli.ts';

configureRuntime({ threads: 1 });

const MODELS = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'model');
const PHI3V = join(MODELS, 'tiny-phi3v');
const LLAVA = join(MODELS, 'tiny-llava');
const QWEN = join(MODELS, 'tiny-a');
const WIDE = join(PHI3V, 'images', 'wide.jpg');

test('the default prompt style is the model\'s own: phi3_v, llava_next, qwen2_vl; --style / URLs / unreadable specs keep theirs', async () => {
  assert.equal(await modelPromptStyle(PHI3V), 'phi3_v');
  assert.equal(await modelPromptStyle(LLAVA), 'llava_next');
  assert.equal(await modelPromptStyle(QWEN), 'qwen2_vl');
  assert.equal(await modelPromptStyle(join(MODELS, 'tiny-phi3v-dora')), 'phi3_v', 'an adapter folder: its base model\'s');
  assert.equal(await modelPromptStyle(join(MODELS, 'no-such-model')), undefined);
  assert.equal(await cliPromptStyle({ model: [PHI3V] }, undefined), 'phi3_v');
  assert.equal(await cliPromptStyle({ model: [PHI3V] }, 'qwen2_vl'), 'qwen2_vl');
  assert.equal(await cliPromptStyle({ model: ['http://localhost:8000/v1'] }, undefined), 'qwen2_vl');
});

test('embed on a Phi-3-V folder without --prompt-style formats with phi3_v (an image item gets <|image_1|>)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-backbone-'));
  try {
    await writeFile(join(dir, 'in.jsonl'), `${JSON.stringify({ instruction: 'Represent the given image.', image: WIDE })}\n`);
    const res = await runEmbed({ model: PHI3V, input: join(dir, 'in.jsonl'), output: join(dir, 'out.jsonl'), stderr: { write: () => true, isTTY: false } });
    assert.equal(res.failed, 0);
    const got = (JSON.parse((await readFile(join(dir, 'out.jsonl'), 'utf8')).trim()) as { embedding: number[] }).embedding;
    const emb = await LocalEmbedder.load(PHI3V);
    const item = formatInput({ instruction: 'Represent the given image.', images: [WIDE] }, 'phi3_v');
    assert.match(item.text, /<\|image_1\|>/);
    const [want] = await emb.embed([item]);
    await emb.close();
    assert.ok(got.every((v, i) => Math.abs(v - want![i]!) <= 1e-6), 'the phi3_v prompt');
    const settings = JSON.parse(await readFile(join(dir, 'out.jsonl.settings.json'), 'utf8')) as { promptStyle: string };
    assert.equal(settings.promptStyle, 'phi3_v');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--num-crops: Phi-3-V takes 4 or 16 (another cache identity, other embeddings for a wide image), others refuse it', async () => {
  await assert.rejects(LocalEmbedder.load(QWEN, { numCrops: 4 }), /--num-crops applies to Phi-3-V models; .*tiny-a.* is a Qwen2-VL model/);
  await assert.rejects(LocalEmbedder.load(LLAVA, { numCrops: 16 }), /--num-crops applies to Phi-3-V models; .* is a LLaVA-NeXT model/);
  await assert.rejects(LocalEmbedder.load(PHI3V, { numCrops: 9 }), /--num-crops 9: Phi-3-V takes 4 or 16 \(default 16\)/);
  const c16 = await LocalEmbedder.load(PHI3V);
  const c16b = await LocalEmbedder.load(PHI3V, { numCrops: 16 });
  const c4 = await LocalEmbedder.load(PHI3V, { numCrops: 4 });
  try {
    assert.equal(c16b.id, c16.id, 'the default count keeps the identity');
    assert.equal(c4.id, `${c16.id}+numCrops:4`);
    const item = { text: '<|image_1|>\nRepresent the given image.', images: [WIDE] };
    const [a] = await c16.embed([item]);
    const [b] = await c4.embed([item]);
    assert.ok(a!.some((v, i) => Math.abs(v - b![i]!) > 1e-3), '4 crops cut the wide image otherwise');
  } finally {
    await Promise.all([c16.close(), c16b.close(), c4.close()]);
  }
});

test('export --num-crops records the count in the Phi-3-V manifest; other architectures refuse it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-backbone-export-'));
  try {
    const m = (await runExport({ model: PHI3V, out: join(dir, 'c4'), numCrops: 4 })) as Phi3VExportManifest;
    assert.equal(m.modelType, 'phi3_v');
    assert.equal(m.numCrops, 4);
    const d = (await runExport({ model: PHI3V, out: join(dir, 'c16') })) as Phi3VExportManifest;
    assert.equal(d.numCrops, 16);
    await assert.rejects(runExport({ model: LLAVA, out: join(dir, 'llava'), numCrops: 4 }), /--num-crops applies to Phi-3-V models/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('add_bos_token as tokenizer_config.json says: Phi-3-V (every chunk) and LLaVA-NeXT start with <s> by default and without it when false', async () => {
  for (const dir of [PHI3V, LLAVA]) {
    const tmp = await mkdtemp(join(tmpdir(), 'vlm2vec-bos-'));
    try {
      const cfg = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(tmp, 'tokenizer.json'), await readFile(join(dir, 'tokenizer.json')));
      await writeFile(join(tmp, 'tokenizer_config.json'), JSON.stringify({ ...cfg, add_bos_token: false }));
      const withBos = await LocalEmbedder.load(dir);
      const noBos = await LocalEmbedder.load(dir, { tokenizerDir: tmp });
      try {
        const item = { text: 'a cat on a mat', images: [], frames: [] };
        const a = withBos.encoder.prepare(item).ids;
        const b = noBos.encoder.prepare(item).ids;
        assert.equal(a[0], 1, `${dir}: <s> first by default`);
        assert.deepEqual(b, a.slice(1), `${dir}: the same ids without <s>`);
      } finally {
        await Promise.all([withBos.close(), noBos.close()]);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
});
