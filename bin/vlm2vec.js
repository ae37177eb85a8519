#!/usr/bin/env node
// Entry point of the `vlm2vec` command. In a clone (src/ present) it runs the TypeScript sources
// through tsx's loader, so `npm ci` is enough and edits need no rebuild; an installed package ships
// only the compiled dist/ (built by `npm pack`'s prepack) and runs that, with no TypeScript loader.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
