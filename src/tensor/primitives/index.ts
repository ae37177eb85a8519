// The primitive registry: the only place a primitive is looked up. A missing or extra entry is a
// compile error (mapped type over PrimAttrs).
import { abs } from './abs.ts';
import { add } from './add.ts';
import { arange } from './arange.ts';
import { argMax } from './argMax.ts';
import { cast } from './cast.ts';
import { concat } from './concat.ts';
import { cos } from './cos.ts';
import { cumsum } from './cumsum.ts';
import { custom } from './custom.ts';
import { dimSize } from './dimSize.ts';
import { div } from './div.ts';
import { equal } from './equal.ts';
import { erf } from './erf.ts';
import { exp } from './exp.ts';
import { expand } from './expand.ts';
import { full } from './full.ts';
import { fused } from './fused.ts';
import { gather } from './gather.ts';
import { gatherND } from './gatherND.ts';
import { greater } from './greater.ts';
import { greaterEqual } from './greaterEqual.ts';
import { constant, input } from './leaves.ts';
import { less } from './less.ts';
import { lessEqual } from './lessEqual.ts';
import { log } from './log.ts';
import { logicalAnd } from './logicalAnd.ts';
import { logicalNot } from './logicalNot.ts';
import { logicalOr } from './logicalOr.ts';
import { matmul } from './matmul.ts';
import { maximum } from './maximum.ts';
import { minimum } from './minimum.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';
import { pad } from './pad.ts';
import { permute } from './permute.ts';
import { pow } from './pow.ts';
import { reduceMax } from './reduceMax.ts';
import { reduceSum } from './reduceSum.ts';
import { reshape } from './reshape.ts';
import { rsqrt } from './rsqrt.ts';
import { scatterND } from './scatterND.ts';
import { sigmoid } from './sigmoid.ts';
import { sign } from './sign.ts';
import { sin } from './sin.ts';
import { slice } from './slice.ts';
import { sliceGrad } from './sliceGrad.ts';
import { sqrt } from './sqrt.ts';
import { stopGradient } from './stopGradient.ts';
import { sub } from './sub.ts';
import { tanh } from './tanh.ts';
import type { PrimitiveRegistry } from './types.ts';
import { where } from './where.ts';

export const PRIMITIVES = {
  constant, input, add, sub, mul, div, pow, maximum, minimum, equal, less, lessEqual, greater, greaterEqual,
  logicalAnd, logicalOr, logicalNot, neg, exp, log, sqrt, rsqrt, tanh, sigmoid, erf, abs, sign, sin, cos,
  where, cast, stopGradient, custom, fused, reduceSum, reduceMax, argMax, dimSize, matmul, reshape, permute, expand,
  slice, sliceGrad, concat, pad, gather, gatherND, scatterND, cumsum, arange, full,
} satisfies PrimitiveRegistry;
