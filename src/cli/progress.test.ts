import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressBar, formatBytes, formatDuration, loadReporter } from './progress.ts';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (s: string) => out.push(s) } };
}

test('durations', () => {
  assert.equal(formatDuration(42), '42s');
  assert.equal(formatDuration(187), '3m07s');
  assert.equal(formatDuration(7500), '2h05m');
  assert.equal(formatDuration(Infinity), '?');
});

test('plain lines when not a TTY: rate excludes the initial cache hits, ETA from the rate', () => {
  let now = 0;
  const { out, stream } = sink(false);
  const bar = new ProgressBar('MSCOCO_t2i candidates', { stream, now: () => now, lineEverySeconds: 5 });
  bar.update(100, 1100); // 100 cache hits at t=0
  now = 2000;
  bar.update(120, 1100); // throttled: < 5 s since the last line
  now = 10_000;
  bar.update(300, 1100); // 200 items in 10 s = 20/s; 800 left = 40 s
  now = 50_000;
  bar.update(1100, 1100);
  bar.update(1100, 1100); // finished bars print nothing more
  assert.deepEqual(out, [
    'MSCOCO_t2i candidates: 100/1100 (9%) 0.0 items/s, ETA ?\n',
    'MSCOCO_t2i candidates: 300/1100 (27%) 20.0 items/s, ETA 40s\n',
    'MSCOCO_t2i candidates: 1100/1100 (100%) 20.0 items/s, 50s\n',
  ]);
});

test('a TTY gets one redrawn bar line', () => {
  let now = 0;
  const { out, stream } = sink(true);
  const bar = new ProgressBar('q', { stream, now: () => now });
  bar.update(0, 10);
  now = 1000;
  bar.update(5, 10);
  now = 2000;
  bar.done();
  assert.equal(out.length, 3);
  assert.ok(out.every((s) => s.startsWith('\r\x1b[2K')));
  assert.match(out[1]!, /^\r\x1b\[2Kq █+░+ 5\/10 50% 5\.0 items\/s, ETA 1s$/);
  assert.ok(out[2]!.endsWith('\n'));
});

test('bytes: sizes in kB/MB/GB', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(37_632), '37.6 kB');
  assert.equal(formatBytes(4_410_000_000), '4.41 GB');
});

test('model load report: folders, a byte bar per shard file, adapter merge, sessions with their time', () => {
  let now = 0;
  const { out, stream } = sink(false);
  const report = loadReporter(stream, { now: () => now, lineEverySeconds: 5 });
  report({ type: 'resolved', modelDir: '/m/base', adapterDir: '/m/ad' });
  report({ type: 'weights', file: 'model-00001-of-00002.safetensors', shard: 1, shards: 2, bytesDone: 1e9, bytesTotal: 4e9 });
  now = 6000;
  report({ type: 'weights', file: 'model-00002-of-00002.safetensors', shard: 2, shards: 2, bytesDone: 3.4e9, bytesTotal: 4e9 });
  now = 8000;
  report({ type: 'weights', file: 'model-00002-of-00002.safetensors', shard: 2, shards: 2, bytesDone: 4e9, bytesTotal: 4e9 });
  report({ type: 'adapter', dir: '/m/ad', modules: 392 });
  report({ type: 'session', graph: 'vision', state: 'start' });
  now = 11_000;
  report({ type: 'session', graph: 'vision', state: 'done' });
  report({ type: 'ready', seconds: 75 });
  assert.deepEqual(out, [
    'loading model /m/base + adapter /m/ad\n',
    '  weights model-00001-of-00002.safetensors (1/2): 1.00 GB/4.00 GB (25%) 0 B/s, ETA ?\n',
    // 2.4 GB in 6 s after the first update
    '  weights model-00002-of-00002.safetensors (2/2): 3.40 GB/4.00 GB (85%) 400 MB/s, ETA 2s\n',
    '  weights model-00002-of-00002.safetensors (2/2): 4.00 GB/4.00 GB (100%) 375 MB/s, 8s\n',
    '  merging the adapter (392 modules)\n',
    '  building the vision tower ONNX session\n',
    '  vision tower session ready (3s)\n',
    'model loaded in 1m15s\n',
  ]);
});
