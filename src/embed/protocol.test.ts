// The embedding protocol module: the exact bytes a client sends (hand-written documents, base64
// computed with coreutils' base64), encode → decode round trips of requests and responses, and
// every error a server gives for a malformed request.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeRequest, decodeResponse, encodeResponse, encodeVllmRequest, encodeVlm2VecRequest, errorBody, errorStatus, mediaField,
  parseDataUri, parseMediaField, ProtocolError, relaxedJson, type DecodeRequestOptions,
} from './protocol.ts';
import type { EmbedItem } from './types.ts';
import { MediaError } from './media-error.ts';
import { startEmbedServer } from '../../test/e2e/embed-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'v2v-protocol-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('png body')]);
const jpg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('jpeg body')]);
const jpg2 = Buffer.concat([jpg, Buffer.from('2')]);
const pngPath = join(dir, 'page.png');
const jpgPath = join(dir, 'frame_0001.jpg');
// Unknown bytes: the mime type then comes from the extension, or is application/octet-stream.
const webpPath = join(dir, 'odd.webp');
writeFileSync(pngPath, png);
writeFileSync(jpgPath, jpg);
writeFileSync(webpPath, '??');

// base64 of the bytes above, from `printf … | base64 -w0`.
const PNG_URI = 'data:image/png;base64,iVBORw0KGgpwbmcgYm9keQ==';
const JPG_URI = 'data:image/jpeg;base64,/9j/4GpwZWcgYm9keQ==';
const JPG2_URI = 'data:image/jpeg;base64,/9j/4GpwZWcgYm9keTI=';

test('vlm2vec request: the exact bytes on the wire, media from files or bytes', async () => {
  const items: EmbedItem[] = [
    { text: 'q0' },
    { text: '<|image_pad|> Represent the given image.', images: [pngPath] },
    { text: '<|video_pad|> Understand', video: [jpgPath, jpg2] },
    { text: 'q3', images: [] },
    { text: 'odd', images: [webpPath, Buffer.from('??')] },
  ];
  assert.equal(JSON.stringify(await encodeVlm2VecRequest('VLM2Vec-V2.0', items)),
    '{"model":"VLM2Vec-V2.0","input":[{"text":"q0"},' +
    `{"text":"<|image_pad|> Represent the given image.","images":["${PNG_URI}"]},` +
    `{"text":"<|video_pad|> Understand","video":["${JPG_URI}","${JPG2_URI}"]},` +
    '{"text":"q3","images":[]},' +
    '{"text":"odd","images":["data:image/webp;base64,Pz8=","data:application/octet-stream;base64,Pz8="]}],' +
    '"encoding_format":"float"}');
  assert.equal(JSON.stringify(await encodeVlm2VecRequest(undefined, [{ text: 'a' }])), '{"input":[{"text":"a"}],"encoding_format":"float"}');
  await assert.rejects(encodeVlm2VecRequest('m', [{ text: 'a' }, { text: 'b', images: [join(dir, 'nope.png')] }], 10),
    /\[remote\] item 11: media file .*nope\.png cannot be read/);
});

test('vllm request: the exact bytes on the wire, images where their placeholders stood', async () => {
  // Three images, two placeholders: the extra image goes first.
  const item: EmbedItem = { text: 'left <image> mid <|image_pad|> end', images: [Buffer.from('GIF89a'), pngPath, jpgPath] };
  assert.equal(JSON.stringify(await encodeVllmRequest('m', item, 0)),
    '{"model":"m","messages":[{"role":"user","content":[' +
    '{"type":"image_url","image_url":{"url":"data:image/gif;base64,R0lGODlh"}},{"type":"text","text":"left "},' +
    `{"type":"image_url","image_url":{"url":"${PNG_URI}"}},{"type":"text","text":" mid "},` +
    `{"type":"image_url","image_url":{"url":"${JPG_URI}"}},{"type":"text","text":" end"}]}],"encoding_format":"float"}`);
  await assert.rejects(encodeVllmRequest('m', { text: 'v', video: [jpg] }, 4, 'MSR-VTT'), /task MSR-VTT, item 4: the vllm protocol cannot send video \(1 frames\)/);
});

test('requests round-trip: decode(encode(items)) gives the items with their media as bytes', async () => {
  const items: EmbedItem[] = [
    { text: 'q0' },
    { text: '<|image_pad|> Represent the given image.', images: [pngPath] },
    { text: '<|video_pad|> Understand', video: [jpg, jpg2] },
    { text: 'q3', images: [], video: [] },
  ];
  const wire = JSON.parse(JSON.stringify(await encodeVlm2VecRequest('VLM2Vec-V2.0', items))) as unknown;
  const req = decodeRequest(wire);
  assert.equal(req.protocol, 'vlm2vec');
  assert.equal(req.model, 'VLM2Vec-V2.0');
  assert.equal(req.encodingFormat, 'float');
  assert.deepEqual(req.items.map(plain), [
    { text: 'q0' },
    { text: items[1]!.text, images: [[...png]] },
    { text: items[2]!.text, video: [[...jpg], [...jpg2]] },
    { text: 'q3', images: [], video: [] },
  ]);
  assert.deepEqual(req.mimes, [[], ['image/png'], ['image/jpeg', 'image/jpeg'], []]);

  const one: EmbedItem = { text: '<|image_pad|> Find the image: <|image_pad|>', images: [png, jpg] };
  const chat = decodeRequest(JSON.parse(JSON.stringify(await encodeVllmRequest(undefined, one, 0))));
  assert.equal(chat.protocol, 'vllm');
  assert.equal(chat.model, undefined);
  assert.deepEqual(chat.items.map(plain), [plain(one)]);
  assert.deepEqual(chat.mimes, [['image/png', 'image/jpeg']]);
  // Another backbone's placeholder is chosen by the server.
  const phi = decodeRequest(JSON.parse(JSON.stringify(await encodeVllmRequest('m', { text: '<|image_1|>\nx', images: [png] }, 0))), { imageToken: '<|image_1|>' });
  assert.equal(phi.items[0]!.text, '<|image_1|>\nx');
  // OpenAI's text-only forms.
  assert.deepEqual(decodeRequest({ input: 'hello' }).items, [{ text: 'hello' }]);
  assert.deepEqual(decodeRequest({ input: ['a', { text: 'b' }], encoding_format: 'base64' }).items, [{ text: 'a' }, { text: 'b' }]);
  assert.deepEqual(decodeRequest({ messages: [{ role: 'user', content: 'plain' }] }).items, [{ text: 'plain' }]);
});

test('responses: the exact bytes of both encodings, and decode(encode(vectors)) gives the vectors', () => {
  assert.equal(JSON.stringify(encodeResponse([Float32Array.of(0.5, -0.25)], { model: 'm' })),
    '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25]}],"model":"m","usage":{"prompt_tokens":0,"total_tokens":0}}');
  // struct.pack('<2f', 1, -2) in base64.
  assert.equal(JSON.stringify(encodeResponse([[1, -2]], { model: 'm', encodingFormat: 'base64', promptTokens: 7 })),
    '{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAMA="}],"model":"m","usage":{"prompt_tokens":7,"total_tokens":7}}');
  const ctx = { url: 'http://h/v1/embeddings', firstIndex: 0 };
  // struct.pack('<3f', 0.5, -0.25, 0.1): float32(0.1) is 0.10000000149011612.
  assert.deepEqual(decodeResponse({ data: [{ index: 0, embedding: 'AAAAPwAAgL7NzMw9' }] }, 1, ctx), [Float32Array.of(0.5, -0.25, 0.1)]);
  const vectors = [Float32Array.of(0.1, 0.2, -0.3), Float32Array.of(1e-8, 3.4e38, -1)];
  for (const encodingFormat of ['float', 'base64'] as const) {
    const text = JSON.stringify(encodeResponse(vectors, { model: 'm', encodingFormat }));
    assert.deepEqual(decodeResponse(relaxedJson(text), 2, ctx), vectors, encodingFormat);
  }
  // Answers out of order are put back in request order.
  assert.deepEqual(decodeResponse({ data: [{ index: 1, embedding: [2] }, { index: 0, embedding: [1] }] }, 2, ctx), [Float32Array.of(1), Float32Array.of(2)]);
  assert.throws(() => decodeResponse({ data: [{ index: 0, embedding: 'AAAAPwA=' }] }, 1, ctx), /item 0: base64 embedding has 5 bytes, not a float32 vector/);
  assert.throws(() => decodeResponse({ data: [{ index: 0, embedding: [] }] }, 1, ctx), /item 0: embedding is empty/);
  assert.throws(() => decodeResponse({ data: [{ index: 0 }] }, 1, { ...ctx, firstIndex: 5 }), /item 5: "embedding" is missing/);
  assert.throws(() => decodeResponse({ data: [{ index: 0, embedding: [1, 2] }] }, 1, { ...ctx, expectedDim: 3 }), /item 0: embedding has 2 dimensions, expected 3/);
});

test('a server refuses to encode vectors a client would reject, saying which', () => {
  assert.throws(() => encodeResponse([[1, 2], [1]], { model: 'm' }), /\[protocol\] response: embedding 1 has 1 dimensions, embedding 0 has 2/);
  assert.throws(() => encodeResponse([[]], { model: 'm' }), /embedding 0 has 0 dimensions$/);
  assert.throws(() => encodeResponse([[1], [NaN]], { model: 'm' }), /embedding 1\[0\] is NaN \(expected a finite number\)/);
  assert.throws(() => encodeResponse([[Infinity]], { model: 'm', encodingFormat: 'base64' }), /embedding 0\[0\] is Infinity/);
});

test('data URIs: mime types, parameters, and what is refused', () => {
  assert.deepEqual(plain(parseDataUri(PNG_URI, 'f')), { mime: 'image/png', bytes: [...png] });
  assert.deepEqual(plain(parseDataUri('data:IMAGE/JPEG;name=a.jpg;base64,/9j/', 'f')), { mime: 'image/jpeg', bytes: [0xff, 0xd8, 0xff] });
  // Unpadded base64 is accepted (its length says how many bytes).
  assert.deepEqual((plain(parseDataUri('data:image/gif;base64,R0lGODlhAA', 'f')) as { bytes: number[] }).bytes, [...Buffer.from('GIF89a'), 0]);
  const bad: [unknown, RegExp][] = [
    ['http://example.com/cat.png', /\[protocol\] f: expected a data URI \(data:image\/\.\.\.;base64,\.\.\.\), got "http:\/\/example\.com\/cat\.png"$/],
    ['data:image/png,rawbytes', /f: expected a data URI/],
    ['data:;base64,AAAA', /f: expected a data URI/],
    [42, /f: expected a data URI .*got number 42/],
    [undefined, /f: expected a data URI .*got nothing/],
    ['data:image/png;base64,', /f: the data URI carries no bytes/],
    ['data:image/png;base64,iVBO Rw==', /f: the data URI payload is not valid base64/],
    ['data:image/png;base64,iVBOR', /not valid base64/], // 4k+1 characters
    ['data:image/png;base64,iV=BORw=', /not valid base64/],
    ['data:image/png;base64,iVBORw=', /not valid base64/], // padded but not a multiple of 4
    ['data:image/png;base64,iVBORw0KGgo-', /not valid base64/], // base64url alphabet
  ];
  for (const [uri, re] of bad) assert.throws(() => parseDataUri(uri, 'f'), re, String(uri));
  assert.throws(() => parseDataUri('data:image/png;base64,AAAAAAAA', 'f', 5), /f: 6 bytes, more than the limit of 5 per image or frame/);
  assert.doesNotThrow(() => parseDataUri('data:image/png;base64,AAAAAAA=', 'f', 5));
});

test('every malformed request is refused naming the field', () => {
  const uri = 'data:image/png;base64,AAAA';
  const cases: [unknown, string, RegExp, DecodeRequestOptions?][] = [
    [[1], 'request body', /expected a JSON object, got an array/],
    [null, 'request body', /expected a JSON object, got null/],
    [{ input: ['a'], model: 3 }, 'model', /expected a string, got number 3/],
    [{ input: ['a'], encoding_format: 'float16' }, 'encoding_format', /expected "float" or "base64", got "float16"/],
    [{ input: ['a'], messages: [] }, 'request body', /has both "input" \(vlm2vec form\) and "messages"/],
    [{ model: 'm' }, 'request body', /expected "input" \(vlm2vec form\) or "messages" \(vLLM chat form\)/],
    [{ input: 5 }, 'input', /expected an array of items, got number 5/],
    [{ input: [] }, 'input', /expected at least one item/],
    [{ input: ['a', 'b', 'c'] }, 'input', /3 items, more than the limit of 2 per request/, { maxItems: 2 }],
    [{ input: ['a', 7] }, 'input[1]', /expected an item \{text, images\?, video\?\} or a string, got number 7/],
    [{ input: [[1, 2, 3]] }, 'input[0]', /got an array/],
    [{ input: [{ text: 'a', image: [uri] }] }, 'input[0].image', /unknown field \(an item has text, images, video\)/],
    [{ input: ['a', { images: [uri] }] }, 'input[1].text', /expected a string, got nothing/],
    [{ input: [{ text: 'abcdef' }] }, 'input[0].text', /6 characters, more than the limit of 5/, { maxTextChars: 5 }],
    [{ input: [{ text: 'a', images: uri }] }, 'input[0].images', /expected an array of data URIs, got "data:image/],
    [{ input: [{ text: 'a', video: {} }] }, 'input[0].video', /expected an array of data URIs, got an object/],
    [{ input: [{ text: 'a', images: [uri], video: [uri, uri] }] }, 'input[0]', /3 images and video frames, more than the limit of 2 per item/, { maxMediaPerItem: 2 }],
    [{ input: ['a', 'b', 'c', { text: 'x', images: ['/data/cat.png'] }] }, 'input[3].images[0]', /expected a data URI \(data:image\/\.\.\.;base64,\.\.\.\)/],
    [{ input: [{ text: 'x', video: [uri, 'data:image/png;base64,@@@@'] }] }, 'input[0].video[1]', /not valid base64/],
    [{ input: [{ text: 'x', images: ['data:image/png;base64,AAAAAAAA'] }] }, 'input[0].images[0]', /6 bytes, more than the limit of 4/, { maxMediaBytes: 4 }],
    [{ messages: 'hi' }, 'messages', /expected exactly one user message \(one item per request\), got "hi"/],
    [{ messages: [{ content: 'a' }, { content: 'b' }] }, 'messages', /got 2 messages/],
    [{ messages: ['a'] }, 'messages[0]', /expected \{role, content\}, got "a"/],
    [{ messages: [{ role: 'system', content: 'a' }] }, 'messages[0].role', /expected "user", got "system"/],
    [{ messages: [{ role: 'user' }] }, 'messages[0].content', /expected a string or an array of parts, got nothing/],
    [{ messages: [{ content: [{ type: 'text', text: 'a' }, 3] }] }, 'messages[0].content[1]', /expected a part \{type, …\}, got number 3/],
    [{ messages: [{ content: [{ type: 'text', text: 1 }] }] }, 'messages[0].content[0].text', /expected a string, got number 1/],
    [{ messages: [{ content: [{ type: 'image_url', image_url: { url: 'https://x/cat.png' } }] }] }, 'messages[0].content[0].image_url.url', /expected a data URI/],
    [{ messages: [{ content: [{ type: 'image_url', image_url: 'data:image/png;base64,AAAA' }] }] }, 'messages[0].content[0].image_url.url', /expected a data URI .*got nothing/],
    [{ messages: [{ content: [{ type: 'image_url', image_url: { url: uri } }, { type: 'image_url', image_url: { url: uri } }] }] },
      'messages[0].content[1]', /more than the limit of 1 images per item/, { maxMediaPerItem: 1 }],
    [{ messages: [{ content: [{ type: 'video_url', video_url: { url: uri } }] }] }, 'messages[0].content[0].type', /expected "text" or "image_url", got "video_url"/],
    [{ messages: [{ content: [{ type: 'text', text: 'abc' }, { type: 'text', text: 'def' }] }] }, 'messages[0].content', /6 characters, more than the limit of 5/, { maxTextChars: 5 }],
  ];
  for (const [body, field, re, opts] of cases) {
    assert.throws(() => decodeRequest(body, opts), (err: unknown) => {
      assert.ok(err instanceof ProtocolError, `${JSON.stringify(body)}: ${String(err)}`);
      assert.equal(err.field, field, JSON.stringify(body));
      assert.ok(err.message.startsWith(`[protocol] ${field}: `), err.message);
      assert.match(err.message, re);
      return true;
    });
  }
});

test('a server answers a malformed request with HTTP 400 in OpenAI\'s error shape, naming the field', async () => {
  const s = await startEmbedServer({ dim: 4, limits: { maxItems: 2 } });
  try {
    const post = async (body: unknown) => {
      const res = await fetch(`${s.url}/embeddings`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: res.status, json: (await res.json()) as { error: { message: string; type: string; param: string | null } } };
    };
    const r = await post({ input: ['a', 'b', 'c', { text: 'x', images: ['/data/cat.png'] }] });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { error: { message: '[protocol] input: 4 items, more than the limit of 2 per request', type: 'invalid_request_error', param: 'input', code: null } });
    const r2 = await post({ input: ['a', { text: 'x', images: ['/data/cat.png'] }] });
    assert.equal(r2.json.error.param, 'input[1].images[0]');
    assert.match(r2.json.error.message, /^\[protocol\] input\[1\]\.images\[0\]: expected a data URI \(data:image\/\.\.\.;base64,\.\.\.\), got "\/data\/cat\.png"$/);
    assert.equal(s.requests.length, 0);
    // The answer comes in the encoding the request asked for.
    const ok = await fetch(`${s.url}/embeddings`, { method: 'POST', body: JSON.stringify({ input: ['a'], encoding_format: 'base64' }) });
    const json = (await ok.json()) as { data: { embedding: unknown }[] };
    assert.equal(typeof json.data[0]!.embedding, 'string');
    assert.equal(decodeResponse(json, 1, { url: s.url, firstIndex: 0 })[0]!.length, 4);
  } finally {
    await s.close();
  }
  assert.deepEqual(errorBody(new Error('boom')), { error: { message: 'boom', type: 'server_error', param: null, code: null } });
});

test('undecodable media: a 400 whose param is the media JSON path, read back by the client', () => {
  const err = new MediaError('item 3: video[7]: [image] cannot decode image', undefined, { item: 3, kind: 'video', index: 7 });
  assert.equal(errorStatus(err), 400);
  assert.deepEqual(errorBody(err), {
    error: { message: '[embed] item 3: video[7]: [image] cannot decode image', type: 'invalid_request_error', param: 'input[3].video[7]', code: null },
  });
  // Without the item (only the media known) there is no path to name: still the request's fault.
  assert.equal(errorBody(new MediaError('x', undefined, { kind: 'images', index: 0 })).error.param, null);
  assert.equal(errorStatus(new ProtocolError('input', 'expected an array')), 400);
  assert.equal(errorStatus(new Error('boom')), 500);
  assert.equal(mediaField({ item: 12, kind: 'images', index: 0 }), 'input[12].images[0]');
  assert.deepEqual(parseMediaField('input[12].images[0]'), { item: 12, kind: 'images', index: 0 });
  assert.deepEqual(parseMediaField('input[0].video[31]'), { item: 0, kind: 'video', index: 31 });
  for (const p of ['input[1].text', 'input[1].images', 'input[x].images[0]', 'input[1].images[0].x', ' input[1].images[0]', null, 3, undefined]) {
    assert.equal(parseMediaField(p), undefined, String(p));
  }
});

/** Uint8Arrays (Buffers) as plain number arrays, so items compare by content whatever their class. */
function plain(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : (v as { type?: string; data?: unknown })?.type === 'Buffer' ? (v as { data: unknown }).data : v)));
}
