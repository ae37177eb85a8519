// The embedder conformance suite run against every Embedder we have.
import { after } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embedderConformance } from './embedder-conformance.ts';
import { startEmbedServer, type EmbedServer } from './embed-server.ts';
import { RemoteEmbedder } from '../../src/embed/remote.ts';

const dir = mkdtempSync(join(tmpdir(), 'v2v-conf-'));
const images: [string, string] = [join(dir, 'a.png'), join(dir, 'b.jpg')];
writeFileSync(images[0], Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
writeFileSync(images[1], Buffer.from([0xff, 0xd8, 0xff, 4, 5, 6]));
const frames = [0, 1, 2].map((i) => join(dir, `frame_${i}.jpg`));
frames.forEach((f, i) => writeFileSync(f, Buffer.from([0xff, 0xd8, 0xff, 9, i])));
let server: EmbedServer | undefined;
const url = async () => (server ??= await startEmbedServer({ dim: 12 })).url;
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

embedderConformance('RemoteEmbedder (vlm2vec protocol)', async () => ({
  embedder: await RemoteEmbedder.create({ endpoints: [await url()] }),
  images,
  video: frames,
}));
embedderConformance('RemoteEmbedder (vllm protocol)', async () => ({
  embedder: await RemoteEmbedder.create({ endpoints: [await url()], protocol: 'vllm' }),
  images,
  noVideoReason: "vLLM's chat-form embeddings carry no video (a clear error is tested in remote.test.ts)",
}));
