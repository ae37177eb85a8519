// `vlm2vec serve` as a user runs it: the real command in a child process on the tiny fixture
// model, --help listing every flag with examples, an embeddings request over loopback, an API
// key from the environment, and SIGTERM answering the request in flight before exiting 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toDataUri } from '../embed/protocol.ts';
import { FIXTURES, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'vlm2vec.js');

test('serve --help lists the limits and batching flags with their defaults, and examples', () => {
  const r = spawnSync(process.execPath, [BIN, 'serve', '--help'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const flag of ['--host <addr>', '--port <n>', '--api-key <key>', '--cors [origin]', '--max-batch-items <n>', '--max-wait-ms <n>',
    '--max-queue-items <n>', '--max-body-bytes <n>', '--max-items <n>', '--max-frames <n>', '--max-image-pixels <n>', '--timeout <seconds>']) {
    assert.ok(r.stdout.includes(flag), `${flag} missing from --help`);
  }
  assert.match(r.stdout, /"127\.0\.0\.1"/);
  assert.match(r.stdout, /\(default: 4096\)/);
  assert.match(r.stdout, /Examples:[\s\S]*curl -s localhost:8000\/v1\/embeddings/);
});

test('a bad flag value is a one-line error naming the flag', () => {
  const r = spawnSync(process.execPath, [BIN, 'serve', '-m', 'x', '--max-batch-items', '0'], { cwd: ROOT, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--max-batch-items must be a positive integer, got '0'/);
});

test('vlm2vec serve answers on loopback with the API key of $VLM2VEC_API_KEY and exits 0 on SIGTERM after answering', async () => {
  const child = spawn(process.execPath, [BIN, 'serve', '-m', join(FIXTURES, 'tiny-a'), '--tokenizer', TOKENIZER_DIR, '--port', '0', '--threads', '1'], {
    cwd: ROOT, env: { ...process.env, VLM2VEC_API_KEY: 'sekret' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*ready \(API key required\)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      setTimeout(() => reject(new Error(`no ready line within 60 s:\n${stderr}`)), 60_000).unref();
    });
    const post = (body: unknown, key?: string) => fetch(`${url}/v1/embeddings`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body),
    });
    assert.equal((await post({ input: 'a cat' })).status, 401);
    const ok = await post({ input: ['a cat', 'a dog'] }, 'sekret');
    assert.equal(ok.status, 200);
    const json = (await ok.json()) as { data: { embedding: number[] }[] };
    assert.equal(json.data.length, 2);
    assert.equal(json.data[0]!.embedding.length, 24);
    // A request in flight when SIGTERM arrives is answered; then the process exits 0.
    const image = toDataUri(await readFile(join(FIXTURES, 'images', 'a.png')));
    const inflight = post({ input: Array.from({ length: 64 }, (_, i) => ({ text: `<|image_pad|> picture ${i}`, images: [image] })) }, 'sekret');
    await new Promise((r) => setTimeout(r, 40));
    child.kill('SIGTERM');
    const last = await inflight;
    assert.equal(last.status, 200);
    assert.equal(((await last.json()) as { data: unknown[] }).data.length, 64);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: answering the 1 request\(s\) in flight/);
  } finally {
    child.kill('SIGKILL');
  }
});
