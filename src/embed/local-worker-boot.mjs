// Worker entry of ThreadedLocalEmbedder: registers tsx's loader (the package runs TypeScript
// sources, like bin/vlm2vec.js), then loads the TypeScript worker module.
import { register } from 'tsx/esm/api';

register();
await import('./local-worker.ts');
