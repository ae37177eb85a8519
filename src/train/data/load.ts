// From a dataset_config to the training stream: parse every source with its `dataset_parser`
// (the reference's AutoPairDataset registry), then set up the mixture as mixed_dataset.py does.

import { Vlm2VecError } from '../../errors.ts';
import { sourceProbabilities, type DataSourceConfig } from './config.ts';
import { interleaveBatchSize, STOPPING_STRATEGIES, type InterleaveFlags, type MixtureOptions, type StoppingStrategy } from './mixture.ts';
import { parseLlavahoundCaption, parseLlavahoundQa } from './llavahound.ts';
import { parseMmeb } from './mmeb.ts';
import { parseVidore, parseVisrag } from './visdoc.ts';
import type { ParseOptions, ParsedSource } from './types.ts';

type Parser = (src: DataSourceConfig, opts: ParseOptions) => Promise<ParsedSource>;

/** The parsers implemented here, by the reference's `dataset_parser` name. */
export const PARSERS: Readonly<Record<string, Parser>> = {
  mmeb: parseMmeb,
  vidore: parseVidore,
  visrag: parseVisrag,
  llavahound_caption: parseLlavahoundCaption,
  llavahound_qa: parseLlavahoundQa,
};

/**
 * Refuses, before anything loads, a source whose `dataset_parser` the reference has but this
 * toolkit does not implement (unknown names were already refused, with a did-you-mean, by config.ts).
 *
 * @example checkParsersImplemented(readDatasetConfig('mix.yaml')); // throws for `dataset_parser: msrvtt`
 */
export function checkParsersImplemented(sources: readonly DataSourceConfig[]): void {
  for (const src of sources) {
    if (!PARSERS[src.dataset_parser]) {
      throw new Vlm2VecError('train-data', `source '${src.name}' of ${src.file}: dataset_parser not implemented: ${src.dataset_parser} (a parser of the reference, outside its V2 mix); implemented: ${Object.keys(PARSERS).join(', ')}`);
    }
  }
}

/** Parse every source, in config order. */
export async function loadTrainSources(sources: readonly DataSourceConfig[], opts: ParseOptions): Promise<ParsedSource[]> {
  checkParsersImplemented(sources);
  const out: ParsedSource[] = [];
  for (const src of sources) out.push(await PARSERS[src.dataset_parser]!(src, opts));
  return out;
}

/** The flags of the reference that shape the mixture. */
export interface MixtureFlags extends InterleaveFlags {
  seed: number;
  /** Default all_exhausted, as the reference's TrainingArguments. */
  interleave_stopping_strategy?: string;
}

/**
 * The mixture of parsed sources: probabilities weight / Σweights, the run length from the
 * homogeneous/interleave batch size flags, the seed and stopping strategy.
 */
export function mixtureOptions(sources: readonly DataSourceConfig[], parsed: readonly ParsedSource[], flags: MixtureFlags): MixtureOptions {
  const strategy = flags.interleave_stopping_strategy ?? 'all_exhausted';
  if (!(STOPPING_STRATEGIES as readonly string[]).includes(strategy)) {
    throw new Vlm2VecError('train-data', `--interleave_stopping_strategy must be one of ${STOPPING_STRATEGIES.join(', ')}, got '${strategy}'`);
  }
  return {
    lengths: parsed.map((p) => p.examples.length),
    probabilities: sourceProbabilities(sources),
    runLength: interleaveBatchSize(flags),
    seed: flags.seed,
    stoppingStrategy: strategy as StoppingStrategy,
  };
}
