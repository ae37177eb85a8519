// `vlm2vec index` and `vlm2vec search` as commands: a folder indexed by the CLI, searched by the
// CLI (json and table output) with the index's own model (from its meta row), equal to the
// library's searchIndex; a rerun reports nothing embedded; usage errors are one clear line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEmbedder } from '../embed/local.ts';
import { FIXTURES } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { searchIndex, type SearchHit } from '../search/search.ts';
import { formatHitsTable } from './search.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL = join(FIXTURES, 'tiny-a');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'vlm2vec.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('formatHitsTable aligns rank, score, kind and path (#page=N for PDF pages)', () => {
  const hits: SearchHit[] = [
    { path: 'docs/a.pdf', page: 3, kind: 'page', score: 0.51234 },
    { path: 'x.png', page: 0, kind: 'image', score: -0.1 },
  ];
  assert.equal(formatHitsTable(hits), '#  score    kind   path\n1  0.5123   page   docs/a.pdf#page=3\n2  -0.1000  image  x.png\n');
  assert.equal(formatHitsTable([]), 'no results\n');
});

test('vlm2vec index then vlm2vec search (json, table) give the library search results; a rerun embeds nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-search-cli-'));
  try {
    const input = join(dir, 'in');
    const db = join(dir, 'db');
    await mkdir(input);
    for (const f of ['a.png', 'b.png', 'tiny.png']) await copyFile(join(FIXTURES, 'images', f), join(input, f));
    await writeFile(join(input, 'note.txt'), 'a small red square');
    const ix = cli('index', '-m', MODEL, '--input', input, '--db', db, '--threads', '1');
    assert.equal(ix.status, 0, ix.stderr);
    assert.match(ix.stderr, /done: 4 file\(s\) embedded, 0 unchanged, 0 deleted, 0 failed; 4 row\(s\) in .* \(exact search\)/);
    const again = cli('index', '-m', MODEL, '--input', input, '--db', db, '--threads', '1');
    assert.match(again.stderr, /done: 0 file\(s\) embedded, 4 unchanged/);

    const json = cli('search', '--db', db, 'red square', '--format', 'json', '--top-k', '3', '--threads', '1');
    assert.equal(json.status, 0, json.stderr);
    const got = JSON.parse(json.stdout) as SearchHit[];
    const emb = await LocalEmbedder.load(MODEL);
    const want = await searchIndex({ db, embedder: emb, text: 'red square', topK: 3 });
    assert.deepEqual(got.map((h) => h.path), want.map((h) => h.path));
    got.forEach((h, i) => assert.ok(Math.abs(h.score - want[i]!.score) < 1e-5));

    const table = cli('search', '--db', db, '--image', join(input, 'b.png'), '--kind', 'image', '-k', '1');
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^#\s+score\s+kind\s+path\n1\s+1\.0000\s+image\s+b\.png\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('search usage errors: no query, both queries, a folder without an index', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-search-cli-'));
  try {
    let r = cli('search', '--db', dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /give a text query or --image PATH/);
    r = cli('search', '--db', dir, 'x', '--image', 'y.png');
    assert.match(r.stderr, /give a text query or --image PATH/);
    r = cli('search', '--db', dir, 'x');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds no vlm2vec index .*make one with vlm2vec index --db/);
    r = cli('search', '--db', join(dir, 'missing'), 'x');
    assert.match(r.stderr, /missing does not exist: make an index with vlm2vec index --db/);
    assert.equal(existsSync(join(dir, 'missing')), false, 'no folder left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
