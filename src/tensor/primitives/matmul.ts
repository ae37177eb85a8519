// matmul: batched [..., M, K] @ [..., K, N] with broadcast batch dims.
// VJP: (g @ b^T, a^T @ g); the driver sums broadcast batch dims away.
import { Vlm2VecError } from '../../errors.ts';
import type { Tensor } from '../tensor.ts';
import type { Dim } from '../shape.ts';
import { broadcastShapes, dimEq, fmtShape } from '../shape.ts';
import { arity, sameDType } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export const matmul: PrimitiveDef<'matmul'> = {
  infer(inputs) {
    arity('matmul', inputs, 2);
    const [a, b] = [inputs[0]!, inputs[1]!];
    const bad = () => new Vlm2VecError('matmul', `lhs ${fmtShape(a.shape)} and rhs ${fmtShape(b.shape)} are incompatible`);
    if (a.rank < 2 || b.rank < 2) throw bad();
    if (!dimEq(a.shape[a.rank - 1]!, b.shape[b.rank - 2]!)) throw bad();
    const dtype = sameDType('matmul', inputs);
    let batch;
    try {
      batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
    } catch {
      throw bad();
    }
    return { shape: [...batch, a.shape[a.rank - 2]!, b.shape[b.rank - 1]!], dtype };
  },
  lower: (ctx, ins) => ctx.emit('MatMul', ins),
  vjp: (n, g, { matmul: mm, permute, reshape, transpose, unsqueeze }) => {
    const [a, b] = [n.inputs[0]!, n.inputs[1]!];
    const da = mm(g, transpose(b));
    if (b.rank === 2) {
      // A linear layer: x [B,T,K] (or [N,K]) @ w [K,N]. Fold the batch dims into the contraction
      // instead of building a [B,K,N] batch of products that the driver would then sum away.
      const k = a.shape[a.rank - 1]!;
      const nOut = g.shape[g.rank - 1]!;
      const a2 = reshape(a, [-1, k]);
      const g2 = reshape(g, [-1, nOut]);
      // The weight gradient contracts over the B·T rows. Written as transpose(a2) @ g2, ORT fuses
      // the Transpose into MatMul(transA), and MLAS re-transposes blocks of the big operand inside
      // the product (≈35 % slower at 2048×8960×1536 here). Instead the narrower of a, g is
      // transposed once into a real [C, B·T] tensor (through a 3-D permute, which ORT does not
      // fuse) and the product is a plain MatMul; when that leaves the result in the other
      // orientation, one copy of the weight-sized result flips it, far cheaper than transA.
      const narrower = (c1: Dim, c2: Dim): boolean => typeof c1 !== 'number' || typeof c2 !== 'number' || c1 <= c2;
      const rowsT = (t: Tensor): Tensor => {
        const t3 = t.rank === 2 ? unsqueeze(t, 1) : t; // [R, 1, C]: keeps the permute 3-D
        return reshape(permute(t3, [t3.rank - 1, ...range(t3.rank - 1)]), [t.shape[t.rank - 1]!, -1]);
      };
      if (b.prim === 'permute') {
        // b = transpose(W), W [N, K] (torch layout): dW = g2ᵀ a2 [N, K]; db = transpose(dW), which
        // the permute VJP cancels so dW reaches W without a copy.
        const dW = narrower(nOut, k) ? mm(rowsT(g), a2) : transpose(mm(rowsT(a), g2));
        return [da, transpose(dW)];
      }
      return [da, narrower(k, nOut) ? mm(rowsT(a), g2) : transpose(mm(rowsT(g), a2))];
    }
    return [da, mm(transpose(a), g)];
  },
};
