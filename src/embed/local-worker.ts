// Worker-thread side of ThreadedLocalEmbedder (src/embed/local-threaded.ts): loads a
// LocalEmbedder inside the worker and answers `embed` requests, so ONNX Runtime's blocking
// run() never stalls the caller's event loop (a server keeps answering while a batch encodes).

import { parentPort, workerData } from 'node:worker_threads';
import { LocalEmbedder, type LocalEmbedderOptions } from './local.ts';
import { MediaError } from './media-error.ts';
import { errorDetail } from '../errors.ts';
import type { EmbedItem } from './types.ts';

interface Init {
  modelDir: string;
  options: LocalEmbedderOptions;
}

type Request = { id: number; items: EmbedItem[] } | { id: number; close: true };

const { modelDir, options } = workerData as Init;
const port = parentPort!;
LocalEmbedder.load(modelDir, options).then(
  (embedder) => {
    port.postMessage({ ready: true, dim: embedder.dim, embedderId: embedder.id });
    port.on('message', (req: Request) => {
      if ('close' in req) {
        port.close();
        return;
      }
      embedder.embed(req.items).then(
        (vectors) => port.postMessage({ id: req.id, vectors }, vectors.map((v) => v.buffer as ArrayBuffer)),
        // The kind of error crosses the thread too: a MediaError fails one MMEB task, not the run.
        (e: unknown) => port.postMessage({ id: req.id, error: errorDetail(e), media: e instanceof MediaError }),
      );
    });
  },
  (e: unknown) => port.postMessage({ ready: false, error: errorDetail(e) }),
);
