// The dynamic batcher with a fake model (a promise the test resolves): which requests share a
// batch, when a partial batch leaves, the bounded queue, abandoned requests, a failing batch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher, CancelledError, QueueFullError } from './batcher.ts';
import type { ItemResult, WorkItem } from './model-thread.ts';

/** A fake model: records each batch's texts and answers when the test calls `finish`. */
function fakeModel() {
  const batches: string[][] = [];
  const waiting: { items: WorkItem[]; resolve: (r: ItemResult[]) => void; reject: (e: Error) => void }[] = [];
  const run = (items: WorkItem[]): Promise<ItemResult[]> => {
    batches.push(items.map((w) => w.item.text));
    return new Promise((resolve, reject) => waiting.push({ items, resolve, reject }));
  };
  const finish = (): void => {
    const b = waiting.shift()!;
    b.resolve(b.items.map((w) => ({ ok: true, vector: Float32Array.of(w.item.text.length), tokens: w.item.text.length })));
  };
  return { batches, waiting, run, finish };
}

const items = (...texts: string[]): WorkItem[] => texts.map((text, index) => ({ item: { text }, index }));
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test('requests arriving while the model is busy share the next batch, up to maxBatchItems, in arrival order', async () => {
  const m = fakeModel();
  const b = new Batcher(m.run, { maxBatchItems: 4, maxWaitMs: 0, maxQueueItems: 100 });
  const first = b.submit(items('a'));
  await tick();
  assert.deepEqual(m.batches, [['a']]);
  const rest = [b.submit(items('b', 'c')), b.submit(items('d')), b.submit(items('e', 'f'))];
  assert.equal(b.queuedItems, 5);
  m.finish();
  assert.equal((await first).results.length, 1);
  await tick();
  // b,c + d = 3 items; e,f would make 5 > 4: they wait for the next batch.
  assert.deepEqual(m.batches, [['a'], ['b', 'c', 'd']]);
  m.finish();
  await tick();
  assert.deepEqual(m.batches, [['a'], ['b', 'c', 'd'], ['e', 'f']]);
  m.finish();
  const got = await Promise.all(rest);
  // Each request gets its own items' results, in its order.
  assert.deepEqual(got.map((g) => g.results.map((r) => (r.ok ? r.vector[0] : -1))), [[1, 1], [1], [1, 1]]);
  assert.ok(got[2]!.queueSeconds > 0);
});

test('a partial batch waits up to maxWaitMs for more requests, a full one leaves at once', async () => {
  const m = fakeModel();
  const b = new Batcher(m.run, { maxBatchItems: 3, maxWaitMs: 400, maxQueueItems: 100 });
  void b.submit(items('a'));
  await tick(20);
  void b.submit(items('b'));
  await tick(20);
  assert.deepEqual(m.batches, [], 'nothing leaves before the wait is over');
  await tick(400);
  assert.deepEqual(m.batches, [['a', 'b']]);
  m.finish();
  void b.submit(items('c', 'd', 'e'));
  await tick();
  assert.deepEqual(m.batches[1], ['c', 'd', 'e'], 'a full batch does not wait');
  m.finish();
  // A request larger than a batch goes alone rather than never.
  void b.submit(items('1', '2', '3', '4', '5'));
  await tick();
  assert.deepEqual(m.batches[2], ['1', '2', '3', '4', '5']);
  m.finish();
});

test('past maxQueueItems a request is refused with a Retry-After estimate; an empty queue takes any request', async () => {
  const m = fakeModel();
  const b = new Batcher(m.run, { maxBatchItems: 1, maxWaitMs: 0, maxQueueItems: 3 });
  void b.submit(items('running'));
  await tick();
  void b.submit(items('q1', 'q2'));
  void b.submit(items('q3'));
  await assert.rejects(b.submit(items('too many')), (e: unknown) => e instanceof QueueFullError && e.retryAfter >= 1 && /limit of 3 \(--max-queue-items\)/.test(e.message));
  m.finish();
  await tick();
  m.finish();
  await tick();
  m.finish();
  await tick();
  assert.equal(b.queuedItems, 0);
  const big = b.submit(items('1', '2', '3', '4', '5', '6'));
  await tick();
  m.finish();
  assert.equal((await big).results.length, 6);
});

test('an abandoned request leaves the queue and is never computed; a failing batch fails its requests and the next batch runs', async () => {
  const m = fakeModel();
  const b = new Batcher(m.run, { maxBatchItems: 8, maxWaitMs: 0, maxQueueItems: 100 });
  void b.submit(items('busy'));
  await tick();
  const ctl = new AbortController();
  const gone = b.submit(items('gone'), ctl.signal);
  const kept = b.submit(items('kept'));
  ctl.abort(new CancelledError('client closed'));
  await assert.rejects(gone, /client closed/);
  assert.equal(b.queuedItems, 1);
  m.finish();
  await tick();
  assert.deepEqual(m.batches, [['busy'], ['kept']]);
  m.waiting.shift()!.reject(new Error('ORT failed'));
  await assert.rejects(kept, /ORT failed/);
  const next = b.submit(items('next'));
  await tick();
  m.finish();
  assert.equal((await next).results.length, 1);
  assert.deepEqual(m.batches.at(-1), ['next']);
});
