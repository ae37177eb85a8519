#!/usr/bin/env node
// Prints the fenced code block that follows `<!-- ci: NAME -->` in README.md, so CI runs the
// README's commands exactly as written (.ci/run pipes the quick start into bash).
// Usage: node scripts/readme-block.mjs NAME
import { readFileSync } from 'node:fs';

const name = process.argv[2];
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const marker = `<!-- ci: ${name} -->`;
const at = readme.indexOf(marker);
const m = at < 0 ? null : /^\s*```[a-z]*\n([\s\S]*?)^```$/m.exec(readme.slice(at + marker.length));
if (!name || !m) {
  console.error(`readme-block: no fenced block after '${marker}' in README.md`);
  process.exit(1);
}
process.stdout.write(m[1]);
