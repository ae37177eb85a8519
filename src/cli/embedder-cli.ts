// The embedder side of the evaluation commands (`eval`, `eval-v1`): the options that choose and
// tune the model — HTTP endpoints or one local model — and building it from them, so both
// commands accept, check and explain the same flags the same way.

import { Option, type Command } from 'commander';
import { createEmbedder, isEndpointSpec, type CreatedEmbedder } from '../embed/create.ts';
import { DEFAULT_PROMPT_STYLE, type PromptStyle } from '../embed/prompt.ts';
import { modelPromptStyle } from '../embed/local.ts';
import type { RemoteEvent } from '../embed/remote.ts';
import { Vlm2VecError } from '../errors.ts';
import type { WeightDtype } from '../models/common/float16.ts';
import { promptStyles } from '../models/registry.ts';
import { nonNegativeInt, positiveInt } from '../util/cli-args.ts';
import { addLocalModelOptions } from './model-options.ts';
import { loadReporter, type ProgressStream } from './progress.ts';

/** Parsed values of the options {@link addEmbedderOptions} declares, plus `--model` and `--style`. */
export interface EmbedderCliOptions {
  model: string[];
  modelName?: string;
  protocol: 'vlm2vec' | 'vllm';
  batchSize: number;
  concurrency: number;
  cacheDir?: string;
  cache: boolean;
  retries: number;
  timeout: number;
  apiKey?: string;
  // Local model only.
  adapter?: string;
  tokenizer?: string;
  threads?: number;
  dtype?: WeightDtype;
  minPixels?: number;
  maxPixels?: number;
  numCrops?: number;
}

const LOCAL_ONLY = ['adapter', 'tokenizer', 'threads', 'dtype', 'minPixels', 'maxPixels', 'numCrops'] as const;

/**
 * Declares the endpoint, request, cache and local-model options on `cmd` (not `--model`, whose
 * help each command words for its own data).
 *
 * @example addEmbedderOptions(program.command('eval').requiredOption('-m, --model <url|dir|hub-id>', '…', collectList))
 */
export function addEmbedderOptions(cmd: Command): Command {
  cmd
    .option('--model-name <name>', 'model name sent in requests (default: read from GET <base>/models); part of the cache key')
    .addOption(new Option('--protocol <protocol>', 'wire protocol: vlm2vec (batched {text, images, video} items) or vllm ' +
      '(vLLM /v1/embeddings chat form, one item per request, no video)').choices(['vlm2vec', 'vllm']).default('vlm2vec'))
    .option('--batch-size <n>', 'items per embedding request', positiveInt('--batch-size'), 16)
    .option('--concurrency <n>', 'embedding requests in flight over all endpoints', positiveInt('--concurrency'), 4)
    .option('--cache-dir <dir>', 'embedding cache folder (default: <out>/.embed-cache); may be shared between runs and models')
    .option('--no-cache', 'do not read or write the embedding cache')
    .option('--retries <n>', 'retries of a failed request before giving up', nonNegativeInt('--retries'), 5)
    .option('--timeout <seconds>', 'timeout of one request', positiveInt('--timeout'), 300)
    .option('--api-key <key>', 'API key sent as a Bearer token (default: $VLM2VEC_API_KEY)');
  return addLocalModelOptions(cmd, 'local model: ');
}

/**
 * Refuses model options that do not fit together: no `--model`, local-only flags with endpoint
 * URLs, or a prompt style that no local architecture uses (models/registry.ts; the loaded model
 * checks its own).
 */
export function checkModelOptions(command: string, o: EmbedderCliOptions, style: PromptStyle | string): void {
  if (o.model.length === 0) throw new Vlm2VecError(command, '--model needs an endpoint URL, a model folder or a hub id');
  const local = !o.model.every(isEndpointSpec);
  const localOnly = LOCAL_ONLY.filter((k) => o[k] !== undefined);
  if (!local && localOnly.length > 0) {
    throw new Vlm2VecError(command, `--${localOnly[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to a local model, not to endpoint URLs`);
  }
  const styles = promptStyles();
  if (local && !styles.some((s) => s.style === style)) {
    const fits = styles.map((s) => `--style ${s.style} (${s.name})`).join(' or ');
    throw new Vlm2VecError(command, `--style ${style} does not fit a local model: use ${fits}; the default is the model's own`);
  }
}

/**
 * `--style` when given, else the local model's own (its config.json's architecture), else
 * qwen2_vl (endpoint URLs, or a model not readable before loading).
 */
export async function cliPromptStyle(o: Pick<EmbedderCliOptions, 'model'>, style: string | undefined): Promise<string> {
  if (style !== undefined) return style;
  const local = o.model.length === 1 && !isEndpointSpec(o.model[0]!);
  return (local ? await modelPromptStyle(o.model[0]!) : undefined) ?? DEFAULT_PROMPT_STYLE;
}

/**
 * Builds the embedder of checked options (see {@link checkModelOptions}, called again here):
 * HTTP endpoints when every `--model` is a URL, else one local model. Retries and dropped
 * endpoints are reported on `err`, and so is the model's identity.
 */
export async function openCliEmbedder(command: string, o: EmbedderCliOptions, style: PromptStyle | string, err: ProgressStream): Promise<CreatedEmbedder> {
  checkModelOptions(command, o, style);
  const apiKey = o.apiKey ?? process.env['VLM2VEC_API_KEY'];
  const created = await createEmbedder(o.model, {
    remote: {
      protocol: o.protocol,
      ...(o.modelName ? { modelName: o.modelName } : {}),
      ...(apiKey ? { apiKey } : {}),
      concurrency: o.concurrency,
      maxItemsPerRequest: o.batchSize,
      retries: o.retries,
      timeoutMs: o.timeout * 1000,
      onEvent: (e: RemoteEvent) => {
        // On a terminal the progress bar owns the current line: start a fresh one.
        const nl = err.isTTY ? '\n' : '';
        if (e.type === 'dead') err.write(`${nl}endpoint ${e.url} dropped after repeated failures (${e.error}); ${e.alive} left\n`);
        else err.write(`${nl}retry ${e.attempt} (${e.url}): ${e.error}\n`);
      },
    },
    local: {
      adapter: o.adapter, tokenizerDir: o.tokenizer, threads: o.threads, dtype: o.dtype,
      batchSize: o.batchSize, minPixels: o.minPixels, maxPixels: o.maxPixels, numCrops: o.numCrops, promptStyle: style as PromptStyle,
      onLoad: loadReporter(err),
    },
  });
  err.write(created.kind === 'remote' ? `model ${created.embedder.id} via ${created.embedder.aliveEndpoints.join(', ')}\n` : `model ${created.embedder.id} (local)\n`);
  return created;
}

/**
 * Runs `work` with a Ctrl-C handler that says nothing finished is lost and how to resume (every
 * finished unit and embedded batch is already on disk), then exits with 130.
 */
export async function resumableOnInterrupt<T>(err: ProgressStream, what: string, work: () => Promise<T>): Promise<T> {
  const onSigint = (): void => {
    err.write(`\ninterrupted: finished ${what} and computed embeddings are kept; run the same command again to resume\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  try {
    return await work();
  } finally {
    process.off('SIGINT', onSigint);
  }
}
