// Activations and softmax live in the tensor core (src/tensor/ops); they are re-exported here so
// layer code imports every building block from src/nn. All are compositions of primitives.

export { gelu, geluTanh, logSoftmax, quickGelu, silu, softmax } from '../tensor/index.ts';
