// Encodes OnnxModel as an ONNX ModelProto with @bufbuild/protobuf's BinaryWriter. Field numbers
// follow onnx/onnx.proto; each message has one small writer function below.
// Large initializers can go to an external data file (needed above protobuf's 2 GB limit).

import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { TypedArray } from '../dtype.ts';
import { ONNX_DTYPE } from '../dtype.ts';
import type { OnnxAttr } from '../primitives/types.ts';
import type { OnnxGraph, OnnxInitializer, OnnxModel, OnnxNode, OnnxValueInfo } from './model.ts';

/** onnx.proto field numbers of the messages we write. */
const F = {
  model: { irVersion: 1, producerName: 2, graph: 7, opsetImport: 8 },
  opset: { domain: 1, version: 2 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 },
  attr: { name: 1, f: 2, i: 3, s: 4, t: 5, floats: 7, ints: 8, type: 20 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 },
  entry: { key: 1, value: 2 },
  valueInfo: { name: 1, type: 2 },
  type: { tensorType: 1 },
  typeTensor: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dim: { value: 1, param: 2 },
} as const;

/** AttributeProto.AttributeType. */
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;
const EXTERNAL = 1; // TensorProto.DataLocation.EXTERNAL

/** Where initializer bytes go when they are stored outside the model file. */
export interface ExternalSink {
  /** File name recorded in the model (relative to the model file). */
  location: string;
  /** Tensors with at least this many bytes go external. */
  minBytes: number;
  /** Receives each chunk in file order; offsets are assigned sequentially. */
  chunks: Uint8Array[];
  offset: number;
}

function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function writeMessage(w: BinaryWriter, field: number, body: (w: BinaryWriter) => void): void {
  w.tag(field, WireType.LengthDelimited).fork();
  body(w);
  w.join();
}

function writeTensorHeader(w: BinaryWriter, t: OnnxInitializer): void {
  for (const d of t.dims) w.tag(F.tensor.dims, WireType.Varint).int64(d);
  w.tag(F.tensor.dataType, WireType.Varint).int32(ONNX_DTYPE[t.dtype]);
  if (t.name) w.tag(F.tensor.name, WireType.LengthDelimited).string(t.name);
}

/** Small tensors (attribute values) are written inline through the writer. */
function writeTensor(w: BinaryWriter, t: OnnxInitializer): void {
  writeTensorHeader(w, t);
  w.tag(F.tensor.rawData, WireType.LengthDelimited).bytes(bytesOf(t.data));
}

/**
 * One initializer as a list of byte chunks: the GraphProto.initializer tag and length, the
 * TensorProto header, and the raw data as a view of the tensor's own memory (or external-data
 * entries). Keeping the big payload out of BinaryWriter's nested fork/join avoids copying it once
 * per nesting level; the model is concatenated once at the end.
 */
function initializerChunks(t: OnnxInitializer, sink?: ExternalSink): Uint8Array[] {
  const raw = bytesOf(t.data);
  const w = new BinaryWriter();
  writeTensorHeader(w, t);
  let body: Uint8Array[];
  if (sink && raw.byteLength >= sink.minBytes) {
    // ORT memory-maps external data; 4 KiB alignment keeps each tensor page-aligned.
    const pad = (4096 - (sink.offset % 4096)) % 4096;
    if (pad) {
      sink.chunks.push(new Uint8Array(pad));
      sink.offset += pad;
    }
    const entries: [string, string][] = [
      ['location', sink.location],
      ['offset', String(sink.offset)],
      ['length', String(raw.byteLength)],
    ];
    for (const [k, v] of entries) {
      writeMessage(w, F.tensor.externalData, (e) => {
        e.tag(F.entry.key, WireType.LengthDelimited).string(k);
        e.tag(F.entry.value, WireType.LengthDelimited).string(v);
      });
    }
    w.tag(F.tensor.dataLocation, WireType.Varint).int32(EXTERNAL);
    sink.chunks.push(raw);
    sink.offset += raw.byteLength;
    body = [w.finish()];
  } else {
    w.tag(F.tensor.rawData, WireType.LengthDelimited).uint32(raw.byteLength);
    body = [w.finish(), raw];
  }
  const len = body.reduce((n, c) => n + c.byteLength, 0);
  return [new BinaryWriter().tag(F.graph.initializer, WireType.LengthDelimited).uint32(len).finish(), ...body];
}

function writeAttr(w: BinaryWriter, name: string, a: OnnxAttr): void {
  w.tag(F.attr.name, WireType.LengthDelimited).string(name);
  switch (a.kind) {
    case 'int':
      w.tag(F.attr.i, WireType.Varint).int64(a.value);
      break;
    case 'float':
      w.tag(F.attr.f, WireType.Bit32).float(a.value);
      break;
    case 'ints':
      for (const v of a.value) w.tag(F.attr.ints, WireType.Varint).int64(v);
      break;
    case 'floats':
      for (const v of a.value) w.tag(F.attr.floats, WireType.Bit32).float(v);
      break;
    case 'string':
      w.tag(F.attr.s, WireType.LengthDelimited).bytes(new TextEncoder().encode(a.value));
      break;
    case 'tensor':
      writeMessage(w, F.attr.t, (t) => writeTensor(t, { name: '', ...a.value }));
      break;
    default: {
      const never: never = a;
      throw new Error(`unknown attribute kind ${JSON.stringify(never)}`);
    }
  }
  w.tag(F.attr.type, WireType.Varint).int32(ATTR_TYPE[a.kind]);
}

function writeNode(w: BinaryWriter, n: OnnxNode): void {
  for (const i of n.inputs) w.tag(F.node.input, WireType.LengthDelimited).string(i);
  for (const o of n.outputs) w.tag(F.node.output, WireType.LengthDelimited).string(o);
  w.tag(F.node.name, WireType.LengthDelimited).string(n.name);
  w.tag(F.node.opType, WireType.LengthDelimited).string(n.opType);
  for (const [k, a] of Object.entries(n.attrs)) writeMessage(w, F.node.attribute, (x) => writeAttr(x, k, a));
  if (n.domain) w.tag(F.node.domain, WireType.LengthDelimited).string(n.domain);
}

function writeValueInfo(w: BinaryWriter, v: OnnxValueInfo): void {
  w.tag(F.valueInfo.name, WireType.LengthDelimited).string(v.name);
  writeMessage(w, F.valueInfo.type, (t) =>
    writeMessage(t, F.type.tensorType, (tt) => {
      tt.tag(F.typeTensor.elemType, WireType.Varint).int32(ONNX_DTYPE[v.dtype]);
      writeMessage(tt, F.typeTensor.shape, (s) => {
        for (const d of v.shape) {
          writeMessage(s, F.shape.dim, (dw) => {
            if (typeof d === 'number') dw.tag(F.dim.value, WireType.Varint).int64(d);
            else dw.tag(F.dim.param, WireType.LengthDelimited).string(d);
          });
        }
      });
    }),
  );
}

/** GraphProto fields other than initializers (small: nodes, names, value infos). */
function writeGraphSmall(w: BinaryWriter, g: OnnxGraph): void {
  for (const n of g.nodes) writeMessage(w, F.graph.node, (x) => writeNode(x, n));
  w.tag(F.graph.name, WireType.LengthDelimited).string(g.name);
  for (const v of g.inputs) writeMessage(w, F.graph.input, (x) => writeValueInfo(x, v));
  for (const v of g.outputs) writeMessage(w, F.graph.output, (x) => writeValueInfo(x, v));
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/**
 * Serializes a model. With `sink`, initializers of at least `sink.minBytes` bytes are written to
 * `sink.chunks` (the external data file) instead of the model bytes.
 * Protobuf fields may come in any order, so GraphProto is emitted as its small fields followed by
 * the initializer chunks, under one length prefix.
 */
export function encodeModel(m: OnnxModel, sink?: ExternalSink): Uint8Array {
  const small = new BinaryWriter();
  writeGraphSmall(small, m.graph);
  const graphChunks = [small.finish(), ...m.graph.initializers.flatMap((t) => initializerChunks(t, sink))];
  const graphLen = graphChunks.reduce((n, c) => n + c.byteLength, 0);
  const head = new BinaryWriter();
  head.tag(F.model.irVersion, WireType.Varint).int64(m.irVersion);
  head.tag(F.model.producerName, WireType.LengthDelimited).string(m.producer);
  head.tag(F.model.graph, WireType.LengthDelimited).uint32(graphLen);
  const tail = new BinaryWriter();
  for (const o of m.opsets) {
    writeMessage(tail, F.model.opsetImport, (x) => {
      x.tag(F.opset.domain, WireType.LengthDelimited).string(o.domain);
      x.tag(F.opset.version, WireType.Varint).int64(o.version);
    });
  }
  return concat([head.finish(), ...graphChunks, tail.finish()]);
}
