// The public API: what library users (and the coming serve/train) import from 'vlm2vec' is there,
// and the entry loads no test helper.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from './index.ts';

test('the public entry exports the embedders, the protocol, the registry, nn and the harness', () => {
  const names = [
    'LocalEmbedder', 'ThreadedLocalEmbedder', 'RemoteEmbedder', 'createEmbedder', 'EmbeddingCache', 'embedThroughCache',
    'MediaError', 'Vlm2VecError', 'errorDetail', 'formatInput',
    'decodeRequest', 'encodeResponse', 'decodeResponse', 'errorBody', 'errorStatus', 'parseMediaField',
    'registerModel', 'modelRecord', 'resolveModel', 'runEval', 'runEvalV1', 'scoreTask', 'loadTask',
    'startServer',
  ] as const;
  for (const n of names) assert.equal(typeof (api as Record<string, unknown>)[n], 'function', n);
  assert.equal(typeof api.nn.linear, 'function');
  const helpers = Object.keys(api).filter((k) => /fixture|golden|testHelper/i.test(k));
  assert.deepEqual(helpers, []);
});
