// `vlm2vec serve --model DIR|HUB-ID [--host 127.0.0.1] [--port 8000] …`: the OpenAI-compatible
// embedding server of src/serve/server.ts. This file parses options, prints where it listens and
// when the model is ready, and turns SIGTERM / SIGINT into a graceful shutdown. With `--db DIR`
// (a `vlm2vec index` database) the model defaults to the index's own, loaded as `search` loads it.

import { Option, type Command } from 'commander';
import { BUNDLED_MODEL_NOTICE, RECOMMENDED_MODEL, isBundledModel, modelOrBundled } from '../embed/bundled.ts';
import { Vlm2VecError } from '../errors.ts';
import { openSearchIndex } from '../search/search.ts';
import { PROMPT_STYLES, type PromptStyle } from '../embed/prompt.ts';
import type { WeightDtype } from '../models/common/float16.ts';
import { DEFAULT_SERVE_LIMITS, startServer, type ServeLimits } from '../serve/server.ts';
import { collectList, intAtLeast, nonNegativeInt, pointToHelp, positiveInt } from '../util/cli-args.ts';
import { addLocalModelOptions } from './model-options.ts';
import { loadReporter } from './progress.ts';

/** `vlm2vec serve --help` examples (exported for its test). */
export const SERVE_EXAMPLES = `
Examples:
  # Serve a hub model on http://127.0.0.1:8000 (loopback only)
  $ vlm2vec serve -m TIGER-Lab/VLM2Vec-Qwen2VL-2B

  # No -m and no --db: the bundled small demo model (offline; not for real use)
  $ vlm2vec serve

  # Base model + adapter, reachable from other machines, with an API key
  $ VLM2VEC_API_KEY=secret vlm2vec serve -m Qwen/Qwen2-VL-2B-Instruct --adapter ~/ckpt/VLM2Vec-V2.0 \\
      --host 0.0.0.0 --port 8080

  # OpenAI's text form (each string embedded as vlm2vec embed embeds {"text": …})
  $ curl -s localhost:8000/v1/embeddings -H 'content-type: application/json' \\
      -d '{"input": ["a cat on a mat", "a dog"]}'

  # An image in our item form (text is the formatted prompt, media are data URIs)
  $ curl -s localhost:8000/v1/embeddings -H 'content-type: application/json' -d "{\\"input\\": [{\\"text\\":
      \\"<|image_pad|> Represent the given image.\\", \\"images\\": [\\"data:image/jpeg;base64,$(base64 -w0 cat.jpg)\\"]}]}"

  # vLLM's chat form: {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url":
  #   {"url": "data:…"}}, {"type": "text", "text": " Represent the given image."}]}]}

  # Evaluate through the server (same scores as a local eval)
  $ vlm2vec eval --model http://127.0.0.1:8000/v1 --tasks MSCOCO_i2t -o results/

  # Search a folder index over HTTP, and the search page at http://127.0.0.1:8000/
  $ vlm2vec index -m TIGER-Lab/VLM2Vec-Qwen2VL-2B --input ~/Pictures --db ~/.vlm2vec/pictures
  $ vlm2vec serve --db ~/.vlm2vec/pictures --ui          # the index's model; -m must be the same
  $ curl -s localhost:8000/v1/search -H 'content-type: application/json' \
      -d '{"query": "a dog on a beach", "top_k": 5}'
  $ curl -s localhost:8000/v1/search -H 'content-type: application/json' \
      -d "{\"image\": \"data:image/jpeg;base64,$(base64 -w0 query.jpg)\", \"kinds\": [\"image\"]}"

Routes: POST /v1/embeddings; GET /health (503 while loading, 200 when ready; no key needed),
/v1/models, /info (model, dimension, limits), /metrics (Prometheus).
With --db: POST /v1/search {"query": TEXT | "image": DATA-URI, "top_k"?: 10, "kinds"?: [image,
page, video, text], "instructions"?: {KIND: TEXT}, "exact"?: false} → {"data": [{"rank", "path",
"page", "kind", "score"}], "usage"}: the results of vlm2vec search on the same index.
With --ui: the search page at / and GET /thumbnail?path=P&page=N (only files in the index).
Answers are OpenAI's shape with usage; errors {"error": {"message", "type", "param", "code"}}:
400 bad request or undecodable media (param names the field), 401 no/wrong key, 413 body too
large, 429 queue full (Retry-After), 503 loading or shutting down, 504 timeout.
"dimensions" is refused: VLM2Vec is not a Matryoshka model. SIGTERM / Ctrl-C: stop accepting,
answer the requests in flight, exit.
`;

interface ServeCliOptions extends Partial<ServeLimits> {
  model?: string;
  db?: string;
  ui?: boolean;
  root?: string;
  adapter?: string;
  tokenizer?: string;
  dtype?: WeightDtype;
  threads?: number;
  minPixels?: number;
  maxPixels?: number;
  numCrops?: number;
  promptStyle?: PromptStyle;
  host: string;
  port: number;
  servedModelName?: string;
  apiKey?: string;
  cors?: string | true;
  allowLocalMedia?: string[];
}

/** Registers `vlm2vec serve`. */
export function registerServe(program: Command): void {
  const d = DEFAULT_SERVE_LIMITS;
  addLocalModelOptions(pointToHelp(program.command('serve'))
    .description('Serve a local VLM2Vec model over HTTP: OpenAI-compatible multimodal /v1/embeddings with dynamic batching')
    .option('-m, --model <dir|hub-id>', `model folder, hub id owner/name[@rev], or PEFT adapter folder (default: with --db the index's own; without, the bundled small demo model, not for real use; real work: ${RECOMMENDED_MODEL})`))
    .addOption(new Option('--prompt-style <style>', 'prompt format of OpenAI-form strings (default: the model\'s, from its config.json)').choices([...PROMPT_STYLES]))
    .option('--host <addr>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', nonNegativeInt('--port'), 8000)
    .option('--served-model-name <name>', 'model id in /v1/models and answers (default: the model identity)')
    .option('--api-key <key>', 'require "Authorization: Bearer <key>" on every route but /health (default: $VLM2VEC_API_KEY)')
    .option('--allow-local-media <dir>', 'let requests name media files under DIR by absolute path or file: URL (repeatable; default: data URIs only)', collectList)
    .option('--cors [origin]', 'send Access-Control-Allow-Origin (default origin *); off unless given')
    .option('--db <dir|uri>', 'a vlm2vec index database: POST /v1/search searches it (default model: the index\'s own)')
    .option('--ui', 'with --db: the search page at / and its thumbnails')
    .option('--root <folder>', 'with --ui: the folder the index was made from (default: the one it records)')
    .option('--batch-size <n>', 'rows per forward pass', positiveInt('--batch-size'), d.batchSize)
    .option('--max-batch-tokens <n>', 'padded tokens (rows × longest row) per forward pass; a longer item goes alone', positiveInt('--max-batch-tokens'), d.maxBatchTokens)
    .option('--max-batch-items <n>', 'items per dynamic batch across concurrent requests', positiveInt('--max-batch-items'), d.maxBatchItems)
    .option('--max-wait-ms <n>', 'longest wait for more requests before a partial batch starts', nonNegativeInt('--max-wait-ms'), d.maxWaitMs)
    .option('--max-queue-items <n>', 'items waiting for the model beyond which requests get 429', positiveInt('--max-queue-items'), d.maxQueueItems)
    .option('--max-body-bytes <n>', 'request body limit (413 beyond)', positiveInt('--max-body-bytes'), d.maxBodyBytes)
    .option('--max-concurrent-requests <n>', 'embeddings requests handled at once (429 beyond, before reading the body)', positiveInt('--max-concurrent-requests'), d.maxConcurrentRequests)
    .option('--max-items <n>', 'items per request', positiveInt('--max-items'), d.maxItems)
    .option('--max-media-per-item <n>', 'images plus video frames per item', positiveInt('--max-media-per-item'), d.maxMediaPerItem)
    .option('--max-frames <n>', 'frames per video', positiveInt('--max-frames'), d.maxFrames)
    .option('--max-image-pixels <n>', 'pixels of one image or frame as sent, read from its header before decoding', positiveInt('--max-image-pixels'), d.maxImagePixels)
    .option('--max-text-chars <n>', 'characters of one item\'s text', positiveInt('--max-text-chars'), d.maxTextChars)
    .option('--timeout <seconds>', 'answer a request within this time or give up (504)', intAtLeast('--timeout', 1), d.timeoutSeconds)
    .addHelpText('after', SERVE_EXAMPLES)
    .action(async (o: ServeCliOptions & { timeout: number }) => {
      const err = process.stderr;
      const { timeout, cors, apiKey, ...rest } = o;
      const key = apiKey ?? process.env['VLM2VEC_API_KEY'];
      if (o.ui && o.db === undefined) throw new Vlm2VecError('serve', '--ui needs --db DIR (the index the page searches)');
      if (o.root !== undefined && !o.ui) throw new Vlm2VecError('serve', '--root is the folder of the --ui thumbnails: give --ui too');
      if (o.model === undefined && o.db === undefined) {
        Object.assign(rest, modelOrBundled(rest, err, 'serve'));
      } else if (o.model === undefined) {
        // The index's model, loaded as `vlm2vec search` loads it (same identity, or --db is refused).
        const { meta } = await openSearchIndex(o.db!);
        const mo = meta.modelOptions;
        if (isBundledModel(meta.modelSpec)) err.write(`vlm2vec serve: ${BUNDLED_MODEL_NOTICE.replace('no --model given: using', 'the index was made with')}\n`);
        rest.model = meta.modelSpec;
        if (meta.adapter) rest.adapter ??= meta.adapter;
        for (const k of ['tokenizer', 'dtype', 'minPixels', 'maxPixels', 'numCrops'] as const) {
          if (mo[k] !== undefined && rest[k] === undefined) (rest as Record<string, unknown>)[k] = mo[k];
        }
      }
      const srv = await startServer({
        ...rest,
        model: rest.model!,
        timeoutSeconds: timeout,
        ...(key ? { apiKey: key } : {}),
        ...(cors === undefined ? {} : { cors: cors === true ? '*' : cors }),
        onLoad: loadReporter(err),
      });
      err.write(`vlm2vec serve: listening on ${srv.url} (POST ${srv.url}/v1/embeddings${o.db ? `, ${srv.url}/v1/search` : ''}` +
        `${o.ui ? `; search page ${srv.url}/` : ''}); loading ${rest.model}…\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) {
          err.write(`vlm2vec serve: ${signal} again: exiting now\n`);
          process.exit(130);
        }
        stopping = true;
        err.write(`vlm2vec serve: ${signal}: answering the ${srv.inFlight} request(s) in flight, then exiting (${signal} again: at once)\n`);
        srv.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      try {
        await srv.ready;
      } catch (e) {
        await srv.close();
        throw e;
      }
      if (!stopping) err.write(`vlm2vec serve: ready${key ? ' (API key required)' : ''}\n`);
    });
}
