// `--dtype` on `vlm2vec embed`, `eval --model` and `export`: parsed with a clear error, and
// `export --dtype float16` writes float16 weight initializers (half the bytes) whose graphs,
// run by plain onnxruntime-node with or without the manifest's session options, give
// transformers' `model.half().float()` embeddings (tools/reference/model_qwen2vl_fp16.py).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { compareRows, FP16_FIXTURE, fp16Array } from '../models/qwen2-vl/fixtures.test-helper.ts';
import { configureRuntime } from '../tensor/index.ts';
import { registerEmbed } from './embed.ts';
import { parseDtypeOption } from './model-options.ts';
import { registerEval } from './eval.ts';
import { registerExport, runExport, type ExportManifest } from './export.ts';
import { runExported } from './export.test-helper.ts';

configureRuntime({ threads: 1 });

test('--dtype accepts float32/float16/int8/q4/q4-128 and rejects anything else naming the flag', async () => {
  for (const d of ['float16', 'float32', 'int8', 'q4', 'q4-128']) assert.equal(parseDtypeOption(d), d);
  assert.throws(() => parseDtypeOption('q8'), /got "q8" \(did you mean 'int8'\?\)/);
  for (const [register, args] of [
    [registerEmbed, ['embed', '--model', 'm', '--input', 'i', '--output', 'o']],
    [registerExport, ['export', '--model', 'm', '--out', 'o']],
    [registerEval, ['eval', '--model', 'm', '--data', 'd', '--out', 'o']],
  ] as const) {
    const program = new Command('vlm2vec').exitOverride().configureOutput({ writeErr: () => undefined });
    register(program);
    await assert.rejects(program.parseAsync([...args, '--dtype', 'fp16'], { from: 'user' }),
      /--dtype must be one of 'float32', 'float16', 'int8', 'q4', 'q4-128', got "fp16" \(did you mean 'float16'\?\)/, `${args[0]}`);
  }
  // eval: --dtype is a local-model option, refused for endpoints.
  const program = new Command('vlm2vec').exitOverride().configureOutput({ writeErr: () => undefined });
  registerEval(program);
  await assert.rejects(program.parseAsync(['eval', '--model', 'http://127.0.0.1:9', '--data', 'd', '--out', 'o', '--dtype', 'float16'], { from: 'user' }),
    /--dtype applies to a local model, not to endpoint URLs/);
});

test('export --dtype float16: float16 initializers, plain onnxruntime reproduces model.half().float()', async () => {
  const work = await mkdtemp(join(tmpdir(), 'vlm2vec-export-f16-'));
  try {
    const o16 = join(work, 'f16');
    const o32 = join(work, 'f32');
    const m16 = await runExport({ model: FP16_FIXTURE, out: o16, dtype: 'float16' });
    const m32 = await runExport({ model: FP16_FIXTURE, out: o32 });
    assert.equal(m32.float16, undefined);
    assert.equal(m16.float16?.weights, 'float16-cast-to-float32');
    const size = async (dir: string, m: ExportManifest) => (await stat(join(dir, m.graphs.text.file))).size + (await stat(join(dir, m.graphs.vision.file))).size;
    const [s16, s32] = [await size(o16, m16), await size(o32, m32)];
    assert.ok(s16 < 0.6 * s32, `float16 export ${s16} bytes vs float32 ${s32}`);
    const want = fp16Array('half_weights.embedding') as Float32Array;
    const base = { intraOpNumThreads: 1, interOpNumThreads: 1 };
    // ORT's defaults (Casts folded back to float32) and the manifest's settings (kept float16).
    for (const so of [base, { ...base, ...m16.float16!.sessionOptions, extra: { ...m16.float16!.sessionOptions.extra } }]) {
      const got = await runExported(o16, m16, so);
      const r = compareRows(got, want, m16.hiddenSize);
      assert.ok(r.minCos >= 0.99999 && r.maxAbs <= 1e-4, `${JSON.stringify(so)}: cos ${r.minCos}, max|Δ| ${r.maxAbs}`);
    }
    // The float32 export of the same checkpoint gives the float32 reference, not the float16 one.
    const r32 = compareRows(await runExported(o32, m32, base), fp16Array('fp32.embedding') as Float32Array, m32.hiddenSize);
    assert.ok(r32.minCos >= 0.99999 && r32.maxAbs <= 1e-4, `float32 export: cos ${r32.minCos}, max|Δ| ${r32.maxAbs}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
