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
