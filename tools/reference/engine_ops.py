"""Golden values for the tensor engine's primitives (forward outputs and input gradients).

Regenerate (from the repo root):
    tools/reference/.venv/bin/python tools/reference/engine_ops.py

Writes test/fixtures/engine/ops/index.json + data.bin. For every case: the inputs, the forward
output, a random cotangent and the gradients of sum(output * cotangent) w.r.t. each float input,
all computed by PyTorch (CPU, float32). src/tensor/primitives.test.ts builds the same function in
our engine for each case name and compares. Data: little-endian float32 / int64 / uint8 (bool).
"""
import json
import math
import os

import torch

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'engine', 'ops')
F = torch.float32


def r(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape), dtype=F) * (hi - lo) + lo


def pos(*shape):
    return r(*shape, lo=0.5, hi=2.0)


def idx(values):
    return torch.tensor(values, dtype=torch.int64)


def cumsum_exclusive(x, axis):
    return torch.cumsum(x, axis) - x


def scatter_nd(x, ind, upd, add):
    out = x.clone()
    k = ind.shape[-1]
    flat_idx = ind.reshape(-1, k)
    upd = upd.reshape(flat_idx.shape[0], *x.shape[k:])
    if add:
        out = out.index_put(tuple(flat_idx.t()), upd, accumulate=True)
    else:
        out = out.index_put(tuple(flat_idx.t()), upd)
    return out


def gather_nd(x, ind):
    k = ind.shape[-1]
    return x[tuple(ind[..., j] for j in range(k))]


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


# name -> (function, inputs). Names must match the table in src/tensor/primitives.test.ts.
CASES = {
    'add_bcast': (lambda a, b: a + b, [r(2, 3, 4), r(3, 1)]),
    'sub_bcast': (lambda a, b: a - b, [r(2, 1, 4), r(3, 4)]),
    'mul_bcast': (lambda a, b: a * b, [r(2, 3, 4), r(4)]),
    'div': (lambda a, b: a / b, [r(3, 4), pos(3, 4)]),
    'pow': (lambda a, b: torch.pow(a, b), [pos(3, 4), r(3, 4)]),
    'pow_scalar': (lambda a: torch.pow(a, 3.0), [r(3, 4)]),
    'maximum': (lambda a, b: torch.maximum(a, b), [r(2, 3), r(3)]),
    'minimum': (lambda a, b: torch.minimum(a, b), [r(2, 3), r(3)]),
    'maximum_ties': (lambda a, b: torch.maximum(a, b), [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 3.0])]),
    'neg': (lambda a: -a, [r(3, 4)]),
    'exp': (torch.exp, [r(3, 4)]),
    'log': (torch.log, [pos(3, 4)]),
    'sqrt': (torch.sqrt, [pos(3, 4)]),
    'rsqrt': (torch.rsqrt, [pos(3, 4)]),
    'tanh': (torch.tanh, [r(3, 4)]),
    'sigmoid': (torch.sigmoid, [r(3, 4)]),
    'erf': (torch.erf, [r(3, 4)]),
    'abs': (torch.abs, [r(3, 4)]),
    'sin': (torch.sin, [r(3, 4)]),
    'cos': (torch.cos, [r(3, 4)]),
    'where': (lambda c, a, b: torch.where(c, a, b), [torch.rand(2, 3) > 0.5, r(2, 3), r(3)]),
    'cast_f16_roundtrip': (lambda a: a.to(torch.float16).to(F), [r(3, 4)]),
    'sum_axes': (lambda a: a.sum(dim=(0, 2)), [r(2, 3, 4)]),
    'sum_keep': (lambda a: a.sum(dim=1, keepdim=True), [r(2, 3, 4)]),
    'sum_all': (lambda a: a.sum(), [r(2, 3)]),
    'mean_last': (lambda a: a.mean(dim=-1, keepdim=True), [r(2, 3, 4)]),
    'max_axis': (lambda a: a.amax(dim=1), [r(2, 5, 3)]),
    'min_axis': (lambda a: a.amin(dim=0, keepdim=True), [r(4, 3)]),
    'matmul_2d': (lambda a, b: a @ b, [r(3, 4), r(4, 5)]),
    'matmul_bcast': (lambda a, b: a @ b, [r(2, 1, 3, 4), r(5, 4, 2)]),
    'reshape': (lambda a: a.reshape(6, 4), [r(2, 3, 4)]),
    'permute_matmul': (lambda a, b: a.permute(0, 2, 1) @ b, [r(2, 3, 4), r(3, 5)]),
    'permute3': (lambda a: a.permute(2, 0, 1) * torch.arange(1, 7, dtype=F).reshape(1, 2, 3), [r(2, 3, 4)]),
    'transpose_contig': (lambda a: a.transpose(0, 1).reshape(3, 8), [r(2, 3, 4)]),
    'expand': (lambda a: a.expand(2, 3, 4), [r(3, 1)]),
    'slice_basic': (lambda a: a[1:4, 2:], [r(5, 6)]),
    'slice_neg': (lambda a: a[-3:, 1:-1], [r(4, 6)]),
    'slice_step': (lambda a: a[:, 1::2], [r(3, 7)]),
    'slice_reverse': (lambda a: a.flip(1), [r(3, 5)]),
    'concat': (lambda a, b: torch.cat([a, b], 1), [r(2, 3), r(2, 5)]),
    'split_weighted': (lambda a: torch.cat([p * (i + 1) for i, p in enumerate(torch.split(a, [1, 2, 3], 1))], 1), [r(2, 6)]),
    'pad': (lambda a: torch.nn.functional.pad(a, (2, 1, 1, 0), value=0.5), [r(2, 3)]),
    'gather_rows': (lambda t, i: t[i], [r(5, 3), idx([[0, 4, 2, 4], [1, 1, 3, 0]])]),
    'gather_axis1': (lambda x, i: torch.index_select(x, 1, i), [r(2, 5, 3), idx([4, 0, 4, 2])]),
    'gather_nd': (gather_nd, [r(3, 4, 2), idx([[0, 1], [2, 3], [1, 0], [2, 3], [0, 0]])]),
    'scatter_nd': (lambda x, i, u: scatter_nd(x, i, u, False), [r(2, 4, 3), idx([[0, 1], [1, 3], [0, 2]]), r(3, 3)]),
    'scatter_nd_add': (lambda x, i, u: scatter_nd(x, i, u, True), [r(2, 4, 3), idx([[0, 1], [1, 3], [0, 1]]), r(3, 3)]),
    'cumsum': (lambda a: torch.cumsum(a, 1), [r(2, 5)]),
    'cumsum_exclusive_reverse': (lambda a: cumsum_exclusive(a.flip(0), 0).flip(0), [r(4, 3)]),
    'softmax': (lambda a: torch.softmax(a, -1), [r(2, 3, 5)]),
    'log_softmax': (lambda a: torch.log_softmax(a, 1), [r(2, 4, 3)]),
    'logsumexp': (lambda a: torch.logsumexp(a, -1), [r(3, 6)]),
    'gelu': (torch.nn.functional.gelu, [r(3, 4)]),
    'gelu_tanh': (lambda a: torch.nn.functional.gelu(a, approximate='tanh'), [r(3, 4)]),
    'silu': (torch.nn.functional.silu, [r(3, 4)]),
    'quick_gelu': (quick_gelu, [r(3, 4)]),
    'l2_normalize': (lambda a: torch.nn.functional.normalize(a, dim=-1), [r(3, 5)]),
    'variance': (lambda a: a.var(dim=-1, unbiased=False, keepdim=True), [r(3, 5)]),
    # forward-only (integer / bool outputs)
    'equal': (lambda a, b: a == b, [idx([[1, 2, 3], [4, 5, 6]]), idx([1, 5, 3])]),
    'less': (lambda a, b: a < b, [r(2, 3), r(3)]),
    'greater_equal': (lambda a, b: a >= b, [r(2, 3), r(3)]),
    'greater_int': (lambda a, b: a > b, [idx([[1, 2, 3], [4, 5, 6]]), idx([1, 5, 3])]),
    'less_equal_int': (lambda a, b: a <= b, [idx([[1, 2, 3], [4, 5, 6]]), idx([1, 5, 3])]),
    'logical': (lambda a, b: (a & ~b) | (b & ~a), [torch.rand(2, 3) > 0.5, torch.rand(2, 3) > 0.5]),
    'argmax': (lambda a: a.argmax(-1), [r(3, 5)]),
    'one_hot': (lambda i: torch.nn.functional.one_hot(i, 5).to(F), [idx([[0, 4], [2, 2]])]),
    'arange_mask': (lambda a: (torch.arange(4)[:, None] >= torch.arange(4)[None, :]).to(F) * a, [r(4, 4)]),
    'int_arith': (lambda a, b: (a * b + a) // (b + 1), [idx([1, 5, 9]), idx([2, 3, 4])]),
}


def dtype_name(t):
    return {torch.float32: 'float32', torch.int64: 'int64', torch.bool: 'bool'}[t.dtype]


def main():
    os.makedirs(OUT, exist_ok=True)
    blob = bytearray()

    def put(t):
        t = t.detach().contiguous()
        if t.dtype == torch.bool:
            b = t.to(torch.uint8).numpy().tobytes()
        else:
            b = t.numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()
        off = len(blob)
        blob.extend(b)
        while len(blob) % 8:
            blob.append(0)
        return {'dtype': dtype_name(t), 'shape': list(t.shape), 'offset': off}

    cases = []
    for name, (fn, ins) in CASES.items():
        ins = [i.clone().requires_grad_(i.dtype == F) for i in ins]
        out = fn(*ins)
        entry = {'name': name, 'inputs': [put(i) for i in ins], 'output': put(out)}
        if out.dtype == F and any(i.requires_grad for i in ins):
            cot = r(*out.shape)
            grads = torch.autograd.grad(out, [i for i in ins if i.requires_grad], cot)
            it = iter(grads)
            entry['cotangent'] = put(cot)
            entry['grads'] = [put(next(it)) if i.requires_grad else None for i in ins]
        cases.append(entry)
    with open(os.path.join(OUT, 'data.bin'), 'wb') as f:
        f.write(bytes(blob))
    with open(os.path.join(OUT, 'index.json'), 'w') as f:
        json.dump({'generator': 'tools/reference/engine_ops.py', 'torch': torch.__version__, 'cases': cases}, f, indent=1)
    print(f'{len(cases)} cases, {len(blob)} bytes')


if __name__ == '__main__':
    main()
