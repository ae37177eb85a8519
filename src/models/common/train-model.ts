// What a training run needs from an architecture beyond the step's TrainableEncoder
// (models/encoder.ts): the trainable leaves to start from (a new adapter, an adapter to continue,
// or the full model), how an item becomes a prepared row and rows a padded batch, each leaf's role
// (for HF's weight-decay groups) and the trained values back as checkpoint tensors. A record
// offers it as `loadTrainModel` (models/registry.ts); src/train/loop.ts uses only this.

import type { HfTokenizer } from '../../io/text/tokenizer.ts';
import type { AdapterConfig } from '../../io/weights/peft.ts';
import type { AdapterWriteConfig, Float32Tensor, PeftKeyLayout } from '../../io/weights/peft-write.ts';
import type { EncoderInput, ImageProcessorSettings, PreparedItem, TrainableEncoder } from '../encoder.ts';
import type { ParamRole } from './param-spec.ts';

/** Where the trainable weights start. */
export type TrainWeightsInit =
  /** A new adapter on the modules `config.targetModules` selects (peft's init; `seed` for A). */
  | { readonly kind: 'new-adapter'; readonly config: AdapterWriteConfig; readonly seed: number }
  /** An adapter's tensors (`--checkpoint_path`, or a resumed checkpoint) with its own config. */
  | { readonly kind: 'adapter'; readonly config: AdapterConfig; readonly tensors: ReadonlyMap<string, Float32Tensor> }
  /** Every weight of the model folder (full fine-tuning), optionally the vision tower frozen. */
  | { readonly kind: 'full'; readonly freezeVision: boolean };

/** What {@link TrainModel.weights} returns: what train/checkpoint.ts saves. */
export type TrainedWeights =
  /** `layout`: the module paths the adapter is saved with (peft-write.ts; default transformers 5's). */
  | { readonly kind: 'adapter'; readonly config: AdapterWriteConfig; readonly tensors: ReadonlyMap<string, Float32Tensor>; readonly layout?: PeftKeyLayout }
  | { readonly kind: 'model'; readonly config: Readonly<Record<string, unknown>>; readonly tensors: ReadonlyMap<string, Float32Tensor>; readonly processorFrom?: string };

/** What a record's `loadTrainModel` gets. */
export interface LoadTrainModelArgs<C> {
  /** The model folder (config.json + weights). */
  dir: string;
  config: C;
  /** config.json as read (written again with full fine-tuning). */
  configJson: Readonly<Record<string, unknown>>;
  tokenizer: HfTokenizer;
  processor: ImageProcessorSettings;
  /** Reps are L2-normalized (`--normalize True`). */
  normalize: boolean;
  init: TrainWeightsInit;
  /** `--max_len`: longer token sequences are cut (text-only rows) or refused (rows with media). */
  maxLen?: number | undefined;
}

/** An architecture set up for training. `P`: the trainable leaves, `B`: its padded batch. */
export interface TrainModel<P = unknown, B = unknown> {
  readonly encoder: TrainableEncoder<P, B>;
  /** The trainable leaves at the start. */
  readonly params: P;
  /** Processes one item on its own (media → model inputs, tokens). */
  prepare(input: EncoderInput): PreparedItem;
  /** Prepared rows as one padded batch. */
  batch(rows: readonly PreparedItem[]): B;
  /** The role of a leaf (by its treeFlatten path), for the weight-decay groups. */
  role(path: string): ParamRole;
  /** Trained leaf values (treeFlatten paths) as the weights to save. */
  weights(leaves: readonly { readonly name: string; readonly data: Float32Array }[]): TrainedWeights;
}
