// A minimal WebAssembly binary writer for the learners' hottest loops. V8 compiles JS typed-array loops
// with a bounds check per access and no SIMD; the same histogram loop as WebAssembly (f64x2 adds, no
// checks thanks to guard pages) measured 3× faster here. Writing the handful of instructions we need as
// bytes keeps the project free of toolchains and opaque binaries: every kernel is readable source below
// and in the files that use it. Only what those kernels use is encoded; see the WebAssembly core spec
// (binary format, §5) and the SIMD proposal for the opcodes.

/** Value types of parameters, results and locals. */
export const types = { i32: 0x7f, f64: 0x7c, v128: 0x7b } as const;
type ValueType = (typeof types)[keyof typeof types];

/** One function of a module: exported under `name`; locals are numbered after the parameters. */
export interface WasmFunction {
  readonly name: string;
  readonly params: readonly ValueType[];
  /** Result types (at most one). Default: none. */
  readonly results?: readonly ValueType[];
  readonly locals: readonly ValueType[];
  /** Instruction bytes (without the final `end`). */
  readonly body: readonly number[];
}

/** Unsigned LEB128. */
function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (32-bit). */
function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, "utf8")];
  return [...uleb(bytes.length), ...bytes];
}

/**
 * A module importing one shared memory as `env.memory` and exporting `functions`.
 * Instantiate it with a `WebAssembly.Memory({ shared: true, ... })` of at most 65536 pages.
 */
export function assembleModule(functions: readonly WasmFunction[]): Uint8Array {
  const types = functions.map((fn) => [0x60, ...vector(fn.params.map((t) => [t])), ...vector((fn.results ?? []).map((t) => [t]))]);
  const imports = vector([[...name("env"), ...name("memory"), 0x02, 0x03, ...uleb(1), ...uleb(65536)]]);
  const declarations = vector(functions.map((_, k) => uleb(k)));
  const exports = vector(functions.map((fn, k) => [...name(fn.name), 0x00, ...uleb(k)]));
  const bodies = vector(
    functions.map((fn) => {
      const locals = vector(fn.locals.map((t) => [...uleb(1), t]));
      const code = [...locals, ...fn.body, 0x0b];
      return [...uleb(code.length), ...code];
    }),
  );
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(2, imports),
    ...section(3, declarations),
    ...section(7, exports),
    ...section(10, bodies),
  ]);
}

/**
 * The instructions the kernels use, as bytes, so bodies read like the text format:
 * `[...get(k), ...get(last), ...ge_u, ...br_if(1)]` is `(br_if 1 (i32.ge_u (local.get k) (local.get last)))`.
 * Integer operations are i32 (unsigned where it matters); memory access uses natural alignment and a
 * constant byte offset; `block`/`loop` open void blocks closed by `end`, branch depths count outwards.
 */
export const ops = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number): number[] => [0x0c, ...uleb(depth)],
  br_if: (depth: number): number[] => [0x0d, ...uleb(depth)],
  select: [0x1b],
  get: (index: number): number[] => [0x20, ...uleb(index)],
  set: (index: number): number[] => [0x21, ...uleb(index)],
  i32_load: (offset = 0): number[] => [0x28, 2, ...uleb(offset)],
  i32_load8_u: (offset = 0): number[] => [0x2d, 0, ...uleb(offset)],
  i32_load16_u: (offset = 0): number[] => [0x2f, 1, ...uleb(offset)],
  f64_load: (offset = 0): number[] => [0x2b, 3, ...uleb(offset)],
  i32_store: (offset = 0): number[] => [0x36, 2, ...uleb(offset)],
  f64_store: (offset = 0): number[] => [0x39, 3, ...uleb(offset)],
  v128_load: (offset = 0): number[] => [0xfd, ...uleb(0), 4, ...uleb(offset)],
  v128_store: (offset = 0): number[] => [0xfd, ...uleb(11), 4, ...uleb(offset)],
  i32_const: (value: number): number[] => [0x41, ...sleb(value)],
  f64_const: (value: number): number[] => [0x44, ...new Uint8Array(Float64Array.of(value).buffer)],
  eq: [0x46],
  le_u: [0x4d],
  ge_u: [0x4f],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  and: [0x71],
  shl: [0x74],
  shr_u: [0x76],
  f64_ge: [0x66],
  f64_abs: [0x99],
  f64_neg: [0x9a],
  f64_floor: [0x9c],
  f64_add: [0xa0],
  f64_sub: [0xa1],
  f64_mul: [0xa2],
  f64_div: [0xa3],
  f64_max: [0xa5],
  i32_trunc_f64_s: [0xaa],
  f64x2_add: [0xfd, ...uleb(240)],
} as const;

// The slice of the WebAssembly JS API the learners use, typed here: the project's `lib` (ES2023, no DOM)
// does not declare the `WebAssembly` global although Node provides it.

/** A compiled module (opaque; it can be posted to worker threads). */
export interface WasmModule {
  readonly [Symbol.toStringTag]: string;
}

/** A linear memory; with `shared: true` its buffer is a SharedArrayBuffer every thread can view. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: { env: { memory: WasmMemory } }) => { readonly exports: { readonly [name: string]: unknown } };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}

/** Node's `WebAssembly` global, or undefined where it is missing (e.g. `--jitless`). */
export const webAssembly: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** True when this runtime compiles `bytes` (WebAssembly SIMD is needed). */
export function wasmSupported(bytes: Uint8Array): boolean {
  try {
    return webAssembly !== undefined && webAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** Compiles `bytes` when supported; null otherwise (callers fall back to JavaScript). */
export function compileModule(bytes: Uint8Array): WasmModule | null {
  return webAssembly !== undefined && wasmSupported(bytes) ? new webAssembly.Module(bytes) : null;
}
