// Phi-3-V with ORT's fused attention kernels (the default) against the same model on the
// composed attention (the reference): CLIP crops through MultiHeadAttention, the GQA language
// model (right padding, LongRoPE, and the sliding-window config) through opset-23 Attention.
// float32, every row's embedding and hidden state within 1e-5 (hidden: relative to its norm).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImageRGB } from '../../io/media/image.ts';
import type { RgbImage } from '../../io/media/image-types.ts';
import { HfTokenizer } from '../../io/text/tokenizer.ts';
import { Phi3VEncoder, type Phi3VPrepared } from './encoder.ts';
import { ITEMS, TINY } from './fixtures.test-helper.ts';
import { Phi3VModel } from './model.ts';

const tok = await HfTokenizer.fromFolder(TINY, { paddingSide: 'right', padTokenId: 32000 });
const images = new Map<string, RgbImage>();
for (const it of Object.values(ITEMS)) if (it.image && !images.has(it.image)) images.set(it.image, await loadImageRGB(join(TINY, it.image)));

function prepareAll(enc: Phi3VEncoder, keys: readonly string[]): Phi3VPrepared[] {
  return keys.map((k) => {
    const it = ITEMS[k]!;
    return enc.prepare({ text: it.text, images: it.image ? [images.get(it.image)!] : [], frames: [] });
  });
}

async function compare(dir: string, what: string): Promise<void> {
  const fused = await Phi3VModel.load(dir);
  const composed = await Phi3VModel.load(dir, { attention: 'composed' });
  assert.equal(fused.attention, 'fused', 'fused is the default');
  const keys = Object.keys(ITEMS);
  const ef = new Phi3VEncoder(fused, tok, {});
  const ec = new Phi3VEncoder(composed, tok, {});
  const a = await ef.encode(prepareAll(ef, keys)); // one right-padded batch of every item
  const b = await ec.encode(prepareAll(ec, keys));
  for (let i = 0; i < keys.length; i++) {
    const norm = Math.hypot(...b.hidden[i]!);
    const dh = Math.max(...a.hidden[i]!.map((x, j) => Math.abs(x - b.hidden[i]![j]!)));
    const de = Math.max(...a.embeddings[i]!.map((x, j) => Math.abs(x - b.embeddings[i]![j]!)));
    assert.ok(de <= 1e-5 && dh <= 1e-5 * norm, `${what} ${keys[i]}: embedding max|Δ| ${de}, hidden ${dh} (norm ${norm})`);
  }
}

test('Phi-3-V: fused attention equals composed attention on a right-padded batch of every fixture item', async () => {
  await compare(TINY, 'tiny');
});

test('Phi-3-V: the same with a sliding window of 100 tokens', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'phi3v-window-'));
  try {
    await cp(TINY, dir, { recursive: true });
    await cp(join(TINY, 'config.window.json'), join(dir, 'config.json'));
    await compare(dir, 'window');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
