// Worker entry of ThreadedLocalEmbedder. From the built package (dist/) the compiled worker
// module sits beside this file; from the TypeScript sources (a clone, like bin/vlm2vec.js) it is
// loaded through tsx's loader.
import { existsSync } from 'node:fs';

const compiled = new URL('./local-worker.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./local-worker.ts');
}
