// Worker-thread side of WorkerRuntime: loads one .onnx file and serves run requests.
// Plain JS on purpose: a worker started from a published package must not depend on a TS loader.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const { modelPath, options } = workerData;
const sessionPromise = ort.InferenceSession.create(modelPath, options);

parentPort.on('message', async (msg) => {
  if (msg.type === 'close') {
    try {
      await (await sessionPromise).release();
    } finally {
      parentPort.postMessage({ type: 'closed' });
    }
    return;
  }
  const { id, feeds } = msg;
  try {
    const session = await sessionPromise;
    const inputs = {};
    for (const [name, f] of Object.entries(feeds)) inputs[name] = new ort.Tensor(f.dtype, f.data, f.dims);
    const res = await session.run(inputs);
    const outputs = {};
    const transfer = [];
    for (const [name, t] of Object.entries(res)) {
      outputs[name] = { dtype: t.type, dims: [...t.dims], data: t.data };
      if (t.data.buffer) transfer.push(t.data.buffer);
    }
    parentPort.postMessage({ id, outputs }, transfer);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message ? e.message : e) });
  }
});
