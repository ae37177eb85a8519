// Progress display on stderr: a redrawn bar with items/s and ETA on a terminal, plain
// timestamp-free lines (at most every few seconds, plus the final one) when stderr is a file or a
// pipe, so CI logs stay readable.

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
  readonly #label: string;
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
    const rateText = `${rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)} items/s`;
    const tail = final
      ? `${rateText}, ${formatDuration(elapsed)}`
      : `${rateText}, ETA ${rate > 0 ? formatDuration((total - done) / rate) : '?'}`;
    const counts = `${done}/${total}`;
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
