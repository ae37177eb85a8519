// The ModelProto bytes decoded field by field with @bufbuild/protobuf's reader, against the field
// numbers of onnx/onnx.proto (ModelProto.ir_version = 1, graph = 7, opset_import = 8; GraphProto
// node = 1, initializer = 5; TensorProto external_data = 13, data_location = 14).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { encodeModel } from './proto.ts';
import type { ExternalSink } from './proto.ts';
import type { OnnxModel } from './model.ts';

type Fields = Map<number, (number | Uint8Array)[]>;
function fields(bytes: Uint8Array): Fields {
  const r = new BinaryReader(bytes);
  const out: Fields = new Map();
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    const v = wt === WireType.Varint ? Number(r.int64()) : wt === WireType.LengthDelimited ? r.bytes() : (r.skip(wt), -1);
    out.set(no, [...(out.get(no) ?? []), v]);
  }
  return out;
}
const str = (b: unknown) => new TextDecoder().decode(b as Uint8Array);

const model: OnnxModel = {
  irVersion: 11,
  opsets: [{ domain: '', version: 23 }],
  producer: 'test',
  graph: {
    name: 'g',
    nodes: [{ opType: 'Add', domain: '', name: 'n0', inputs: ['x', 'w'], outputs: ['y'], attrs: { axis: { kind: 'int', value: -1 } } }],
    initializers: [{ name: 'w', dtype: 'float32', dims: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', 2] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['B', 2] }],
  },
};

test('ModelProto fields are where onnx.proto says', () => {
  const m = fields(encodeModel(model));
  assert.deepEqual(m.get(1), [11]);
  assert.equal(str(m.get(2)![0]), 'test');
  const opset = fields(m.get(8)![0] as Uint8Array);
  assert.deepEqual(opset.get(2), [23]);
  const g = fields(m.get(7)![0] as Uint8Array);
  const node = fields(g.get(1)![0] as Uint8Array);
  assert.deepEqual(node.get(1)!.map(str), ['x', 'w']);
  assert.equal(str(node.get(4)![0]), 'Add');
  const attr = fields(node.get(5)![0] as Uint8Array);
  assert.equal(str(attr.get(1)![0]), 'axis');
  assert.deepEqual(attr.get(3), [-1]); // int64 -1 as a 10-byte varint
  assert.deepEqual(attr.get(20), [2]); // AttributeType.INT
  const init = fields(g.get(5)![0] as Uint8Array);
  assert.deepEqual(init.get(1), [2, 2]);
  assert.deepEqual(init.get(2), [1]); // FLOAT
  assert.deepEqual([...new Float32Array((init.get(9)![0] as Uint8Array).slice().buffer)], [1, 2, 3, 4]);
  const input = fields(g.get(11)![0] as Uint8Array);
  const shape = fields(fields(fields(input.get(2)![0] as Uint8Array).get(1)![0] as Uint8Array).get(2)![0] as Uint8Array);
  assert.equal(str(fields(shape.get(1)![0] as Uint8Array).get(2)![0]), 'B'); // dim_param
  assert.deepEqual(fields(shape.get(1)![1] as Uint8Array).get(1), [2]); // dim_value
});

test('external data: location/offset/length entries, 4 KiB aligned chunks', () => {
  const v = { name: 'v', dtype: 'float32' as const, dims: [3], data: new Float32Array([5, 6, 7]) };
  const m2: OnnxModel = { ...model, graph: { ...model.graph, initializers: [...model.graph.initializers, v] } };
  const entries = (t: Fields) =>
    Object.fromEntries(t.get(13)!.map((e) => {
      const f = fields(e as Uint8Array);
      return [str(f.get(1)![0]), str(f.get(2)![0])];
    }));
  // minBytes 13: w (16 bytes) goes external, v (12 bytes) stays inline
  let sink: ExternalSink = { location: 'm.onnx.data', minBytes: 13, chunks: [], offset: 0 };
  let g = fields(fields(encodeModel(m2, sink)).get(7)![0] as Uint8Array);
  let [w, vv] = g.get(5)!.map((b) => fields(b as Uint8Array));
  assert.deepEqual(entries(w!), { location: 'm.onnx.data', offset: '0', length: '16' });
  assert.deepEqual(w!.get(14), [1]); // DataLocation.EXTERNAL
  assert.ok(!w!.has(9) && vv!.has(9) && !vv!.has(13));
  // minBytes 12: both external; the second starts at the next 4 KiB boundary
  sink = { location: 'm.onnx.data', minBytes: 12, chunks: [], offset: 0 };
  g = fields(fields(encodeModel(m2, sink)).get(7)![0] as Uint8Array);
  [w, vv] = g.get(5)!.map((b) => fields(b as Uint8Array));
  assert.deepEqual(entries(vv!), { location: 'm.onnx.data', offset: '4096', length: '12' });
  const file = Buffer.concat(sink.chunks);
  assert.equal(file.length, 4096 + 12);
  assert.deepEqual([...new Float32Array(file.subarray(4096).buffer.slice(file.byteOffset + 4096, file.byteOffset + 4108))], [5, 6, 7]);
  assert.deepEqual([...new Float32Array(file.buffer.slice(file.byteOffset, file.byteOffset + 16))], [1, 2, 3, 4]);
});
