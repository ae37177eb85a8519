#!/usr/bin/env node
// Builds dist/ for library users: tsc emits JavaScript + declarations (imports rewritten from
// .ts to .js), then the runtime assets that code reads by URL (JSON tables, the worker entry,
// the search page) are copied beside it. The CLI itself runs from src/ through tsx and needs no build.
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const ASSET = /\.(json|mjs)$/;
function copyAssets(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) copyAssets(p);
    else if (ASSET.test(name)) cpSync(p, join(root, 'dist', relative(join(root, 'src'), p)));
  }
}
copyAssets(join(root, 'src'));
// The search page of `vlm2vec serve --ui`: plain HTML/CSS/JS served as they are.
cpSync(join(root, 'src', 'serve', 'ui'), join(root, 'dist', 'serve', 'ui'), { recursive: true });
// stderr: npm pack --json prints the package list on stdout.
console.error('built dist/');
