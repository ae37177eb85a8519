// `vlm2vec embed` on the tiny fixture model: JSONL in → JSONL out in input order, embeddings
// equal to the transformers reference for the same prompts, bad lines reported without
// stopping the job.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureRuntime } from '../tensor/index.ts';
import { compareRows, copyAdapterWithLocalBase, FIXTURES, goldenCase, goldenF32, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { Command } from 'commander';
import { EMBED_EXAMPLES, registerEmbed, runEmbed } from './embed.ts';

configureRuntime({ threads: 1 });

test('embed: good lines match the reference, bad lines become error lines, order is kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-embed-'));
  try {
    const lines = [
      JSON.stringify({ text: 'Find a document image that matches the given query: what was the revenue in 2023?' }),
      '{not json',
      JSON.stringify({ instruction: 'Represent the given image for classification\n', image: join(FIXTURES, 'images', 'b.png') }),
      JSON.stringify({ instruction: 'x', image: join(dir, 'nope.png') }),
      JSON.stringify({ instruction: 'Understand the content of the provided video.', video: join(FIXTURES, 'video') }),
      JSON.stringify({ text: 'a', colour: 'red' }),
      JSON.stringify({}),
    ];
    await writeFile(join(dir, 'in.jsonl'), `${lines.join('\n')}\n`);
    const log: string[] = [];
    const res = await runEmbed({
      model: join(FIXTURES, 'tiny-a'), tokenizer: TOKENIZER_DIR, input: join(dir, 'in.jsonl'), output: join(dir, 'out.jsonl'),
      batchSize: 2, stderr: { write: (s: string) => log.push(s), isTTY: false },
    });
    assert.deepEqual(res, { total: 7, failed: 4 });
    const out = (await readFile(join(dir, 'out.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { index: number; embedding?: number[]; error?: string });
    assert.deepEqual(out.map((o) => o.index), [0, 1, 2, 3, 4, 5, 6]);
    const expect = (i: number, name: string): void => {
      const e = out[i]!.embedding;
      assert.ok(e, `line ${i} has no embedding: ${out[i]!.error}`);
      const r = compareRows(Float32Array.from(e), goldenF32(goldenCase(name), 'embedding'), e.length);
      assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `${name}: cos ${r.minCos} max ${r.maxAbs}`);
    };
    expect(0, 'a_text');
    expect(2, 'a_image');
    expect(4, 'a_video');
    assert.match(out[1]!.error!, /not valid JSON/);
    assert.match(out[3]!.error!, /cannot read image file .*nope\.png/);
    assert.match(out[5]!.error!, /colour/);
    assert.match(out[6]!.error!, /empty item/);
    const text = log.join('');
    assert.match(text, /line 2: .*not valid JSON/);
    assert.match(text, /4 of 7 item\(s\) failed/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('embed --model <adapter folder> equals --model base --adapter (and the peft reference); CLI help has examples', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-embed-ad-'));
  try {
    const ad = join(dir, 'adapter');
    await copyAdapterWithLocalBase(ad);
    // dora_image's prompt and image, as an input line.
    const c = goldenCase('dora_image');
    const it = c.items[0]!;
    const instruction = it.text.replace('<|image_pad|>', '').replace(/^\s*/, '');
    assert.ok(it.text.startsWith('<|image_pad|>') && it.images?.length === 1, 'dora_image is one image + text');
    await writeFile(join(dir, 'in.jsonl'), `${JSON.stringify({ instruction, image: join(FIXTURES, it.images![0]!) })}\n`);
    const quiet = { write: () => true, isTTY: false };
    const read = async (f: string) => (JSON.parse((await readFile(join(dir, f), 'utf8')).trim()) as { embedding: number[] }).embedding;
    await runEmbed({ model: ad, tokenizer: TOKENIZER_DIR, input: join(dir, 'in.jsonl'), output: join(dir, 'a.jsonl'), stderr: quiet });
    await runEmbed({ model: join(FIXTURES, 'tiny-a'), adapter: join(FIXTURES, 'tiny-a-dora'), tokenizer: TOKENIZER_DIR, input: join(dir, 'in.jsonl'), output: join(dir, 'b.jsonl'), stderr: quiet });
    const a = await read('a.jsonl');
    assert.deepEqual(a, await read('b.jsonl'));
    const r = compareRows(Float32Array.from(a), goldenF32(c, 'embedding').subarray(0, a.length), a.length);
    assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `dora_image: cos ${r.minCos} max ${r.maxAbs}`);

    const program = new Command().exitOverride();
    registerEmbed(program);
    const help = program.commands.find((x) => x.name() === 'embed')!.helpInformation() + EMBED_EXAMPLES;
    assert.match(help, /--model <dir\|hub-id>/);
    assert.match(help, /\$ vlm2vec embed --model TIGER-Lab\/VLM2Vec-Qwen2VL-2B/);
    assert.match(help, /--max-pixels <n>/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
