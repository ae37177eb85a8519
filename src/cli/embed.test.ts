// `vlm2vec embed` on the tiny fixture model: JSONL in → JSONL out in input order, embeddings
// equal to the transformers reference for the same prompts, bad lines reported without
// stopping the job; outputs checked before the model loads; reruns resume.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureRuntime } from '../tensor/index.ts';
import { compareRows, copyAdapterWithLocalBase, FIXTURES, goldenCase, goldenF32, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { Command } from 'commander';
import { EMBED_EXAMPLES, registerEmbed, runEmbed, type EmbedJobOptions } from './embed.ts';
import { LocalEmbedder, type LoadEvent } from '../embed/local.ts';

configureRuntime({ threads: 1 });

test('embed: good lines match the reference, bad lines become error lines, order is kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-embed-'));
  try {
    // The image is named relative to the JSONL file's folder (the tests run from the repo root).
    await mkdir(join(dir, 'photos'));
    await copyFile(join(FIXTURES, 'images', 'b.png'), join(dir, 'photos', 'b.png'));
    const lines = [
      JSON.stringify({ text: 'Find a document image that matches the given query: what was the revenue in 2023?' }),
      '{not json',
      JSON.stringify({ instruction: 'Represent the given image for classification\n', image: 'photos/b.png' }),
      JSON.stringify({ instruction: 'x', image: join(dir, 'nope.png') }),
      JSON.stringify({ instruction: 'Understand the content of the provided video.', video: join(FIXTURES, 'video') }),
      JSON.stringify({ text: 'a', colour: 'red' }),
      JSON.stringify({}),
    ];
    // Blank lines are skipped but counted: '{not json' is physical line 3.
    await writeFile(join(dir, 'in.jsonl'), `${lines[0]}\n\n${lines.slice(1).join('\n')}\n`);
    const log: string[] = [];
    const res = await runEmbed({
      model: join(FIXTURES, 'tiny-a'), tokenizer: TOKENIZER_DIR, input: join(dir, 'in.jsonl'), output: join(dir, 'out.jsonl'),
      batchSize: 2, stderr: { write: (s: string) => log.push(s), isTTY: false },
    });
    assert.deepEqual({ ...res, seconds: 0 }, { total: 7, embedded: 3, resumed: 0, failed: 4, interrupted: false, seconds: 0 });
    const out = (await readFile(join(dir, 'out.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { index: number; line?: number; embedding?: number[]; error?: string });
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
    assert.equal(out[1]!.error, 'not valid JSON');
    assert.deepEqual(out.filter((o) => o.error).map((o) => o.line), [3, 5, 7, 8]);
    assert.match(out[3]!.error!, /cannot read image file .*nope\.png/);
    assert.match(out[5]!.error!, /colour/);
    assert.match(out[6]!.error!, /empty item/);
    const text = log.join('');
    assert.match(text, /vlm2vec embed: line 3: not valid JSON\n/);
    assert.match(text, /vlm2vec embed: line 8: empty item/);
    assert.match(text, /vlm2vec embed: done: 3 embedded, 4 failed of 7 item\(s\) in \d+s; output .*out\.jsonl\n/);
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
    assert.match(help, /-m, --model <dir\|hub-id>/);
    assert.match(help, /-o, --out <file>/);
    assert.doesNotMatch(help, /--output/, 'the old spelling is a hidden alias');
    assert.match(help, /\$ vlm2vec embed -m TIGER-Lab\/VLM2Vec-Qwen2VL-2B/);
    assert.match(help, /--max-pixels <n>/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const quiet = { write: () => true, isTTY: false };
type Rec = { index: number; line?: number; embedding?: number[]; error?: string };
const records = async (f: string): Promise<Rec[]> => (await readFile(f, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Rec);

test('embed: a bad output is refused before the model loads, in one line naming the path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-embed-out-'));
  try {
    await writeFile(join(dir, 'in.jsonl'), `${JSON.stringify({ text: 'a' })}\n`);
    await writeFile(join(dir, 'file'), 'x');
    // The model does not exist: an error about it would mean the model was looked at first.
    const job = (output: string): Promise<unknown> => runEmbed({ model: join(dir, 'no-model'), input: join(dir, 'in.jsonl'), output, stderr: quiet });
    const oneLine = (re: RegExp) => (e: Error): boolean => re.test(e.message) && !e.message.includes('\n');
    await assert.rejects(job(dir), oneLine(new RegExp(`^\\[embed\\] output file \\(--out\\) ${dir} is a folder: expected a file path`)));
    await assert.rejects(job(join(dir, 'file', 'out.jsonl')), oneLine(/folder of the output file \(--out\) .*file is a file: expected a folder/));
    await assert.rejects(job('/proc/vlm2vec-x/out.jsonl'), oneLine(/\/proc is on the proc kernel filesystem/));
    await assert.rejects(runEmbed({ model: join(dir, 'no-model'), input: join(dir, 'none.jsonl'), output: join(dir, 'o.jsonl'), stderr: quiet }),
      oneLine(/input file \(--input\) .*none\.jsonl does not exist/));
    // A missing output folder is created once the model has loaded.
    await assert.rejects(job(join(dir, 'new', 'out.jsonl')), /model folder .*no-model does not exist/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('embed resumes: embedded lines kept, error lines retried, a torn last line dropped; other settings refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-embed-resume-'));
  try {
    const input = join(dir, 'in.jsonl');
    const texts = ['one', 'two', 'three', 'four', 'five'];
    await writeFile(input, texts.map((t) => JSON.stringify({ text: t })).join('\n'));
    const base: EmbedJobOptions = { model: join(FIXTURES, 'tiny-a'), tokenizer: TOKENIZER_DIR, input, output: join(dir, 'full.jsonl'), batchSize: 2, stderr: quiet };
    await runEmbed(base);
    const full = await records(join(dir, 'full.jsonl'));
    assert.deepEqual(full.map((r) => r.index), [0, 1, 2, 3, 4]);
    // An earlier run's output as a crash leaves it: items 0 and 2 done, 1 failed, 3 torn mid-write.
    const out = join(dir, 'out.jsonl');
    const line = (i: number): string => JSON.stringify(full[i]);
    await writeFile(out, `${line(0)}\n${JSON.stringify({ index: 1, line: 2, error: 'cannot read image' })}\n${line(2)}\n${line(3).slice(0, 40)}`);
    await copyFile(join(dir, 'full.jsonl.settings.json'), `${out}.settings.json`);
    const log: string[] = [];
    const res = await runEmbed({ ...base, output: out, stderr: { write: (s: string) => log.push(s), isTTY: false } });
    assert.deepEqual({ ...res, seconds: 0 }, { total: 5, embedded: 3, resumed: 2, failed: 0, interrupted: false, seconds: 0 });
    const got = await records(out);
    assert.deepEqual(got.map((r) => r.index), [0, 2, 1, 3, 4]);
    for (const r of got) assert.deepEqual(r, full[r.index], `item ${r.index}`);
    assert.match(log.join(''), /done: 3 embedded, 2 already done \(skipped\), 0 failed of 5 item\(s\)/);

    // Nothing left: no model load at all (a missing model would otherwise fail).
    const again = await runEmbed({ ...base, model: join(dir, 'gone'), output: out });
    assert.deepEqual([again.embedded, again.resumed], [0, 5]);

    // Another model, prompt style or input file: refused, the file untouched.
    const before = await readFile(out, 'utf8');
    await assert.rejects(runEmbed({ ...base, output: out, promptStyle: 'phi3_v' }), /out\.jsonl was written with promptStyle qwen2_vl \(now phi3_v\); delete it or choose another --out/);
    await writeFile(join(dir, 'in.jsonl.bak'), texts.map((t) => JSON.stringify({ text: t })).join('\n'));
    await assert.rejects(runEmbed({ ...base, output: out, input: join(dir, 'in.jsonl.bak') }), /was written with input .*in\.jsonl \(now .*in\.jsonl\.bak\)/);
    await writeFile(input, `${texts.map((t) => JSON.stringify({ text: t })).join('\n')}\n${JSON.stringify({ text: 'six' })}\n`);
    await assert.rejects(runEmbed({ ...base, output: out, model: join(FIXTURES, 'tiny-b'), tokenizer: TOKENIZER_DIR }), /was written with model qwen2_vl:local:.*tiny-a.* \(now qwen2_vl:local:.*tiny-b/);
    assert.equal(await readFile(out, 'utf8'), before);
    // An output without its settings file (not ours, or an older version's) is not appended to.
    await writeFile(join(dir, 'foreign.jsonl'), `${line(0)}\n`);
    await assert.rejects(runEmbed({ ...base, output: join(dir, 'foreign.jsonl') }), /foreign\.jsonl exists but has no .*foreign\.jsonl\.settings\.json/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('embed stops after the chunk in flight when signalled, and the rerun finishes the rest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-embed-int-'));
  try {
    const input = join(dir, 'in.jsonl');
    await writeFile(input, Array.from({ length: 10 }, (_, i) => JSON.stringify({ text: `item ${i}` })).join('\n'));
    const ctl = new AbortController();
    const log: string[] = [];
    // batch size 1 → chunks of 4 items; abort at the first progress line (inside the first chunk).
    const base: EmbedJobOptions = { model: join(FIXTURES, 'tiny-a'), tokenizer: TOKENIZER_DIR, input, output: join(dir, 'out.jsonl'), batchSize: 1 };
    const res = await runEmbed({ ...base, signal: ctl.signal, stderr: { write: (s: string) => { log.push(s); if (s.startsWith('embed: ')) ctl.abort(); return true; }, isTTY: false } });
    assert.deepEqual([res.embedded, res.resumed, res.interrupted], [4, 0, true]);
    assert.equal((await records(base.output)).length, 4);
    assert.match(log.join(''), /interrupted: 4 embedded, 0 failed, 6 left of 10 item\(s\).*\n.*run the same command again to resume/);
    const rest = await runEmbed({ ...base, stderr: quiet });
    assert.deepEqual([rest.embedded, rest.resumed, rest.interrupted], [6, 4, false]);
    assert.deepEqual((await records(base.output)).map((r) => r.index).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('LocalEmbedder.load reports its progress: resolved folders, weight bytes of the file, adapter merge, both sessions', async () => {
  const events: LoadEvent[] = [];
  await LocalEmbedder.load(join(FIXTURES, 'tiny-a'), { adapter: join(FIXTURES, 'tiny-a-dora'), onLoad: (e) => events.push(e) });
  assert.deepEqual(events.map((e) => e.type).filter((t, i, a) => t !== a[i - 1]), ['resolved', 'weights', 'adapter', 'session', 'ready']);
  // The tensor bytes of model.safetensors: the file minus its 8-byte length and JSON header.
  const file = join(FIXTURES, 'tiny-a', 'model.safetensors');
  const head = await readFile(file);
  const dataBytes = (await stat(file)).size - 8 - Number(head.readBigUInt64LE(0));
  const w = events.filter((e): e is Extract<LoadEvent, { type: 'weights' }> => e.type === 'weights');
  assert.deepEqual(w.at(-1), { type: 'weights', file: 'model.safetensors', shard: 1, shards: 1, bytesDone: dataBytes, bytesTotal: dataBytes });
  assert.ok(w.every((e, i) => i === 0 || e.bytesDone > w[i - 1]!.bytesDone));
  assert.deepEqual(events.filter((e) => e.type === 'session'), [
    { type: 'session', graph: 'vision', state: 'start' }, { type: 'session', graph: 'vision', state: 'done' },
    { type: 'session', graph: 'text', state: 'start' }, { type: 'session', graph: 'text', state: 'done' },
  ]);
  const ad = events.find((e) => e.type === 'adapter');
  assert.ok(ad && ad.type === 'adapter' && ad.modules > 0 && ad.dir.endsWith('tiny-a-dora'));
});
