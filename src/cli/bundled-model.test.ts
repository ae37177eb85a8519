// Without --model, `embed`, `index`, `search` and `serve` run on the bundled model (assets/model),
// each saying so in one stderr line that names VLM2Vec-V2.0; their --help says the default; a
// package without its assets is a clear error. The commands run as a user runs them (child
// processes) on tiny inputs, and their vectors are compared with the library loading
// bundledModelPath() itself, so a command that silently took another model would fail.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLED_MODEL_NOTICE, bundledModelPath, bundledModelPixels, requireBundledAsset, requireBundledModel } from '../embed/bundled.ts';
import { LocalEmbedder } from '../embed/local.ts';
import { FIXTURES } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { openSearchIndex, searchIndex, type SearchHit } from '../search/search.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'vlm2vec.js');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The notice lines of a command's stderr (exactly one is expected). */
function notices(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.includes('bundled model'));
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) (d += a[i]! * b[i]!), (na += a[i]! ** 2), (nb += b[i]! ** 2);
  return d / Math.sqrt(na * nb);
}

test('bundledModelPath is assets/model of the package, with a config; a missing folder is a clear error', async () => {
  assert.equal(bundledModelPath(), join(ROOT, 'assets', 'model'));
  const cfg = JSON.parse(await readFile(join(requireBundledModel(), 'config.json'), 'utf8')) as { model_type: string };
  assert.equal(cfg.model_type, 'qwen2_vl');
  assert.throws(() => requireBundledModel(join(tmpdir(), 'no-such-vlm2vec-assets', 'model')),
    /\[model\] no --model given, and the bundled model is missing \(.*no-such-vlm2vec-assets\/model\/config\.json not found: this copy of vlm2vec was installed without its assets\/ folder\); give --model DIR\|HUB-ID, e\.g\. --model VLM2Vec\/VLM2Vec-V2\.0/);
  assert.match(BUNDLED_MODEL_NOTICE, /not for real use.*--model VLM2Vec\/VLM2Vec-V2\.0$/);
  assert.equal(requireBundledAsset('demo/gallery', 'the demo gallery'), join(ROOT, 'assets', 'demo', 'gallery'));
  assert.throws(() => requireBundledAsset('no-such-folder', 'the thing'),
    /\[demo\] the thing is missing \(.*assets\/no-such-folder not found: this copy of vlm2vec was installed without its assets\/ folder\)/);
});

test('--help of embed, index, search and serve names the default model', () => {
  for (const c of ['embed', 'index', 'search', 'serve']) {
    const r = cli(c, '--help');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.replace(/\s+/g, ' '), /-m, --model <dir\|hub-id>.*bundled small demo model/, `${c} --help`);
  }
  assert.match(cli('embed', '--help').stdout.replace(/\s+/g, ' '), /real work: VLM2Vec\/VLM2Vec-V2\.0/);
});

test('embed, index and search without --model use the bundled model and say so once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-bundled-'));
  const emb = await LocalEmbedder.load(bundledModelPath(), bundledModelPixels());
  try {
    // embed: the vector is the library's for the same item.
    await writeFile(join(dir, 'items.jsonl'), '{"text": "a red dress"}\n');
    const e = cli('embed', '--input', join(dir, 'items.jsonl'), '--out', join(dir, 'out.jsonl'), '--threads', '1');
    assert.equal(e.status, 0, e.stderr);
    assert.deepEqual(notices(e.stderr), [`vlm2vec embed: ${BUNDLED_MODEL_NOTICE}`]);
    const line = JSON.parse((await readFile(join(dir, 'out.jsonl'), 'utf8')).trim()) as { embedding: number[] };
    const [want] = await emb.embed([{ text: 'a red dress' }]);
    assert.equal(line.embedding.length, want!.length);
    assert.ok(cosine(line.embedding, want!) > 0.99999);

    // index: the index records the bundled folder and its pixel limits.
    const input = join(dir, 'in');
    const db = join(dir, 'db');
    await mkdir(input);
    for (const f of ['a.png', 'b.png']) await copyFile(join(FIXTURES, 'images', f), join(input, f));
    const ix = cli('index', '--input', input, '--db', db, '--threads', '1');
    assert.equal(ix.status, 0, ix.stderr);
    assert.deepEqual(notices(ix.stderr), [`vlm2vec index: ${BUNDLED_MODEL_NOTICE}`]);
    const { meta } = await openSearchIndex(db);
    assert.equal(meta.modelSpec, bundledModelPath());
    assert.equal(meta.modelId, emb.id);

    // search: the index's model, announced as the bundled one; the library's hits.
    const s = cli('search', '--db', db, '--image', join(input, 'b.png'), '--format', 'json', '--threads', '1');
    assert.equal(s.status, 0, s.stderr);
    assert.equal(notices(s.stderr).length, 1);
    assert.match(notices(s.stderr)[0]!, /^vlm2vec search: the index was made with the bundled model .*VLM2Vec\/VLM2Vec-V2\.0$/);
    const got = JSON.parse(s.stdout) as SearchHit[];
    const lib = await searchIndex({ db, embedder: emb, image: join(input, 'b.png') });
    assert.deepEqual(got.map((h) => h.path), lib.map((h) => h.path));
    assert.equal(got[0]!.path, 'b.png');

    // With --model, no notice.
    const other = cli('embed', '-m', join(FIXTURES, 'tiny-a'), '--input', join(dir, 'items.jsonl'), '--out', join(dir, 'tiny.jsonl'), '--threads', '1');
    assert.equal(other.status, 0, other.stderr);
    assert.deepEqual(notices(other.stderr), []);
  } finally {
    await emb.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve without -m or --db serves the bundled model and says so', async () => {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--threads', '1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*vlm2vec serve: ready/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      setTimeout(() => reject(new Error(`no ready line within 90 s:\n${stderr}`)), 90_000).unref();
    });
    assert.deepEqual(notices(stderr), [`vlm2vec serve: ${BUNDLED_MODEL_NOTICE}`]);
    const info = (await (await fetch(`${url}/info`)).json()) as { model: string };
    assert.ok(JSON.stringify(info).includes(bundledModelPath()), JSON.stringify(info));
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  }
});
