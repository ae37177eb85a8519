// "model spec → Embedder": the one place that decides whether `--model` names HTTP endpoints
// (RemoteEmbedder) or a local model (LocalEmbedder: folder, hub id or PEFT adapter folder), so
// every command (eval, embed, serve) treats `--model` the same way.

import { Vlm2VecError } from '../errors.ts';
import { LocalEmbedder, type LocalEmbedderOptions } from './local.ts';
import { RemoteEmbedder, type RemoteOptions } from './remote.ts';

/** True for `http://` / `https://` specs (embedding endpoints). */
export function isEndpointSpec(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/** Options of {@link createEmbedder}: each kind reads its own part. */
export interface CreateEmbedderOptions {
  /** For endpoint specs (everything but `endpoints`). */
  remote?: Omit<RemoteOptions, 'endpoints'> | undefined;
  /** For a local model. */
  local?: LocalEmbedderOptions | undefined;
}

/** What {@link createEmbedder} built. */
export type CreatedEmbedder = { kind: 'remote'; embedder: RemoteEmbedder } | { kind: 'local'; embedder: LocalEmbedder };

/**
 * Builds the embedder for `--model` values: one or more endpoint URLs, or exactly one local model
 * (folder, hub id `owner/name[@rev]`, or PEFT adapter folder).
 *
 * @example
 * const { embedder } = await createEmbedder(['http://gpu1:8000/v1', 'http://gpu2:8000/v1']);
 * const { embedder: local } = await createEmbedder(['TIGER-Lab/VLM2Vec-Qwen2VL-2B'], { local: { threads: 2 } });
 */
export async function createEmbedder(specs: readonly string[], opts: CreateEmbedderOptions = {}): Promise<CreatedEmbedder> {
  if (specs.length === 0) throw new Vlm2VecError('embed', '--model needs an endpoint URL, a model folder or a hub id');
  const urls = specs.filter(isEndpointSpec);
  if (urls.length === specs.length) {
    return { kind: 'remote', embedder: await RemoteEmbedder.create({ ...opts.remote, endpoints: specs }) };
  }
  if (specs.length > 1) {
    throw new Vlm2VecError('embed', `--model got ${specs.length} values (${specs.join(', ')}): several values are only for ` +
      'endpoint URLs; a local model (folder, hub id or adapter folder) is given alone');
  }
  return { kind: 'local', embedder: await LocalEmbedder.load(specs[0]!, opts.local) };
}
