// Every primitive (and the shared compositions): forward vs PyTorch, backward vs PyTorch
// gradients, and a float64 finite-difference check of our VJPs along a random direction.
// Fixtures: tools/reference/engine_ops.py.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { add, cast, configureRuntime, mul, randn, scalar, sum, Tensor, vjp } from './index.ts';
import { FNS } from './op-cases.test-helper.ts';
import { assertClose, loadFixture } from './fixtures.test-helper.ts';

configureRuntime({ threads: 1 });

// Points where the function is not differentiable: PyTorch's convention is checked against the
// fixture, a finite difference there is meaningless.
// cast_f16_roundtrip: rounding is piecewise constant; its gradient is straight-through by design.
const NO_FD = new Set(['maximum_ties', 'cast_f16_roundtrip']);
// ORT has no double Erf kernel: these are checked in float32 with a larger step and tolerance.
const FD_F32 = new Set(['erf', 'gelu']);

const { cases, read } = loadFixture('ops');

test('every fixture case has an engine function and vice versa', () => {
  assert.deepEqual(cases.map((c) => c.name).sort(), Object.keys(FNS).sort());
});

for (const c of cases) {
  test(`${c.name}: forward and gradients match PyTorch`, async () => {
    const fn = FNS[c.name]!;
    const ins = c.inputs.map(read);
    const out = fn(...ins);
    const want = read(c.output);
    assert.equal(out.dtype, want.dtype, `${c.name}: dtype`);
    await assertClose(out, want, `${c.name} forward`, 1e-5, 1e-6);
    if (!c.cotangent) return;
    const wrt = ins.filter((t) => t.dtype === 'float32');
    const { vjp: pull } = vjp((...xs: Tensor[]) => {
      let k = 0;
      return fn(...ins.map((t) => (t.dtype === 'float32' ? xs[k++]! : t)));
    }, ...wrt);
    const gs = pull(read(c.cotangent)) as Tensor[];
    let k = 0;
    for (let i = 0; i < ins.length; i++) {
      const g = c.grads![i];
      if (!g) continue;
      await assertClose(gs[k++]!, read(g), `${c.name} grad of input ${i}`, 1e-4, 1e-5);
    }
  });

  if (!c.cotangent || NO_FD.has(c.name)) continue;
  test(`${c.name}: float64 finite differences agree with the VJP`, async () => {
    const fn = FNS[c.name]!;
    const dt = FD_F32.has(c.name) ? 'float32' : 'float64';
    const ins = c.inputs.map((f) => (f.dtype === 'float32' ? cast(read(f), dt) : read(f)));
    const isF = ins.map((t) => t.dtype === dt);
    const dirs = ins.map((t, i) => (isF[i] ? randn(t.shape as number[], { seed: 100 + i, dtype: dt }) : null));
    const cot = cast(read(c.cotangent!), dt);
    const loss = (xs: Tensor[]) => sum(mul(fn(...xs), cot));
    const eps = dt === 'float64' ? 1e-6 : 1e-2;
    const tol = dt === 'float64' ? 1e-6 : 2e-3;
    const shifted = (s: number) => loss(ins.map((t, i) => (dirs[i] ? add(t, mul(dirs[i]!, s * eps)) : t)));
    const numeric = ((await shifted(1).item()) - (await shifted(-1).item())) / (2 * eps);
    const wrt = ins.filter((_, i) => isF[i]);
    const { vjp: pull } = vjp((...xs: Tensor[]) => {
      let k = 0;
      return loss(ins.map((t, i) => (isF[i] ? xs[k++]! : t)));
    }, ...wrt);
    const gs = pull(scalar(1, dt)) as Tensor[];
    let analytic = 0;
    let k = 0;
    for (let i = 0; i < ins.length; i++) if (dirs[i]) analytic += await sum(mul(gs[k++]!, dirs[i]!)).item();
    const err = Math.abs(numeric - analytic);
    assert.ok(err <= tol * Math.max(1, Math.abs(analytic)), `${c.name}: finite difference ${numeric} vs VJP ${analytic}`);
  });
}

// Second order: the VJP rules are written with public ops, so differentiating them again must agree
// with finite differences of the gradient (a Hessian-vector product check in float64).
for (const c of cases) {
  if (!c.cotangent || NO_FD.has(c.name) || FD_F32.has(c.name)) continue;
  test(`${c.name}: second-order (Hessian-vector) check in float64`, async () => {
    const fn = FNS[c.name]!;
    const ins = c.inputs.map((f) => (f.dtype === 'float32' ? cast(read(f), 'float64') : read(f)));
    const isF = ins.map((t) => t.dtype === 'float64');
    const u = ins.map((t, i) => (isF[i] ? randn(t.shape as number[], { seed: 200 + i, dtype: 'float64' }) : null));
    const v = ins.map((t, i) => (isF[i] ? randn(t.shape as number[], { seed: 300 + i, dtype: 'float64' }) : null));
    const cot = cast(read(c.cotangent!), 'float64');
    // h(x) = <grad L(x), v>
    const h = (...ws: Tensor[]) => {
      let k = 0;
      const xs = ins.map((t, i) => (isF[i] ? ws[k++]! : t));
      const wrt = xs.filter((_, i) => isF[i]);
      const { vjp: pull } = vjp((...zs: Tensor[]) => {
        let j = 0;
        return sum(mul(fn(...xs.map((t, i) => (isF[i] ? zs[j++]! : t))), cot));
      }, ...wrt);
      const gs = pull(scalar(1, 'float64')) as Tensor[];
      let acc: Tensor = scalar(0, 'float64');
      let m = 0;
      xs.forEach((_, i) => {
        if (isF[i]) acc = add(acc, sum(mul(gs[m++]!, v[i]!)));
      });
      return acc;
    };
    const eps = 1e-5;
    const wrt = ins.filter((_, i) => isF[i]);
    const shifted = (s: number) => h(...wrt.map((t) => add(t, mul(u[ins.indexOf(t)]!, s * eps))));
    const numeric = ((await shifted(1).item()) - (await shifted(-1).item())) / (2 * eps);
    const { vjp: pull2 } = vjp(h, ...wrt);
    const hv = pull2(scalar(1, 'float64')) as Tensor[];
    let analytic = 0;
    for (let k = 0; k < wrt.length; k++) analytic += await sum(mul(hv[k]!, u[ins.indexOf(wrt[k]!)]!)).item();
    const err = Math.abs(numeric - analytic);
    assert.ok(err <= 1e-5 * Math.max(1, Math.abs(analytic)), `${c.name}: finite difference ${numeric} vs second-order VJP ${analytic}`);
  });
}
