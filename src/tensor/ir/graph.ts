// Graph traversal over the Tensor IR.

import type { Tensor } from '../tensor.ts';

/**
 * Nodes reachable from `outputs` in topological order (inputs before users). Traversal stops at
 * tensors for which `isLeaf` is true (they are included, their inputs are not).
 */
export function topoSort(outputs: readonly Tensor[], isLeaf: (t: Tensor) => boolean = () => false): Tensor[] {
  const order: Tensor[] = [];
  const state = new Map<Tensor, 1 | 2>(); // 1 = on stack, 2 = done
  for (const root of outputs) {
    if (state.has(root)) continue;
    // Iterative DFS: deep graphs (hundreds of layers) would overflow the JS stack recursively.
    const stack: [Tensor, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [t, i] = top;
      const ins = isLeaf(t) ? [] : t.inputs;
      if (i < ins.length) {
        top[1]++;
        const c = ins[i]!;
        if (!state.has(c)) {
          state.set(c, 1);
          stack.push([c, 0]);
        }
      } else {
        stack.pop();
        state.set(t, 2);
        order.push(t);
      }
    }
  }
  return order;
}
