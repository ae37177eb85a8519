// Training data: the reference's dataset_config, its parsers and its mixture (docs/training.md, "Data").

export { parseDatasetConfig, readDatasetConfig, sourceProbabilities, REFERENCE_PARSERS, type DataSourceConfig, type DatasetConfigOptions, type ReferenceParser } from './config.ts';
export { loadTrainSources, mixtureOptions, PARSERS, type MixtureFlags } from './load.ts';
export { interleaveBatchSize, mixtureBatches, mixtureOrder, STOPPING_STRATEGIES, type InterleaveFlags, type MixtureOptions, type MixtureSlot, type SamplerPosition, type StoppingStrategy } from './mixture.ts';
export { NumpyRng, type NumpyRngState } from './numpy-random.ts';
export { ParquetImageReader } from './parquet-image.ts';
export { parseMmeb } from './mmeb.ts';
export { parseVidore, parseVisrag } from './visdoc.ts';
export { parseLlavahoundCaption, parseLlavahoundQa } from './llavahound.ts';
export type { ParquetImageRef, ParseOptions, ParsedSource, TrainExample, TrainImage, TrainItem } from './types.ts';
