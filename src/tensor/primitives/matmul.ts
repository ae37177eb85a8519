// matmul: batched [..., M, K] @ [..., K, N] with broadcast batch dims.
// VJP: (g @ b^T, a^T @ g); the driver sums broadcast batch dims away.
import { Vlm2VecError } from '../../errors.ts';
import { matmul as mm, reshape, transpose } from '../ops/index.ts';
import { broadcastShapes, dimEq, fmtShape } from '../shape.ts';
import { arity, sameDType } from './_helpers.ts';
import type { PrimitiveDef } from './types.ts';

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
  vjp: (n, g) => {
    const [a, b] = [n.inputs[0]!, n.inputs[1]!];
    const da = mm(g, transpose(b));
    if (b.rank === 2 && a.rank > 2) {
      // A linear layer: x [B,T,K] @ w [K,N]. Fold the batch dims into the contraction instead of
      // building a [B,K,N] batch of products that the driver would then sum away.
      const k = a.shape[a.rank - 1]!;
      const nOut = g.shape[g.rank - 1]!;
      const a2 = reshape(a, [-1, k]);
      const g2 = reshape(g, [-1, nOut]);
      // b = transpose(W) (torch layout [out, in]): write db = (g2ᵀ a2)ᵀ so that the permute VJP
      // cancels the outer transpose and dW = g2ᵀ a2 is produced directly as [out, in]; the other
      // form would build [in, out] and then copy it through a Transpose every step.
      if (b.prim === 'permute') return [da, transpose(mm(transpose(g2), a2))];
      return [da, mm(transpose(a2), g2)];
    }
    if (a.rank === 2 && b.rank === 2 && b.prim === 'permute') return [da, transpose(mm(transpose(g), a))];
    return [da, mm(transpose(a), g)];
  },
};
