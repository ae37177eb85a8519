import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressBar, formatDuration } from './progress.ts';

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
