// The boosting kernels' two hottest loops as WebAssembly (see wasm.ts for why): the histogram and the
// partition. Same arithmetic, same order as the JavaScript fallbacks in gradient-boosting.ts, so both
// paths give bit-identical forests.
import { assembleModule, compileModule, ops, types, type WasmModule } from "./wasm.js";

const { add, and, block, br, br_if, end, eq, f64_add, f64_const, f64_load, f64_store, f64x2_add, ge_u, get } = ops;
const { i32_const, i32_load, i32_load8_u, i32_store, le_u, loop, lt_u, mul, select, set, shl, shr_u, sub } = ops;
const { v128_load, v128_store } = ops;
const { i32, v128 } = types;

// histogram(gh, bins, idx, useIdx, first, last, words, out, width)
//   for k in [first, last): i = useIdx ? idx[k] : k
//     (g, h) = gh[i]                       — one v128 load of the interleaved pair
//     for each of the row's `words` u32 words of four bins b0..b3, features f..f+3:
//       hist[out + f·width + b·32] += (g, h) — one f64x2 add; count at +16 += 1
// All addresses are byte offsets into the shared memory; `width` is one feature's histogram in bytes.
const [GH, BINS, IDX, USE_IDX, FIRST, LAST, WORDS, OUT, WIDTH] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const [K, I, V, Q, QEND, W, BASE, P, J, SINK] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
/** Rows ahead whose bins and gradients are touched early, so their cache misses overlap this row's work. */
const LOOKAHEAD = 16;

function accumulate(shift: number): number[] {
  return [
    // p = base + ((w >>> shift) & 255) << 5
    ...get(BASE), ...get(W), ...i32_const(shift), ...shr_u, ...i32_const(255), ...and, ...i32_const(5), ...shl, ...add, ...set(P),
    // v128.store(p, v128.load(p) + v)
    ...get(P), ...get(P), ...v128_load(), ...get(V), ...f64x2_add, ...v128_store(),
    // count: f64 at p + 16 += 1
    ...get(P), ...get(P), ...f64_load(16), ...f64_const(1), ...f64_add, ...f64_store(16),
    // base += width
    ...get(BASE), ...get(WIDTH), ...add, ...set(BASE),
  ];
}

const histogramBody = [
  ...get(FIRST), ...set(K),
  ...block,
  ...loop,
  ...get(K), ...get(LAST), ...ge_u, ...br_if(1),
  // i = select(idx[k], k, useIdx)
  ...get(IDX), ...get(K), ...i32_const(2), ...shl, ...add, ...i32_load(), ...get(K), ...get(USE_IDX), ...select, ...set(I),
  ...get(GH), ...get(I), ...i32_const(4), ...shl, ...add, ...v128_load(), ...set(V),
  // Software prefetch: j = row at position min(k + LOOKAHEAD, last − 1); touch its bins and gradient.
  ...get(K), ...i32_const(LOOKAHEAD), ...add, ...get(LAST), ...i32_const(1), ...sub,
  ...get(K), ...i32_const(LOOKAHEAD), ...add, ...get(LAST), ...lt_u, ...select, ...set(J),
  ...get(IDX), ...get(J), ...i32_const(2), ...shl, ...add, ...i32_load(), ...get(J), ...get(USE_IDX), ...select, ...set(J),
  ...get(SINK), ...get(BINS), ...get(J), ...get(WORDS), ...mul, ...i32_const(2), ...shl, ...add, ...i32_load(), ...add,
  ...get(GH), ...get(J), ...i32_const(4), ...shl, ...add, ...i32_load(), ...add, ...set(SINK),
  // q = bins + i·words·4; qend = q + words·4; base = out
  ...get(BINS), ...get(I), ...get(WORDS), ...mul, ...i32_const(2), ...shl, ...add, ...set(Q),
  ...get(Q), ...get(WORDS), ...i32_const(2), ...shl, ...add, ...set(QEND),
  ...get(OUT), ...set(BASE),
  ...block,
  ...loop,
  ...get(Q), ...get(QEND), ...ge_u, ...br_if(1),
  ...get(Q), ...i32_load(), ...set(W),
  ...accumulate(0),
  ...accumulate(8),
  ...accumulate(16),
  ...accumulate(24),
  ...get(Q), ...i32_const(4), ...add, ...set(Q),
  ...br(0),
  ...end,
  ...end,
  ...get(K), ...i32_const(1), ...add, ...set(K),
  ...br(0),
  ...end,
  ...end,
];

// partition(idx, columns, goLeft, goRight, first, last, column, thresholdBin, nanBin, nanLeft) → left count
//   for k in [first, last): i = idx[k]; b = columns[column + i]
//     left = b == nanBin ? nanLeft : b <= thresholdBin
//     goLeft[l] = i; goRight[r] = i; l += left; r += 1 − left   (branch-free; both stores always happen)
// `l` and `r` start at `first`: each chunk fills its own positions of goLeft / goRight.
const [PIDX, COLUMNS, GO_LEFT, GO_RIGHT, PFIRST, PLAST, COLUMN, THRESHOLD_BIN, NAN_BIN, NAN_LEFT] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const [PK, PI, PL, PR, B, LEFT] = [10, 11, 12, 13, 14, 15];

const partitionBody = [
  ...get(PFIRST), ...set(PK),
  ...get(PFIRST), ...set(PL),
  ...get(PFIRST), ...set(PR),
  ...block,
  ...loop,
  ...get(PK), ...get(PLAST), ...ge_u, ...br_if(1),
  ...get(PIDX), ...get(PK), ...i32_const(2), ...shl, ...add, ...i32_load(), ...set(PI),
  ...get(COLUMNS), ...get(COLUMN), ...add, ...get(PI), ...add, ...i32_load8_u(), ...set(B),
  // left = select(nanLeft, b <= thresholdBin, b == nanBin)
  ...get(NAN_LEFT), ...get(B), ...get(THRESHOLD_BIN), ...le_u, ...get(B), ...get(NAN_BIN), ...eq, ...select, ...set(LEFT),
  ...get(GO_LEFT), ...get(PL), ...i32_const(2), ...shl, ...add, ...get(PI), ...i32_store(),
  ...get(GO_RIGHT), ...get(PR), ...i32_const(2), ...shl, ...add, ...get(PI), ...i32_store(),
  ...get(PL), ...get(LEFT), ...add, ...set(PL),
  ...get(PR), ...i32_const(1), ...get(LEFT), ...sub, ...add, ...set(PR),
  ...get(PK), ...i32_const(1), ...add, ...set(PK),
  ...br(0),
  ...end,
  ...end,
  ...get(PL), ...get(PFIRST), ...sub,
];

const bytes = assembleModule([
  {
    name: "histogram",
    params: [i32, i32, i32, i32, i32, i32, i32, i32, i32],
    locals: [i32, i32, v128, i32, i32, i32, i32, i32, i32, i32],
    body: histogramBody,
  },
  {
    name: "partition",
    params: [i32, i32, i32, i32, i32, i32, i32, i32, i32, i32],
    results: [i32],
    locals: [i32, i32, i32, i32, i32, i32],
    body: partitionBody,
  },
]);

let compiled: WasmModule | null | undefined;

/** The compiled module, or null when this runtime lacks WebAssembly SIMD (the JS loops are used). */
export function histogramModule(): WasmModule | null {
  if (compiled === undefined) compiled = compileModule(bytes);
  return compiled;
}

/** The module bytes (for tests that compare the WebAssembly and JavaScript paths). */
export const histogramModuleBytes = bytes;

