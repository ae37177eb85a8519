// The engine's layering, checked: no module of src/tensor imports itself back through others
// (type-only imports excluded; they vanish at run time). A cycle would let a module run before
// the one it needs has finished loading; see API.md "Inside" for the layers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = import.meta.dirname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.test-helper.ts') ? [p] : [];
  });
}

/** Files of src/tensor that `file` imports for their values (not `import type`, not all-`type` braces). */
function valueImports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022);
  const out: string[] = [];
  for (const st of sf.statements) {
    let spec: ts.Expression | undefined;
    if (ts.isImportDeclaration(st)) {
      const c = st.importClause;
      const typeOnly = c !== undefined && (c.isTypeOnly || (!c.name && c.namedBindings !== undefined && ts.isNamedImports(c.namedBindings)
        && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) spec = st.moduleSpecifier;
    } else if (ts.isExportDeclaration(st) && !st.isTypeOnly) {
      spec = st.moduleSpecifier;
    }
    if (spec && ts.isStringLiteral(spec) && spec.text.startsWith('.')) {
      const target = resolve(dirname(file), spec.text);
      if (target.startsWith(ROOT)) out.push(target);
    }
  }
  return out;
}

/** One import cycle in the graph `edges`, as a path list, or undefined. */
function findCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | undefined => {
    if (state.get(f) === 'done') return undefined;
    if (state.get(f) === 'open') return [...stack.slice(stack.indexOf(f)), f];
    state.set(f, 'open');
    stack.push(f);
    for (const g of edges.get(f) ?? []) {
      const c = visit(g);
      if (c) return c;
    }
    stack.pop();
    state.set(f, 'done');
    return undefined;
  };
  for (const f of edges.keys()) {
    const c = visit(f);
    if (c) return c;
  }
  return undefined;
}

const graph = (): Map<string, string[]> => new Map(sources(ROOT).map((f) => [f, valueImports(f)]));
const show = (cycle: string[] | undefined) => cycle?.map((f) => relative(ROOT, f)).join(' -> ');

test('src/tensor has no value-level import cycle', () => {
  assert.equal(show(findCycle(graph())), undefined);
});

test('a rule file importing ops back (as every VJP did before rules got the ops passed in) is a cycle', () => {
  const edges = graph();
  const rules = join(ROOT, 'primitives', 'elementwise.ts');
  edges.set(rules, [...edges.get(rules)!, join(ROOT, 'ops', 'index.ts')]);
  const cycle = show(findCycle(edges)) ?? '';
  for (const f of ['primitives/elementwise.ts', 'ops/index.ts', 'ir/node.ts', 'primitives/index.ts']) assert.match(cycle, new RegExp(f.replace('.', '\\.')));
});
