// The Python reference environment (PyTorch, transformers, Pillow, numpy …) that benchmarks use as
// their baseline, found one way everywhere: $VLM2VEC_PYTHON when set, else the venv of
// tools/reference/README.md at tools/reference/.venv. Benchmarks skip their baseline, printing
// `missing`, when neither exists; nothing in the test suite needs Python.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** tools/reference/.venv/bin/python of this checkout. */
export const VENV_PYTHON = fileURLToPath(new URL('../tools/reference/.venv/bin/python', import.meta.url));

/** The interpreter to run, or why there is none (naming both places looked at). */
export type ReferencePython = { python: string; missing?: undefined } | { python?: undefined; missing: string };

export function referencePython(env: NodeJS.ProcessEnv = process.env): ReferencePython {
  const fromEnv = env['VLM2VEC_PYTHON'];
  if (fromEnv) {
    return existsSync(fromEnv)
      ? { python: fromEnv }
      : { missing: `$VLM2VEC_PYTHON is set to ${fromEnv}, which does not exist (unset it to use ${VENV_PYTHON})` };
  }
  if (existsSync(VENV_PYTHON)) return { python: VENV_PYTHON };
  return {
    missing: `no Python reference environment: $VLM2VEC_PYTHON is not set and ${VENV_PYTHON} does not exist `
      + '(create the venv as tools/reference/README.md says, or point VLM2VEC_PYTHON at a python with the packages)',
  };
}
