// A minimal, *safe* unpickler for the `data.pkl` of `torch.save` state dicts.
//
// Python's pickle is a small stack machine whose GLOBAL + REDUCE opcodes call any importable
// function, which is why `torch.load` of an untrusted file can run code. We implement only the
// opcodes a state dict uses (torch.save writes protocol 2; a few protocol-4 opcodes are accepted
// because they are harmless) and resolve GLOBAL against a fixed allow-list whose "calls" we
// interpret ourselves: OrderedDict() makes a dict, `_rebuild_tensor_v2` makes a tensor reference,
// `_rebuild_parameter` unwraps it. Nothing is ever looked up by name and executed, and anything
// else — another opcode, another global — stops with an error naming it.
//
// Tensor data is not in the pickle: BINPERSID pops torch's persistent id
// ('storage', <StorageClass>, key, location, numel), which names the zip entry `data/<key>`.
// Opcode reference: CPython Lib/pickletools.py; torch side: torch/serialization.py, torch/_utils.py.

import { Vlm2VecError } from '../../errors.ts';
import type { SafetensorsDType } from './safetensors-dtype.ts';

/** Element types a torch storage can have here: the safetensors ones plus a few torch-only ones. */
export type TorchDType = SafetensorsDType | 'F64' | 'I16' | 'I8';

export const TORCH_DTYPE_BYTES = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const satisfies Record<TorchDType, number>;

/** `torch.<X>Storage` classes (the storage_type in persistent ids) and their element types. */
const STORAGE_CLASSES: Readonly<Record<string, TorchDType>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** The only callables a state dict's pickle may name (module + ' ' + name). */
const CALLABLES = new Set([
  'collections OrderedDict',
  'torch._utils _rebuild_tensor_v2',
  'torch._utils _rebuild_parameter',
  'torch._utils _rebuild_parameter_with_state',
]);

/** A reference to one storage (zip entry `data/<key>`), from a persistent id. */
export interface StorageRef {
  readonly kind: 'storage';
  readonly key: string;
  readonly dtype: TorchDType;
  /** Elements in the whole storage (several tensors may view it). */
  readonly numel: number;
  readonly location: string;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view into a storage. */
export interface TensorRef {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  /** In elements. */
  readonly offset: number;
  readonly shape: readonly number[];
  /** In elements, one per dimension. */
  readonly stride: readonly number[];
}

/** An allow-listed global: a callable (for REDUCE) or a storage class (inside a persistent id). */
export interface PyGlobal {
  readonly kind: 'global';
  readonly qualname: string;
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export type PyKey = string | number | bigint | boolean | null;

/** A Python dict or OrderedDict (insertion-ordered, like a JS Map). */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
}

export type PyValue = null | boolean | number | bigint | string | PyValue[] | PyTuple | PyDict | PyGlobal | StorageRef | TensorRef;

// Names of every pickle opcode (CPython pickletools), so a refused one is named in the error.
const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1',
  0x86: 'TUPLE2', 0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4',
  0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** Bounds memo growth from a hostile LONG_BINPUT index (a real state dict uses a few per tensor). */
const MAX_MEMO = 50_000_000;

function typeName(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return 'dict';
  if (typeof v === 'object') return v.kind === 'global' ? `global ${v.qualname}` : v.kind;
  // Python's names, since the values came from Python.
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  return typeof v === 'bigint' ? 'int' : typeof v === 'string' ? 'str' : 'bool';
}

/**
 * Unpickles a torch.save `data.pkl`, allowing only what state dicts use. `file` names the
 * checkpoint in errors.
 *
 * @example
 * const root = unpickle(pklBytes, 'adapter_model.bin'); // PyDict { 'base_model...lora_A.weight' → TensorRef }
 */
export function unpickle(data: Uint8Array, file: string): PyValue {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  let opAt = 0;
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();

  const fail = (msg: string): never => {
    throw new Vlm2VecError('torch', `${file}: data.pkl byte ${opAt}: ${msg}`);
  };
  const need = (n: number): number => {
    if (n < 0 || pos + n > data.length) fail(`truncated pickle (wants ${n} more bytes, ${data.length - pos} left)`);
    const at = pos;
    pos += n;
    return at;
  };
  // As in CPython, values below the innermost MARK are out of reach until that mark is popped.
  const floor = (): number => (marks.length > 0 ? (marks[marks.length - 1] as number) : 0);
  const top = (): PyValue => {
    if (stack.length <= floor()) fail('stack underflow; the pickle is corrupt');
    return stack[stack.length - 1] as PyValue;
  };
  const pop = (): PyValue => {
    top();
    return stack.pop() as PyValue;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to pop; the pickle is corrupt');
    return stack.splice(m as number);
  };
  const str = (n: number): string => {
    const at = need(n);
    try {
      return utf8.decode(data.subarray(at, at + n));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('truncated GLOBAL (no newline)');
    const s = new TextDecoder('latin1').decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const put = (idx: number, v: PyValue): void => {
    if (idx > MAX_MEMO) fail(`memo index ${idx} is implausibly large`);
    memo.set(idx, v);
  };
  const get = (idx: number): PyValue => {
    if (!memo.has(idx)) fail(`memo index ${idx} was never stored; the pickle is corrupt`);
    return memo.get(idx) as PyValue;
  };
  const key = (k: PyValue): PyKey => {
    if (k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k)) return k as PyKey;
    return fail(`dict key of type ${typeName(k)} is not supported (state dict keys are strings)`);
  };
  const setItems = (dict: PyValue, kv: readonly PyValue[]): void => {
    if (!(dict instanceof PyDict)) fail(`SETITEM(S) on ${typeName(dict)}, expected a dict`);
    if (kv.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) (dict as PyDict).map.set(key(kv[i] as PyValue), kv[i + 1] as PyValue);
  };
  const global = (module: string, name: string): PyGlobal => {
    const qualname = `${module} ${name}`;
    const ok = CALLABLES.has(qualname) || (module === 'torch' && Object.hasOwn(STORAGE_CLASSES, name));
    if (!ok) {
      fail(
        `pickle GLOBAL '${qualname}' is not allowed: a state dict only needs collections.OrderedDict, ` +
          `torch._utils._rebuild_tensor_v2 / _rebuild_parameter and torch.<Type>Storage; refusing to load ` +
          `(this file may contain code, or tensors of an unsupported kind)`,
      );
    }
    return { kind: 'global', qualname };
  };

  for (;;) {
    opAt = pos;
    const op = data[need(1)] as number;
    switch (op) {
      case 0x80: // PROTO
        if ((data[need(1)] as number) > 5) fail(`pickle protocol ${data[pos - 1]} is newer than 5`);
        break;
      case 0x95: // FRAME: an 8-byte length; framing only matters to streaming readers
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail(`STOP with ${stack.length} values on the stack; the pickle is corrupt`);
        return stack[0] as PyValue;
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        const b = pop();
        stack.push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) fail(`APPEND to ${typeName(list)}, expected a list`);
        (list as PyValue[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail(`APPENDS to ${typeName(list)}, expected a list`);
        for (const v of items) (list as PyValue[]).push(v);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(str(dv.getUint32(need(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(data[need(1)] as number));
        break;
      case 0x8d: {
        // BINUNICODE8
        const n = dv.getBigUint64(need(8), true);
        if (n > BigInt(data.length - pos)) fail(`truncated pickle (a string of ${n} bytes, ${data.length - pos} left)`);
        stack.push(str(Number(n)));
        break;
      }
      case 0x4a: // BININT
        stack.push(dv.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(data[need(1)] as number);
        break;
      case 0x4d: // BININT2
        stack.push(dv.getUint16(need(2), true));
        break;
      case 0x8a: // LONG1
      case 0x8b: {
        // LONG4: n-byte two's-complement little-endian
        const n = op === 0x8a ? (data[need(1)] as number) : dv.getInt32(need(4), true);
        if (n > 64) fail(`integer of ${n} bytes is too large`);
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[at + i] as number);
        if (n > 0 && (data[at + n - 1] as number) >= 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(dv.getFloat64(need(8), false));
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x71: // BINPUT
        put(data[need(1)] as number, top());
        break;
      case 0x72: // LONG_BINPUT
        put(dv.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        put(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(get(data[need(1)] as number));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(get(dv.getUint32(need(4), true)));
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop(), fail));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(reduce(fn, args, fail));
        break;
      }
      case 0x62: {
        // BUILD: sets attributes from a state. A state dict's OrderedDict carries `_metadata`
        // (module versions) this way; it does not change any tensor, so it is dropped.
        const state = pop();
        const target = top();
        if (!(target instanceof PyDict) || !(state === null || state instanceof PyDict)) {
          fail(`BUILD of ${typeName(target)} with a ${typeName(state)} state is not supported`);
        }
        break;
      }
      default:
        fail(
          `unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} (${OPCODE_NAMES[op] ?? 'unknown'}); ` +
            'only the opcodes torch.save uses for state dicts are allowed',
        );
    }
  }
}

function isIndex(v: PyValue): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function intTuple(v: PyValue): number[] | undefined {
  if (!(v instanceof PyTuple) || !v.items.every(isIndex)) return undefined;
  return v.items as number[];
}

// torch/serialization.py persistent_id: ('storage', storage_type, key, location, numel).
function persistentLoad(pid: PyValue, fail: (m: string) => never): StorageRef {
  if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage') {
    return fail(`persistent id ${typeName(pid)} is not a ('storage', ...) tuple; only tensor storages are supported`);
  }
  const [, cls, key, location, numel] = pid.items;
  if (pid.items.length !== 5 || typeof key !== 'string' || typeof location !== 'string' || !isIndex(numel as PyValue)) {
    return fail("storage persistent id must be ('storage', <StorageClass>, key: str, location: str, numel: int)");
  }
  const qn = cls && typeof cls === 'object' && !Array.isArray(cls) && 'kind' in cls && cls.kind === 'global' ? cls.qualname : undefined;
  const dtype = qn?.startsWith('torch ') ? STORAGE_CLASSES[qn.slice('torch '.length)] : undefined;
  if (!dtype) return fail(`storage type ${typeName(cls as PyValue)} is not a supported torch.<Type>Storage class`);
  if (!/^[\w.-]+$/.test(key)) return fail(`storage key '${key}' is not a plain name`);
  return { kind: 'storage', key, dtype, numel: numel as number, location };
}

function reduce(fn: PyValue, args: PyValue, fail: (m: string) => never): PyValue {
  const qn = fn && typeof fn === 'object' && !Array.isArray(fn) && 'kind' in fn && fn.kind === 'global' ? fn.qualname : undefined;
  if (!qn || !CALLABLES.has(qn)) return fail(`REDUCE of ${typeName(fn)} is not supported`);
  if (!(args instanceof PyTuple)) return fail(`REDUCE of ${qn} with ${typeName(args)} arguments, expected a tuple`);
  const a = args.items;
  switch (qn) {
    case 'collections OrderedDict':
      if (a.length !== 0) fail('OrderedDict(...) with arguments is not supported (torch pickles it empty, then SETITEMS)');
      return new PyDict();
    case 'torch._utils _rebuild_tensor_v2': {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, size, stride] = a;
      const shape = intTuple(size ?? null);
      const strides = intTuple(stride ?? null);
      if (a.length < 6 || a.length > 7 || typeName(storage) !== 'storage' || !isIndex(offset ?? null) || !shape || !strides || shape.length !== strides.length) {
        return fail('_rebuild_tensor_v2 expects (storage, offset: int, size: tuple, stride: tuple of the same length, requires_grad, hooks[, metadata])');
      }
      return { kind: 'tensor', storage: storage as StorageRef, offset: offset as number, shape, stride: strides };
    }
    default: {
      // _rebuild_parameter(data, requires_grad, hooks) / _rebuild_parameter_with_state(..., state)
      const data = a[0];
      if (typeName(data) !== 'tensor') return fail(`${qn} expects a tensor as its first argument, found ${typeName(data)}`);
      return data as TensorRef;
    }
  }
}
