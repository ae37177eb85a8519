import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sourceProbabilities } from './config.ts';
import { interleaveBatchSize, mixtureBatches, mixtureOrder, type MixtureOptions, type MixtureSlot } from './mixture.ts';
import { choiceCdf, choiceIndex, NumpyRng, seedSequenceState } from './numpy-random.ts';

// Written by tools/reference/train_data_fixtures.py with numpy's default_rng and the reference's
// interleave loop (hf_datasets.py) re-implemented in Python.
const EXPECTED = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/fixtures/train/data/expected-mixture.json', import.meta.url)), 'utf8')) as {
  cases: { name: string; lengths: number[]; weights: number[]; batch_size: number; seed: number; stopping_strategy: 'first_exhausted' | 'all_exhausted'; limit: number; order: [number, number][] }[];
  choice: { seed: number; weights: number[]; choice: number[]; random_after: number }[];
  pcg64: { seed: number; uint64: string[]; random: number[] }[];
};

const probs = (weights: number[]): number[] => sourceProbabilities(weights.map((weight) => ({ weight })));

function take(opts: MixtureOptions, limit = Infinity): MixtureSlot[] {
  const out: MixtureSlot[] = [];
  for (const s of mixtureOrder(opts)) {
    if (out.length >= limit) break;
    out.push(s);
  }
  return out;
}

describe("numpy's default_rng", () => {
  it('SeedSequence(0).generate_state(4) as numpy', () => {
    // numpy: np.random.SeedSequence(0).generate_state(4) → [2968811710, 3677149159, 745650761, 2884920346]
    assert.deepEqual(seedSequenceState(0, 4), [2968811710, 3677149159, 745650761, 2884920346]);
  });
  for (const r of EXPECTED.pcg64) {
    it(`PCG64 raw words and doubles for seed ${r.seed}`, () => {
      const g = new NumpyRng(BigInt(r.seed));
      assert.deepEqual([0, 1, 2, 3].map(() => g.nextUint64().toString()), r.uint64);
      assert.deepEqual([0, 1, 2, 3].map(() => g.random()), r.random);
    });
  }
  for (const d of EXPECTED.choice) {
    it(`choice(n, size=3000, p) for seed ${d.seed}, weights ${d.weights.join(',')}`, () => {
      const g = new NumpyRng(d.seed);
      const cdf = choiceCdf(probs(d.weights));
      assert.deepEqual(d.choice.map(() => choiceIndex(g, cdf)), d.choice);
      assert.equal(g.random(), d.random_after);
    });
  }
  it('state round-trips', () => {
    const g = new NumpyRng(42);
    g.random();
    const h = new NumpyRng(0);
    h.setState(g.getState());
    assert.equal(h.random(), g.random());
  });
});

describe('mixture order (the reference interleave)', () => {
  for (const c of EXPECTED.cases) {
    it(`equals the reference's order: ${c.name}`, () => {
      const got = take({ lengths: c.lengths, probabilities: probs(c.weights), runLength: c.batch_size, seed: c.seed, stoppingStrategy: c.stopping_strategy }, c.limit);
      assert.equal(got.length, c.order.length);
      assert.deepEqual(got.map((s) => [s.source, s.row]), c.order);
    });
  }

  it('runs of runLength come from one source (homogeneous sub-batches)', () => {
    const opts: MixtureOptions = { lengths: [1000, 1000, 1000], probabilities: probs([1, 1, 1]), runLength: 8, seed: 3, stoppingStrategy: 'first_exhausted' };
    const got = take(opts, 800);
    for (let b = 0; b < got.length; b += 8) {
      const run = got.slice(b, b + 8);
      assert.equal(new Set(run.map((s) => s.source)).size, 1, `run ${b / 8}`);
      // and consecutive rows of that source, in file order
      for (let k = 1; k < run.length; k++) assert.equal(run[k]!.row, run[k - 1]!.row + 1);
    }
    // not all runs from one source
    assert.ok(new Set(got.map((s) => s.source)).size === 3);
  });

  it('draws sources in proportion to their weights (20000 runs, within 4 standard deviations)', () => {
    const weights = [1, 0.5, 10, 12, 5];
    const p = probs(weights);
    const n = 20000;
    const counts = new Array<number>(weights.length).fill(0);
    for (const s of take({ lengths: weights.map(() => 1e9), probabilities: p, runLength: 1, seed: 42, stoppingStrategy: 'all_exhausted' }, n)) counts[s.source]!++;
    for (let i = 0; i < p.length; i++) {
      const sd = Math.sqrt(n * p[i]! * (1 - p[i]!));
      assert.ok(Math.abs(counts[i]! - n * p[i]!) < 4 * sd, `source ${i}: ${counts[i]} vs ${n * p[i]!}`);
    }
  });

  it('first_exhausted stops after the first source runs out; all_exhausted when all ran out once', () => {
    const base = { lengths: [5, 3, 8], probabilities: probs([1, 0.5, 2]), runLength: 2, seed: 42 };
    const first = take({ ...base, stoppingStrategy: 'first_exhausted' });
    const last = first.at(-1)!;
    assert.equal(last.row, base.lengths[last.source]! - 1, 'ends on the last row of a source');
    for (let i = 0; i < 3; i++) assert.ok(first.filter((s) => s.source === i).length <= base.lengths[i]!, 'no source restarted');
    // runs (runLength ≥ 1): a source that ran out yields nothing more, so each is read exactly once
    const all = take({ ...base, stoppingStrategy: 'all_exhausted' });
    assert.ok(all.length > first.length);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(all.filter((s) => s.source === i).map((s) => s.row), [...Array(base.lengths[i]!).keys()], `source ${i} once, in order`);
    }
    // runLength 0 (HF's per-example interleave): a source that ran out starts over at row 0
    const hf = take({ ...base, runLength: 0, stoppingStrategy: 'all_exhausted' });
    const restarts = hf.filter((s, k) => s.row === 0 && hf.slice(0, k).some((t) => t.source === s.source));
    assert.ok(restarts.length > 0);
    for (let i = 0; i < 3; i++) assert.ok(hf.some((s) => s.source === i && s.row === base.lengths[i]! - 1), `source ${i} ran out`);
  });

  it('same seed, same order; another seed, another order', () => {
    const o = (seed: number): string => JSON.stringify(take({ lengths: [50, 50, 50], probabilities: probs([1, 1, 1]), runLength: 2, seed, stoppingStrategy: 'all_exhausted' }));
    assert.equal(o(42), o(42));
    assert.notEqual(o(42), o(43));
  });

  it('a single source is read once in order (no interleave)', () => {
    assert.deepEqual(take({ lengths: [3], probabilities: [1], runLength: 2, seed: 1, stoppingStrategy: 'all_exhausted' }).map((s) => s.row), [0, 1, 2]);
  });

  it('rejects bad options', () => {
    const ok: MixtureOptions = { lengths: [1, 1], probabilities: [0.5, 0.5], runLength: 1, seed: 1, stoppingStrategy: 'all_exhausted' };
    assert.throws(() => take({ ...ok, stoppingStrategy: 'longest' as 'all_exhausted' }), /interleave_stopping_strategy must be one of first_exhausted, all_exhausted, got 'longest'/);
    assert.throws(() => take({ ...ok, probabilities: [1] }), /1 probabilities for 2 sources/);
    assert.throws(() => take({ ...ok, runLength: 2.5 }), /interleave batch size must be an integer/);
  });
});

describe('interleave batch size (mixed_dataset.py)', () => {
  it('takes homogeneous_batch_size_per_device, else the deprecated interleave_batch_size; ≤ 1 is a fraction of the batch', () => {
    assert.equal(interleaveBatchSize({ per_device_train_batch_size: 128, interleave_batch_size: 64 }), 64);
    assert.equal(interleaveBatchSize({ per_device_train_batch_size: 128, homogeneous_batch_size_per_device: 32, interleave_batch_size: 64 }), 32);
    assert.equal(interleaveBatchSize({ per_device_train_batch_size: 128, homogeneous_batch_size_per_device: 0.25 }), 32);
    assert.equal(interleaveBatchSize({ per_device_train_batch_size: 10, homogeneous_batch_size_per_device: 0.33 }), 3);
    assert.equal(interleaveBatchSize({ per_device_train_batch_size: 128, homogeneous_batch_size_per_device: 1 }), 128);
    assert.equal(interleaveBatchSize({ per_device_train_batch_size: 128 }), 0);
    assert.throws(() => interleaveBatchSize({ per_device_train_batch_size: 8, homogeneous_batch_size_per_device: 2.5 }), /whole number/);
  });
});

describe('batches', () => {
  const opts: MixtureOptions = { lengths: [5, 3, 8], probabilities: probs([1, 0.5, 2]), runLength: 2, seed: 42, stoppingStrategy: 'all_exhausted' };
  const stream = take(opts);

  it('cuts the stream into full batches and drops the incomplete last one; epochs repeat the order', () => {
    const per = Math.floor(stream.length / 3);
    assert.ok(stream.length % 3 !== 0, 'the fixture leaves an incomplete batch');
    const it = mixtureBatches(opts, 3);
    const got = [];
    for (let k = 0; k < per + 2; k++) got.push(it.next().value!);
    for (let k = 0; k < per; k++) {
      assert.deepEqual(got[k]!.slots, stream.slice(3 * k, 3 * k + 3));
      assert.deepEqual(got[k]!.next, { epoch: 0, batch: k + 1 });
    }
    // epoch 1 starts over with the same order; the leftover examples of epoch 0 are dropped
    assert.deepEqual(got[per]!.slots, stream.slice(0, 3));
    assert.deepEqual(got[per]!.next, { epoch: 1, batch: 1 });
  });

  it('resumes at a stored position with the batches an uninterrupted run would see', () => {
    const a = mixtureBatches(opts, 3);
    const seen = [];
    for (let k = 0; k < 7; k++) seen.push(a.next().value!);
    const b = mixtureBatches(opts, 3, seen[3]!.next);
    for (let k = 4; k < 7; k++) assert.deepEqual(b.next().value, seen[k]);
  });

  it('refuses a mixture smaller than one batch', () => {
    assert.throws(() => mixtureBatches({ ...opts, stoppingStrategy: 'first_exhausted', lengths: [1, 1, 1] }, 64).next(), /fewer examples per pass than one batch of 64/);
  });
});
