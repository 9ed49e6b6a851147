// The boosting kernels' two hottest loops as WebAssembly (see wasm.ts for why): the histogram and the
// partition. Same arithmetic, same order as the JavaScript fallbacks in gradient-boosting.ts, so both
// paths give bit-identical forests.
import { assembleModule, compileModule, ops, types, type WasmModule } from "./wasm.js";

const { add, and, block, br, br_if, end, eq, f64_add, f64_const, f64_load, f64_store, f64x2_add, ge_u, get } = ops;
const { i32_const, i32_load, i32_load8_u, i32_store, le_u, loop, mul, select, set, shl, shr_u, sub } = ops;
const { v128_load, v128_store } = ops;
const { f64_abs, f64_div, f64_floor, f64_ge, f64_max, f64_mul, f64_neg, f64_sub, i32_load16_u, i32_trunc_f64_s } = ops;
const { f64, i32, v128 } = types;

// histogram(gh, bins, idx, useIdx, first, last, words, out, width)
//   for k in [first, last): i = useIdx ? idx[k] : k
//     (g, h) = gh[i]                       — one v128 load of the interleaved pair
//     for each of the row's `words` u32 words of four bins b0..b3, features f..f+3:
//       hist[out + f·width + b·32] += (g, h) — one f64x2 add; count at +16 += 1
// All addresses are byte offsets into the shared memory; `width` is one feature's histogram in bytes.
const [GH, BINS, IDX, USE_IDX, FIRST, LAST, WORDS, OUT, WIDTH] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const [K, I, V, Q, QEND, W, BASE, P] = [9, 10, 11, 12, 13, 14, 15, 16];

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

// logisticGradients(raw, y, leafOf, leafValue, gh, pow2, first, last, sums)
//   for i in [first, last):
//     s = raw[i] + leafValue[leafOf[i]]; raw[i] = s
//     e = exp(−|s|)  — see EXP below; p = (s ≥ 0 ? 1 : e) / (1 + e)  (a sigmoid that never overflows)
//     gh[i] = (p − y[i], p·(1 − p)); Σg, Σh in row order → sums[0], sums[1]
// The JavaScript fallback in gradient-boosting.ts performs the same operations in the same order.
const [RAW, Y, LEAF_OF, LEAF_VALUE, GHP, POW2, GFIRST, GLAST, SUMS] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const [GI, SCORE, ARG, KF, RED, POLY, EXPO, PROB, SUM_G, SUM_H, GRAD] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19];

/**
 * exp(a) for a ≤ 0, as both gradient paths compute it: a = max(a, −708); k = floor(a/ln 2 + ½);
 * r = (a − k·ln2hi) − k·ln2lo; e = P(r)·2^k with P the degree-12 Taylor polynomial (|r| ≤ 0.35, error
 * under 2e-16 relative) evaluated by Estrin's scheme (a short dependency chain), and 2^k from a table. Every step is one IEEE operation, so the WebAssembly
 * and JavaScript results agree bit for bit (Math.exp is not specified that precisely).
 */
export const EXP = {
  lowest: -708,
  invLn2: 1.4426950408889634,
  ln2Hi: 6.93147180369123816490e-1,
  ln2Lo: 1.90821492927058770002e-10,
  /** Taylor coefficients 1/12! … 1/1!, 1 (highest degree first). */
  coefficients: [1 / 479001600, 1 / 39916800, 1 / 3628800, 1 / 362880, 1 / 40320, 1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1],
  /** pow2[k + tableOffset] = 2^k for k in [−1100, 0]. */
  tableOffset: 1100,
} as const;

const c = (i: number): number => EXP.coefficients[12 - i] as number; // c(i) multiplies r^i
const [R2, R4, R8] = [20, 21, 22];
// Estrin's scheme: P(r) = ((c0 + c1 r) + (c2 + c3 r) r²) + ((c4 + c5 r) + (c6 + c7 r) r²) r⁴
//                      + (((c8 + c9 r) + (c10 + c11 r) r²) + c12 r⁴) r⁸
const pair = (i: number): number[] => [...f64_const(c(i)), ...get(RED), ...f64_const(c(i + 1)), ...f64_mul, ...f64_add];
const estrin = [
  ...get(RED), ...get(RED), ...f64_mul, ...set(R2),
  ...get(R2), ...get(R2), ...f64_mul, ...set(R4),
  ...get(R4), ...get(R4), ...f64_mul, ...set(R8),
  // t0 = (q0 + q1 r²) + (q2 + q3 r²) r⁴
  ...pair(0), ...pair(2), ...get(R2), ...f64_mul, ...f64_add,
  ...pair(4), ...pair(6), ...get(R2), ...f64_mul, ...f64_add, ...get(R4), ...f64_mul, ...f64_add,
  // t1 = (q4 + q5 r²) + c12 r⁴
  ...pair(8), ...pair(10), ...get(R2), ...f64_mul, ...f64_add, ...f64_const(c(12)), ...get(R4), ...f64_mul, ...f64_add,
  ...get(R8), ...f64_mul, ...f64_add, ...set(POLY),
];

const gradientsBody = [
  ...f64_const(0), ...set(SUM_G),
  ...f64_const(0), ...set(SUM_H),
  ...get(GFIRST), ...set(GI),
  ...block,
  ...loop,
  ...get(GI), ...get(GLAST), ...ge_u, ...br_if(1),
  // s = raw[i] + leafValue[leafOf[i]]; raw[i] = s
  ...get(RAW), ...get(GI), ...i32_const(3), ...shl, ...add, ...f64_load(),
  ...get(LEAF_VALUE), ...get(LEAF_OF), ...get(GI), ...i32_const(1), ...shl, ...add, ...i32_load16_u(), ...i32_const(3), ...shl, ...add, ...f64_load(),
  ...f64_add, ...set(SCORE),
  ...get(RAW), ...get(GI), ...i32_const(3), ...shl, ...add, ...get(SCORE), ...f64_store(),
  // a = max(−|s|, lowest); kf = floor(a·invLn2 + ½); r = (a − kf·ln2Hi) − kf·ln2Lo
  ...get(SCORE), ...f64_abs, ...f64_neg, ...f64_const(EXP.lowest), ...f64_max, ...set(ARG),
  ...get(ARG), ...f64_const(EXP.invLn2), ...f64_mul, ...f64_const(0.5), ...f64_add, ...f64_floor, ...set(KF),
  ...get(ARG), ...get(KF), ...f64_const(EXP.ln2Hi), ...f64_mul, ...f64_sub, ...get(KF), ...f64_const(EXP.ln2Lo), ...f64_mul, ...f64_sub, ...set(RED),
  ...estrin,
  // e = poly · pow2[kf + tableOffset]
  ...get(POLY), ...get(POW2), ...get(KF), ...i32_trunc_f64_s, ...i32_const(EXP.tableOffset), ...add, ...i32_const(3), ...shl, ...add, ...f64_load(), ...f64_mul, ...set(EXPO),
  // p = select(1, e, s ≥ 0) / (1 + e)
  ...f64_const(1), ...get(EXPO), ...get(SCORE), ...f64_const(0), ...f64_ge, ...select, ...f64_const(1), ...get(EXPO), ...f64_add, ...f64_div, ...set(PROB),
  // g = p − y[i]; h = p·(1 − p)
  ...get(PROB), ...get(Y), ...get(GI), ...i32_const(3), ...shl, ...add, ...f64_load(), ...f64_sub, ...set(GRAD),
  ...get(GHP), ...get(GI), ...i32_const(4), ...shl, ...add, ...get(GRAD), ...f64_store(),
  ...get(GHP), ...get(GI), ...i32_const(4), ...shl, ...add, ...get(PROB), ...f64_const(1), ...get(PROB), ...f64_sub, ...f64_mul, ...f64_store(8),
  ...get(SUM_G), ...get(GRAD), ...f64_add, ...set(SUM_G),
  ...get(SUM_H), ...get(PROB), ...f64_const(1), ...get(PROB), ...f64_sub, ...f64_mul, ...f64_add, ...set(SUM_H),
  ...get(GI), ...i32_const(1), ...add, ...set(GI),
  ...br(0),
  ...end,
  ...end,
  ...get(SUMS), ...get(SUM_G), ...f64_store(),
  ...get(SUMS), ...get(SUM_H), ...f64_store(8),
];

const bytes = assembleModule([
  {
    name: "histogram",
    params: [i32, i32, i32, i32, i32, i32, i32, i32, i32],
    locals: [i32, i32, v128, i32, i32, i32, i32, i32],
    body: histogramBody,
  },
  {
    name: "logisticGradients",
    params: [i32, i32, i32, i32, i32, i32, i32, i32, i32],
    locals: [i32, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64],
    body: gradientsBody,
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

