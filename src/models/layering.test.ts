// The backbone seam holds: code above models/ reaches an architecture only through
// models/registry.ts and the Encoder interface, and nn/ keeps generic layers only. Scans the import
// specifiers of every non-test module (tests may name the architecture whose goldens they check).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const SRC = join(import.meta.dirname, '..');

function modules(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return modules(p);
    return /\.(ts|mjs)$/.test(name) && !/\.test\.ts$|\.test-helper\.ts$/.test(name) ? [p] : [];
  });
}

/** Every `from '…'` / `import('…')` specifier of a module. */
export function importSpecifiers(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

const rel = (p: string): string => relative(SRC, p).split(sep).join('/');
const all = modules(SRC);

test('importSpecifiers finds static, type and dynamic imports', () => {
  const src = "import { a } from './x.ts';\nimport type { B } from \"../models/qwen2-vl/model.ts\";\nconst m = await import('./y.ts');\nexport * from './z.ts';";
  assert.deepEqual(importSpecifiers(src), ['./x.ts', '../models/qwen2-vl/model.ts', './y.ts', './z.ts']);
});

test('nothing above src/models/ imports an architecture folder', () => {
  const outside = all.filter((p) => !rel(p).startsWith('models/'));
  assert.ok(outside.some((p) => rel(p) === 'embed/local.ts') && outside.some((p) => rel(p) === 'cli/export.ts'), 'the scan covers embed/ and cli/');
  const offenders = outside.flatMap((p) => importSpecifiers(readFileSync(p, 'utf8'))
    .filter((s) => /(^|\/)models\/(?!index\.ts$|registry\.ts$|encoder\.ts$|common\/)[^/]+\//.test(s))
    .map((s) => `${rel(p)} imports ${s}`));
  assert.deepEqual(offenders, []);
});

test('nn/ holds generic layers only: no architecture blocks, no imports from models/', () => {
  const nn = all.filter((p) => rel(p).startsWith('nn/'));
  assert.ok(nn.length >= 6);
  assert.deepEqual(nn.filter((p) => /qwen|llava|phi3/i.test(rel(p))).map(rel), []);
  const up = nn.flatMap((p) => importSpecifiers(readFileSync(p, 'utf8')).filter((s) => s.includes('/models/')).map((s) => `${rel(p)} imports ${s}`));
  assert.deepEqual(up, []);
});

test('architecture folders do not import one another, only models/ shared parts', () => {
  // common/ and the shared vision towers (clip-vision/, imported by LLaVA-NeXT and Phi-3-V) are not architectures.
  const shared = new Set(['common', 'clip-vision']);
  const archs = readdirSync(join(SRC, 'models')).filter((d) => !shared.has(d) && statSync(join(SRC, 'models', d)).isDirectory());
  assert.ok(archs.includes('qwen2-vl'));
  const cross = all.filter((p) => archs.some((a) => rel(p).startsWith(`models/${a}/`))).flatMap((p) => {
    const own = rel(p).split('/')[1]!;
    return importSpecifiers(readFileSync(p, 'utf8')).filter((s) => archs.some((a) => a !== own && s.includes(`../${a}/`))).map((s) => `${rel(p)} imports ${s}`);
  });
  assert.deepEqual(cross, []);
});
