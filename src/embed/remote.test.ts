import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteEmbedder, normalizeEndpoint, type RemoteEvent } from './remote.ts';
import { mimeOf, relaxedJson } from './protocol.ts';
import type { Embedder } from './types.ts';
import { startEmbedServer, hashVector, itemDigest, type EmbedServer } from '../../test/e2e/embed-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'v2v-remote-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('png body')]);
const jpg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('jpeg body')]);
const pngPath = join(dir, 'page.png');
const jpgPath = join(dir, 'frame_0001.jpg');
const jpg2Path = join(dir, 'frame_0002.jpg');
// A PNG stored under a .jpg name: the mime type must come from the bytes.
const pngAsJpg = join(dir, 'mislabelled.jpg');
writeFileSync(pngPath, png);
writeFileSync(jpgPath, jpg);
writeFileSync(jpg2Path, Buffer.concat([jpg, Buffer.from('2')]));
writeFileSync(pngAsJpg, png);

const servers: EmbedServer[] = [];
async function server(...args: Parameters<typeof startEmbedServer>): Promise<EmbedServer> {
  const s = await startEmbedServer(...args);
  servers.push(s);
  return s;
}
after(async () => {
  for (const s of servers) await s.close();
});
const fast = { backoffMs: 1, maxBackoffMs: 5 };

test('endpoint URLs are normalised and validated', () => {
  assert.equal(normalizeEndpoint('http://gpu1:8000'), 'http://gpu1:8000/v1');
  assert.equal(normalizeEndpoint('https://h/api/v1/'), 'https://h/api/v1');
  assert.throws(() => normalizeEndpoint('ftp://h'), /must use http or https/);
  assert.throws(() => normalizeEndpoint('gpu1:8000x'), /not a URL|must use http/);
});

test('mime types are sniffed from bytes before the extension', () => {
  assert.equal(mimeOf(png, 'x.jpg'), 'image/png');
  assert.equal(mimeOf(jpg, 'x.png'), 'image/jpeg');
  assert.equal(mimeOf(Buffer.from('??'), 'x.webp'), 'image/webp');
  assert.deepEqual(relaxedJson('{"a":[NaN,-Infinity,"NaN x"]}'), { a: ['NaN', '-Infinity', 'NaN x'] });
});

test('vlm2vec protocol: batched items with original media bytes, results in order', async () => {
  const s = await server({ dim: 8 });
  const emb = await RemoteEmbedder.create({ endpoints: [s.url], maxItemsPerRequest: 2 });
  assert.equal(emb.id, 'vlm2vec:test-embedder');
  const items = [
    { text: 'q0' },
    { text: '<|image_pad|> Represent the given image.', images: [pngPath] },
    { text: '<|video_pad|> Understand', video: [jpgPath, jpg2Path] },
    { text: 'q3', images: [pngAsJpg] },
    { text: 'q4' },
  ];
  const out = await emb.embed(items, { task: 'T', role: 'query' });
  const order = (t: string) => items.findIndex((it) => it.text === t);
  assert.equal(s.requests.length, 3); // 2 + 2 + 1 items
  // Requests run concurrently, so they may arrive in any order.
  assert.deepEqual(s.requests.map((r) => r.items.map((it) => it.text[0]!).join('')).sort(), ['q<', '<q', 'q'].sort());
  assert.equal(s.requests[0]!.model, 'test-embedder');
  const seen = s.requests.flatMap((r) => r.items).sort((x, y) => order(x.text) - order(y.text));
  assert.deepEqual(seen[1]!.images, [png]);
  assert.deepEqual(seen[1]!.mimes, ['image/png']);
  assert.deepEqual(seen[2]!.video, [jpg, Buffer.concat([jpg, Buffer.from('2')])]);
  assert.deepEqual(seen[2]!.mimes, ['image/jpeg', 'image/jpeg']);
  assert.deepEqual(seen[3]!.mimes, ['image/png']);
  // The server's vector for each item, recomputed here from the raw bytes we wrote.
  const expected = [
    itemDigest('q0', [], []),
    itemDigest(items[1]!.text, [png], []),
    itemDigest(items[2]!.text, [], [jpg, Buffer.concat([jpg, Buffer.from('2')])]),
    itemDigest('q3', [png], []),
    itemDigest('q4', [], []),
  ].map((d) => hashVector(Buffer.from(d, 'hex'), 8));
  assert.deepEqual(out, expected);
  assert.equal(emb.dim, 8);
});

test('vllm protocol: one chat request per item, images where their placeholders stood', async () => {
  const s = await server({ dim: 4 });
  const emb = await RemoteEmbedder.create({ endpoints: [s.url], protocol: 'vllm', modelName: 'VLM2Vec-Full' });
  assert.equal(emb.id, 'vllm:VLM2Vec-Full');
  const out = await emb.embed([
    { text: '<|image_pad|> Represent the given image.', images: [pngPath] },
    { text: 'Find a document: cats' },
    { text: 'left <image> mid <image>', images: [jpgPath, pngPath] },
  ]);
  assert.equal(out.length, 3);
  assert.equal(s.requests.length, 3);
  const byText = new Map(s.requests.map((r) => [r.items[0]!.text, r]));
  assert.deepEqual([...byText.keys()].sort(), ['<IMG> Represent the given image.', 'Find a document: cats', 'left <IMG> mid <IMG>'].sort());
  assert.deepEqual(byText.get('left <IMG> mid <IMG>')!.items[0]!.images, [jpg, png]);
  assert.equal(s.requests[0]!.protocol, 'vllm');
  assert.equal(s.requests[0]!.model, 'VLM2Vec-Full');
  assert.deepEqual(out[1], hashVector(Buffer.from(itemDigest('Find a document: cats', [], []), 'hex'), 4));
  await assert.rejects(emb.embed([{ text: 'x' }, { text: '<|video_pad|> v', video: [jpgPath] }], { task: 'MSR-VTT', role: 'candidate' }),
    /task MSR-VTT, item 1: the vllm protocol cannot send video/);
});

test('transient failures are retried with backoff', async () => {
  const s = await server({ dim: 4, fault: (r) => (r.n === 1 ? { status: 503 } : r.n === 2 ? 'reset' : r.n === 3 ? { raw: '{"data": [' } : undefined) });
  const events: RemoteEvent[] = [];
  const emb = await RemoteEmbedder.create({ endpoints: [s.url], ...fast, deadAfter: 10, onEvent: (e) => events.push(e) });
  const [v] = await emb.embed([{ text: 'hello' }]);
  assert.deepEqual(v, hashVector(Buffer.from(itemDigest('hello', [], []), 'hex'), 4));
  assert.equal(s.requests.length, 4);
  assert.deepEqual(events.map((e) => e.type), ['retry', 'retry', 'retry']);
  assert.match((events[0] as { error: string }).error, /HTTP 503/);
  assert.match((events[2] as { error: string }).error, /not valid JSON/);
});

test('retries are bounded: a persistently failing endpoint gives a clear error', async () => {
  const s = await server({ dim: 4, fault: () => ({ status: 500, body: 'boom' }) });
  const emb = await RemoteEmbedder.create({ endpoints: [s.url], ...fast, retries: 2, deadAfter: 100 });
  await assert.rejects(emb.embed([{ text: 'a' }, { text: 'b' }], { task: 'K700', role: 'query' }),
    /\(task K700\): items 0\.\.1 failed after 3 attempts: HTTP 500 .*boom/);
  assert.equal(s.requests.length, 3);
});

test('an endpoint that dies mid-run is dropped; the others finish the work', async () => {
  const a = await server({ dim: 6, delayMs: 5, fault: (r) => (r.n === 3 ? 'die' : undefined) });
  const b = await server({ dim: 6, delayMs: 5 });
  const events: RemoteEvent[] = [];
  const emb = await RemoteEmbedder.create({ endpoints: [a.url, b.url], concurrency: 3, ...fast, onEvent: (e) => events.push(e) });
  const batches = Array.from({ length: 12 }, (_, i) => [{ text: `item ${i}a` }, { text: `item ${i}b` }]);
  const out = await Promise.all(batches.map((batch) => emb.embed(batch)));
  batches.forEach((batch, i) => batch.forEach((it, j) =>
    assert.deepEqual(out[i]![j], hashVector(Buffer.from(itemDigest(it.text, [], []), 'hex'), 6))));
  assert.deepEqual(emb.aliveEndpoints, [b.url]);
  const dead = events.filter((e) => e.type === 'dead');
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.url, a.url);
  assert.equal(a.requests.length, 3);
  assert.ok(b.requests.length >= 10, `b served ${b.requests.length}`);
  assert.ok(a.maxInFlight + b.maxInFlight <= 3 + 3);
});

test('when every endpoint is dead, embedding fails naming them', async () => {
  const a = await server({ fault: () => 'die' });
  const b = await server({ fault: () => 'die' });
  const emb = await RemoteEmbedder.create({ endpoints: [a.url, b.url], modelName: 'm', ...fast, deadAfter: 1 });
  await assert.rejects(emb.embed([{ text: 'x' }]), (err: Error) => {
    assert.match(err.message, /every endpoint is dead/);
    assert.ok(err.message.includes(a.url) && err.message.includes(b.url));
    return true;
  });
});

test('--concurrency bounds in-flight requests', async () => {
  const s = await server({ dim: 4, delayMs: 30 });
  const emb = await RemoteEmbedder.create({ endpoints: [s.url], concurrency: 2, maxItemsPerRequest: 1 });
  await emb.embed(Array.from({ length: 8 }, (_, i) => ({ text: `t${i}` })));
  assert.equal(s.requests.length, 8);
  assert.equal(s.maxInFlight, 2);
});

test('bad responses are rejected with the endpoint and item named, without retry', async () => {
  const cases: [unknown, RegExp][] = [
    [{ data: [{ index: 0, embedding: [1, 0] }] }, /has 1 embeddings for 2 items \(items 0\.\.1\)/],
    [{ data: [{ index: 0, embedding: [1, 0] }, { index: 1, embedding: [1, 0, 0] }] }, /item 1: embedding has 3 dimensions, expected 2/],
    [{ data: [{ index: 0, embedding: [1, 0] }, { index: 0, embedding: [1, 0] }] }, /index 0 appears twice/],
    [{ data: [{ index: 0, embedding: [1, 0] }, { index: 5, embedding: [1, 0] }] }, /data\[1\]\.index is 5/],
    [{ data: [{ index: 0, embedding: [1, 0] }, { index: 1, embedding: [1, 'x'] }] }, /item 1: embedding\[1\] is "x"/],
    [{ data: [{ index: 0, embedding: [1, 0] }, { index: 1, embedding: [1e39, 0] }] }, /item 1: embedding\[0\] is Infinity/],
    [{ embeddings: [] }, /no "data" array/],
  ];
  for (const [json, re] of cases) {
    const s = await server({ fault: () => ({ json }) });
    const emb = await RemoteEmbedder.create({ endpoints: [s.url], modelName: 'm', ...fast });
    await assert.rejects(emb.embed([{ text: 'a' }, { text: 'b' }]), (err: Error) => {
      assert.match(err.message, re);
      assert.ok(err.message.includes(`${s.url}/embeddings`), err.message);
      return true;
    });
    assert.equal(s.requests.length, 1, `no retry for ${re}`);
  }
  // Python-style bare NaN in the body.
  const s = await server({ fault: () => ({ raw: '{"data": [{"index": 0, "embedding": [0.5, NaN]}]}' }) });
  const emb = await RemoteEmbedder.create({ endpoints: [s.url], modelName: 'm', ...fast });
  await assert.rejects(emb.embed([{ text: 'a' }], { task: 'MSCOCO', role: 'candidate' }), /\(task MSCOCO\): item 0: embedding\[1\] is NaN/);
  // A 4xx is the caller's fault: no retry.
  const bad = await server({ fault: () => ({ status: 400, body: '{"error":"model not found"}' }) });
  const emb2 = await RemoteEmbedder.create({ endpoints: [bad.url], modelName: 'm', ...fast });
  await assert.rejects(emb2.embed([{ text: 'a' }]), /HTTP 400 .*model not found/);
  assert.equal(bad.requests.length, 1);
});

test('a dimension that changes between responses is an error', async () => {
  let dim = 4;
  const s = await server({ embed: () => new Array(dim).fill(0.5) });
  const emb = await RemoteEmbedder.create({ endpoints: [s.url], ...fast });
  await emb.embed([{ text: 'a' }]);
  dim = 5;
  await assert.rejects(emb.embed([{ text: 'b' }], { task: 'VOC2007', role: 'query' }), /\(task VOC2007\): item 0: embedding has 5 dimensions, expected 4/);
});

test('missing media files and unreachable endpoints give clear errors', async () => {
  const s = await server();
  const emb = await RemoteEmbedder.create({ endpoints: [s.url], ...fast });
  await assert.rejects(emb.embed([{ text: 'a' }, { text: 'b', images: [join(dir, 'nope.png')] }]), /item 1: media file .*nope\.png cannot be read/);
  const gone = await server();
  gone.die();
  await assert.rejects(RemoteEmbedder.create({ endpoints: [gone.url] }), /no endpoint answered GET <base>\/models .*--model-name/);
});

test('an API key is sent as a Bearer token; without it the error says so', async () => {
  const s = await server({ dim: 4, apiKey: 'sekret' });
  await assert.rejects(RemoteEmbedder.create({ endpoints: [s.url] }), /needs an API key \(--api-key or VLM2VEC_API_KEY\)/);
  const noKey = await RemoteEmbedder.create({ endpoints: [s.url], modelName: 'm', ...fast });
  await assert.rejects(noKey.embed([{ text: 'a' }]), /HTTP 401 .*invalid api key/);
  assert.equal(s.requests.length, 0); // rejected before parsing, never retried
  const emb = await RemoteEmbedder.create({ endpoints: [s.url], apiKey: 'sekret' });
  assert.equal(emb.id, 'vlm2vec:test-embedder');
  const [v] = await emb.embed([{ text: 'a' }]);
  assert.deepEqual(v, hashVector(Buffer.from(itemDigest('a', [], []), 'hex'), 4));
});

test('Retry-After headers are read as seconds or HTTP dates, capped at a minute', async () => {
  const { parseRetryAfter } = await import('./remote.ts');
  assert.equal(parseRetryAfter('2'), 2000);
  assert.equal(parseRetryAfter('0'), 0);
  assert.equal(parseRetryAfter('3600'), 60_000);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
  const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
  assert.equal(parseRetryAfter('Wed, 21 Oct 2026 07:28:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2026 07:27:00 GMT', now), 0);
});

test('capabilities tell the harness which protocol can carry video', async () => {
  const vllm: Embedder = await RemoteEmbedder.create({ endpoints: ['http://127.0.0.1:9'], modelName: 'm', protocol: 'vllm' });
  const ours: Embedder = await RemoteEmbedder.create({ endpoints: ['http://127.0.0.1:9'], modelName: 'm' });
  assert.deepEqual(vllm.capabilities, { images: true, video: false });
  assert.deepEqual(ours.capabilities, { images: true, video: true });
});

test('media bytes the caller already read (ctx.mediaBytes) are sent without reading the file again', async () => {
  const s = await server({ dim: 4 });
  // These paths do not exist: the bytes can only come from the context.
  const gone = join(dir, 'not-on-disk.png');
  const goneFrame = join(dir, 'not-on-disk.jpg');
  const mediaBytes = new Map<string, Uint8Array>([[gone, png], [goneFrame, jpg]]);
  const ours = await RemoteEmbedder.create({ endpoints: [s.url], modelName: 'm' });
  await ours.embed([{ text: 'i', images: [gone] }, { text: 'v', video: [goneFrame, goneFrame] }], { task: 'T', role: 'query', mediaBytes });
  const seen = s.requests.flatMap((r) => r.items);
  assert.deepEqual(seen.find((it) => it.text === 'i')!.images, [png]);
  assert.deepEqual(seen.find((it) => it.text === 'v')!.video, [jpg, jpg]);
  const vllm = await RemoteEmbedder.create({ endpoints: [s.url], modelName: 'm', protocol: 'vllm' });
  await vllm.embed([{ text: '<image> x', images: [gone] }], { role: 'candidate', mediaBytes });
  assert.deepEqual(s.requests.at(-1)!.items[0]!.images, [png]);
  // A path the map does not hold is read from disk as before.
  await ours.embed([{ text: 'd', images: [pngPath] }], { role: 'query', mediaBytes });
  assert.deepEqual(s.requests.at(-1)!.items[0]!.images, [png]);
});
