// The server's model thread: a LocalEmbedder loaded inside a worker, answering one batch at a
// time with a result per item. Unlike ThreadedLocalEmbedder (one error fails the call) a batch
// here mixes the items of several HTTP requests, so each item's fault stays its own: a
// preparation error (undecodable image, too many pixels, placeholders not matching the media) is
// that request's 400, an encoding error fails only the items of that forward pass (500). Token
// counts come back too, for `usage` and the metrics.

import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { LocalEmbedder, type LocalEmbedderOptions } from '../embed/local.ts';
import { MediaError } from '../embed/media-error.ts';
import { errorDetail } from '../errors.ts';
import type { PreparedItem } from '../models/encoder.ts';
import type { BatchReply, BatchRequest, ItemResult, WorkItem } from './model-thread.ts';
import { passes } from './passes.ts';

interface Init {
  model: string;
  options: LocalEmbedderOptions;
  /** Largest image or frame accepted, in pixels (width × height, read from the file's header). */
  maxImagePixels: number;
  /** Padded tokens per forward pass (bounds the activations' memory). */
  maxBatchTokens: number;
}

const { model, options, maxImagePixels, maxBatchTokens } = workerData as Init;
const port = parentPort!;

/** Refuses an image whose header announces more pixels than the limit, before decoding it. */
async function checkPixels(item: WorkItem): Promise<void> {
  for (const kind of ['images', 'video'] as const) {
    const list = item.item[kind] ?? [];
    for (let j = 0; j < list.length; j++) {
      // An unreadable header is left to the decoder, whose error names the format.
      const meta = await sharp(list[j]!, { limitInputPixels: false }).metadata().catch(() => undefined);
      const px = (meta?.width ?? 0) * (meta?.height ?? 0);
      if (px > maxImagePixels) {
        throw new MediaError(`item ${item.index}: ${kind}[${j}]: ${meta!.width}×${meta!.height} = ${px} pixels, more than the ` +
          `server's limit of ${maxImagePixels} per image or frame`, undefined, { item: item.index, kind, index: j });
      }
    }
  }
}

function failure(e: unknown, status: 400 | 500): ItemResult {
  const media = e instanceof MediaError && e.media ? { kind: e.media.kind, index: e.media.index } : undefined;
  return { ok: false, status, message: errorDetail(e), ...(media ? { media } : {}) };
}

async function runBatch(emb: LocalEmbedder, items: WorkItem[]): Promise<{ results: ItemResult[]; passes: number }> {
  const out: ItemResult[] = new Array(items.length);
  let count = 0;
  const prepared: (PreparedItem | undefined)[] = await Promise.all(items.map(async (w, k) => {
    try {
      await checkPixels(w);
      return await emb.prepare(w.item, w.index);
    } catch (e) {
      out[k] = failure(e, 400);
      return undefined;
    }
  }));
  // Rows grouped by token length (as LocalEmbedder.embed does) to limit padding.
  const good = prepared.flatMap((p, k) => (p ? [k] : [])).sort((a, b) => prepared[a]!.ids.length - prepared[b]!.ids.length || a - b);
  for (const idx of passes(good.map((k) => prepared[k]!.ids.length), emb.batchSize, maxBatchTokens).map((p) => p.map((j) => good[j]!))) {
    count++;
    try {
      const { embeddings } = await emb.encodePrepared(idx.map((k) => prepared[k]!));
      idx.forEach((k, r) => (out[k] = { ok: true, vector: embeddings[r]!, tokens: prepared[k]!.ids.length }));
    } catch (e) {
      idx.forEach((k) => (out[k] = failure(e, 500)));
    }
  }
  return { results: out, passes: count };
}

// Load progress crosses to the main thread (the CLI draws it): a hub model takes minutes.
LocalEmbedder.load(model, { ...options, onLoad: (e) => port.postMessage({ load: e }) }).then(
  (emb) => {
    port.postMessage({ ready: true, dim: emb.dim, id: emb.id });
    port.on('message', (req: BatchRequest) => {
      runBatch(emb, req.items).then(
        ({ results, passes }) => {
          const transfer = results.flatMap((r) => (r.ok ? [r.vector.buffer as ArrayBuffer] : []));
          port.postMessage({ id: req.id, results, passes } satisfies BatchReply, transfer);
        },
        (e: unknown) => port.postMessage({ id: req.id, error: errorDetail(e) } satisfies BatchReply),
      );
    });
  },
  (e: unknown) => port.postMessage({ ready: false, error: errorDetail(e) }),
);
