// `vlm2vec serve --db DIR [--ui]` on a small folder index made with the tiny fixture model:
// POST /v1/search gives searchIndex's results (the function behind `vlm2vec search`) for text and
// image queries, kinds and instructions; bad search requests are 400s in OpenAI's error shape; a
// served model that did not make the index is refused; the thumbnail route serves only files of
// the index (no traversal, no skipped files, no symlink escape); the page is served with a
// Content-Security-Policy and the API key guards the data routes.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { toDataUri } from '../embed/protocol.ts';
import { FIXTURES } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { DEFAULT_QUERY_INSTRUCTIONS } from '../search/instructions.ts';
import { searchIndex, type SearchHit } from '../search/search.ts';
import { openIndex, toArrow } from '../search/store.ts';
import { configureRuntime } from '../tensor/index.ts';
import { makeSearchFixture, MODEL, TOKENIZER_DIR, type SearchFixture } from './search-fixture.test-helper.ts';
import { startServer, type ServeHandle } from './server.ts';
import { thumbnailRoot } from './thumbnails.ts';

configureRuntime({ threads: 1 });

let fx: SearchFixture;
let srv: ServeHandle;

before(async () => {
  fx = await makeSearchFixture();
  srv = await startServer({ model: MODEL, tokenizer: TOKENIZER_DIR, port: 0, threads: 1, db: fx.db, ui: true });
  await srv.ready;
});

after(async () => {
  await srv?.close();
  await fx?.embedder.close();
  if (fx) await rm(fx.dir, { recursive: true, force: true });
});

async function search(body: unknown, headers: Record<string, string> = {}, url = srv.url): Promise<{ status: number; json: any }> {
  const r = await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

/** The endpoint's hits equal searchIndex's: same items in the same order, scores within float noise. */
function assertSameHits(got: any[], want: SearchHit[], what: string): void {
  assert.deepEqual(got.map((h) => `${h.path}#${h.page}:${h.kind}`), want.map((h) => `${h.path}#${h.page}:${h.kind}`), `${what}: items and order`);
  got.forEach((h, i) => {
    assert.equal(h.rank, i + 1);
    assert.ok(Math.abs(h.score - want[i]!.score) < 1e-5, `${what}[${i}]: score ${h.score} vs ${want[i]!.score}`);
  });
}

test('a text query gives the results of searchIndex (vlm2vec search) on the same index, every kind', async () => {
  const want = await searchIndex({ db: fx.db, embedder: fx.embedder, text: 'a red circle on cream paper', topK: 20 });
  assert.equal(want.length, 11, 'every row of the index comes back with top_k 20');
  const { status, json } = await search({ query: 'a red circle on cream paper', top_k: 20 });
  assert.equal(status, 200, JSON.stringify(json));
  assert.equal(json.object, 'list');
  assert.deepEqual(json.query, { type: 'text' });
  assert.deepEqual(new Set(json.data.map((h: any) => h.kind)), new Set(['image', 'page', 'video', 'text']));
  assertSameHits(json.data, want, 'text');
  // Four query items (one per kind, each with its own instruction): their prompt tokens.
  assert.ok(json.usage.prompt_tokens > 4 * 5, `usage ${JSON.stringify(json.usage)}`);
  // top_k cuts the same list.
  const top3 = await search({ query: 'a red circle on cream paper', top_k: 3 });
  assertSameHits(top3.json.data, want.slice(0, 3), 'top 3');
});

test('kinds and instructions are those of searchIndex; another instruction changes the scores', async () => {
  const want = await searchIndex({ db: fx.db, embedder: fx.embedder, text: 'quarterly figures', topK: 5, kinds: ['page', 'text'] });
  const got = await search({ query: 'quarterly figures', top_k: 5, kinds: ['page', 'text'] });
  assert.equal(got.status, 200);
  assert.deepEqual(new Set(got.json.data.map((h: any) => h.kind)), new Set(['page', 'text']));
  assertSameHits(got.json.data, want, 'kinds');
  const instruction = 'Retrieve the slide that answers:';
  assert.notEqual(instruction, DEFAULT_QUERY_INSTRUCTIONS.text.page);
  const wantInst = await searchIndex({ db: fx.db, embedder: fx.embedder, text: 'quarterly figures', topK: 5, kinds: ['page'], instructions: { text: { page: instruction } } });
  const gotInst = await search({ query: 'quarterly figures', top_k: 5, kinds: 'page', instructions: { page: instruction } });
  assertSameHits(gotInst.json.data, wantInst, 'instruction');
  const plain = got.json.data.filter((h: any) => h.kind === 'page');
  assert.ok(Math.abs(plain[0].score - gotInst.json.data.find((h: any) => h.path === plain[0].path && h.page === plain[0].page).score) > 1e-4,
    'the instruction reached the model');
});

test('an image query (data URI) gives searchIndex\'s results for the same file; the indexed image finds itself first with cosine 1', async () => {
  const file = join(fx.input, 'photos', 'blue-square.png');
  const want = await searchIndex({ db: fx.db, embedder: fx.embedder, image: file, topK: 8 });
  const { status, json } = await search({ image: toDataUri(await readFile(file)), top_k: 8 });
  assert.equal(status, 200, JSON.stringify(json));
  assert.deepEqual(json.query, { type: 'image' });
  assertSameHits(json.data, want, 'image');
  assert.equal(json.data[0].path, 'photos/blue-square.png');
  assert.ok(json.data[0].score > 0.99999, `self-similarity ${json.data[0].score}`);
});

test('bad search requests are 400s naming the field, in OpenAI\'s error shape; the server goes on', async () => {
  const png = toDataUri(await readFile(join(FIXTURES, 'images', 'a.png')));
  const cases: [unknown, string | null, RegExp][] = [
    ['{"query": ', 'request body', /not valid JSON/],
    [[1, 2], 'request body', /expected a JSON object/],
    [{}, 'query', /give a text "query" or an "image"/],
    [{ query: 'x', image: png }, 'image', /not both/],
    [{ query: '   ' }, 'query', /empty/],
    [{ query: 42 }, 'query', /expected a string, got number 42/],
    [{ query: 'x', top_k: 0 }, 'top_k', /integer from 1 to 1000, got number 0/],
    [{ query: 'x', top_k: 1001 }, 'top_k', /got number 1001/],
    [{ query: 'x', top_k: '5' }, 'top_k', /got "5"/],
    [{ query: 'x', kinds: ['image', 'audio'] }, 'kinds[1]', /one of image, page, video, text, got "audio"/],
    [{ query: 'x', kinds: [] }, 'kinds', /non-empty list/],
    [{ query: 'x', instructions: { photo: 'Find' } }, 'instructions.photo', /unknown kind/],
    [{ query: 'x', instructions: { image: 3 } }, 'instructions.image', /expected a string/],
    [{ query: 'x', exact: 'yes' }, 'exact', /true or false/],
    [{ query: 'x', topk: 5 }, 'topk', /unknown field/],
    [{ image: '/etc/passwd' }, 'image', /expected a data URI/],
    [{ image: 'data:image/png;base64,!!!' }, 'image', /not valid base64/],
    [{ image: toDataUri(Buffer.from('this is not an image at all')) }, 'image', /^\[protocol\] image: unrecognised image format \(expected JPEG, PNG/],
  ];
  for (const [body, param, message] of cases) {
    const { status, json } = await search(body);
    const what = JSON.stringify(body).slice(0, 80);
    assert.equal(status, 400, `${what}: ${JSON.stringify(json)}`);
    assert.equal(json.error.type, 'invalid_request_error', what);
    assert.equal(json.error.param, param, `${what}: ${json.error.message}`);
    assert.match(json.error.message, message, what);
  }
  const get = await fetch(`${srv.url}/v1/search`);
  assert.equal(get.status, 405);
  assert.match(((await get.json()) as any).error.message, /takes POST/);
  // Still answering, and the failures are counted apart from embeddings requests.
  assert.equal((await search({ query: 'a sunset' })).status, 200);
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /vlm2vec_search_failures_total\{reason="validation"\} 18\b/);
  assert.match(metrics, /vlm2vec_search_requests_total \d+/);
});

test('/info shows the index: route, its model, rows per kind, the thumbnail folder', async () => {
  const info = (await (await fetch(`${srv.url}/info`)).json()) as any;
  assert.equal(info.search.route, 'POST /v1/search');
  assert.equal(info.search.db, fx.db);
  assert.equal(info.search.index_model, info.model);
  assert.deepEqual(info.search.counts, { image: 7, page: 2, video: 1, text: 1 });
  assert.equal(info.search.ui, true);
  assert.equal(info.search.thumbnails_from, fx.input);
});

test('a served model that did not make the index is refused with both models named', async () => {
  const other = await startServer({ model: join(FIXTURES, 'tiny-b'), tokenizer: TOKENIZER_DIR, port: 0, threads: 1, db: fx.db });
  await assert.rejects(other.ready, (e: Error) => {
    assert.match(e.message, /was made with model qwen2_vl:local:.*tiny-a.*but the served model is qwen2_vl:local:.*tiny-b/);
    assert.match(e.message, /without -m loads it/);
    return true;
  });
  const health = await fetch(`${other.url}/health`);
  assert.equal(health.status, 503);
  assert.equal(((await health.json()) as any).status, 'failed');
  await other.close();
});

test('no index, no search: --ui needs --db, a missing --db is refused before listening, and /v1/search is 404 without --db', async () => {
  await assert.rejects(startServer({ model: MODEL, port: 0, ui: true }), /--ui needs --db/);
  await assert.rejects(startServer({ model: MODEL, port: 0, db: join(fx.dir, 'nope') }), /--db: .*nope does not exist/);
  const plain = await startServer({ model: MODEL, tokenizer: TOKENIZER_DIR, port: 0, threads: 1 });
  try {
    await plain.ready;
    const r = await search({ query: 'x' }, {}, plain.url);
    assert.equal(r.status, 404);
    assert.doesNotMatch(/\(routes: [^)]*\)/.exec(r.json.error.message)![0], /search/);
    assert.equal((await fetch(`${plain.url}/thumbnail?path=a.png`)).status, 404);
    assert.equal((await fetch(`${plain.url}/`)).status, 404);
  } finally {
    await plain.close();
  }
});

test('--ui reads thumbnails from the folder the index records, or from --root; a missing folder is refused at startup', async () => {
  await assert.rejects(thumbnailRoot(undefined, 'old.lance'), /old\.lance does not record the folder it was made from .*give it with --root DIR/);
  await assert.rejects(startServer({ model: MODEL, port: 0, db: fx.db, ui: true, root: join(fx.dir, 'moved-away') }),
    /--ui: the indexed folder .*moved-away .*is not a folder here: give it with --root DIR/);
  assert.equal(await thumbnailRoot(fx.input, fx.db), fx.input);
});

async function thumb(query: string): Promise<{ status: number; type: string; body: Buffer }> {
  const r = await fetch(`${srv.url}/thumbnail?${query}`);
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: Buffer.from(await r.arrayBuffer()) };
}

test('thumbnails: images, PDF pages and videos as small JPEGs, texts as their start', async () => {
  const img = await thumb('path=photos/red-circle.png');
  assert.equal(img.status, 200);
  assert.equal(img.type, 'image/jpeg');
  const m = await sharp(img.body).metadata();
  assert.deepEqual([m.format, m.width, m.height], ['jpeg', 320, 240], 'a small image is not enlarged');
  // The red disc is at the centre of the drawing, on cream.
  const { data } = await sharp(img.body).extract({ left: 155, top: 115, width: 10, height: 10 }).raw().toBuffer({ resolveWithObject: true });
  assert.ok(data[0]! > 180 && data[1]! < 90 && data[2]! < 90, `centre pixel ${[...data.subarray(0, 3)]}`);
  // PDF page 2 is 400 × 300 pt: 400 × 300 px at 72 dpi, fitted into 384 px; its title bar is blue.
  const page = await thumb('path=docs/report.pdf&page=2');
  assert.equal(page.status, 200);
  const pm = await sharp(page.body).metadata();
  assert.deepEqual([pm.width, pm.height], [384, 288]);
  const bar = (await sharp(page.body).extract({ left: 190, top: 20, width: 4, height: 4 }).raw().toBuffer());
  assert.ok(bar[2]! > 150 && bar[0]! < 80, `title bar ${[...bar.subarray(0, 3)]}`);
  const page1 = await thumb('path=docs/report.pdf&page=1');
  assert.deepEqual([(await sharp(page1.body).metadata()).width, (await sharp(page1.body).metadata()).height], [288, 384]);
  assert.equal((await thumb('path=docs/report.pdf&page=3')).status, 404, 'no such page in the index');
  const video = await thumb('path=clips/pan.mp4');
  assert.equal(video.status, 200);
  assert.equal((await sharp(video.body).metadata()).width, 384, 'a 2×2 grid of frames');
  const text = await thumb('path=notes.md&page=0');
  assert.equal(text.type, 'text/plain; charset=utf-8');
  assert.equal(text.body.toString(), await readFile(join(fx.input, 'notes.md'), 'utf8'));
});

test('thumbnails serve only files of the index: traversal, absolute paths, skipped files, bad pages and symlink escapes are refused', async () => {
  const secret = join(fx.dir, 'outside.png');
  await writeFile(secret, await readFile(join(FIXTURES, 'images', 'a.png')));
  const refused: [string, number][] = [
    ['path=../outside.png', 404],
    [`path=${encodeURIComponent(secret)}`, 404],
    ['path=photos/../../outside.png', 404],
    ['path=..%2Foutside.png', 404],
    ['path=.private/secret.png', 404],
    ['path=settings.json', 404],
    ['path=photos', 404],
    ['path=a.png&page=1', 404],
    ["path=a.png'%20OR%20'1'='1", 404],
    ['path=', 400],
    ['page=0', 400],
    ['path=a.png&page=-1', 400],
    ['path=a.png&page=1e3', 400],
  ];
  for (const [q, status] of refused) {
    const r = await thumb(q);
    assert.equal(r.status, status, `${q}: ${r.body.toString().slice(0, 200)}`);
    assert.doesNotMatch(r.type, /image/, q);
    assert.ok(JSON.parse(r.body.toString()).error.message, q);
  }
  // A row whose stored path climbs out of the folder (a tampered or foreign index) is refused.
  const ix = await openIndex(fx.db);
  const vector = new Float32Array(24).fill(0.2);
  await ix.items!.add((await toArrow(ix, [{ id: '../outside.png', path: '../outside.png', page: 0, kind: 'image', size: 1, mtime: 0, hash: 'x', model: 'm', instruction: '', vector }], 24)) as never);
  try {
    const r = await thumb('path=../outside.png');
    assert.equal(r.status, 403);
    assert.equal(JSON.parse(r.body.toString()).error.type, 'permission_error');
    assert.match(JSON.parse(r.body.toString()).error.message, /outside the indexed folder/);
  } finally {
    await ix.items!.delete(`path = '../outside.png'`);
  }
  // An indexed file swapped for a symlink to a file outside the folder is refused.
  const victim = join(fx.input, 'photos', 'night-sky.jpg');
  const original = await readFile(victim);
  await unlink(victim);
  await symlink(secret, victim);
  try {
    const r = await thumb('path=photos/night-sky.jpg');
    assert.equal(r.status, 403);
    assert.match(JSON.parse(r.body.toString()).error.message, /leads outside the indexed folder/);
  } finally {
    await unlink(victim);
    await writeFile(victim, original);
  }
  assert.equal((await thumb('path=photos/night-sky.jpg')).status, 200);
});

test('the page is served with a same-origin Content-Security-Policy; with an API key the page loads but data routes need the key', async () => {
  const page = await fetch(`${srv.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /text\/html/);
  assert.match(page.headers.get('content-security-policy')!, /default-src 'none'; script-src 'self'/);
  const html = await page.text();
  assert.match(html, /<script type="module" src="\/ui\/search.js">/);
  assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
  const js = await fetch(`${srv.url}/ui/search.js`);
  assert.match(js.headers.get('content-type')!, /javascript/);
  assert.doesNotMatch(await js.text(), /https?:\/\//);
  const keyed = await startServer({ model: MODEL, tokenizer: TOKENIZER_DIR, port: 0, threads: 1, db: fx.db, ui: true, apiKey: 'k3y' });
  try {
    await keyed.ready;
    assert.equal((await fetch(`${keyed.url}/`)).status, 200);
    assert.equal((await search({ query: 'x' }, {}, keyed.url)).status, 401);
    assert.equal((await fetch(`${keyed.url}/thumbnail?path=a.png`)).status, 401);
    assert.equal((await search({ query: 'x' }, { authorization: 'Bearer k3y' }, keyed.url)).status, 200);
    assert.equal((await fetch(`${keyed.url}/thumbnail?path=a.png`, { headers: { authorization: 'Bearer k3y' } })).status, 200);
  } finally {
    await keyed.close();
  }
});

test('vlm2vec serve --db DIR --ui (no -m) serves the index\'s own model; -m with another model exits 1 naming both', async () => {
  const BIN = join(import.meta.dirname, '..', '..', 'bin', 'vlm2vec.js');
  const help = spawnSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8' });
  for (const s of ['--db <dir|uri>', '--ui', '--root <folder>', 'POST /v1/search {"query": TEXT | "image": DATA-URI', 'curl -s localhost:8000/v1/search']) {
    assert.ok(help.stdout.includes(s), `${s} missing from serve --help`);
  }
  // A model folder that does not exist: the server reports it by path and exits 1 (with no -m
  // and no --db it would serve the bundled model instead, which bundled-model.test.ts covers).
  const noModel = spawnSync(process.execPath, [BIN, 'serve', '-m', join(fx.dir, 'no-such-model'), '--port', '0'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(noModel.status, 1, noModel.stderr);
  assert.match(noModel.stderr, /no-such-model does not exist: expected a Hugging Face model folder/);
  const child = spawn(process.execPath, [BIN, 'serve', '--db', fx.db, '--ui', '--port', '0', '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)[^\n]*search page[\s\S]*vlm2vec serve: ready/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      setTimeout(() => reject(new Error(`not ready within 60 s:\n${stderr}`)), 60_000).unref();
    });
    const want = await searchIndex({ db: fx.db, embedder: fx.embedder, text: 'a green triangle', topK: 4 });
    const got = await search({ query: 'a green triangle', top_k: 4 }, {}, url);
    assert.equal(got.status, 200, JSON.stringify(got.json));
    assertSameHits(got.json.data, want, 'cli');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  const bad = spawn(process.execPath, [BIN, 'serve', '-m', join(FIXTURES, 'tiny-b'), '--tokenizer', TOKENIZER_DIR, '--db', fx.db, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let badErr = '';
  bad.stderr.on('data', (c: Buffer) => (badErr += c.toString()));
  assert.equal(await new Promise((resolve) => bad.on('exit', resolve)), 1);
  assert.match(badErr, /was made with model .*tiny-a.* but the served model is .*tiny-b/);
});
