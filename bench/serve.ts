// Throughput and latency of `vlm2vec serve` against LocalEmbedder called directly in one process.
// Items are images (the fixture's, as data URIs) or texts; every client sends one request at a
// time of --per-request items, over loopback, to the real `vlm2vec serve` in a child process. The direct baseline embeds the same items with
// LocalEmbedder.embed in chunks of --max-batch-items (the server's batch) and --batch-size rows per
// forward pass. Server overhead = 1 − served/direct embeddings per second. Prints figures; never
// asserts. On the tiny fixture model a forward pass costs about as much as an HTTP request, so
// the overhead there is an upper bound; pass a real model with --model.
//
// Usage: node --import tsx bench/serve.ts [--model DIR|HUB-ID] [--tokenizer DIR] [--kind image|text]
//          [--items N] [--clients 1,8,32] [--per-request N] [--batch-size N] [--max-batch-items N] [--threads N]
//   (npm run bench:serve -- --model ~/models/VLM2Vec-Qwen2VL-2B --items 256)

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalEmbedder } from '../src/embed/local.ts';
import { toDataUri } from '../src/embed/protocol.ts';
import type { EmbedItem } from '../src/embed/types.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = join(root, 'test', 'fixtures', 'model');
const model = arg('--model', join(fixture, 'tiny-a'));
const tokenizer = arg('--tokenizer', '') || undefined;
const kind = arg('--kind', 'image');
const total = Number(arg('--items', '192'));
const clientCounts = arg('--clients', '1,8,32').split(',').map(Number);
const perRequest = Number(arg('--per-request', '1'));
const batchSize = Number(arg('--batch-size', '8'));
const maxBatchItems = Number(arg('--max-batch-items', '32'));
const threadsArg = arg('--threads', '');
const threads = threadsArg ? Number(threadsArg) : undefined;

const images = await Promise.all(['a.png', 'b.png'].map((f) => readFile(join(fixture, 'images', f))));
// Distinct texts so nothing is shared between items; images alternate between the two files.
const items: EmbedItem<Uint8Array>[] = Array.from({ length: total }, (_, i) => kind === 'text'
  ? { text: `Find a document image that matches the given query: item number ${i} about revenue` }
  : { text: `<|image_pad|> Represent the given image. ${i}`, images: [images[i % 2]!] });
const wire = items.map((it) => ({ text: it.text, ...(it.images ? { images: it.images.map((b) => toDataUri(b)) } : {}) }));

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

// Direct: LocalEmbedder in this thread.
const local = await LocalEmbedder.load(model, { tokenizerDir: tokenizer, batchSize, threads });
await local.embed(items.slice(0, 2)); // warm-up
let t0 = performance.now();
for (let i = 0; i < total; i += maxBatchItems) await local.embed(items.slice(i, i + maxBatchItems));
const directRate = total / ((performance.now() - t0) / 1000);
await local.close();
console.log(`model ${model}, ${total} ${kind} items, ${perRequest} per request, batch ${maxBatchItems} items / ${batchSize} rows per pass`);
console.log(`direct LocalEmbedder: ${directRate.toFixed(1)} embeddings/s`);

// The server: the real `vlm2vec serve` in a child process (its own event loop and model thread).
const args = [join(root, 'bin', 'vlm2vec.js'), 'serve', '-m', model, '--port', '0', '--batch-size', String(batchSize),
  '--max-batch-items', String(maxBatchItems), '--max-queue-items', '1000000',
  ...(tokenizer ? ['--tokenizer', tokenizer] : []), ...(threads ? ['--threads', String(threads)] : [])];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
const base = await new Promise<string>((resolve, reject) => {
  child.stderr.on('data', (c: Buffer) => {
    log += c.toString();
    const m = /listening on (\S+) [\s\S]*vlm2vec serve: ready/.exec(log);
    if (m) resolve(m[1]!);
  });
  child.on('exit', (code) => reject(new Error(`vlm2vec serve exited with ${code}:\n${log}`)));
});
try {
  const url = `${base}/v1/embeddings`;
  const send = async (from: number): Promise<void> => {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: wire.slice(from, from + perRequest) }) });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
  };
  await send(0); // warm-up
  console.log('clients  embeddings/s  p50 ms  p99 ms  overhead vs direct');
  for (const clients of clientCounts) {
    const latencies: number[] = [];
    let next = 0;
    t0 = performance.now();
    await Promise.all(Array.from({ length: clients }, async () => {
      for (;;) {
        const from = next;
        next += perRequest;
        if (from >= total) return;
        const s = performance.now();
        await send(from);
        latencies.push(performance.now() - s);
      }
    }));
    const rate = total / ((performance.now() - t0) / 1000);
    latencies.sort((a, b) => a - b);
    console.log(`${String(clients).padStart(7)}  ${rate.toFixed(1).padStart(12)}  ${pct(latencies, 0.5).toFixed(1).padStart(6)}  ${pct(latencies, 0.99).toFixed(1).padStart(6)}  ${((1 - rate / directRate) * 100).toFixed(1).padStart(6)} %`);
  }
} finally {
  child.kill('SIGTERM');
}
