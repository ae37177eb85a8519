// safetensors loading throughput (MB/s), on a generated multi-hundred-MB checkpoint.
//
// Usage: node --import tsx bench/safetensors.ts [sizeMB=384] [dir=$TMPDIR]
// Writes a bf16 file shaped like Qwen2-VL-2B layers (many [1536, 8960]-ish tensors), then measures:
//   write       writeSafetensors (streamed, tmp + rename)
//   lazy read   SafetensorsFile.read per tensor (stored dtype, no conversion)
//   lazy f32    readFloat32 per tensor (bf16 → f32 widening included)
//   full read   fs.readFile of the whole file (the OS read-speed baseline, no parsing)
// The first read after writing may be served from the page cache; each number is the best of 3.

import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '../src/io/weights/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../src/io/weights/safetensors-write.ts';

const sizeMB = Number(process.argv[2] ?? 384);
const dir = await mkdtemp(join(process.argv[3] ?? tmpdir(), 'vlm2vec-bench-st-'));
const path = join(dir, 'bench.safetensors');

// [1536, 8960] bf16 = 26.25 MiB per tensor, like an MLP projection of Qwen2-VL-2B.
const shape = [1536, 8960];
const perTensor = shape[0]! * shape[1]! * 2;
const count = Math.max(1, Math.round((sizeMB * 2 ** 20) / perTensor));
const data = new Uint16Array(shape[0]! * shape[1]!);
for (let i = 0; i < data.length; i++) data[i] = 0x3c00 + (i % 977); // finite bf16 values
const tensors = new Map<string, TensorToWrite>();
for (let i = 0; i < count; i++) tensors.set(`model.layers.${i}.mlp.up_proj.weight`, { dtype: 'BF16', shape, data });
const totalMB = (count * perTensor) / 2 ** 20;

async function best(label: string, fn: () => Promise<number>): Promise<void> {
  let bestMs = Infinity;
  let bytes = 0;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    bytes = await fn();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  const mb = bytes / 2 ** 20;
  console.log(`${label.padEnd(12)} ${mb.toFixed(0).padStart(6)} MB  ${bestMs.toFixed(0).padStart(6)} ms  ${(mb / (bestMs / 1000)).toFixed(0).padStart(6)} MB/s`);
}

try {
  console.log(`safetensors bench: ${count} × BF16 ${JSON.stringify(shape)} = ${totalMB.toFixed(0)} MB in ${dir}`);
  await best('write', async () => {
    await writeSafetensors(path, tensors, { format: 'pt' });
    return count * perTensor;
  });
  await best('lazy read', async () => {
    const st = await SafetensorsFile.open(path);
    let n = 0;
    for (const name of st.names()) n += (await st.read(name)).data.byteLength;
    await st.close();
    return n;
  });
  await best('lazy f32', async () => {
    const st = await SafetensorsFile.open(path);
    let n = 0;
    for (const name of st.names()) {
      await st.readFloat32(name);
      n += st.info(name).end - st.info(name).begin; // MB of file data, not of widened output
    }
    await st.close();
    return n;
  });
  await best('full read', async () => (await readFile(path)).byteLength);
} finally {
  await rm(dir, { recursive: true, force: true });
}
