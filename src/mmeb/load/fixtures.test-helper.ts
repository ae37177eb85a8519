// Helpers shared by the loader tests: the fixture data dir (copied to a temp dir so tests that
// write visdoc pages never touch the repo) and a relative-path view of absolute media paths.

import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The committed fixture tree (see test/fixtures/mmeb/README.md). */
export const FIXTURE_DATA = new URL('../../../test/fixtures/mmeb/data', import.meta.url).pathname;

/** A fresh writable copy of the fixture data dir. */
export function fixtureCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-mmeb-'));
  cpSync(FIXTURE_DATA, dir, { recursive: true });
  return dir;
}

/** Strip `root/` from paths so expectations can be written relative to the data dir. */
export function rel(root: string, paths: readonly string[] | undefined): string[] {
  return (paths ?? []).map((p) => (p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p));
}
