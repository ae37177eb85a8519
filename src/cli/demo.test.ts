// `vlm2vec demo` as CI and a newcomer run it: on the bundled model, gallery and mini benchmark,
// offline. The image search must find what a trained model finds (a random model fails it),
// the benchmark table must be the harness's own result files beside chance, --ui must serve the
// search page over the demo index, and a rerun must reuse the index.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chanceScore } from '../demo/demo.ts';
import { MINI_TASK_NAMES } from '../mmeb/tasks/registry-mini.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'vlm2vec.js');

test('chanceScore: hit@1 is 1/pool; ndcg_linear@5 of one relevant item among 62 is 2.9485/62 (×100)', () => {
  assert.equal(chanceScore('hit@1', 10), 10);
  assert.equal(chanceScore('hit@1', 188).toFixed(4), '0.5319');
  // (1 + 1/log2 3 + 1/2 + 1/log2 5 + 1/log2 6) / 62 = 2.94847 / 62
  assert.equal(chanceScore('ndcg_linear@5', 62).toFixed(4), '4.7556');
  // Fewer than 5 candidates: every rank counts.
  assert.equal(chanceScore('ndcg_linear@5', 2).toFixed(4), (100 * (1 + 1 / Math.log2(3)) / 2).toFixed(4));
});

/** The hits printed under a search's header line: [score, path]. */
function hitsOf(stdout: string, header: string): [number, string][] {
  const at = stdout.indexOf(`${header}\n`);
  assert.ok(at >= 0, `no "${header}" in:\n${stdout}`);
  const out: [number, string][] = [];
  for (const l of stdout.slice(at + header.length + 1).split('\n')) {
    const m = /^ {2}\d+\. (-?\d\.\d{3}) {2}(\S+)$/.exec(l);
    if (!m) break;
    out.push([Number(m[1]), m[2]!]);
  }
  return out;
}

test('vlm2vec demo --ui: indexes the gallery, finds what it should, scores the mini benchmark beside chance, serves the page; a rerun reuses the index', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vlm2vec-demo-'));
  const db = join(dir, 'demo.lance');
  const gallery = JSON.parse(await readFile(join(ROOT, 'assets', 'demo', 'gallery.json'), 'utf8')) as unknown[];
  const child = spawn(process.execPath, [BIN, 'demo', '--db', db, '--ui', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /search page (http:\/\/127\.0\.0\.1:\d+)\/[\s\S]*vlm2vec serve: ready/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`demo exited before serving:\n${stdout}\n${stderr}`)));
      setTimeout(() => reject(new Error(`not serving within 6 min:\n${stdout}\n${stderr}`)), 360_000).unref();
    });
    assert.match(stderr, /^vlm2vec demo: runs on the bundled model .*not for real use.*--model VLM2Vec\/VLM2Vec-V2\.0$/m);
    assert.match(stdout, new RegExp(`^Indexed ${gallery.length} files of the bundled gallery \\(${gallery.length} embedded, 0 unchanged\\) into ${db}: ${gallery.length + 2} rows$`, 'm'));

    // Image → image: the other T-shirt first. Of the gallery's 20 Fashion-MNIST pictures (two per
    // class), the shipped model puts the same-class partner first for 5, the recipe's random start
    // for 3; on this query the random start ranks a sandal first. The text → image lists are
    // checked for shape only: the shipped model's text → image hits are near chance on the mini
    // benchmark (docs/open-data.md), so its text hits carry little signal.
    const sneaker = hitsOf(stdout, 'text → image: "a sneaker"');
    assert.equal(sneaker.length, 3);
    const pie = hitsOf(stdout, 'text → image: "a pumpkin pie"');
    assert.equal(pie.length, 3);
    for (const [, p] of [...sneaker, ...pie]) assert.match(p, /^(fashion|emoji|clipart)\/[a-z0-9-]+\.png$/);
    const tshirts = hitsOf(stdout, 'image → image: fashion/t-shirt-top-1.png');
    assert.equal(tshirts[0]![1], 'fashion/t-shirt-top-2.png', stdout);
    assert.ok(!tshirts.some(([, p]) => p === 'fashion/t-shirt-top-1.png'), 'the query image itself is not listed');
    const pages = hitsOf(stdout, 'text → document page: "Choosing running shoes"');
    assert.deepEqual(pages.map(([, p]) => p).sort(), ['docs/guide.pdf#page=1', 'docs/guide.pdf#page=2', 'docs/guide.pdf#page=3']);
    for (const hits of [sneaker, pie, tshirts, pages]) assert.deepEqual(hits.map(([s]) => s), hits.map(([s]) => s).sort((a, b) => b - a), 'best first');

    // The table is the harness's summary, beside chance; classification is far above it.
    const results = join(db, 'mini-scores');
    const summary = JSON.parse(await readFile(join(results, 'summary.json'), 'utf8')) as { scores: Record<string, number>; tasks: Record<string, number> };
    const rows = new Map([...stdout.matchAll(/^ {2}(Mini-\S+) +(\S+) +(\d+\.\d\d) +(\d+\.\d\d)$/gm)].map((m) => [m[1]!, { metric: m[2]!, score: Number(m[3]), chance: Number(m[4]) }]));
    assert.deepEqual([...rows.keys()], [...MINI_TASK_NAMES]);
    for (const [task, r] of rows) assert.equal(r.score.toFixed(2), summary.tasks[task]!.toFixed(2), task);
    const fashion = rows.get('Mini-FashionMNIST')!;
    assert.equal(fashion.chance, 10);
    assert.ok(fashion.score >= 30, `Fashion-MNIST classification ${fashion.score} is not far above chance (10)`);
    const all = /^ {2}all \(mean\) +(\d+\.\d\d) +(\d+\.\d\d)$/m.exec(stdout);
    assert.ok(all, stdout);
    assert.equal(all[1], summary.scores['all']!.toFixed(2));
    const meanChance = [...rows.values()].reduce((a, r) => a + r.chance, 0) / rows.size;
    assert.ok(Math.abs(Number(all[2]) - meanChance) < 0.01, `mean chance ${all[2]} vs ${meanChance}`);
    assert.equal(rows.get('Mini-DocPages')!.metric, 'ndcg_linear@5');

    // The search page over the demo index, and its search equal to the printed one.
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/);
    const res = await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'a sneaker', top_k: 3, kinds: ['image'] }) });
    const found = (await res.json()) as { data: { path: string; score: number }[] };
    assert.deepEqual(found.data.map((h) => h.path), sneaker.map(([, p]) => p));
  } finally {
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
  }

  try {
    const again = spawnSync(process.execPath, [BIN, 'demo', '--db', db, '--no-bench'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`\\(0 embedded, ${gallery.length} unchanged\\)`));
    assert.doesNotMatch(again.stdout, /Mini benchmark/);
    assert.deepEqual(hitsOf(again.stdout, 'text → image: "a sneaker"'), hitsOf(stdout, 'text → image: "a sneaker"'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('vlm2vec demo --help says what it does, with what data and licences, and how to use VLM2Vec-V2.0', () => {
  const r = spawnSync(process.execPath, [BIN, 'demo', '--help'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const s of ['--db <dir>', '--no-bench', '--ui', '--port <n>', 'assets/demo/LICENSES.md', 'not for real use', 'VLM2Vec/VLM2Vec-V2.0']) {
    assert.ok(r.stdout.includes(s), `${s} missing from demo --help`);
  }
});
