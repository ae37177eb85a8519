// Qwen2-VL forward vs transformers 5.18 (tools/reference/model_qwen2vl.py): the exact reference
// batches (real Qwen tokenizer ids, Pillow-processed patches, grids) through our jitted graphs.
// Tolerances are the issue's: cosine ≥ 0.99999 and max |Δ| ≤ 1e-4 (observed ≈ 1e-6).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAdapter } from '../../io/weights/peft.ts';
import { SafetensorsFile } from '../../io/weights/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../io/weights/safetensors-write.ts';
import { configureRuntime } from '../../tensor/index.ts';
import { compareRows, FIXTURES, goldenBatch, goldenCase, goldenF32 } from './fixtures.test-helper.ts';
import { Qwen2VLModel } from './model.ts';

configureRuntime({ threads: 1 });

async function expectMatches(model: Qwen2VLModel, name: string, withPositions = true): Promise<void> {
  const c = goldenCase(name);
  const out = await model.encode(goldenBatch(c, withPositions));
  const h = compareRows(out.hidden, goldenF32(c, 'last_hidden'), out.dim);
  const e = compareRows(out.embeddings, goldenF32(c, 'embedding'), out.dim);
  assert.ok(h.minCos >= 0.99999 && h.maxAbs <= 1e-4, `${name} hidden: cos ${h.minCos}, max|Δ| ${h.maxAbs}`);
  assert.ok(e.minCos >= 0.99999 && e.maxAbs <= 1e-4, `${name} embedding: cos ${e.minCos}, max|Δ| ${e.maxAbs}`);
}

const modelA = Qwen2VLModel.load(join(FIXTURES, 'tiny-a'));

test('tiny-a (4 heads / 2 KV, nested 5.x config, bf16): text, image, video, 3 images', async () => {
  const m = await modelA;
  assert.equal(m.config.layout, 'nested');
  for (const name of ['a_text', 'a_image', 'a_video', 'a_multi3']) await expectMatches(m, name);
});

test('mixed batch of text, image, video and multi-image rows, left and right padded', async () => {
  const m = await modelA;
  await expectMatches(m, 'a_mixed_left');
  await expectMatches(m, 'a_mixed_right');
  // Without explicit positions the model derives the same VLM2Vec 1-D positions itself.
  await expectMatches(m, 'a_mixed_left', false);
  await expectMatches(m, 'a_mixed_right', false);
  // One session per graph (text-only and vision) despite several shapes.
  assert.ok(m.sessionCount <= 2, `sessions ${m.sessionCount}`);
});

test('GME-style prompts (<|vision_start|>): M-RoPE positions derived by ropeIndex match', async () => {
  const m = await modelA;
  await expectMatches(m, 'a_gme');
  await expectMatches(m, 'a_gme', false);
});

test('tiny-b (4 heads / 1 KV head, vision 3 heads): mixed batch', async () => {
  const m = await Qwen2VLModel.load(join(FIXTURES, 'tiny-b'));
  await expectMatches(m, 'b_mixed_left');
});

test('PEFT DoRA adapter merged at load matches the merge_and_unload() reference', async () => {
  const m = await Qwen2VLModel.load(join(FIXTURES, 'tiny-a'), { adapter: await loadAdapter(join(FIXTURES, 'tiny-a-dora')) });
  await expectMatches(m, 'dora_mixed_left');
  await expectMatches(m, 'dora_image');
  // The adapter changes the output: the base model's embedding of the same batch differs.
  const base = await (await modelA).encode(goldenBatch(goldenCase('dora_image')));
  const e = compareRows(base.embeddings, goldenF32(goldenCase('dora_image'), 'embedding'), base.dim);
  assert.ok(e.maxAbs > 1e-2, `base vs DoRA embeddings differ only by ${e.maxAbs}`);
});

test('flat 4.x config.json beside the same weights loads the same model', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qwen2vl-flat-'));
  try {
    await cp(join(FIXTURES, 'tiny-a', 'config.flat.json'), join(dir, 'config.json'));
    await symlink(join(FIXTURES, 'tiny-a', 'model.safetensors'), join(dir, 'model.safetensors'));
    const m = await Qwen2VLModel.load(dir);
    assert.equal(m.config.layout, 'flat');
    await expectMatches(m, 'a_mixed_left');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('transformers-5 module names (model.visual.*, model.language_model.*) map to the checkpoint layout', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qwen2vl-names-'));
  try {
    const src = await SafetensorsFile.open(join(FIXTURES, 'tiny-a', 'model.safetensors'));
    const renamed = new Map<string, TensorToWrite>();
    for (const name of src.names()) {
      const t = await src.read(name);
      const n = name.startsWith('visual.') ? `model.${name}` : name.replace(/^model\./, 'model.language_model.');
      renamed.set(n, { dtype: t.dtype, shape: t.shape, data: t.data });
    }
    await src.close();
    assert.ok(renamed.has('model.language_model.layers.0.mlp.up_proj.weight') && renamed.has('model.visual.merger.ln_q.weight'));
    await writeSafetensors(join(dir, 'model.safetensors'), renamed, { format: 'pt' });
    await cp(join(FIXTURES, 'tiny-a', 'config.json'), join(dir, 'config.json'));
    await expectMatches(await Qwen2VLModel.load(dir), 'a_mixed_left');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a checkpoint with a mis-shaped or missing tensor is rejected naming the tensor', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qwen2vl-bad-'));
  try {
    const cfg = JSON.parse(await readFile(join(FIXTURES, 'tiny-a', 'config.flat.json'), 'utf8')) as Record<string, unknown>;
    cfg.intermediate_size = 64;
    await writeFile(join(dir, 'config.json'), JSON.stringify(cfg));
    await symlink(join(FIXTURES, 'tiny-a', 'model.safetensors'), join(dir, 'model.safetensors'));
    await assert.rejects(Qwen2VLModel.load(dir), /model\.layers\.0\.mlp\.gate_proj\.weight has shape \[48, 24\], expected \[64, 24\]/);
    cfg.intermediate_size = 48;
    cfg.num_hidden_layers = 3;
    await writeFile(join(dir, 'config.json'), JSON.stringify(cfg));
    await assert.rejects(Qwen2VLModel.load(dir), /missing from the checkpoint, e\.g\. model\.layers\.2\./);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('batch inconsistencies are rejected naming what disagrees', async () => {
  const m = await modelA;
  const b = goldenBatch(goldenCase('a_multi3'));
  await assert.rejects(m.encode({ ...b, imageGrids: b.imageGrids!.slice(0, 2) }), /pixel_values has 120 patch rows but its grids need 104/);
  // Same patch count, different split: the placeholder runs no longer match the features.
  await assert.rejects(m.encode({ ...b, imageGrids: [[1, 4, 6], [1, 8, 10], [1, 4, 4]], inputIds: b.inputIds.map((x) => (x === 151655n ? 151643n : x)) }), /0 image placeholder tokens but its image grids give 30 features/);
  // Per-row media counts must cover the rows and add up to the grids.
  const mixed = goldenBatch(goldenCase('a_text_pad_mixed'));
  await assert.rejects(m.encode({ ...mixed, imagesPerRow: [0, 1, 0], videosPerRow: [0, 0, 1, 0] }), /imagesPerRow \[0, 1, 0\] must give a count ≥ 0 for each of the 4 rows, adding up to the 1 grid/);
  await assert.rejects(m.encode({ ...mixed, imagesPerRow: [1, 1, 0, 0], videosPerRow: [0, 0, 1, 0] }), /adding up to the 1 grid/);
});

test('a literal <|image_pad|> in a row without images is an ordinary token (VLM2Vec, WebQA queries)', async () => {
  const m = await modelA;
  // Alone: no grids at all, the token (id 151655) is embedded from the table like any other.
  const alone = goldenBatch(goldenCase('a_text_pad'));
  assert.equal(alone.inputIds.filter((x) => x === 151655n).length, 1, 'the golden prompt keeps one <|image_pad|>');
  await expectMatches(m, 'a_text_pad');
  // Batched with an image row and a video row: only their placeholders take vision features
  // (VLM2Vec's per-row split forward), with positions given and derived.
  const c = goldenCase('a_text_pad_mixed');
  const perRow = { imagesPerRow: [0, 1, 0, 0], videosPerRow: [0, 0, 1, 0] };
  for (const withPositions of [true, false]) {
    const out = await m.encode({ ...goldenBatch(c, withPositions), ...perRow });
    const e = compareRows(out.embeddings, goldenF32(c, 'embedding'), out.dim);
    const h = compareRows(out.hidden, goldenF32(c, 'last_hidden'), out.dim);
    assert.ok(e.minCos >= 0.99999 && e.maxAbs <= 1e-4 && h.minCos >= 0.99999 && h.maxAbs <= 1e-4, `mixed: cos ${e.minCos}, max|Δ| ${e.maxAbs}`);
  }
  // Without the per-row counts every placeholder of the batch is a media token, as in
  // transformers' own forward, which rejects this batch the same way.
  await assert.rejects(m.encode(goldenBatch(c)), /the batch has 7 image placeholder tokens but its image grids give 6 features/);
});
