// The README's library examples run verbatim and print what the README says they print.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

test('examples/score.ts prints the reference harness value 0.936', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/score.ts'], { encoding: 'utf8' });
  assert.equal(out.trim(), '0.936');
});

test('examples/embed.ts on the tiny model gives the cosine of the transformers reference embeddings', async () => {
  const { mkdtempSync, cpSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-example-'));
  cpSync('test/fixtures/model/tiny-a', dir, { recursive: true });
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/embed.ts', dir, 'test/fixtures/model/images/b.png'], {
    encoding: 'utf8',
  });
  // Reference: transformers' embeddings of the same two inputs (fixture cases a_image and a_text).
  const cases = JSON.parse(readFileSync('test/fixtures/model/cases.json', 'utf8')).cases as {
    name: string;
    embedding: { file: string };
  }[];
  const vec = (name: string): Float32Array => {
    const c = cases.find((x) => x.name === name);
    assert.ok(c, `fixture case ${name}`);
    const b = readFileSync(join('test/fixtures/model', c.embedding.file));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const a = vec('a_image');
  const t = vec('a_text');
  let cos = 0;
  for (let i = 0; i < a.length; i++) cos += a[i]! * t[i]!;
  assert.equal(out.trim(), `dim 24, cosine ${cos.toFixed(5)}`);
});

test('examples/onnx-export.ts: plain onnxruntime on `vlm2vec export` files gives LocalEmbedder\'s embeddings (and the transformers reference)', async () => {
  const { mkdtempSync, cpSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { LocalEmbedder } = await import('../src/index.ts');
  const work = mkdtempSync(join(tmpdir(), 'vlm2vec-example-onnx-'));
  const model = join(work, 'model');
  cpSync('test/fixtures/model/tiny-a', model, { recursive: true }); // carries the real Qwen tokenizer.json
  const onnxDir = join(work, 'onnx');
  execFileSync(process.execPath, ['bin/vlm2vec.js', 'export', '--model', model, '--out', onnxDir], { encoding: 'utf8' });
  const image = 'test/fixtures/model/images/b.png';
  const embFile = join(work, 'embeddings.json');
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/onnx-export.ts', onnxDir, image, embFile], { encoding: 'utf8' });
  const got = JSON.parse(readFileSync(embFile, 'utf8')) as { image: number[]; text: number[] };

  // The same two items through LocalEmbedder (our own runtime over the same weights).
  const emb = await LocalEmbedder.load(model, { threads: 1 });
  const [img, txt] = await emb.embed([
    { text: '<|image_pad|> Represent the given image for classification\n', images: [image] },
    { text: 'Find a document image that matches the given query: what was the revenue in 2023?' },
  ]);
  await emb.close();
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    assert.equal(a.length, b.length);
    return Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
  };
  assert.ok(maxDiff(got.image, img!) <= 1e-5, `image: max |Δ| ${maxDiff(got.image, img!)}`);
  assert.ok(maxDiff(got.text, txt!) <= 1e-5, `text: max |Δ| ${maxDiff(got.text, txt!)}`);
  let cos = 0;
  for (let i = 0; i < img!.length; i++) cos += img![i]! * txt![i]!;
  assert.equal(out.trim(), `dim 24, cosine ${cos.toFixed(5)}`);

  // And both equal transformers' embeddings of these items (fixture cases a_image, a_text).
  const cases = JSON.parse(readFileSync('test/fixtures/model/cases.json', 'utf8')).cases as { name: string; embedding: { file: string } }[];
  for (const [name, vec] of [['a_image', got.image], ['a_text', got.text]] as const) {
    const b = readFileSync(join('test/fixtures/model', cases.find((c) => c.name === name)!.embedding.file));
    const ref = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    assert.ok(maxDiff(vec, ref) <= 1e-4, `${name}: max |Δ| ${maxDiff(vec, ref)} from transformers`);
  }
});
