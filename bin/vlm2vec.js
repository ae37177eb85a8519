#!/usr/bin/env node
// Entry point of the `vlm2vec` command. The package ships TypeScript sources and runs them
// through tsx's loader, so a fresh clone works after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
