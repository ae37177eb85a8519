// The training mixture as the reference builds it (TIGER-AI-Lab/VLM2Vec
// src/data/loader/mixed_dataset.py + src/data/dataset/hf_datasets.py, on top of HF
// `datasets.interleave_datasets`): the source of each run of `runLength` consecutive examples is
// drawn from numpy's default_rng(seed) with probability weight / Σweights, and each source is
// read in file order. Here the order is computed over (source, row) indices only; the examples
// stay with their parsers. Same seed, same order: equal to the reference's own code for a single
// process with `dataloader_num_workers` 0 (one shard per source), checked by
// tools/reference/train_data_crosscheck.py (docs/training.md, "Data").

import { Vlm2VecError } from '../../errors.ts';
import { choiceCdf, choiceIndex, NumpyRng } from './numpy-random.ts';

export const STOPPING_STRATEGIES = ['first_exhausted', 'all_exhausted'] as const;
export type StoppingStrategy = (typeof STOPPING_STRATEGIES)[number];

/** Where one example of the stream comes from. */
export interface MixtureSlot {
  /** Index of the source in the dataset_config (file order). */
  source: number;
  /** Index of the example within that source's parsed examples. */
  row: number;
}

/** Options of {@link mixtureOrder}. */
export interface MixtureOptions {
  /** Number of parsed examples of each source. */
  lengths: readonly number[];
  /** Sampling probabilities, one per source (`sourceProbabilities` of the config). */
  probabilities: readonly number[];
  /**
   * Consecutive examples drawn from one source (the reference's global interleave batch size;
   * see {@link interleaveBatchSize}). 0: every example's source is drawn on its own, through HF's
   * per-example interleave (which restarts sources that ran out; see {@link mixtureOrder}).
   */
  runLength: number;
  seed: number;
  /** `interleave_stopping_strategy` (the reference's default: all_exhausted). */
  stoppingStrategy: StoppingStrategy;
}

/**
 * The reference's interleaved stream as (source, row) pairs, in order.
 *
 * With `first_exhausted` it ends right after the last example of the first source to run out;
 * with `all_exhausted`, after the example that makes every source have run out at least once.
 * What a source that ran out does meanwhile depends on the path the reference takes:
 * - `runLength` ≥ 1 (hf_datasets.py's RandomlyCyclingMultiSourcesBatchesIterable): nothing. Its
 *   "restart" re-wraps an examples iterable that, in `datasets` ≥ 2.18, keeps its position, so it
 *   yields no more examples in this pass and its draws are skipped: every source is read once.
 * - `runLength` 0 (HF's RandomlyCyclingMultiSourcesExamplesIterable): it starts over at row 0.
 * An empty source counts as run out when first drawn. A source of weight 0 is never drawn, so
 * with `all_exhausted` the stream then never ends (as in the reference; `max_steps` ends the
 * run). A single source is read once, in order, as the reference does without interleaving.
 *
 * @example
 * [...mixtureOrder({ lengths: [2, 1], probabilities: [0.5, 0.5], runLength: 2, seed: 42, stoppingStrategy: 'first_exhausted' })];
 * // e.g. [{source: 1, row: 0}] — source 1 ran out after one example
 */
export function* mixtureOrder(opts: MixtureOptions): Generator<MixtureSlot> {
  const { lengths, probabilities } = opts;
  if (lengths.length === 0) throw new Vlm2VecError('train-data', 'the mixture has no sources');
  if (probabilities.length !== lengths.length) {
    throw new Vlm2VecError('train-data', `${probabilities.length} probabilities for ${lengths.length} sources`);
  }
  if (!(STOPPING_STRATEGIES as readonly string[]).includes(opts.stoppingStrategy)) {
    throw new Vlm2VecError('train-data', `interleave_stopping_strategy must be one of ${STOPPING_STRATEGIES.join(', ')}, got '${opts.stoppingStrategy}'`);
  }
  if (!Number.isInteger(opts.runLength) || opts.runLength < 0) {
    throw new Vlm2VecError('train-data', `the interleave batch size must be an integer ≥ 0, got ${opts.runLength}`);
  }
  if (lengths.length === 1) {
    for (let row = 0; row < lengths[0]!; row++) yield { source: 0, row };
    return;
  }
  const run = Math.max(1, opts.runLength);
  const restart = opts.runLength === 0;
  const rng = new NumpyRng(opts.seed);
  const cdf = choiceCdf(probabilities);
  const all = opts.stoppingStrategy === 'all_exhausted';
  const pos = new Array<number>(lengths.length).fill(0);
  const exhausted = new Array<boolean>(lengths.length).fill(false);
  const stop = (): boolean => (all ? exhausted.every(Boolean) : exhausted.some(Boolean));
  for (;;) {
    const i = choiceIndex(rng, cdf);
    for (let k = 0; k < run; k++) {
      if (pos[i]! >= lengths[i]!) {
        // StopIteration on next(): an empty source, or one that ran out and did not restart.
        exhausted[i] = true;
        if (stop()) return;
        continue;
      }
      yield { source: i, row: pos[i]! };
      pos[i]!++;
      if (pos[i]! >= lengths[i]!) {
        exhausted[i] = true;
        if (stop()) return;
        if (restart) pos[i] = 0;
      }
    }
  }
}

/** The flags of the reference that set the run length (TrainingArguments, DataArguments). */
export interface InterleaveFlags {
  per_device_train_batch_size: number;
  /** Consecutive examples from one source per device; a value ≤ 1 is a fraction of the batch. */
  homogeneous_batch_size_per_device?: number;
  /** Deprecated alias of the above, used when the above is 0 (the V2 script sets it to 64). */
  interleave_batch_size?: number;
}

/**
 * The run length mixed_dataset.py passes to `interleave_datasets` (world size 1 here):
 * `homogeneous_batch_size_per_device` (or the deprecated `interleave_batch_size` when it is 0);
 * a value in (0, 1] means that fraction of the batch (`--homogeneous_batch_size_per_device 1`
 * = whole batches from one source); 0 means every example's source is drawn independently.
 * The reference truncates a fractional product with `int()`.
 *
 * @example
 * interleaveBatchSize({ per_device_train_batch_size: 128, interleave_batch_size: 64 });               // 64
 * interleaveBatchSize({ per_device_train_batch_size: 128, homogeneous_batch_size_per_device: 0.25 }); // 32
 */
export function interleaveBatchSize(f: InterleaveFlags): number {
  let h = f.homogeneous_batch_size_per_device ?? 0;
  if (h === 0 && (f.interleave_batch_size ?? 0) !== 0) h = f.interleave_batch_size!;
  if (!(h >= 0) || !Number.isFinite(h)) {
    throw new Vlm2VecError('train-data', `homogeneous_batch_size_per_device must be ≥ 0, got ${h}`);
  }
  const size = h > 0 && h <= 1 ? f.per_device_train_batch_size * h : h;
  if (h > 1 && !Number.isInteger(h)) {
    throw new Vlm2VecError('train-data', `homogeneous_batch_size_per_device above 1 must be a whole number of examples, got ${h}`);
  }
  return Math.trunc(size);
}

/** Position in the batch stream, for resuming: epochs repeat the same order (same seed). */
export interface SamplerPosition {
  epoch: number;
  /** Batches already taken in this epoch. */
  batch: number;
}

/**
 * The stream cut into batches of `batchSize`, the incomplete last batch dropped; each epoch
 * replays the same order (the reference re-creates the generator from the seed on every pass).
 * Yields the batch and the position after it, so a checkpoint can store where to continue.
 * Throws when a whole epoch has fewer examples than one batch, as the reference asserts.
 */
export function* mixtureBatches(
  opts: MixtureOptions, batchSize: number, from: SamplerPosition = { epoch: 0, batch: 0 },
): Generator<{ slots: MixtureSlot[]; next: SamplerPosition }> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Vlm2VecError('train-data', `per_device_train_batch_size must be a positive integer, got ${batchSize}`);
  }
  for (let epoch = from.epoch; ; epoch++) {
    let batch = 0;
    let cur: MixtureSlot[] = [];
    const skip = epoch === from.epoch ? from.batch : 0;
    for (const slot of mixtureOrder(opts)) {
      cur.push(slot);
      if (cur.length < batchSize) continue;
      batch++;
      if (batch > skip) yield { slots: cur, next: { epoch, batch } };
      cur = [];
    }
    if (batch === 0) {
      throw new Vlm2VecError('train-data', `the mixture yields fewer examples per pass than one batch of ${batchSize} (the last incomplete batch is dropped)`);
    }
    if (skip > batch) {
      throw new Vlm2VecError('train-data', `cannot resume at batch ${skip} of epoch ${epoch}: a pass has only ${batch} batches`);
    }
  }
}
