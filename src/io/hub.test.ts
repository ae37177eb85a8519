import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPLETE_MARKER, downloadRepo, isRepoId, repoCacheDir, type DownloadProgress } from './hub.ts';

const HUB = 'https://hub.test';

/** A fake hub serving the tree and resolve endpoints the @huggingface/hub client calls. */
function fakeHub(kind: 'models' | 'datasets', repo: string, files: Record<string, string>) {
  const calls: string[] = [];
  const prefix = kind === 'models' ? '' : 'datasets/';
  const f: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    calls.push(url.pathname);
    if (url.pathname === `/api/${kind}/${repo}/tree/main`) {
      const list = [
        { type: 'directory', path: 'sub', size: 0 },
        ...Object.entries(files).map(([path, body]) => ({ type: 'file', path, size: Buffer.byteLength(body), oid: 'x' })),
      ];
      return new Response(JSON.stringify(list), { headers: { 'content-type': 'application/json' } });
    }
    const m = url.pathname.match(new RegExp(`^/${prefix}${repo}/resolve/main/(.+)$`));
    const body = m ? files[decodeURIComponent(m[1] as string)] : undefined;
    if (body === undefined) return new Response('nope', { status: 404, headers: { 'X-Error-Code': 'EntryNotFound' } });
    const bytes = Buffer.from(body);
    const range = new Headers(init?.headers).get('Range');
    if (range) {
      const [a, b] = range.replace('bytes=', '').split('-').map(Number) as [number, number];
      return new Response(bytes.subarray(a, b + 1), {
        status: 206,
        headers: { 'content-range': `bytes ${a}-${b}/${bytes.length}`, etag: '"e"' },
      });
    }
    return new Response(bytes, { headers: { etag: '"e"' } });
  };
  return { fetch: f, calls };
}

test('downloads a model repo through the hub client into the cache layout, then resumes without refetching', async () => {
  const cache = await mkdtemp(join(tmpdir(), 'vlm2vec-hub-'));
  try {
    const files = { 'config.json': '{"model_type":"qwen2_vl"}', 'sub/weights.bin': 'x'.repeat(3000), 'README.md': 'hi' };
    const hub = fakeHub('models', 'org/tiny', files);
    const dir = repoCacheDir('org/tiny', 'model', 'main', cache);
    assert.equal(dir, join(cache, 'models', 'org', 'tiny', 'main'));
    const progress: DownloadProgress[] = [];
    const r = await downloadRepo({
      repo: 'org/tiny',
      repoType: 'model',
      destDir: dir,
      hubUrl: HUB,
      fetch: hub.fetch,
      include: (p) => p !== 'README.md',
      onProgress: (p) => progress.push(p),
    });
    assert.equal(r.downloaded, 2);
    assert.deepEqual([...r.files].sort(), ['config.json', 'sub/weights.bin']);
    assert.equal(await readFile(join(dir, 'sub/weights.bin'), 'utf8'), files['sub/weights.bin']);
    assert.equal(await readFile(join(dir, 'config.json'), 'utf8'), files['config.json']);
    await assert.rejects(readFile(join(dir, 'README.md')));
    const last = progress.at(-1);
    assert.equal(last?.bytesDone, last?.bytesTotal);
    assert.equal(last?.bytesTotal, 3000 + files['config.json'].length);
    const marker = JSON.parse(await readFile(join(dir, COMPLETE_MARKER), 'utf8'));
    assert.equal(marker.files.length, 2);

    // Second run: sizes match, nothing is fetched but the listing.
    const again = fakeHub('models', 'org/tiny', files);
    const r2 = await downloadRepo({ repo: 'org/tiny', repoType: 'model', destDir: dir, hubUrl: HUB, fetch: again.fetch, include: (p) => p !== 'README.md' });
    assert.equal(r2.downloaded, 0);
    assert.deepEqual(again.calls, ['/api/models/org/tiny/tree/main']);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('dataset repos use the datasets/ endpoints; a corrupt partial file is replaced', async () => {
  const dest = await mkdtemp(join(tmpdir(), 'vlm2vec-hub-'));
  try {
    const files = { 'MSCOCO/test.parquet': 'PAR1....PAR1' };
    const hub = fakeHub('datasets', 'TIGER-Lab/MMEB-eval', files);
    await mkdir(join(dest, 'MSCOCO'), { recursive: true });
    await writeFile(join(dest, 'MSCOCO/test.parquet'), 'PAR'); // wrong size: refetched
    const r = await downloadRepo({ repo: 'TIGER-Lab/MMEB-eval', repoType: 'dataset', destDir: dest, hubUrl: HUB, fetch: hub.fetch });
    assert.equal(r.downloaded, 1);
    assert.equal(await readFile(join(dest, 'MSCOCO/test.parquet'), 'utf8'), files['MSCOCO/test.parquet']);
    assert.ok(hub.calls.includes('/datasets/TIGER-Lab/MMEB-eval/resolve/main/MSCOCO/test.parquet'));
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
});

test('no network: a clear offline error, and a hung server times out instead of hanging', async () => {
  const dest = await mkdtemp(join(tmpdir(), 'vlm2vec-hub-'));
  try {
    const dnsFail: typeof fetch = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND hub.test'), { code: 'ENOTFOUND' }) });
    };
    await assert.rejects(downloadRepo({ repo: 'org/m', repoType: 'model', destDir: dest, hubUrl: HUB, fetch: dnsFail }), {
      message: /^\[hub\] cannot reach https:\/\/hub\.test \(ENOTFOUND\) while listing model org\/m@main: the network looks offline/,
    });
    const hang: typeof fetch = (_i, init) =>
      new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    const t0 = Date.now();
    await assert.rejects(downloadRepo({ repo: 'org/m', repoType: 'model', destDir: dest, hubUrl: HUB, fetch: hang, timeoutMs: 50 }), /\(TIMEOUT\).*offline/);
    assert.ok(Date.now() - t0 < 5000);
    // Headers arrive, then the body stalls after the first chunk: the idle timer fires.
    const files = { 'w.bin': 'abcdef' };
    const hub = fakeHub('models', 'org/m', files);
    const stall: typeof fetch = async (input, init) => {
      const r = await hub.fetch(input, init);
      const range = new Headers(init?.headers).get('Range');
      if (range === 'bytes=0-0' || !String(input).includes('/resolve/')) return r;
      const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array([97])) }); // never closes
      return new Response(body, { status: r.status, headers: r.headers });
    };
    const t1 = Date.now();
    await assert.rejects(downloadRepo({ repo: 'org/m', repoType: 'model', destDir: dest, hubUrl: HUB, fetch: stall, timeoutMs: 100 }), /\(TIMEOUT\) while downloading w\.bin from model org\/m@main/);
    assert.ok(Date.now() - t1 < 5000);
    await assert.rejects(readFile(join(dest, 'w.bin')));
    const notFound: typeof fetch = async () => new Response('{"error":"Repository not found"}', { status: 404, headers: { 'content-type': 'application/json' } });
    await assert.rejects(downloadRepo({ repo: 'org/m', repoType: 'model', destDir: dest, hubUrl: HUB, fetch: notFound }), /not found \(HTTP 404\); check the repo id/);
    const denied: typeof fetch = async () => new Response('{"error":"gated"}', { status: 401, headers: { 'content-type': 'application/json' } });
    await assert.rejects(downloadRepo({ repo: 'org/m', repoType: 'model', destDir: dest, hubUrl: HUB, fetch: denied }), /access denied \(HTTP 401\).*HF_TOKEN/);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
});

test('repo ids and revisions are validated', () => {
  assert.ok(isRepoId('Qwen/Qwen2-VL-2B-Instruct'));
  assert.ok(isRepoId('TIGER-Lab/VLM2Vec-Qwen2VL-2B'));
  assert.ok(!isRepoId('./models/x'));
  assert.ok(!isRepoId('/abs/path'));
  assert.ok(!isRepoId('a/b/c'));
  assert.ok(!isRepoId('a/..'));
  assert.throws(() => repoCacheDir('org/m', 'model', '../../etc'), /revision '..\/..\/etc' must be/);
  assert.throws(() => repoCacheDir('not a repo'), /is not a hub repo id/);
});

test('select chooses over the whole listing (after include), e.g. skipping a file another one supersedes', async () => {
  const dest = await mkdtemp(join(tmpdir(), 'vlm2vec-hub-'));
  try {
    const files = { 'adapter_config.json': '{}', 'adapter_model.bin': 'pickle', 'adapter_model.safetensors': 'st', 'README.md': 'hi' };
    const hub = fakeHub('models', 'org/adapter', files);
    const seen: string[][] = [];
    const r = await downloadRepo({
      repo: 'org/adapter', repoType: 'model', destDir: dest, hubUrl: HUB, fetch: hub.fetch,
      include: (p) => p !== 'README.md',
      select: (paths) => {
        seen.push([...paths]);
        return paths.filter((p) => p !== 'adapter_model.bin');
      },
    });
    assert.deepEqual(seen, [['adapter_config.json', 'adapter_model.bin', 'adapter_model.safetensors']]);
    assert.deepEqual([...r.files].sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    assert.ok(!hub.calls.some((c) => c.endsWith('adapter_model.bin')), 'the superseded file is never requested');
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
});

// Node 20's mkdir -p never returns under /proc ($VLM2VEC_CACHE=/proc/… would hang a download).
test('a download folder under /proc is refused at once, naming it', { timeout: 10_000, skip: existsSync('/proc/self') ? false : 'no /proc here' }, async () => {
  const hub = fakeHub('models', 'org/tiny', { 'config.json': '{}' });
  await assert.rejects(downloadRepo({ repo: 'org/tiny', repoType: 'model', destDir: '/proc/vlm2vec-hub/org/tiny', hubUrl: HUB, fetch: hub.fetch }),
    /\[hub\] download folder \/proc\/vlm2vec-hub\/org\/tiny: \/proc is on the proc kernel filesystem/);
});
