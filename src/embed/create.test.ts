// createEmbedder: endpoint URLs → RemoteEmbedder (no request needed when the model name is given),
// one local model spec → LocalEmbedder (resolved like every --model), mixtures refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { configureRuntime } from '../tensor/index.ts';
import { FIXTURES, TOKENIZER_DIR } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { createEmbedder, isEndpointSpec } from './create.ts';
import { LocalEmbedder } from './local.ts';
import { RemoteEmbedder } from './remote.ts';

configureRuntime({ threads: 1 });

test('isEndpointSpec: only http(s) URLs', () => {
  assert.equal(isEndpointSpec('http://gpu1:8000/v1'), true);
  assert.equal(isEndpointSpec('HTTPS://x'), true);
  assert.equal(isEndpointSpec('TIGER-Lab/VLM2Vec-Qwen2VL-2B'), false);
  assert.equal(isEndpointSpec('./http:/x'), false);
});

test('endpoints give a RemoteEmbedder, a folder a LocalEmbedder; mixtures and empty lists are refused', async () => {
  const r = await createEmbedder(['http://127.0.0.1:9/v1', 'http://127.0.0.1:10/v1'], { remote: { modelName: 'm' } });
  assert.equal(r.kind, 'remote');
  assert.ok(r.embedder instanceof RemoteEmbedder);
  assert.deepEqual(r.embedder.aliveEndpoints, ['http://127.0.0.1:9/v1', 'http://127.0.0.1:10/v1']);

  const l = await createEmbedder([join(FIXTURES, 'tiny-a')], { local: { tokenizerDir: TOKENIZER_DIR, batchSize: 3 } });
  assert.equal(l.kind, 'local');
  assert.ok(l.embedder instanceof LocalEmbedder);
  assert.equal(l.embedder.batchSize, 3);
  assert.match(l.embedder.id, /^qwen2_vl:local:.*tiny-a#[0-9a-f]{12}$/);

  await assert.rejects(createEmbedder(['http://127.0.0.1:9/v1', join(FIXTURES, 'tiny-a')]), /several values are only for endpoint URLs/);
  await assert.rejects(createEmbedder([]), /--model needs an endpoint URL, a model folder or a hub id/);
});
