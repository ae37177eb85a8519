// Progress display on stderr: a redrawn bar with items/s and ETA on a terminal, plain
// timestamp-free lines (at most every few seconds, plus the final one) when stderr is a file or a
// pipe, so CI logs stay readable. Also the CLI's view of a model load (loadReporter).

import type { LoadEvent } from '../embed/local.ts';

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Force terminal (true) or line mode (false); default: the stream's isTTY. */
  tty?: boolean;
  /** Line mode: minimum seconds between lines. Default 5. */
  lineEverySeconds?: number;
  /** Clock in ms (tests inject one). */
  now?: () => number;
  /** What is counted: items (default) or bytes (shown as kB/MB/GB and MB/s). */
  unit?: 'items' | 'bytes';
}

/**
 * Human byte size: `512 B`, `3.4 MB`, `4.41 GB`.
 *
 * @example
 * formatBytes(4_410_000_000); // '4.41 GB'
 */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  const [v, u] = n < 1e6 ? [n / 1e3, 'kB'] : n < 1e9 ? [n / 1e6, 'MB'] : [n / 1e9, 'GB'];
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${u}`;
}

/**
 * Human duration: `42s`, `3m07s`, `2h05m`.
 *
 * @example
 * formatDuration(187); // '3m07s'
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * One progress bar (one task phase). Rate and ETA count only items that needed work after the
 * bar started, so cache hits reported in the first update do not inflate items/s.
 *
 * @example
 * const bar = new ProgressBar('MSCOCO_t2i candidates');
 * bar.update(10, 100); … bar.done();
 */
export class ProgressBar {
  #label: string;
  readonly #bytes: boolean;
  readonly #stream: ProgressStream;
  readonly #tty: boolean;
  readonly #every: number;
  readonly #now: () => number;
  #start: number | undefined;
  #startDone = 0;
  #lastDraw = -Infinity;
  #done = 0;
  #total = 0;
  #finished = false;

  constructor(label: string, opts: ProgressOptions = {}) {
    this.#label = label;
    this.#stream = opts.stream ?? process.stderr;
    this.#tty = opts.tty ?? Boolean(this.#stream.isTTY);
    this.#every = (opts.lineEverySeconds ?? 5) * 1000;
    this.#now = opts.now ?? (() => performance.now());
    this.#bytes = opts.unit === 'bytes';
  }

  /** Renames the bar (e.g. the file being read); shown from the next draw. */
  setLabel(label: string): void {
    this.#label = label;
  }

  update(done: number, total: number): void {
    if (this.#finished) return;
    const t = this.#now();
    if (this.#start === undefined) {
      this.#start = t;
      this.#startDone = done;
    }
    this.#done = done;
    this.#total = total;
    if (done >= total) return this.done();
    const minGap = this.#tty ? 100 : this.#every;
    if (t - this.#lastDraw < minGap) return;
    this.#lastDraw = t;
    this.#draw(t, false);
  }

  /** Final line (always printed, once). */
  done(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#draw(this.#now(), true);
  }

  /** The text of the current state (exposed for tests). */
  render(t: number = this.#now(), final = false): string {
    const { done, total } = { done: this.#done, total: this.#total };
    const elapsed = ((t - (this.#start ?? t)) / 1000);
    const worked = done - this.#startDone;
    const rate = elapsed > 0 ? worked / elapsed : 0;
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    const rateText = this.#bytes ? `${formatBytes(Math.round(rate))}/s` : `${rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)} items/s`;
    const tail = final
      ? `${rateText}, ${formatDuration(elapsed)}`
      : `${rateText}, ETA ${rate > 0 ? formatDuration((total - done) / rate) : '?'}`;
    const counts = this.#bytes ? `${formatBytes(done)}/${formatBytes(total)}` : `${done}/${total}`;
    if (!this.#tty) return `${this.#label}: ${counts} (${pct}%) ${tail}`;
    const width = Math.max(10, Math.min(30, (this.#stream.columns ?? 80) - this.#label.length - counts.length - tail.length - 12));
    const filled = total > 0 ? Math.round((width * done) / total) : width;
    return `${this.#label} ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${counts} ${pct}% ${tail}`;
  }

  #draw(t: number, final: boolean): void {
    const text = this.render(t, final);
    if (this.#tty) this.#stream.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    else this.#stream.write(`${text}\n`);
  }
}

// Graph names are the encoder's (models/registry.ts); the known ones read better spelled out.
const GRAPH_NAMES: Record<string, string> = { vision: 'vision tower', text: 'language model' };

/**
 * The CLI's display of a model load (LocalEmbedder.load's `onLoad`): which folders, download and
 * weight-reading bars in bytes (labelled with the shard file), the adapter merge, each ORT
 * session as it is built, and the total time.
 *
 * @example await LocalEmbedder.load(spec, { onLoad: loadReporter(process.stderr) });
 */
export function loadReporter(stream: ProgressStream = process.stderr, opts: Omit<ProgressOptions, 'stream' | 'unit'> = {}): (e: LoadEvent) => void {
  const now = opts.now ?? (() => performance.now());
  let bar: { kind: 'download' | 'weights'; bar: ProgressBar } | undefined;
  let sessionStart = 0;
  const barFor = (kind: 'download' | 'weights', label: string): ProgressBar => {
    if (bar?.kind !== kind) {
      bar?.bar.done();
      bar = { kind, bar: new ProgressBar(label, { ...opts, stream, unit: 'bytes' }) };
    }
    bar.bar.setLabel(label);
    return bar.bar;
  };
  const endBar = (): void => {
    bar?.bar.done();
    bar = undefined;
  };
  return (e: LoadEvent): void => {
    switch (e.type) {
      case 'download':
        barFor('download', `  downloading ${e.file}`).update(e.bytesDone, e.bytesTotal);
        break;
      case 'resolved':
        endBar();
        stream.write(`loading model ${e.modelDir}${e.adapterDir ? ` + adapter ${e.adapterDir}` : ''}\n`);
        break;
      case 'weights':
        barFor('weights', `  weights ${e.file}${e.shards > 1 ? ` (${e.shard}/${e.shards})` : ''}`).update(e.bytesDone, e.bytesTotal);
        break;
      case 'adapter':
        endBar();
        stream.write(`  merging the adapter (${e.modules} modules)\n`);
        break;
      case 'session':
        endBar();
        if (e.state === 'start') {
          sessionStart = now();
          stream.write(`  building the ${GRAPH_NAMES[e.graph] ?? e.graph} ONNX session\n`);
        } else {
          stream.write(`  ${GRAPH_NAMES[e.graph] ?? e.graph} session ready (${formatDuration((now() - sessionStart) / 1000)})\n`);
        }
        break;
      case 'ready':
        endBar();
        stream.write(`model loaded in ${formatDuration(e.seconds)}\n`);
        break;
    }
  };
}
