// jit: trace a function once per input signature into one ONNX graph and cache its ORT session.
// Tensor arguments become graph inputs (with symbolic dims where `dynamic` says so); tensors the
// function captures become initializers, which ORT pre-packs (that is where matmul speed is).

import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type ort from 'onnxruntime-node';
import { Vlm2VecError } from '../../errors.ts';
import type { DType, TypedArray } from '../dtype.ts';
import { compile } from '../ir/compile.ts';
import type { Compiled } from '../ir/compile.ts';
import { dumpGraph, dumpOnnx } from '../ir/dump.ts';
import type { OnnxModel } from '../onnx/model.ts';
import type { ExternalSink } from '../onnx/proto.ts';
import { encodeModel } from '../onnx/proto.ts';
import { fromArray, placeholder } from '../ops/create.ts';
import type { Dim } from '../shape.ts';
import { fmtShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import type { Flat } from '../tree.ts';
import { treeFlatten } from '../tree.ts';
import { realize } from './eager.ts';
import { createSession, runSession, toOrt } from './session.ts';
import type { SessionOverrides } from './session.ts';

export interface JitOptions {
  /**
   * Symbolic axes per argument path: `{ '0': ['B', 'T', null] }` makes axes 0 and 1 of the first
   * argument symbolic (null = static). Paths are dotted: '1.ids', '0.layers.3.w'.
   */
  dynamic?: Readonly<Record<string, readonly (string | null)[]>>;
  /** Graph name (shows in errors and exported files). */
  name?: string;
  /**
   * Models whose initializers exceed this many bytes are handed to ORT as a temp .onnx file with
   * external data instead of in-memory bytes (default 64 MiB). ORT then reads/maps the weights
   * from the file, so the encoded model never sits in the JS heap next to ORT's parsed copy and
   * its tensors: for a 1.7 GB language model that halves the peak RSS of session creation.
   */
  externalDataThreshold?: number;
  /**
   * Called once per session build, after the traced graph has been serialized (to the temp file
   * or to bytes) and before ORT reads it. The initializers are no longer needed by this build, so
   * a caller that will not trace again can free its host weights here; they then never coexist
   * with ORT's copies.
   */
  onSerialized?: () => void;
  /**
   * Session option changes for this graph only, e.g. float16-held weights need ORT's constant
   * folding off (it would fold their Cast back into float32 initializers).
   */
  session?: SessionOverrides;
  /**
   * ONNX names of the graph inputs by argument path (`{ '0': 'input_ids', '1.ids': 'ids' }`),
   * so exported files carry names a user can feed (default `in<i>_<path>`).
   */
  inputNames?: Readonly<Record<string, string>>;
  /** ONNX names of the outputs by output tree path (`''` for a single tensor; default `out<i>_<path>`). */
  outputNames?: Readonly<Record<string, string>>;
}

export interface ExportOptions {
  /** Write initializers to `<file>.data` when their total size exceeds this (default 1.8e9 bytes). */
  externalDataThreshold?: number;
  /** Smallest tensor (bytes) moved to external data when it is used (default 1024). */
  minExternalBytes?: number;
}

export interface IoInfo {
  name: string;
  dtype: DType;
  shape: readonly Dim[];
  /** Argument path ('0', '1.ids') for inputs; output tree path for outputs. */
  path: string;
}

export interface ExportResult {
  modelPath: string;
  /** External data file, when used. */
  dataPath?: string;
  inputs: IoInfo[];
  outputs: IoInfo[];
}

interface Entry {
  compiled: Compiled;
  outFlat: Flat;
  inputs: IoInfo[];
  symbols: { sym: string; leaf: number; axis: number }[];
  session?: Promise<ort.InferenceSession>;
}

/** A jitted function: call it to run; inspect or export its traced graph. */
export interface Jitted<A extends unknown[], R> {
  (...args: A): Promise<R>;
  /** Sessions this function has built (one per distinct input signature). */
  readonly sessionCount: number;
  /** Text of the traced IR graph for these arguments. */
  dump(...args: A): string;
  /** Text of the ONNX graph for these arguments. */
  dumpOnnx(...args: A): string;
  /** Writes the graph traced for `args` as a standalone .onnx (+ external data). */
  export(path: string, args: A, opts?: ExportOptions): Promise<ExportResult>;
}

const DEFAULT_EXTERNAL = 1.8e9;
/** Session builds above this go through a file (see {@link JitOptions.externalDataThreshold}). */
const SESSION_EXTERNAL = 64 * 2 ** 20;

function sanitize(path: string, i: number): string {
  return `in${i}${path ? '_' + path.replace(/[^A-Za-z0-9_]/g, '_') : ''}`;
}

/** Names the compiler gives internal values and initializers (see ir/compile.ts): a user name must not be one. */
const INTERNAL_NAME = /^[vkwc]\d+$/;

/** Applies `given` (path → name) over `paths`, checking every given path exists and names are usable. */
function chooseNames(jitName: string, what: 'input' | 'output', paths: readonly string[], given: Readonly<Record<string, string>> | undefined, dflt: (p: string, i: number) => string): string[] {
  for (const p of Object.keys(given ?? {})) {
    if (!paths.includes(p)) {
      throw new Vlm2VecError('jit', `${jitName}: ${what}Names names ${what} path '${p}', but the ${what}s are at ${paths.map((q) => `'${q}'`).join(', ') || '(none)'}`);
    }
  }
  return paths.map((p, i) => {
    const n = given?.[p];
    if (n === undefined) return dflt(p, i);
    if (!/^[A-Za-z_][A-Za-z0-9_.:-]*$/.test(n) || INTERNAL_NAME.test(n)) {
      throw new Vlm2VecError('jit', `${jitName}: ${what} name '${n}' (path '${p}') must be an identifier other than the compiler's v<n>/k<n>/w<n>/c<n>`);
    }
    return n;
  });
}

function initBytes(m: OnnxModel): number {
  return m.graph.initializers.reduce((s, t) => s + t.data.byteLength, 0);
}

/** Writes model (+ external data when above threshold). Returns the data path when used. */
function writeModel(m: OnnxModel, path: string, threshold: number, minBytes: number): string | undefined {
  if (initBytes(m) <= threshold) {
    writeFileSync(path, encodeModel(m));
    return undefined;
  }
  const sink: ExternalSink = { location: `${basename(path)}.data`, minBytes, chunks: [], offset: 0 };
  const bytes = encodeModel(m, sink);
  writeFileSync(path, bytes);
  const dataPath = `${path}.data`;
  const fd = openSync(dataPath, 'w');
  try {
    for (const c of sink.chunks) writeSync(fd, c);
  } finally {
    closeSync(fd);
  }
  return dataPath;
}

/**
 * Compiles `fn` (tensors in, pytree of tensors out) into one cached ORT session per input signature.
 * @example
 * const f = jit((x: Tensor) => matmul(x, w).sigmoid(), { dynamic: { '0': ['B', null] } });
 * const y = await f(tensor([[1, 2]])); // builds the session once; any batch size reuses it
 */
export function jit<A extends unknown[], R>(fn: (...args: A) => R, opts: JitOptions = {}): Jitted<A, R> {
  const entries = new Map<string, Entry>();
  let sessions = 0;
  const name = opts.name ?? (fn.name || 'jit');

  const signature = (args: A): { key: string; flat: Flat; shapes: Dim[][] } => {
    const flat = treeFlatten(args);
    const shapes = flat.leaves.map((t, i) => {
      const spec = opts.dynamic?.[flat.paths[i]!];
      if (spec && spec.length !== t.rank) {
        throw new Vlm2VecError('jit', `${name}: dynamic spec for '${flat.paths[i]}' has ${spec.length} axes, argument has shape ${fmtShape(t.shape)}`);
      }
      return t.shape.map((d, ax) => spec?.[ax] ?? d);
    });
    for (const p of Object.keys(opts.dynamic ?? {})) {
      if (!flat.paths.includes(p)) {
        throw new Vlm2VecError('jit', `${name}: dynamic spec names argument path '${p}', but the tensor arguments are at ${flat.paths.map((q) => `'${q}'`).join(', ') || '(none)'}`);
      }
    }
    const key = flat.structure + '|' + flat.leaves.map((t, i) => `${t.dtype}${fmtShape(shapes[i]!)}`).join(';');
    return { key, flat, shapes };
  };

  const trace = (args: A): Entry => {
    const { key, flat, shapes } = signature(args);
    const hit = entries.get(key);
    if (hit) return hit;
    const inNames = chooseNames(name, 'input', flat.paths, opts.inputNames, sanitize);
    const inputs: IoInfo[] = flat.leaves.map((t, i) => ({ name: inNames[i]!, dtype: t.dtype, shape: shapes[i]!, path: flat.paths[i]! }));
    const phs = inputs.map((io) => placeholder(io.name, io.shape, io.dtype));
    const out = fn(...(flat.unflatten(phs) as A));
    if (out instanceof Promise) throw new Vlm2VecError('jit', `${name}: the function must be synchronous (ops are lazy; nothing needs awaiting while tracing)`);
    const outFlat = treeFlatten(out);
    const outputNames = chooseNames(name, 'output', outFlat.paths, opts.outputNames, (p, i) => `out${i}${p ? '_' + p.replace(/[^A-Za-z0-9_]/g, '_') : ''}`);
    const dup = [...inNames, ...outputNames].find((n, i, all) => all.indexOf(n) !== i);
    if (dup !== undefined) throw new Vlm2VecError('jit', `${name}: the name '${dup}' is given to two graph inputs/outputs`);
    const compiled = compile(outFlat.leaves, {
      inputs: phs.map((tensor, i) => ({ tensor, name: inputs[i]!.name })),
      constants: 'initializers',
      outputNames,
      name,
    });
    const symbols: Entry['symbols'] = [];
    shapes.forEach((s, leaf) => s.forEach((d, axis) => typeof d === 'string' && symbols.push({ sym: d, leaf, axis })));
    const e: Entry = { compiled, outFlat, inputs, symbols };
    entries.set(key, e);
    return e;
  };

  const sessionFor = (e: Entry): Promise<ort.InferenceSession> => {
    if (!e.session) {
      sessions++;
      const m = e.compiled.model;
      const threshold = opts.externalDataThreshold ?? SESSION_EXTERNAL;
      const what = () => `jit ${name}:\n${dumpOnnx(m).split('\n').slice(0, 80).join('\n')}`;
      if (initBytes(m) > threshold) {
        // Large models go through a file with external data (required above protobuf's 2 GB
        // limit, and cheaper in memory well below it: the weights are written straight from
        // their arrays and ORT maps them, instead of JS bytes + ORT's parsed proto + its tensors).
        const dir = mkdtempSync(join(tmpdir(), 'vlm2vec-jit-'));
        const path = join(dir, 'model.onnx');
        try {
          writeModel(m, path, 0, 1024);
        } catch (err) {
          rmSync(dir, { recursive: true, force: true });
          throw new Vlm2VecError('jit', `${name}: could not write the graph's ${initBytes(m)} bytes of weights to ${path}: ${(err as Error).message}`, { cause: err });
        }
        opts.onSerialized?.();
        // ORT has read (or mapped) the files once the session exists; unlinking keeps /tmp clean.
        e.session = createSession(path, what, e.compiled.hasFloat64, opts.session).finally(() => rmSync(dir, { recursive: true, force: true }));
      } else {
        const bytes = encodeModel(m);
        opts.onSerialized?.();
        e.session = createSession(bytes, what, e.compiled.hasFloat64, opts.session);
      }
    }
    return e.session;
  };

  const run = async (...args: A): Promise<R> => {
    const e = trace(args);
    const flat = treeFlatten(args);
    await realize(flat.leaves);
    const bound = new Map<string, number>();
    for (const { sym, leaf, axis } of e.symbols) {
      const v = flat.leaves[leaf]!.shape[axis] as number;
      const prev = bound.get(sym);
      if (prev !== undefined && prev !== v) {
        throw new Vlm2VecError('jit', `${name}: symbolic dim '${sym}' is ${prev} in one argument and ${v} in '${flat.paths[leaf]}'`);
      }
      bound.set(sym, v);
    }
    const session = await sessionFor(e);
    const feeds: Record<string, ort.Tensor> = {};
    flat.leaves.forEach((t, i) => (feeds[e.inputs[i]!.name] = toOrt(t.dtype, t.value!, t.shape as number[])));
    const res = await runSession(session, feeds, `jit ${name}`);
    const outs = e.compiled.outputNames.map((n, i) => {
      const o = res[n]!;
      return fromArray(o.data as TypedArray, o.dims as number[], e.outFlat.leaves[i]!.dtype);
    });
    return e.outFlat.unflatten(outs) as R;
  };

  const jitted = run as Jitted<A, R>;
  Object.defineProperty(jitted, 'sessionCount', { get: () => sessions });
  jitted.dump = (...args: A) => {
    return dumpGraph(trace(args).outFlat.leaves);
  };
  jitted.dumpOnnx = (...args: A) => dumpOnnx(trace(args).compiled.model);
  jitted.export = async (path: string, args: A, eo: ExportOptions = {}) => {
    const e = trace(args);
    const dataPath = writeModel(e.compiled.model, path, eo.externalDataThreshold ?? DEFAULT_EXTERNAL, eo.minExternalBytes ?? 1024);
    const outputs: IoInfo[] = e.outFlat.leaves.map((t, i) => ({ name: e.compiled.outputNames[i]!, dtype: t.dtype, shape: t.shape, path: e.outFlat.paths[i]! }));
    return { modelPath: path, ...(dataPath ? { dataPath } : {}), inputs: e.inputs, outputs };
  };
  return jitted;
}

export type { Tensor };
