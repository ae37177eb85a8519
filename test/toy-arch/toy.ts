// A toy second architecture, registered from outside src/ to show that a backbone is one folder
// plus one record: config.json {"model_type": "toy_mean", "table": [[...], ...]} gives one
// embedding row per token id; an item's representation is the mean of its tokens' rows
// (padding excluded), its embedding that mean L2-normalized.

import { Vlm2VecError } from '../../src/errors.ts';
import type { PaddingSide } from '../../src/io/text/tokenizer.ts';
import type { EncodedRows, Encoder, EncoderInput, ModelConfig, ModelRecord, PreparedItem } from '../../src/index.ts';
import type { HfTokenizer } from '../../src/io/text/tokenizer.ts';

export interface ToyConfig extends ModelConfig {
  readonly modelType: 'toy_mean';
  /** [vocab, D] */
  readonly table: readonly (readonly number[])[];
}

class ToyEncoder implements Encoder {
  readonly modelType = 'toy_mean';
  readonly dtype = 'float32';
  readonly hostWeightsReleased = false;

  constructor(private readonly cfg: ToyConfig, private readonly tokenizer: HfTokenizer) {}

  get dim(): number {
    return this.cfg.table[0]!.length;
  }

  prepare(input: EncoderInput): PreparedItem {
    if (input.images.length > 0 || input.frames.length > 0) throw new Vlm2VecError('toy_mean', 'toy_mean embeds text only');
    return { ids: this.tokenizer.encode(input.text) };
  }

  async encode(rows: readonly PreparedItem[], paddingSide?: PaddingSide): Promise<EncodedRows> {
    const batch = this.tokenizer.padBatch(rows.map((r) => [...r.ids]), { paddingSide: paddingSide ?? this.tokenizer.paddingSide });
    const [b, l] = batch.shape;
    const hidden = Array.from({ length: b }, (_, r) => {
      const sum = new Float64Array(this.dim);
      let n = 0;
      for (let j = 0; j < l; j++) {
        if (batch.attentionMask[r * l + j] !== 1n) continue;
        this.cfg.table[Number(batch.inputIds[r * l + j])]!.forEach((v, k) => (sum[k] = sum[k]! + v));
        n++;
      }
      return Float32Array.from(sum, (v) => v / n);
    });
    const embeddings = hidden.map((h) => {
      const norm = Math.hypot(...h);
      return Float32Array.from(h, (v) => v / norm);
    });
    return { hidden, embeddings };
  }

  async releaseHostWeights(): Promise<void> {}

  async close(): Promise<void> {}
}

export const TOY_MEAN: ModelRecord<ToyConfig, ToyEncoder> = {
  name: 'Toy mean-of-embeddings',
  modelTypes: ['toy_mean'],
  parseConfig(json, { file }) {
    const table = (json as { table?: unknown }).table;
    if (!Array.isArray(table) || table.length === 0 || !table.every((r) => Array.isArray(r) && r.length === (table[0] as unknown[]).length)) {
      throw new Vlm2VecError('config', `${file ?? 'config.json'}: table must be a non-empty [vocab, D] array`);
    }
    return { modelType: 'toy_mean', table: table as number[][] };
  },
  promptStyle: 'e5_v',
  imageToken: '<image>',
  videoToken: '<video>',
  padTokenId: 3,
  paddingSide: 'left',
  async loadEncoder({ config, tokenizer }) {
    if (!tokenizer) throw new Vlm2VecError('toy_mean', 'needs a tokenizer');
    return new ToyEncoder(config, tokenizer);
  },
};
