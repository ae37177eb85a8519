// bench/python.ts: the one way benchmarks find the Python reference environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referencePython, VENV_PYTHON } from '../bench/python.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('default is tools/reference/.venv/bin/python of this checkout', () => {
  assert.equal(VENV_PYTHON, join(ROOT, 'tools', 'reference', '.venv', 'bin', 'python'));
  const r = referencePython({});
  if (existsSync(VENV_PYTHON)) assert.deepEqual(r, { python: VENV_PYTHON });
  else {
    assert.equal(r.python, undefined);
    assert.match(r.missing ?? '', /\$VLM2VEC_PYTHON is not set/);
    assert.ok(r.missing?.includes(VENV_PYTHON), r.missing);
  }
});

test('$VLM2VEC_PYTHON wins over the venv when it exists', () => {
  assert.deepEqual(referencePython({ VLM2VEC_PYTHON: process.execPath }), { python: process.execPath });
});

test('a $VLM2VEC_PYTHON that does not exist is reported, naming both places', () => {
  const r = referencePython({ VLM2VEC_PYTHON: '/nonexistent/bin/python' });
  assert.equal(r.python, undefined);
  assert.ok(r.missing?.includes('/nonexistent/bin/python') && r.missing.includes(VENV_PYTHON), r.missing);
});
