// `vlm2vec serve` end to end on the tiny Qwen2-VL fixture: the three request forms and both
// encodings give LocalEmbedder's vectors for the same items, batching across requests changes
// nothing, bad requests are 4xx with a message and the server goes on, RemoteEmbedder (what
// `vlm2vec eval --model http://…/v1` uses) reads it, and a bounded load test on loopback.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { FIXTURES, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { LocalEmbedder } from '../embed/local.ts';
import { RemoteEmbedder } from '../embed/remote.ts';
import { MediaError } from '../embed/media-error.ts';
import { toDataUri } from '../embed/protocol.ts';
import { configureRuntime } from '../tensor/index.ts';
import type { EmbedItem } from '../embed/types.ts';
import { startServer, type ServeHandle } from './server.ts';

configureRuntime({ threads: 1 });

const MODEL = join(FIXTURES, 'tiny-a');
const IMG_A = join(FIXTURES, 'images', 'a.png');
const IMG_B = join(FIXTURES, 'images', 'b.png');
const FRAMES = [0, 1, 2, 3].map((i) => join(FIXTURES, 'video', `frame_${i}.png`));

let srv: ServeHandle;
let local: LocalEmbedder;
let uri: Record<string, string>;

before(async () => {
  srv = await startServer({ model: MODEL, tokenizer: TOKENIZER_DIR, port: 0, threads: 1 });
  local = await LocalEmbedder.load(MODEL, { tokenizerDir: TOKENIZER_DIR });
  uri = Object.fromEntries(await Promise.all([IMG_A, IMG_B, ...FRAMES].map(async (p) => [p, toDataUri(await readFile(p))] as const)));
  await srv.ready;
});

after(async () => {
  await srv.close();
  await local.close();
});

async function post(body: unknown, url = `${srv.url}/v1/embeddings`, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

function vectors(json: any): Float32Array[] {
  return json.data.map((d: { embedding: number[] | string }) => {
    if (typeof d.embedding !== 'string') return Float32Array.from(d.embedding);
    const b = Buffer.from(d.embedding, 'base64');
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  });
}

function cos(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return d / Math.sqrt(na * nb);
}

function assertSame(got: Float32Array[], want: Float32Array[], what: string): void {
  assert.equal(got.length, want.length, `${what}: count`);
  got.forEach((g, i) => {
    assert.equal(g.length, want[i]!.length, `${what}[${i}]: dim`);
    const c = cos(g, want[i]!);
    assert.ok(c >= 0.999999, `${what}[${i}]: cos ${c}`);
  });
}

/** A valid PNG header announcing width × height pixels, with almost no pixel data (a decompression bomb's shape). */
function bombPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(16))), chunk('IEND', Buffer.alloc(0))]);
}

/** Items of every kind, as files (for LocalEmbedder) — the wire form is built from the same files. */
const ITEMS: EmbedItem<string>[] = [
  { text: 'a photo of a cat on a mat' },
  { text: '<|image_pad|> Represent the given image.', images: [IMG_A] },
  { text: '<|video_pad|> Recognize the category of the video content.', video: FRAMES },
  { text: '<|image_pad|> Find a similar picture.', images: [IMG_B] },
  { text: 'Find a document image that matches the given query: revenue 2021' },
];
const wire = (it: EmbedItem<string>) => ({ text: it.text, ...(it.images ? { images: it.images.map((p) => uri[p]!) } : {}), ...(it.video ? { video: it.video.map((p) => uri[p]!) } : {}) });

test('/health is 503 while the model loads, then 200; /v1/models and /info describe the model', async () => {
  const s = await startServer({ model: MODEL, tokenizer: TOKENIZER_DIR, port: 0, threads: 1, servedModelName: 'tiny-vlm2vec' });
  try {
    const early = await fetch(`${s.url}/health`);
    assert.equal(early.status, 503);
    assert.equal(((await early.json()) as { status: string }).status, 'loading');
    assert.equal((await post({ input: 'x' }, `${s.url}/v1/embeddings`)).status, 503);
    await s.ready;
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    // --served-model-name names the model in /v1/models and in answers.
    assert.equal(((await (await fetch(`${s.url}/v1/models`)).json()) as { data: { id: string }[] }).data[0]!.id, 'tiny-vlm2vec');
    assert.equal((await post({ input: 'x' }, `${s.url}/v1/embeddings`)).json.model, 'tiny-vlm2vec');
    // The Prometheus text has every metric the issue lists, in the exposition format.
    const m = await (await fetch(`${s.url}/metrics`)).text();
    for (const name of ['vlm2vec_requests_total 2', 'vlm2vec_request_failures_total{reason="unavailable"} 1', 'vlm2vec_embeddings_total 1',
      'vlm2vec_tokens_total ', 'vlm2vec_queue_items 0', 'vlm2vec_forward_passes_total 1', 'vlm2vec_ready 1',
      '# TYPE vlm2vec_request_duration_seconds histogram', 'vlm2vec_request_duration_seconds_bucket{le="+Inf"} 2',
      '# TYPE vlm2vec_request_queue_duration_seconds histogram', 'vlm2vec_batch_size_bucket{le="1"} 1', '# TYPE vlm2vec_batch_tokens histogram']) {
      assert.ok(m.includes(name), `${name} missing from /metrics:\n${m}`);
    }
  } finally {
    await s.close();
  }
  const models = (await (await fetch(`${srv.url}/v1/models`)).json()) as { data: { id: string }[] };
  assert.equal(models.data[0]!.id, local.id);
  const info = (await (await fetch(`${srv.url}/info`)).json()) as { dim: number; limits: Record<string, number>; batching: Record<string, number> };
  assert.equal(info.dim, 24);
  assert.equal(info.limits['max_body_bytes'], 64 * 1024 * 1024);
  assert.equal(info.batching['max_queue_items'], 4096);
});

test("OpenAI's text form (a string, a list) embeds as LocalEmbedder does, float and base64, with usage", async () => {
  const texts = ['a photo of a cat', 'Find a document image that matches the given query: revenue 2021', 'x'];
  const want = await local.embedInputs(texts.map((text) => ({ text })));
  const one = await post({ input: texts[0], model: 'whatever' });
  assert.equal(one.status, 200);
  assert.equal(one.json.object, 'list');
  assertSame(vectors(one.json), want.slice(0, 1), 'string');
  for (const encoding_format of ['float', 'base64']) {
    const r = await post({ input: texts, encoding_format });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(typeof r.json.data[0].embedding, encoding_format === 'float' ? 'object' : 'string');
    assertSame(vectors(r.json), want, encoding_format);
    assert.deepEqual(r.json.data.map((d: { index: number }) => d.index), [0, 1, 2]);
    // Token counts of the tiny tokenizer: positive and the sum of the items'.
    const tokens = await Promise.all(texts.map(async (t, i) => (await local.prepare({ text: t }, i)).ids.length));
    assert.equal(r.json.usage.prompt_tokens, tokens.reduce((a, b) => a + b, 0));
    assert.equal(r.json.usage.total_tokens, r.json.usage.prompt_tokens);
  }
});

const passesSoFar = async (base: string) => Number(/vlm2vec_forward_passes_total (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())![1]);

test('our item form (text, image, video frames) and the vLLM chat form equal LocalEmbedder', async () => {
  const want = await local.embed(ITEMS);
  const before = await passesSoFar(srv.url);
  const r = await post({ input: ITEMS.map(wire), encoding_format: 'base64' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assertSame(vectors(r.json), want, 'items');
  assert.equal(await passesSoFar(srv.url) - before, 1, '5 items fit one forward pass of 8 rows and 16384 tokens');
  const chat = await post({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: uri[IMG_A] } }, { type: 'text', text: ' Represent the given image.' }] }] });
  assert.equal(chat.status, 200, JSON.stringify(chat.json));
  assertSame(vectors(chat.json), [want[1]!], 'chat');
});

test('a batched request equals the same items sent one by one', async () => {
  const batched = vectors((await post({ input: ITEMS.map(wire) })).json);
  const single: Float32Array[] = [];
  for (const it of ITEMS) single.push(vectors((await post({ input: [wire(it)] })).json)[0]!);
  assertSame(batched, single, 'batched vs single');
});

test('RemoteEmbedder against the server gives LocalEmbedder vectors (what vlm2vec eval --model URL uses)', async () => {
  const remote = await RemoteEmbedder.create({ endpoints: [`${srv.url}/v1`], maxItemsPerRequest: 2, retries: 0 });
  assert.equal(remote.id.includes(local.id), true, remote.id);
  assertSame(await remote.embed(ITEMS), await local.embed(ITEMS), 'remote');
  // An undecodable image comes back as a MediaError naming the item and the image.
  const bad = remote.embed([{ text: 'ok' }, { text: '<|image_pad|> x', images: [Buffer.from('not an image at all')] }]);
  await assert.rejects(bad, (e: unknown) => e instanceof MediaError && e.media?.item === 1 && e.media.kind === 'images' && e.media.index === 0);
});

test('an undecodable image is a 400 naming its JSON path', async () => {
  const junk = `data:image/png;base64,${Buffer.from('definitely not a png').toString('base64')}`;
  const r = await post({ input: [{ text: 'fine' }, { text: '<|image_pad|> x', images: [uri[IMG_A], junk] }] });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'input[1].images[1]');
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.match(r.json.error.message, /item 1/);
});

test('bad requests are each a 4xx in OpenAI shape with a message, and the server goes on', async () => {
  const cases: [string, unknown, number, RegExp][] = [
    ['malformed JSON', '{"input": [', 400, /not valid JSON/],
    ['not an object', '[1, 2]', 400, /request body: expected a JSON object/],
    ['no input', { model: 'm' }, 400, /expected "input".*or "messages"/],
    ['empty input', { input: [] }, 400, /input: expected at least one item/],
    ['input a number', { input: 42 }, 400, /input: expected an array/],
    ['item text a number', { input: [{ text: 3 }] }, 400, /input\[0\]\.text: expected a string/],
    ['misspelt field', { input: [{ text: 'x', image: [uri[IMG_A]] }] }, 400, /input\[0\]\.image: unknown field/],
    ['image not a data URI', { input: [{ text: '<|image_pad|>', images: ['http://example.com/x.png'] }] }, 400, /input\[0\]\.images\[0\]: expected a data URI/],
    ['a local path', { input: [{ text: '<|image_pad|>', images: [IMG_A] }] }, 400, /input\[0\]\.images\[0\]: .* is a local path; .*--allow-local-media/],
    ['bad base64', { input: [{ text: '<|image_pad|>', images: ['data:image/png;base64,@@@@'] }] }, 400, /not valid base64/],
    ['dimensions', { input: 'x', dimensions: 8 }, 400, /dimensions: VLM2Vec is not a Matryoshka model: its embeddings have 24 dimensions/],
    ['encoding_format', { input: 'x', encoding_format: 'int8' }, 400, /encoding_format: expected "float" or "base64"/],
    ['empty string', { input: [''] }, 400, /input\[0\]: item 0: empty item/],
    ['more images than placeholders', { input: [{ text: 'no placeholder', images: [uri[IMG_A]] }] }, 400, /input\[0\]: item 0: .*placeholder/],
    ['two chat messages', { messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }, 400, /messages: expected exactly one user message/],
    ['chat part type', { messages: [{ role: 'user', content: [{ type: 'audio', audio: 'x' }] }] }, 400, /messages\[0\]\.content\[0\]\.type/],
    ['both forms', { input: 'x', messages: [] }, 400, /has both "input".*and "messages"/],
    ['too many frames', { input: [{ text: '<|video_pad|>', video: Array(65).fill(uri[FRAMES[0]!]) }] }, 400, /input\[0\]\.video: 65 frames, more than the limit of 64 per video \(--max-frames\)/],
    ['too many media', { input: [{ text: 'x', images: Array(257).fill(uri[FRAMES[0]!]) }] }, 400, /input\[0\]: 257 images and video frames, more than the limit of 256 per item/],
    ['decompression bomb', { input: [{ text: '<|image_pad|> x', images: [toDataUri(bombPng(20000, 20000))] }] }, 400, /images\[0\]: 20000×20000 = 400000000 pixels, more than the server's limit of 89478485/],
  ];
  for (const [what, body, status, msg] of cases) {
    const r = await post(body);
    if (what === 'decompression bomb') assert.equal(r.json.error.param, 'input[0].images[0]');
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.error?.message, 'string', what);
    assert.match(r.json.error.message, msg, what);
    assert.ok('type' in r.json.error && 'code' in r.json.error, what);
  }
  const wrongRoute = await fetch(`${srv.url}/v2/embeddings`, { method: 'POST', body: '{}' });
  assert.equal(wrongRoute.status, 404);
  assert.match(((await wrongRoute.json()) as { error: { message: string } }).error.message, /no route POST \/v2\/embeddings/);
  assert.equal((await fetch(`${srv.url}/info`, { method: 'POST', body: '{}' })).status, 405);
  assert.equal((await fetch(`${srv.url}/nothing`)).status, 404);
  assert.equal((await fetch(`${srv.url}/v1/embeddings`)).status, 405);
  const ok = await post({ input: ITEMS.map(wire) });
  assert.equal(ok.status, 200);
  assertSame(vectors(ok.json), await local.embed(ITEMS), 'after the bad requests');
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  const failures = /vlm2vec_request_failures_total\{reason="validation"\} (\d+)/.exec(metrics);
  assert.ok(failures && Number(failures[1]) >= cases.length, metrics);
});

test('load: 32 concurrent clients, results equal sequential ones, /health answers while busy, batches form', async () => {
  const clients = 32;
  const rounds = 3;
  // Each client sends a different pair of items per round.
  const itemsOf = (c: number, r: number) => [wire(ITEMS[(c + r) % ITEMS.length]!), { text: `client ${c} round ${r}` }];
  const want = new Map<string, Float32Array[]>();
  for (let c = 0; c < clients; c++) {
    for (let r = 0; r < rounds; r++) {
      const its = itemsOf(c, r);
      want.set(`${c}/${r}`, await local.embed(its.map((w) => ({ text: w.text, ...('images' in w ? { images: (w as { images: string[] }).images.map((u) => Buffer.from(u.split(',')[1]!, 'base64')) } : {}), ...('video' in w ? { video: (w as { video: string[] }).video.map((u) => Buffer.from(u.split(',')[1]!, 'base64')) } : {}) }))));
    }
  }
  const before = await (await fetch(`${srv.url}/metrics`)).text();
  let done = false;
  const health: number[] = [];
  const probe = (async () => {
    while (!done) {
      const t0 = performance.now();
      const h = await fetch(`${srv.url}/health`);
      assert.equal(h.status, 200);
      health.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const t0 = performance.now();
  let busyHealth = 0;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let r = 0; r < rounds; r++) {
      const res = await post({ input: itemsOf(c, r) });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assertSame(vectors(res.json), want.get(`${c}/${r}`)!, `client ${c} round ${r}`);
    }
  }));
  busyHealth = health.length;
  done = true;
  await probe;
  const seconds = (performance.now() - t0) / 1000;
  // /health was answered during the load; its latency is measured and reported.
  assert.ok(busyHealth >= 1, `/health answered ${busyHealth} times during ${seconds.toFixed(2)} s of load`);
  const sorted = [...health].sort((a, b) => a - b);
  const p99 = sorted[Math.floor(sorted.length * 0.99)]!;
  const median = sorted[sorted.length >> 1]!;
  // The 100 ms holds for the median; the tail gets a generous bound because clients, server
  // and a LocalEmbedder share this test process's event loop on 2 shared cores.
  assert.ok(median < 100, `/health median ${median.toFixed(1)} ms`);
  assert.ok(p99 < 1000, `/health p99 ${p99.toFixed(1)} ms`);
  // Batching happened: some batch held more than one request's 2 items.
  const after = await (await fetch(`${srv.url}/metrics`)).text();
  const big = (m: string) => Number(/vlm2vec_batch_size_count (\d+)/.exec(m)![1]) - Number(/vlm2vec_batch_size_bucket\{le="2"\} (\d+)/.exec(m)![1]);
  assert.ok(big(after) - big(before) > 0, 'no batch of more than 2 items formed');
  console.log(`load: ${clients * rounds} requests in ${seconds.toFixed(2)} s; /health ${health.length} probes, median ${sorted[sorted.length >> 1]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
});

test('API key, CORS, 413, 429 with Retry-After when the queue is full, a gone client, graceful shutdown', async () => {
  const s = await startServer({
    model: MODEL, tokenizer: TOKENIZER_DIR, port: 0, threads: 1, apiKey: 'k3y', cors: '*', allowLocalMedia: [join(FIXTURES, 'images')],
    maxBodyBytes: 2_000_000, maxBatchItems: 1, maxQueueItems: 2, maxWaitMs: 0,
  });
  await s.ready;
  const url = `${s.url}/v1/embeddings`;
  const auth = { authorization: 'Bearer k3y' };
  try {
    assert.equal((await fetch(`${s.url}/health`)).status, 200, '/health needs no key');
    const noKey = await post({ input: 'x' }, url);
    assert.equal(noKey.status, 401);
    assert.equal(noKey.json.error.code, 'invalid_api_key');
    assert.equal((await post({ input: 'x' }, url, { authorization: 'Bearer nope' })).status, 401);
    assert.equal((await fetch(`${s.url}/info`)).status, 401);
    const ok = await post({ input: 'x' }, url, auth);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), '*');
    // --allow-local-media: a file under the folder by path equals its data URI; one outside is refused.
    const byPath = await post({ input: [{ text: '<|image_pad|> Represent the given image.', images: [IMG_A] }] }, url, auth);
    assert.equal(byPath.status, 200, JSON.stringify(byPath.json));
    assertSame(vectors(byPath.json), [(await local.embed([ITEMS[1]!]))[0]!], 'local path');
    const outside = await post({ input: [{ text: '<|video_pad|>', video: [FRAMES[0]] }] }, url, auth);
    assert.equal(outside.status, 400);
    assert.equal(outside.json.error.param, 'input[0].video[0]');
    const pre = await fetch(url, { method: 'OPTIONS' });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/);
    assert.equal(srv.url.length > 0 && (await fetch(`${srv.url}/health`)).headers.get('access-control-allow-origin'), null, 'CORS off by default');

    // Clients that announce a huge body, or stop mid-body, and vanish: the server goes on.
    for (const length of [10 ** 9, 5000]) {
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port: Number(new URL(s.url).port), path: '/v1/embeddings', method: 'POST', headers: { ...auth, 'content-length': String(length) } });
        req.on('error', () => resolve());
        req.on('response', () => resolve());
        req.write('{"input": "abc', () => setTimeout(() => {
          req.destroy();
          resolve();
        }, 20));
      });
    }
    assert.equal((await post({ input: 'still here' }, url, auth)).status, 200);
    const big = await post({ input: 'x'.repeat(2_500_000) }, url, auth);
    assert.equal(big.status, 413);
    assert.match(big.json.error.message, /more than the limit of 2000000/);

    // 40 requests at once: one computes, two queue, the rest are refused with Retry-After.
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => post({ input: [{ text: `<|image_pad|> item ${i}`, images: [uri[IMG_A]] }] }, url, auth)));
    const refused = many.filter((r) => r.status === 429);
    assert.ok(refused.length > 0, `statuses ${many.map((r) => r.status).join(',')}`);
    assert.ok(many.every((r) => r.status === 200 || r.status === 429));
    assert.ok(Number(refused[0]!.headers.get('retry-after')) >= 1);
    assert.equal(refused[0]!.json.error.code, 'queue_full');
    assert.equal((await post({ input: 'after' }, url, auth)).status, 200);

    // A client that goes away while its request waits behind another: its item is never computed.
    const sumOf = async () => Number(/vlm2vec_batch_size_sum (\d+)/.exec(await (await fetch(`${s.url}/metrics`, { headers: auth })).text())![1]);
    const before = await sumOf();
    const busy = post({ input: Array.from({ length: 40 }, (_, i) => ({ text: `<|image_pad|><|image_pad|> busy ${i}`, images: [uri[IMG_A], uri[IMG_A]] })) }, url, auth);
    // The busy request's 40 items (80 images) take well over 50 ms on the tiny model.
    await new Promise((r) => setTimeout(r, 40));
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: Number(new URL(s.url).port), path: '/v1/embeddings', method: 'POST', headers: { ...auth, 'content-type': 'application/json' } });
      req.on('error', () => resolve());
      req.end(JSON.stringify({ input: 'gone' }), () => setTimeout(() => {
        req.destroy();
        resolve();
      }, 10));
    });
    assert.equal((await busy).status, 200);
    await new Promise((r) => setTimeout(r, 100));
    const m = await (await fetch(`${s.url}/metrics`, { headers: auth })).text();
    assert.match(m, /vlm2vec_request_failures_total\{reason="cancelled"\} 1/);
    assert.equal(await sumOf() - before, 40, 'the gone request was computed');
    assert.equal((await post({ input: 'next' }, url, auth)).status, 200);

    // Shutdown while a request is in flight (40 items, 80 images): it is answered, then nothing listens.
    const inflight = post({ input: Array.from({ length: 40 }, (_, i) => ({ text: `<|image_pad|><|image_pad|> last ${i}`, images: [uri[IMG_A], uri[IMG_A]] })) }, url, auth);
    for (let t = 0; s.inFlight === 0 && t < 2000; t += 2) await new Promise((r) => setTimeout(r, 2));
    assert.equal(s.inFlight, 1, 'the request never reached the server');
    const t0 = performance.now();
    await s.close();
    const answered = await inflight;
    assert.equal(answered.status, 200);
    assert.equal(answered.json.data.length, 40);
    assert.ok(performance.now() - t0 < 5000);
    await assert.rejects(fetch(`${s.url}/health`));
  } finally {
    await s.close();
  }
});

test('a request not answered within --timeout is a 504 and the server goes on; --max-batch-tokens splits passes', async () => {
  const s = await startServer({ model: MODEL, tokenizer: TOKENIZER_DIR, port: 0, threads: 1, timeoutSeconds: 0.25, maxBatchTokens: 1, maxConcurrentRequests: 1 });
  await s.ready;
  try {
    const url = `${s.url}/v1/embeddings`;
    // 120 items of 2 images each take the tiny model well over 250 ms on one thread.
    const slowReq = post({ input: Array.from({ length: 120 }, (_, i) => ({ text: `<|image_pad|><|image_pad|> ${i}`, images: [uri[IMG_A], uri[IMG_B]] })) }, url);
    // --max-concurrent-requests 1: a second request while the first is handled is refused at once.
    for (let t = 0; s.inFlight === 0 && t < 2000; t += 2) await new Promise((r) => setTimeout(r, 2));
    const second = await post({ input: 'second' }, url);
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('retry-after'), '1');
    assert.match(second.json.error.message, /--max-concurrent-requests/);
    const slow = await slowReq;
    assert.equal(slow.status, 504, JSON.stringify(slow.json).slice(0, 200));
    assert.equal(slow.json.error.code, 'timeout');
    assert.match(slow.json.error.message, /not answered within 0\.25 s \(--timeout\)/);
    // Once the abandoned batch has left the model, a small request is answered.
    for (let t = 0; s.metrics.batchSize.count === 0 && t < 10_000; t += 10) await new Promise((r) => setTimeout(r, 10));
    const ok = await post({ input: 'after the timeout' }, url);
    assert.equal(ok.status, 200);
    assertSame(vectors(ok.json), await local.embedInputs([{ text: 'after the timeout' }]), 'after timeout');
    // --max-batch-tokens 1: every row is a forward pass of its own, with the same vectors.
    const before = await passesSoFar(s.url);
    const three = await post({ input: ITEMS.slice(0, 3).map(wire) }, url);
    assertSame(vectors(three.json), await local.embed(ITEMS.slice(0, 3)), 'one row per pass');
    assert.equal(await passesSoFar(s.url) - before, 3);
  } finally {
    await s.close();
  }
});
