// Autodiff driver: higher order, pytrees, fan-in, hasAux, customVjp, stopGradient, and gradients
// through symbolic shapes. Expected values are worked out by hand in the comments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, add, configureRuntime, customVjp, exp, grad, jit, matmul, mean, mul, pow, realize, sigmoid, slice, stopGradient,
  sum, tensor, valueAndGrad, vjp, onesLike, softmax, cast, pad, arange, placeholder, dumpGraph, gather, where,
} from './index.ts';

configureRuntime({ threads: 1 });

const arr = async (t: unknown) => (t as Tensor).toArray();
const near = (a: number[], b: number[], tol = 1e-5) =>
  a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)));

test('grad of grad of grad: d^3/dx^3 x^4 = 24 x', async () => {
  const f = (x: Tensor) => sum(pow(x, 4));
  const d1 = grad(f);
  const d2 = grad((x: Tensor) => sum(d1(x) as Tensor));
  const d3 = grad((x: Tensor) => sum(d2(x) as Tensor));
  const x = tensor([1, -2, 0.5]);
  assert.ok(near(await arr(d1(x)), [4, -32, 0.5]));
  assert.ok(near(await arr(d2(x)), [12, 48, 3]));
  assert.ok(near(await arr(d3(x)), [24, -48, 12]));
});

test('grad over a pytree of parameters, with fan-in and broadcasting', async () => {
  const params = { w: tensor([[1, 2], [3, 4]]), b: [tensor([0.5, -0.5])] };
  const x = tensor([[1, 1]]);
  // loss = sum((x w + b) * (x w)) ; x w = [4, 6]; y = [4.5, 5.5]
  const loss = (p: typeof params) => {
    const h = matmul(x, p.w);
    return sum(mul(add(h, p.b[0]!), h));
  };
  const g = grad(loss)(params) as unknown as typeof params;
  // dL/dh = (h + b) + h = [8.5, 11.5]; dL/dw = x^T dL/dh = [[8.5,11.5],[8.5,11.5]]; dL/db = h = [4, 6]
  assert.ok(near(await arr(g.w), [8.5, 11.5, 8.5, 11.5]));
  assert.ok(near(await arr(g.b[0]), [4, 6]));
});

test('valueAndGrad with hasAux and argnums', async () => {
  const f = (a: Tensor, b: Tensor) => [sum(mul(a, b)), { note: mul(a, 2) }] as const;
  const [[v, aux], [ga, gb]] = valueAndGrad(f as never, { argnums: [0, 1], hasAux: true })(tensor([1, 2]), tensor([3, 4])) as unknown as [
    [Tensor, { note: Tensor }],
    [Tensor, Tensor],
  ];
  assert.equal(await v.item(), 11);
  assert.deepEqual(await aux.note.toArray(), [2, 4]);
  assert.deepEqual(await ga.toArray(), [3, 4]);
  assert.deepEqual(await gb.toArray(), [1, 2]);
});

test('stopGradient blocks and unrelated inputs get zeros', async () => {
  const [ga, gb] = grad((a: Tensor, b: Tensor) => sum(mul(a, stopGradient(a))).add(sum(mul(a, 0))), { argnums: [0, 1] })(tensor([3]), tensor([5])) as Tensor[];
  assert.deepEqual(await ga!.toArray(), [3]); // d/da a * sg(a) = sg(a) = 3
  assert.deepEqual(await gb!.toArray(), [0]);
});

test('customVjp replaces the gradient and stays differentiable', async () => {
  // forward: exp(x); custom backward claims g * 2x (the derivative of x^2)
  const f = customVjp((x: Tensor) => exp(x), (g, { inputs }) => [mul(g, mul(inputs[0]!, 2))]);
  const x = tensor([1.5, -1]);
  assert.ok(near(await arr(f(x)), [Math.exp(1.5), Math.exp(-1)]));
  assert.ok(near(await arr(grad((t: Tensor) => sum(f(t)))(x)), [3, -2]));
  // second derivative of the custom rule: d/dx (2x) = 2
  const d2 = grad((t: Tensor) => sum(grad((u: Tensor) => sum(f(u)))(t) as Tensor));
  assert.ok(near(await arr(d2(x)), [2, 2]));
});

test('vjp over a tuple output', async () => {
  const x = tensor([1, 2, 3]);
  const { out, vjp: pull } = vjp((t: Tensor) => [mul(t, t), sum(t)], x);
  const [gx] = pull([tensor([1, 0, 1]), tensor(2)]) as Tensor[];
  // d/dx <[1,0,1], x^2> + 2 sum(x) = [2x0, 0, 2x2] + 2 = [4, 2, 8]
  assert.deepEqual(await gx!.toArray(), [4, 2, 8]);
  await realize(out);
  assert.deepEqual(await (out as Tensor[])[0]!.toArray(), [1, 4, 9]);
});

test('jitted gradient with symbolic batch and sequence dims equals the eager static one', async () => {
  const w = tensor([[0.5, -1], [2, 0.25], [1, 1]]); // [3,2]
  const lossFn = (x: Tensor, v: Tensor) => {
    const h = sigmoid(matmul(x, v)); // [B,T,2]
    const last = slice(h, [null, [-1]]); // [B,1,2]
    return mean(mul(softmax(h, 1), last));
  };
  const g = jit((x: Tensor, v: Tensor) => valueAndGrad(lossFn, { argnums: 1 })(x, v), { dynamic: { '0': ['B', 'T', null] } });
  const x = tensor([[[1, 2, 3], [0, -1, 1], [2, 2, -1]], [[0.5, 0, 0], [1, 1, 1], [-1, 0, 2]]]);
  const [v1, g1] = (await g(x, w)) as [Tensor, Tensor];
  const [v2, g2] = valueAndGrad(lossFn, { argnums: 1 })(x, w) as [Tensor, Tensor];
  assert.ok(near(await v1.toArray(), await (v2 as Tensor).toArray(), 1e-6));
  assert.ok(near(await g1.toArray(), await (g2 as Tensor).toArray(), 1e-5));
  assert.notDeepEqual(await g1.toArray(), [0, 0, 0, 0, 0, 0]);
  // another sequence length through the same session
  const x2 = slice(x, [null, [0, 2]]);
  const [, g3] = (await g(x2, w)) as [Tensor, Tensor];
  const [, g4] = valueAndGrad(lossFn, { argnums: 1 })(x2, w) as [Tensor, Tensor];
  assert.ok(near(await g3.toArray(), await (g4 as Tensor).toArray(), 1e-5));
  assert.equal(g.sessionCount, 1);
});

test('gradients flow through int/bool branches only where defined', async () => {
  const x = tensor([1, -2, 3]);
  const gx = grad((t: Tensor) => sum(mul(t, cast(cast(t, 'int64'), 'float32'))))(x) as Tensor;
  // d/dx x * int(x) treats int(x) as constant: [1, -2, 3]
  assert.deepEqual(await gx.toArray(), [1, -2, 3]);
  assert.deepEqual(await (onesLike(x).add(0)).toArray(), [1, 1, 1]);
});

test('gradients of slice / pad / reversal under symbolic dims (run-time pads)', async () => {
  const f = jit(
    (x: Tensor) =>
      grad((t: Tensor) => {
        const inner = slice(t, [null, [1, -1]]); // [B, T-2]
        const padded = pad(inner, [[0, 0], [2, 1]], 7); // [B, T+1]
        const rev = slice(padded, [null, [-1, undefined, -1]]);
        return sum(mul(rev, arange(rev.shape[1]!, { dtype: 'float32' })));
      })(x) as Tensor,
    { dynamic: { '0': ['B', 'T'] } },
  );
  // With T = 5: rev[j] = padded[T - j] (padded has 6 entries), weight j. padded[i] = inner[i - 2]
  // for i in 2..4, so inner[k] gets weight 6 - 1 - (k + 2) = 3 - k, i.e. t[k + 1] gets 3 - k.
  const g5 = await f(tensor([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0]]));
  assert.deepEqual(await g5.toArray(), [0, 3, 2, 1, 0, 0, 3, 2, 1, 0]);
  // T = 4: padded has 5 entries, inner k (0..1) sits at k + 2, reversed index 4 - (k + 2) = 2 - k.
  const g4 = await f(tensor([[1, 2, 3, 4]]));
  assert.deepEqual(await g4.toArray(), [0, 2, 1, 0]);
  assert.equal(f.sessionCount, 1);
});

test('the weight gradient of a linear layer is one plain product over B·T, not a batch summed afterwards', () => {
  const x = placeholder('x', ['B', 'T', 4], 'float32');
  const gw = grad((w: Tensor) => sum(matmul(x, w)))(tensor([[1, 2], [3, 4], [5, 6], [7, 8]])) as Tensor;
  const text = dumpGraph(gw);
  // w [4, 2]: the narrower operand (the cotangent, 2 columns) is transposed through a 3-D permute
  // into [2, B·T], multiplied by x as [B·T, 4], and the [2, 4] result flipped to w's layout.
  assert.match(text, /permute\(%\d+\) \[2,0,1\] : float32\[2,B,T\]/);
  assert.match(text, /matmul\(%\d+, %\d+\) : float32\[2,4\]\n%\d+ = permute\(%\d+\) \[1,0\] : float32\[4,2\]\nreturn/);
  assert.doesNotMatch(text, /float32\[B,4,2\]/);
});

test('gather with negative indices: forward and scatter-add gradient', async () => {
  const t = tensor([[1, 2], [3, 4], [5, 6]]);
  const idx = tensor([-1, 0, -1], 'int64');
  assert.deepEqual(await gather(t, idx, 0).toArray(), [5, 6, 1, 2, 5, 6]);
  const g = grad((w: Tensor) => sum(mul(gather(w, idx, 0), tensor([[1, 1], [2, 2], [3, 3]]))))(t) as Tensor;
  // row 2 is picked by positions 0 and 2 (weights 1 + 3), row 0 by position 1 (weight 2)
  assert.deepEqual(await g.toArray(), [2, 2, 0, 0, 4, 4]);
  assert.deepEqual(await where(tensor([true, false], 'bool'), 1, 0).toArray(), [1, 0]);
});
