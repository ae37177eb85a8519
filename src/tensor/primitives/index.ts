// The primitive registry: the only place a primitive is looked up. A missing or extra entry is a
// compile error (mapped type over PrimAttrs). The one-line elementwise primitives are one table
// (elementwise.ts); every other primitive has its own file.
import { arange } from './arange.ts';
import { argMax } from './argMax.ts';
import { cast } from './cast.ts';
import { concat } from './concat.ts';
import { cumsum } from './cumsum.ts';
import { custom } from './custom.ts';
import { dimSize } from './dimSize.ts';
import { ELEMENTWISE } from './elementwise.ts';
import { expand } from './expand.ts';
import { full } from './full.ts';
import { fused } from './fused.ts';
import { gather } from './gather.ts';
import { gatherND } from './gatherND.ts';
import { constant, input } from './leaves.ts';
import { matmul } from './matmul.ts';
import { pad } from './pad.ts';
import { permute } from './permute.ts';
import { reduceMax } from './reduceMax.ts';
import { reduceSum } from './reduceSum.ts';
import { reshape } from './reshape.ts';
import { scatterND } from './scatterND.ts';
import { slice } from './slice.ts';
import { sliceGrad } from './sliceGrad.ts';
import { dequantize, quantGather, quantMatMul } from './quant.ts';
import type { PrimitiveRegistry } from './types.ts';
import { where } from './where.ts';

export const PRIMITIVES = {
  constant, input, ...ELEMENTWISE,
  where, cast, custom, fused, reduceSum, reduceMax, argMax, dimSize, matmul, reshape, permute, expand,
  slice, sliceGrad, concat, pad, gather, gatherND, scatterND, cumsum, arange, full, dequantize, quantMatMul, quantGather,
} satisfies PrimitiveRegistry;
