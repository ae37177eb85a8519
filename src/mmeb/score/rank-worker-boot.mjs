// Worker entry of the ranking pool (rank-pool.ts). From the built package (dist/) the compiled
// worker module sits beside this file; from the TypeScript sources it is loaded through tsx's
// loader (as src/embed/local-worker-boot.mjs does).
import { existsSync } from 'node:fs';

const compiled = new URL('./rank-worker.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./rank-worker.ts');
}
