// Synchronous data parallelism for learners: a kernel runs chunk by chunk on this thread and on helper
// worker threads over SharedArrayBuffers, and `run` returns when every chunk is done. `fit` stays a plain
// synchronous function (it may itself run inside a training worker). Chunks are claimed dynamically
// (an atomic counter), and each writes its own output slot, so results do not depend on which thread ran
// which chunk nor on the thread count: the caller reduces the slots in chunk order.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { type WasmMemory, type WasmModule, webAssembly } from "./wasm.js";

/** Typed-array views a kernel reads and writes; with helper threads, each must live on a SharedArrayBuffer. */
export type SharedViews = { readonly [name: string]: Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array };

/** The exported functions of a kernel's WebAssembly module (all take and return numbers only). */
export type WasmKernels = { readonly [name: string]: (...args: number[]) => number | undefined };

/**
 * One chunk of work. Helper threads rebuild the kernel from its source text, so it must be a
 * self-contained `function` declaration: no reference to anything outside its parameters but JS globals.
 * `wasm` is this thread's instance of the pool's WebAssembly module, when it has one.
 */
export type ChunkKernel<V extends SharedViews> = (chunk: number, views: V, args: Float64Array, wasm: WasmKernels | undefined) => void;

// Control words (Int32Array over a SharedArrayBuffer).
const GENERATION = 0; // bumped once per run; -1 tells helpers to exit
const NEXT = 1; // next chunk number to claim (monotonic across runs)
const DONE = 2; // chunks completed (monotonic across runs)
const BASE = 3; // first chunk number of the current run
const COUNT = 4; // chunks in the current run
const FAILED = 5; // a helper's kernel threw
const CONTROL_WORDS = 6;

/** How long `run` waits without any chunk completing before it computes the missing chunks itself. */
const STALL_MS = 10_000;

const HELPER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { control, argsBuffer, flagsBuffer, specs, kernelSource, wasmModule, wasmMemory } = workerData;
const wasm = wasmModule === undefined ? undefined : new WebAssembly.Instance(wasmModule, { env: { memory: wasmMemory } }).exports;
const ctrl = new Int32Array(control);
const flags = new Int32Array(flagsBuffer);
const args = new Float64Array(argsBuffer);
const ctors = { Float64Array, Int32Array, Uint32Array, Uint16Array, Uint8Array };
const views = {};
for (const name of Object.keys(specs)) {
  const s = specs[name];
  views[name] = new ctors[s.type](s.buffer, s.byteOffset, s.length);
}
let kernel;
try { kernel = (0, eval)("(" + kernelSource + ")"); } catch { Atomics.store(ctrl, ${FAILED}, 1); }
let last = 0;
while (kernel !== undefined) {
  Atomics.wait(ctrl, ${GENERATION}, last);
  const generation = Atomics.load(ctrl, ${GENERATION});
  if (generation < 0) break;
  if (generation === last) continue;
  last = generation;
  const end = Atomics.load(ctrl, ${BASE}) + Atomics.load(ctrl, ${COUNT});
  const base = Atomics.load(ctrl, ${BASE});
  for (;;) {
    const next = Atomics.load(ctrl, ${NEXT});
    if (next >= end) break;
    if (Atomics.compareExchange(ctrl, ${NEXT}, next, next + 1) !== next) continue;
    try { kernel(next - base, views, args, wasm); } catch { Atomics.store(ctrl, ${FAILED}, 1); Atomics.notify(ctrl, ${DONE}); break; }
    Atomics.store(flags, next - base, generation);
    Atomics.add(ctrl, ${DONE}, 1);
    Atomics.notify(ctrl, ${DONE});
  }
}
`;

/** Options of {@link ParallelChunks}. */
export interface ParallelChunksOptions {
  /** Threads including this one; 1 runs every chunk here (no worker). */
  readonly threads: number;
  /** Length of the shared `args` array the kernel receives. */
  readonly argsLength: number;
  /** Most chunks one `run` may have (sizes the completion flags). */
  readonly maxChunks: number;
  /** A WebAssembly module (importing `env.memory`) each thread instantiates over `memory` for the kernel. */
  readonly wasm?: { readonly module: WasmModule; readonly memory: WasmMemory } | undefined;
}

/** A kernel bound to its shared views, run synchronously over numbered chunks on up to `threads` threads. */
export class ParallelChunks<V extends SharedViews> {
  /** Arguments of the next `run` (scalars, small vectors); shared with the helpers. */
  readonly args: Float64Array;
  private readonly control: Int32Array;
  private readonly flags: Int32Array;
  private readonly workers: Worker[] = [];
  private generation = 0;
  private readonly wasm: WasmKernels | undefined;

  constructor(
    private readonly kernel: ChunkKernel<V>,
    private readonly views: V,
    options: ParallelChunksOptions,
  ) {
    const helpers = Math.max(0, Math.floor(options.threads) - 1);
    const shared = helpers > 0 && Object.values(views).every((v) => isShared(v.buffer));
    const buffer = (bytes: number): ArrayBuffer | SharedArrayBuffer =>
      shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    this.args = new Float64Array(buffer(Math.max(1, options.argsLength) * 8));
    this.control = new Int32Array(buffer(CONTROL_WORDS * 4));
    this.flags = new Int32Array(buffer(Math.max(1, options.maxChunks) * 4));
    this.wasm =
      options.wasm === undefined ? undefined : instantiate(options.wasm.module, options.wasm.memory);
    if (!shared) return;
    const specs: { [name: string]: { type: string; buffer: ArrayBufferLike; byteOffset: number; length: number } } = {};
    for (const [name, view] of Object.entries(views)) {
      specs[name] = { type: view[Symbol.toStringTag], buffer: view.buffer, byteOffset: view.byteOffset, length: view.length };
    }
    const workerData = {
      control: this.control.buffer,
      argsBuffer: this.args.buffer,
      flagsBuffer: this.flags.buffer,
      specs,
      kernelSource: kernel.toString(),
      wasmModule: options.wasm?.module,
      wasmMemory: options.wasm?.memory,
    };
    for (let i = 0; i < helpers; i++) {
      const worker = new Worker(HELPER_SOURCE, { eval: true, workerData });
      worker.unref();
      // A helper that dies is covered by the stall fallback in `run`; keep its error from crashing the process.
      worker.on("error", () => Atomics.store(this.control, FAILED, 1));
      this.workers.push(worker);
    }
  }

  /** Helper threads started (0 when running single-threaded). */
  get helperThreads(): number {
    return this.workers.length;
  }

  /**
   * Runs chunks 0..count-1 (this thread takes part) and returns when all are done. With `parallel`
   * false they all run here: for work too small to repay waking a helper (~50 µs).
   */
  run(count: number, parallel = true): void {
    const ctrl = this.control;
    if (!parallel || this.workers.length === 0 || Atomics.load(ctrl, FAILED) === 1) {
      for (let chunk = 0; chunk < count; chunk++) this.kernel(chunk, this.views, this.args, this.wasm);
      return;
    }
    const base = Atomics.load(ctrl, NEXT);
    const end = base + count;
    const generation = ++this.generation;
    Atomics.store(ctrl, BASE, base);
    Atomics.store(ctrl, COUNT, count);
    Atomics.store(ctrl, GENERATION, generation);
    Atomics.notify(ctrl, GENERATION);
    for (;;) {
      const next = Atomics.load(ctrl, NEXT);
      if (next >= end) break;
      if (Atomics.compareExchange(ctrl, NEXT, next, next + 1) !== next) continue;
      this.kernel(next - base, this.views, this.args, this.wasm);
      Atomics.store(this.flags, next - base, generation);
      Atomics.add(ctrl, DONE, 1);
    }
    let done = Atomics.load(ctrl, DONE);
    while (done < end) {
      const outcome = Atomics.wait(ctrl, DONE, done, STALL_MS);
      const now = Atomics.load(ctrl, DONE);
      if ((outcome === "timed-out" && now === done) || Atomics.load(ctrl, FAILED) === 1) {
        // A helper died or its kernel failed: finish its chunks here (same code, same slots, same result).
        Atomics.store(ctrl, FAILED, 1);
        for (let chunk = 0; chunk < count; chunk++) {
          if (Atomics.load(this.flags, chunk) !== generation) this.kernel(chunk, this.views, this.args, this.wasm);
        }
        return;
      }
      done = now;
    }
  }

  /** Stops the helper threads; the instance then runs single-threaded. */
  close(): void {
    Atomics.store(this.control, GENERATION, -1);
    Atomics.notify(this.control, GENERATION);
    Atomics.store(this.control, FAILED, 1);
    for (const worker of this.workers.splice(0)) void worker.terminate();
  }
}

/** This thread's instance of a kernel module, its exports checked to be functions. */
function instantiate(module: WasmModule, memory: WasmMemory): WasmKernels {
  if (webAssembly === undefined) throw new Error("WebAssembly is not available");
  const exports = new webAssembly.Instance(module, { env: { memory } }).exports;
  const kernels: { [name: string]: (...args: number[]) => number | undefined } = {};
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value === "function") kernels[name] = value as (...args: number[]) => number | undefined;
  }
  return kernels;
}

/**
 * Bump allocator over one shared WebAssembly memory, so typed arrays the JS kernels use are also
 * addressable (by `byteOffset`) from WebAssembly kernels, on every thread.
 */
export class SharedArena {
  readonly memory: WasmMemory;
  private next = 16;

  private constructor(memory: WasmMemory) {
    this.memory = memory;
  }

  /** An arena of at least `bytes`, or undefined when the runtime cannot provide one (over 4 GiB, no memory). */
  static create(bytes: number): SharedArena | undefined {
    const pages = Math.ceil((bytes + 16) / 65536);
    if (pages > 65536 || webAssembly === undefined) return undefined;
    try {
      return new SharedArena(new webAssembly.Memory({ initial: pages, maximum: pages, shared: true }));
    } catch {
      return undefined;
    }
  }

  /** Bytes to reserve for arrays of these byte lengths (each 16-byte aligned). */
  static bytesFor(lengths: readonly number[]): number {
    return lengths.reduce((sum, n) => sum + Math.ceil(n / 16) * 16, 16);
  }

  private take(bytes: number): number {
    const at = this.next;
    this.next += Math.ceil(bytes / 16) * 16;
    if (this.next > this.memory.buffer.byteLength) throw new RangeError("arena exhausted");
    return at;
  }

  /** A zeroed Float64Array of `length` in the arena. */
  f64(length: number): Float64Array {
    return new Float64Array(this.memory.buffer, this.take(8 * length), length);
  }

  /** A zeroed Uint32Array of `length` in the arena. */
  u32(length: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, this.take(4 * length), length);
  }

  /** A zeroed Uint16Array of `length` in the arena. */
  u16(length: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, this.take(2 * length), length);
  }

  /** A zeroed Uint8Array of `length` in the arena. */
  u8(length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.take(length), length);
  }
}

/** Threads a learner uses by default: both cores of a 2-core machine, never more than 4. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** True when `buffer` is a SharedArrayBuffer (by tag, so buffers from another realm count). */
export function isShared(buffer: ArrayBufferLike): buffer is SharedArrayBuffer {
  return Object.prototype.toString.call(buffer) === "[object SharedArrayBuffer]";
}

/** `source` itself when it already lives on a SharedArrayBuffer, else a copy that does. */
export function sharedCopy(source: Float64Array): Float64Array {
  if (isShared(source.buffer)) return source;
  const copy = new Float64Array(new SharedArrayBuffer(source.length * 8));
  copy.set(source);
  return copy;
}
