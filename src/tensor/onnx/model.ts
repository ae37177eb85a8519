// A plain-JS mirror of the parts of onnx.proto we write (ModelProto, GraphProto, NodeProto, ...).
// The compiler fills it; proto.ts encodes it; dump.ts prints it.

import type { DType, TypedArray } from '../dtype.ts';
import type { Dim } from '../shape.ts';
import type { OnnxAttr } from '../primitives/types.ts';

export interface OnnxNode {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, OnnxAttr>;
}

export interface OnnxInitializer {
  name: string;
  dtype: DType;
  dims: readonly number[];
  data: TypedArray;
}

export interface OnnxValueInfo {
  name: string;
  dtype: DType;
  shape: readonly Dim[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  graph: OnnxGraph;
}

/** Opset of the default domain: 23 brings RMSNormalization/Attention/RotaryEmbedding for fused kernels. */
export const OPSET = 23;
/** IR version 11 goes with opset 23 (onnx 1.18). */
export const IR_VERSION = 11;
