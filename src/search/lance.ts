// LanceDB access for the folder index: loading the native module with a clear message when it
// cannot run here, and the Arrow schema of the tables. LanceDB (Apache-2.0, `@lancedb/lancedb`,
// pinned at 0.31.0) keeps a table as a folder of Lance files that is appended to atomically per
// `add()`, so a killed run leaves every finished batch readable; the same code opens `s3://`,
// `gs://` or `az://` URIs (one writer at a time).

import { readFileSync } from 'node:fs';
import { Vlm2VecError } from '../errors.ts';

export type LanceModule = typeof import('@lancedb/lancedb');
export type ArrowModule = typeof import('apache-arrow');

/**
 * Why LanceDB's prebuilt module cannot run on this machine, or undefined when it should.
 * Its linux/windows x64 builds use AVX2 (Haswell, 2013, or newer); without it the process dies
 * with SIGILL ("invalid opcode") on the first call, which no try/catch can catch, so we check
 * first. Linux is checked through /proc/cpuinfo; elsewhere we let the import decide.
 */
export function lanceUnsupportedReason(cpuinfo?: string): string | undefined {
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    if (process.platform === 'darwin' && process.arch === 'x64') return 'LanceDB publishes no build for macOS on Intel (darwin-x64)';
    return undefined;
  }
  let info = cpuinfo;
  try {
    info ??= readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined;
  }
  const flags = /^flags\s*:(.*)$/m.exec(info)?.[1];
  if (flags !== undefined && !flags.split(/\s+/).includes('avx2')) {
    return 'this CPU has no AVX2, which the prebuilt LanceDB module for x64 requires (Intel Haswell / AMD Zen or newer)';
  }
  return undefined;
}

let lancePromise: Promise<{ lance: LanceModule; arrow: ArrowModule }> | undefined;

/** Imports LanceDB and Apache Arrow (lazily: the native module is large), or throws a Vlm2VecError saying why not. */
export function loadLance(): Promise<{ lance: LanceModule; arrow: ArrowModule }> {
  lancePromise ??= (async () => {
    const why = lanceUnsupportedReason();
    if (why) throw new Vlm2VecError('search', `cannot use the vector database: ${why}`);
    // Its Rust log prints warnings such as "No existing dataset … it will be created" on stderr.
    process.env['LANCEDB_LOG'] ??= 'error';
    try {
      const [lance, arrow] = await Promise.all([import('@lancedb/lancedb'), import('apache-arrow')]);
      return { lance, arrow };
    } catch (e) {
      throw new Vlm2VecError('search', `cannot load LanceDB (@lancedb/lancedb) for ${process.platform}-${process.arch}: ${(e as Error).message}; ` +
        'reinstall with optional dependencies (npm ci) so its platform package is present', { cause: e });
    }
  })();
  lancePromise.catch(() => (lancePromise = undefined));
  return lancePromise;
}

/** SQL string literal (single quotes doubled), for LanceDB's `where` / `delete` predicates. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
