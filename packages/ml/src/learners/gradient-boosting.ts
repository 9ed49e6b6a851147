// Histogram gradient boosting (the LightGBM / scikit-learn HistGradientBoosting design): features are
// binned once into u8; each tree grows leaf-wise (always splitting the leaf with the best gain) from
// per-node gradient/hessian histograms; a split builds the histogram of its smaller child only and
// gets the larger one by subtracting it from the parent's.
//
// Layout: bins are stored row-major with the row padded to a multiple of 4 features, so the histogram
// loop reads four bins with one u32 load and each sample's gradient once ("row-wise" histograms). Measured
// on V8 this is ~2× faster than column-major u8 bins with ordered gradients, for the root and for subsets.
// A column-major copy serves the partitions, which read one feature of a node's (ascending) rows.
// Every feature's histogram has the same width (the widest feature's bins + NaN) so the loop needs no
// per-feature offset table.
//
// Every pass over the data is a kernel mode run through ParallelChunks: binning, gradients, histogram
// chunks, the per-feature reduce/subtract/best-split, and the stable partition. Chunking depends only on
// sizes, never on the thread count, so the model is the same on one thread or several. The histogram and
// partition loops run as WebAssembly when available (histogram-wasm.ts), over arrays allocated in one
// shared WebAssembly memory; the JavaScript loops beside them give the same bits and are the fallback.
import type { LearnerName, TrainingMatrix } from "../model.js";
import { BIN_GRID, binCount, fitBins } from "./binning.js";
import { histogramModule } from "./histogram-wasm.js";
import { defaultThreads, ParallelChunks, SharedArena, sharedCopy, type WasmKernels } from "./parallel.js";
import { type FitOptions, throwIfAborted } from "./spec.js";

/** The loss boosted: binary log-loss on the logit (predictions are probabilities) or squared error. */
export type BoostingLoss = "logloss" | "squared";

/** Hyperparameters of one boosting run (the learners map Studio's names onto these). */
export interface BoostingSettings {
  readonly trees: number;
  readonly maxLeaves: number;
  readonly minSamplesPerLeaf: number;
  readonly learningRate: number;
  /** Non-missing bins per feature (≤ 255; NaN gets one more). */
  readonly maxBins: number;
  /** λ in the leaf value −ΣG / (ΣH + λ) and in the split gain. */
  readonly l2: number;
}

/**
 * A fitted ensemble, flat: node k of any tree is (feature[k], threshold[k], missingLeft[k], left[k],
 * right[k]) for a split — x ≤ threshold goes left, NaN goes left when missingLeft[k] = 1 — or
 * (feature[k] = −1, value[k]) for a leaf. Tree t's root is node treeOffsets[t].
 */
export interface Forest {
  readonly baseScore: number;
  readonly treeOffsets: Int32Array;
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly missingLeft: Uint8Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly value: Float64Array;
}

/** A split no smaller hessian sum may use (scikit-learn's min_hessian_to_split). */
const MIN_HESSIAN = 1e-3;
/** Rows per chunk of the row-wise modes (binning, gradients) and of a partition. */
const CHUNK = 32_768;
/** Samples per chunk of a histogram: small enough that mid-sized nodes still split across threads. */
const HIST_CHUNK = 16_384;
/** At most this many chunks per histogram (bounds the partial-histogram memory). */
const MAX_HIST_CHUNKS = 64;
/** Memory for the histograms kept by splittable leaves; past it, the lowest-gain leaves lose theirs. */
const HISTOGRAM_BUDGET_BYTES = 256 * 1024 * 1024;
/** Memory for per-chunk partial histograms (bounds the chunk count of one histogram). */
const PARTIAL_BUDGET_BYTES = 64 * 1024 * 1024;
/** Below this many samples × features a step runs on this thread: waking a helper costs ~50 µs. */
const PARALLEL_MIN_WORK = 200_000;

const MODE_BIN = 1;
const MODE_GRADIENTS = 2;
const MODE_HISTOGRAM = 3;
const MODE_FINISH = 4;
const MODE_PARTITION = 5;
const MODE_SCATTER = 6;
const MODE_LEAF_OF = 7;
/** Doubles per (feature, child) split candidate: gain, bin, missingLeft, ΣG, ΣH, count (left side), valid. */
const CANDIDATE = 8;

/** Shared buffers of the boosting kernel. */
type BoostingViews = {
  readonly x: Float64Array;
  readonly thresholds: Float64Array;
  readonly binOffsets: Int32Array;
  readonly grid: Uint8Array;
  readonly gridScale: Float64Array;
  /** Row-major bins, rows padded to `stride` (a multiple of 4) features; `bins32` is the same memory. */
  readonly bins: Uint8Array;
  readonly bins32: Uint32Array;
  /** Column-major bins: feature j of row i at j·rows + i. */
  readonly columns: Uint8Array;
  /** Sample indices, grouped by tree node (each node owns a range, ascending within it). */
  readonly idx: Uint32Array;
  /** Partition scratch: per chunk, its left-going / right-going samples at the chunk's own positions. */
  readonly goLeft: Uint32Array;
  readonly goRight: Uint32Array;
  /** Per partition chunk: [left count, right count]. */
  readonly partitionCounts: Int32Array;
  /** Per row, interleaved: gradient, hessian (1 for squared error, so ΣH is the count). */
  readonly gh: Float64Array;
  readonly raw: Float64Array;
  readonly y: Float64Array;
  /** Per gradient chunk: [ΣG, ΣH]. */
  readonly sums: Float64Array;
  /** The previous tree's leaves in position order: end position and value of each. */
  readonly leafEnd: Int32Array;
  readonly leafValue: Float64Array;
  /** Per row: its leaf (index into leafValue) in the previous tree. */
  readonly leafOf: Uint16Array;
  /** 2^k at k + 1100, k in [−1100, 0]: the scale step of the gradients' exp. */
  readonly pow2: Float64Array;
  /** Histogram slots, and per-chunk partial histograms: per feature, (bins + 1) × [ΣG, ΣH, count, unused]. */
  readonly hist: Float64Array;
  readonly partial: Float64Array;
  /** Per feature: non-missing bin count (its NaN bin has this index). */
  readonly binCounts: Int32Array;
  /** Per feature: best split of the small child, then of the large child (CANDIDATE doubles each). */
  readonly candidates: Float64Array;
};

// Kernel arguments (`args`).
const A_MODE = 0;
const A_ROWS = 1;
const A_FEATURES = 2;
const A_LOSS = 3; // 0 logloss, 1 squared
const A_STRIDE = 4; // padded features per row
const A_SLOT_SIZE = 5;
const A_START = 6; // node range [start, end)
const A_END = 7;
const A_SLOT = 8; // slot receiving the (small) node's histogram
const A_PARENT_SLOT = 9; // −1: no subtraction
const A_SPLIT_SMALL = 10;
const A_SPLIT_LARGE = 11;
const A_SMALL_SUMS = 12; // ΣG ΣH count of the small node (12-14), then of the large node (15-17)
const A_MIN_LEAF = 18;
const A_MIN_HESSIAN = 19;
const A_LAMBDA = 20;
const A_CHUNKS = 21; // chunks of the current histogram / partition
const A_CHUNK_SIZE = 22;
const A_ROOT = 23; // 1: positions are row numbers (no idx)
const A_LEAVES = 24; // leaves of the previous tree (MODE_GRADIENTS)
const A_SPLIT_FEATURE = 25;
const A_SPLIT_BIN = 26;
const A_NAN_LEFT = 27;
const A_LEFT_TOTAL = 28;
const A_ROW_CHUNK = 29; // rows per chunk of MODE_BIN / MODE_GRADIENTS
const A_GRID = 30; // cells of the binning grid
const A_WIDTH = 31; // doubles per feature histogram: (widest bins + NaN) × 4
const ARGS = 32;

/**
 * The boosting kernel; `a[0]` selects the mode and `chunk` is a row block, a histogram / partition chunk
 * or a feature. Self-contained (helper threads rebuild it from its source), so the argument slots are
 * literal numbers here: see the A_* constants above.
 */
function boostingChunk(chunk: number, v: BoostingViews, a: Float64Array, wasm: WasmKernels | undefined): void {
  const mode = (a[0] as number) | 0;
  const rows = (a[1] as number) | 0;
  const features = (a[2] as number) | 0;
  const stride = (a[4] as number) | 0;
  // Local aliases: a global lookup per use is slow in vm contexts (jest).
  const { abs, floor, max, min } = Math;
  if (mode === 1) binRows();
  else if (mode === 2) gradients();
  else if (mode === 7) leafOfRows();
  else if (mode === 3) histogramChunk();
  else if (mode === 4) finishFeature();
  else partitionChunk();

  function binRows(): void {
    // Binning: bin of x is the count of thresholds < x, found from a grid cell then stepped exactly.
    const x = v.x;
    const t = v.thresholds;
    const bins = v.bins;
    const columns = v.columns;
    const grid = (a[30] as number) | 0;
    const first = chunk * ((a[29] as number) | 0);
    const last = min(rows, first + ((a[29] as number) | 0));
    for (let i = first; i < last; i++) {
      const xb = i * features;
      const bb = i * stride;
      for (let j = 0; j < features; j++) {
        const value = x[xb + j] as number;
        const start = v.binOffsets[j] as number;
        const count = (v.binOffsets[j + 1] as number) - start;
        let b: number;
        if (value !== value) b = count + 1;
        else if (count === 0 || value <= (t[start] as number)) b = 0;
        else if (value > (t[start + count - 1] as number)) b = count;
        else {
          let cell = floor((value - (v.gridScale[2 * j] as number)) * (v.gridScale[2 * j + 1] as number));
          if (cell >= grid) cell = grid - 1;
          b = v.grid[j * grid + cell] as number;
          while (b < count && (t[start + b] as number) < value) b++;
          while (b > 0 && (t[start + b - 1] as number) >= value) b--;
        }
        bins[bb + j] = b;
        columns[j * rows + i] = b;
      }
    }
  }

  function leafOfRows(): void {
    // Record each row's leaf in the tree just grown (positions are grouped by leaf), and reset idx for
    // the next tree. Separate from the gradients so those then run over rows in order, not scattered.
    const first = chunk * ((a[29] as number) | 0);
    const last = min(rows, first + ((a[29] as number) | 0));
    const idx = v.idx;
    const leafOf = v.leafOf;
    const leafEnd = v.leafEnd;
    let leaf = 0;
    while ((leafEnd[leaf] as number) <= first) leaf++;
    for (let k = first; k < last; k++) {
      while ((leafEnd[leaf] as number) <= k) leaf++;
      leafOf[idx[k] as number] = leaf;
      idx[k] = k;
    }
  }

  function gradients(): void {
    // Add the last tree's leaf values to the raw scores, then the loss gradients and hessians. Log-loss
    // runs as WebAssembly when available; the loop below is the same computation, operation for operation
    // (including its own exp: see EXP in histogram-wasm.ts), so both paths give the same bits.
    const first = chunk * ((a[29] as number) | 0);
    const last = min(rows, first + ((a[29] as number) | 0));
    const raw = v.raw;
    const y = v.y;
    const gh = v.gh;
    const leafOf = v.leafOf;
    const leafValue = v.leafValue;
    const logloss = a[3] === 0;
    if (logloss && wasm !== undefined) {
      const logisticGradients = wasm.logisticGradients as (...args: number[]) => void;
      const sums = v.sums;
      logisticGradients(raw.byteOffset, y.byteOffset, leafOf.byteOffset, leafValue.byteOffset, gh.byteOffset, v.pow2.byteOffset, first, last, sums.byteOffset + 16 * chunk);
      return;
    }
    const pow2 = v.pow2;
    let sumG = 0;
    let sumH = 0;
    for (let i = first; i < last; i++) {
      const score = (raw[i] as number) + (leafValue[leafOf[i] as number] as number);
      raw[i] = score;
      let gi: number;
      let hi: number;
      if (logloss) {
        // e = exp(−|score|): range reduction, degree-12 Taylor polynomial, 2^k from a table.
        const arg = max(-abs(score), -708);
        const kf = floor(arg * 1.4426950408889634 + 0.5);
        const r = arg - kf * 6.9314718036912381649e-1 - kf * 1.90821492927058770002e-10;
        // Estrin's scheme, grouped exactly as the WebAssembly kernel groups it.
        const r2 = r * r;
        const r4 = r2 * r2;
        const r8 = r4 * r4;
        const t0 = 1 + r * 1 + (1 / 2 + r * (1 / 6)) * r2 + (1 / 24 + r * (1 / 120) + (1 / 720 + r * (1 / 5040)) * r2) * r4;
        const t1 = 1 / 40320 + r * (1 / 362880) + (1 / 3628800 + r * (1 / 39916800)) * r2 + (1 / 479001600) * r4;
        const poly = t0 + t1 * r8;
        const e = poly * (pow2[kf + 1100] as number);
        const p = (score >= 0 ? 1 : e) / (1 + e);
        gi = p - (y[i] as number);
        hi = p * (1 - p);
      } else {
        gi = score - (y[i] as number);
        hi = 1;
      }
      gh[2 * i] = gi;
      gh[2 * i + 1] = hi;
      sumG += gi;
      sumH += hi;
    }
    v.sums[2 * chunk] = sumG;
    v.sums[2 * chunk + 1] = sumH;
  }

  function histogramChunk(): void {
    // One chunk of a node's histogram, row-wise: each sample's (g, h) is loaded once, its bins four at a
    // time (one u32). WebAssembly when available; this loop otherwise (same operations, same order).
    const slotSize = (a[5] as number) | 0;
    const chunks = (a[21] as number) | 0;
    const hist = chunks === 1 ? v.hist : v.partial;
    const out = chunks === 1 ? ((a[8] as number) | 0) * slotSize : chunk * slotSize;
    hist.fill(0, out, out + slotSize);
    const first = ((a[6] as number) | 0) + chunk * ((a[22] as number) | 0);
    const last = min((a[7] as number) | 0, first + ((a[22] as number) | 0));
    const width = (a[31] as number) | 0;
    const root = a[23] === 1;
    const idx = v.idx;
    const bins32 = v.bins32;
    const gh = v.gh;
    if (wasm !== undefined) {
      const histogram = wasm.histogram as (...args: number[]) => void;
      histogram(gh.byteOffset, bins32.byteOffset, idx.byteOffset, root ? 0 : 1, first, last, stride >> 2, hist.byteOffset + 8 * out, 8 * width);
      return;
    }
    const end = out + stride * width;
    for (let k = first; k < last; k++) {
      const i = root ? k : (idx[k] as number);
      const gi = gh[2 * i] as number;
      const hi = gh[2 * i + 1] as number;
      let q = i * (stride >> 2);
      for (let base = out; base < end; base += 4 * width, q++) {
        const w = bins32[q] as number;
        let p = base + (w & 255) * 4;
        hist[p] = (hist[p] as number) + gi;
        hist[p + 1] = (hist[p + 1] as number) + hi;
        hist[p + 2] = (hist[p + 2] as number) + 1;
        p = base + width + ((w >>> 8) & 255) * 4;
        hist[p] = (hist[p] as number) + gi;
        hist[p + 1] = (hist[p + 1] as number) + hi;
        hist[p + 2] = (hist[p + 2] as number) + 1;
        p = base + 2 * width + ((w >>> 16) & 255) * 4;
        hist[p] = (hist[p] as number) + gi;
        hist[p + 1] = (hist[p + 1] as number) + hi;
        hist[p + 2] = (hist[p + 2] as number) + 1;
        p = base + 3 * width + (w >>> 24) * 4;
        hist[p] = (hist[p] as number) + gi;
        hist[p + 1] = (hist[p + 1] as number) + hi;
        hist[p + 2] = (hist[p + 2] as number) + 1;
      }
    }
  }

  function finishFeature(): void {
    // One feature: sum the chunk histograms (in chunk order), subtract for the large sibling, best splits.
    const feature = chunk;
    const hist = v.hist;
    const slotSize = (a[5] as number) | 0;
    const bc = v.binCounts[feature] as number;
    const width = (bc + 1) * 4;
    const fo = feature * ((a[31] as number) | 0);
    const off = ((a[8] as number) | 0) * slotSize + fo;
    const chunks = (a[21] as number) | 0;
    if (chunks > 1) {
      const partial = v.partial;
      for (let k = 0; k < width; k++) hist[off + k] = partial[fo + k] as number;
      for (let c = 1; c < chunks; c++) {
        const po = c * slotSize + fo;
        for (let k = 0; k < width; k++) hist[off + k] = (hist[off + k] as number) + (partial[po + k] as number);
      }
    }
    const parentSlot = (a[9] as number) | 0;
    const offLarge = parentSlot * slotSize + fo;
    if (parentSlot >= 0) {
      for (let k = 0; k < width; k++) hist[offLarge + k] = (hist[offLarge + k] as number) - (hist[off + k] as number);
    }
    const minLeaf = a[18] as number;
    const minHessian = a[19] as number;
    const lambda = a[20] as number;
    const cand = v.candidates;
    for (let child = 0; child < 2; child++) {
      const c0 = (feature * 2 + child) * 8;
      cand[c0] = 0;
      cand[c0 + 6] = 0;
      if (a[10 + child] !== 1) continue;
      const o = child === 0 ? off : offLarge;
      const G = a[12 + 3 * child] as number;
      const H = a[13 + 3 * child] as number;
      const C = a[14 + 3 * child] as number;
      const parentScore = (G * G) / (H + lambda);
      const missG = hist[o + bc * 4] as number;
      const missH = hist[o + bc * 4 + 1] as number;
      const missC = hist[o + bc * 4 + 2] as number;
      let best = 0;
      // Pass 0: NaN goes right (split after bin 0 … bc−2, or bc−1 = "every non-missing value left" when the
      // node has NaN). Pass 1, only when the node has NaN: NaN goes left.
      for (let pass = 0; pass < (missC > 0 ? 2 : 1); pass++) {
        let gl = pass === 0 ? 0 : missG;
        let hl = pass === 0 ? 0 : missH;
        let cl = pass === 0 ? 0 : missC;
        const lastBin = pass === 0 && missC > 0 ? bc - 1 : bc - 2;
        for (let b = 0; b <= lastBin; b++) {
          const p = o + b * 4;
          gl += hist[p] as number;
          hl += hist[p + 1] as number;
          cl += hist[p + 2] as number;
          if (cl < minLeaf) continue;
          const cr = C - cl;
          if (cr < minLeaf) break;
          const hr = H - hl;
          if (hl < minHessian || hr < minHessian) continue;
          const gr = G - gl;
          const gain = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parentScore;
          if (gain > best) {
            best = gain;
            cand[c0] = gain;
            cand[c0 + 1] = b;
            // With no NaN at this node, route future NaN to the larger side (as scikit-learn does).
            cand[c0 + 2] = pass === 1 ? 1 : missC > 0 ? 0 : cl >= cr ? 1 : 0;
            cand[c0 + 3] = gl;
            cand[c0 + 4] = hl;
            cand[c0 + 5] = cl;
            cand[c0 + 6] = 1;
          }
        }
      }
    }
  }

  function partitionChunk(): void {
    // Modes 5 and 6: a stable partition of the node's range, chunk by chunk: each chunk first splits its
    // samples into goLeft / goRight at its own positions (5), then copies them to their final places (6).
    const size = (a[22] as number) | 0;
    const first = ((a[6] as number) | 0) + chunk * size;
    const last = min(((a[7] as number) | 0), first + size);
    const idx = v.idx;
    const goLeft = v.goLeft;
    const goRight = v.goRight;
    if (mode === 5) {
      const columns = v.columns;
      const j = (a[25] as number) | 0;
      const col = j * rows;
      const thresholdBin = (a[26] as number) | 0;
      const nanBin = v.binCounts[j] as number;
      const nanLeft = (a[27] as number) | 0;
      if (wasm !== undefined) {
        const partition = wasm.partition as (...args: number[]) => number;
        const left = partition(idx.byteOffset, columns.byteOffset, goLeft.byteOffset, goRight.byteOffset, first, last, col, thresholdBin, nanBin, nanLeft);
        v.partitionCounts[2 * chunk] = left;
        v.partitionCounts[2 * chunk + 1] = last - first - left;
        return;
      }
      let l = first;
      let r = first;
      for (let k = first; k < last; k++) {
        const i = idx[k] as number;
        const b = columns[col + i] as number;
        const left = b === nanBin ? nanLeft : b <= thresholdBin ? 1 : 0;
        goLeft[l] = i;
        goRight[r] = i;
        l += left;
        r += 1 - left;
      }
      v.partitionCounts[2 * chunk] = l - first;
      v.partitionCounts[2 * chunk + 1] = r - first;
      return;
    }
    let leftAt = (a[6] as number) | 0;
    let rightAt = ((a[6] as number) | 0) + ((a[28] as number) | 0);
    for (let c = 0; c < chunk; c++) {
      leftAt += v.partitionCounts[2 * c] as number;
      rightAt += v.partitionCounts[2 * c + 1] as number;
    }
    const nl = v.partitionCounts[2 * chunk] as number;
    const nr = v.partitionCounts[2 * chunk + 1] as number;
    idx.set(goLeft.subarray(first, first + nl), leftAt);
    idx.set(goRight.subarray(first, first + nr), rightAt);
  }
}

/** A leaf of the tree being grown. */
interface GrowingLeaf {
  node: number;
  start: number;
  end: number;
  sumG: number;
  sumH: number;
  count: number;
  /** Histogram slot, or −1 when this leaf will not be split. */
  slot: number;
  /** Best split (gain > 0), or undefined. */
  split: Split | undefined;
}

interface Split {
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
  /** ΣG, ΣH and count of the left side. */
  sumG: number;
  sumH: number;
  count: number;
}

/** A forest and the raw scores it gives the training rows (for consistency checks). */
export interface TrainedForest {
  readonly forest: Forest;
  /** Raw score (before any sigmoid) of every training row, accumulated during training. */
  readonly trainingScores: Float64Array;
}

/**
 * Trains a forest on `m` with `loss`; checks `options.signal` at every tree and split. `useWasm: false`
 * forces the JavaScript histogram loop (tests compare both paths; they must agree bit for bit).
 */
export function trainForest(
  learner: LearnerName,
  m: TrainingMatrix,
  loss: BoostingLoss,
  settings: BoostingSettings,
  options: FitOptions,
  { useWasm = true }: { useWasm?: boolean } = {},
): TrainedForest {
  const { rows, features: f } = m;
  const { trees, maxLeaves, minSamplesPerLeaf: minLeaf, learningRate, l2 } = settings;
  const threads = options.threads ?? defaultThreads();
  const parallel = threads > 1 && rows * f >= PARALLEL_MIN_WORK;
  const alloc = (bytes: number): ArrayBuffer | SharedArrayBuffer =>
    parallel ? new SharedArrayBuffer(Math.max(8, bytes)) : new ArrayBuffer(Math.max(8, bytes));

  const mapper = fitBins(m, settings.maxBins, options.seed);
  throwIfAborted(learner, options.signal);
  const stride = Math.ceil(f / 4) * 4;
  const binCounts = new Int32Array(alloc(4 * f));
  let widest = 1;
  for (let j = 0; j < f; j++) {
    binCounts[j] = binCount(mapper, j);
    widest = Math.max(widest, binCounts[j] as number);
  }
  // Padding features (always bin 0) get a histogram that nothing reads.
  const width = (widest + 1) * 4;
  const slotSize = stride * width;
  const slotBytes = 8 * slotSize;
  const histChunksMax = Math.max(1, Math.min(MAX_HIST_CHUNKS, Math.ceil(rows / HIST_CHUNK), Math.floor(PARTIAL_BUDGET_BYTES / slotBytes)));
  // A splittable leaf keeps its histogram until it is split: maxLeaves of them plus one being built, within
  // the budget (at least 3: a parent and two children being built directly).
  const slots = Math.max(3, Math.min(maxLeaves + 1, Math.floor(HISTOGRAM_BUDGET_BYTES / slotBytes)));
  const rowChunks = Math.ceil(rows / CHUNK);
  // The arrays the WebAssembly histogram reads and writes live in one shared memory (when it fits).
  const module = useWasm ? histogramModule() : null;
  const arena =
    module === null
      ? undefined
      : SharedArena.create(
          SharedArena.bytesFor([
            rows * stride, rows * f, 4 * rows, 4 * rows, 4 * rows, 16 * rows, 8 * slots * slotSize, 8 * histChunksMax * slotSize,
            8 * rows, 8 * rows, 2 * rows, 8 * maxLeaves, 8 * POW2_ENTRIES, 16 * rowChunks,
          ]),
        );
  const bins = arena !== undefined ? arena.u8(rows * stride) : new Uint8Array(alloc(rows * stride));
  const copyInto = <T extends Float64Array | Int32Array | Uint8Array>(target: T, source: ArrayLike<number>): T => {
    target.set(source);
    return target;
  };
  const views: BoostingViews = {
    x: parallel ? sharedCopy(m.x) : m.x,
    thresholds: copyInto(new Float64Array(alloc(mapper.thresholds.byteLength)), mapper.thresholds),
    binOffsets: copyInto(new Int32Array(alloc(mapper.offsets.byteLength)), mapper.offsets),
    grid: copyInto(new Uint8Array(alloc(mapper.grid.byteLength)), mapper.grid),
    gridScale: copyInto(new Float64Array(alloc(mapper.gridScale.byteLength)), mapper.gridScale),
    bins,
    bins32: new Uint32Array(bins.buffer, bins.byteOffset, (rows * stride) / 4),
    columns: arena !== undefined ? arena.u8(rows * f) : new Uint8Array(alloc(rows * f)),
    idx: arena !== undefined ? arena.u32(rows) : new Uint32Array(alloc(4 * rows)),
    goLeft: arena !== undefined ? arena.u32(rows) : new Uint32Array(alloc(4 * rows)),
    goRight: arena !== undefined ? arena.u32(rows) : new Uint32Array(alloc(4 * rows)),
    partitionCounts: new Int32Array(alloc(8 * rowChunks)),
    gh: arena !== undefined ? arena.f64(2 * rows) : new Float64Array(alloc(16 * rows)),
    raw: arena !== undefined ? arena.f64(rows) : new Float64Array(alloc(8 * rows)),
    y: copyInto(arena !== undefined ? arena.f64(rows) : new Float64Array(alloc(8 * rows)), m.y),
    sums: arena !== undefined ? arena.f64(2 * rowChunks) : new Float64Array(alloc(16 * rowChunks)),
    leafEnd: new Int32Array(alloc(4 * maxLeaves)),
    leafValue: arena !== undefined ? arena.f64(maxLeaves) : new Float64Array(alloc(8 * maxLeaves)),
    leafOf: arena !== undefined ? arena.u16(rows) : new Uint16Array(alloc(2 * rows)),
    pow2: copyInto(arena !== undefined ? arena.f64(POW2_ENTRIES) : new Float64Array(alloc(8 * POW2_ENTRIES)), powersOfTwo()),
    hist: arena !== undefined ? arena.f64(slots * slotSize) : new Float64Array(alloc(8 * slots * slotSize)),
    partial: arena !== undefined ? arena.f64(histChunksMax * slotSize) : new Float64Array(alloc(8 * histChunksMax * slotSize)),
    binCounts,
    candidates: new Float64Array(alloc(8 * f * 2 * CANDIDATE)),
  };
  const pool = new ParallelChunks(boostingChunk, views, {
    threads: parallel ? threads : 1,
    argsLength: ARGS,
    maxChunks: Math.max(stride, rowChunks, histChunksMax),
    wasm: arena !== undefined && module !== null ? { module, memory: arena.memory } : undefined,
  });
  try {
    const a = pool.args;
    a[A_ROWS] = rows;
    a[A_FEATURES] = f;
    a[A_LOSS] = loss === "logloss" ? 0 : 1;
    a[A_STRIDE] = stride;
    a[A_SLOT_SIZE] = slotSize;
    a[A_MIN_LEAF] = minLeaf;
    a[A_MIN_HESSIAN] = loss === "logloss" ? MIN_HESSIAN : 0;
    a[A_LAMBDA] = l2;
    a[A_ROW_CHUNK] = CHUNK;
    a[A_GRID] = BIN_GRID;
    a[A_WIDTH] = width;
    a[A_MODE] = MODE_BIN;
    pool.run(rowChunks);
    return grow(pool, views, a);
  } finally {
    pool.close();
  }

  function grow(pool: ParallelChunks<BoostingViews>, v: BoostingViews, a: Float64Array): TrainedForest {
    const { idx, raw, candidates } = v;
    const baseScore = initialScore(loss, m.y);
    raw.fill(baseScore);
    // The "previous tree" of the first one: one leaf over every row, value 0, idx = identity.
    for (let i = 0; i < rows; i++) idx[i] = i;
    v.leafEnd[0] = rows;
    v.leafValue[0] = 0;
    let previousLeaves = 1;

    const maxNodes = trees * (2 * maxLeaves - 1);
    const feature = new Int32Array(maxNodes);
    const threshold = new Float64Array(maxNodes);
    const missingLeft = new Uint8Array(maxNodes);
    const left = new Int32Array(maxNodes);
    const right = new Int32Array(maxNodes);
    const value = new Float64Array(maxNodes);
    const treeOffsets = new Int32Array(trees + 1);
    let nodeCount = 0;
    const freeSlots: number[] = [];

    for (let t = 0; t < trees; t++) {
      throwIfAborted(learner, options.signal);
      a[A_LEAVES] = previousLeaves;
      a[A_MODE] = MODE_LEAF_OF;
      pool.run(rowChunks);
      a[A_MODE] = MODE_GRADIENTS;
      pool.run(rowChunks);
      let sumG = 0;
      let sumH = 0;
      for (let c = 0; c < rowChunks; c++) {
        sumG += v.sums[2 * c] as number;
        sumH += v.sums[2 * c + 1] as number;
      }
      freeSlots.length = 0;
      for (let s = slots - 1; s >= 0; s--) freeSlots.push(s);

      const root = nodeCount++;
      treeOffsets[t] = root;
      feature[root] = -1;
      const rootLeaf: GrowingLeaf = { node: root, start: 0, end: rows, sumG, sumH, count: rows, slot: -1, split: undefined };
      const leaves: GrowingLeaf[] = [rootLeaf];
      if (canSplit(rootLeaf)) {
        rootLeaf.slot = takeSlot(leaves);
        histogram(rootLeaf, -1, true, false, rootLeaf, true);
        rootLeaf.split = bestSplit(0);
        if (rootLeaf.split === undefined) freeSlot(rootLeaf);
      }

      while (leaves.length < maxLeaves) {
        let chosen: GrowingLeaf | undefined;
        for (const leaf of leaves) {
          if (leaf.split !== undefined && (chosen?.split === undefined || leaf.split.gain > chosen.split.gain)) chosen = leaf;
        }
        if (chosen?.split === undefined) break;
        throwIfAborted(learner, options.signal);
        const split = chosen.split;
        const nodeId = chosen.node;
        feature[nodeId] = split.feature;
        threshold[nodeId] = thresholdOf(split.feature, split.bin);
        missingLeft[nodeId] = split.missingLeft ? 1 : 0;
        const leftCount = partition(chosen, split);

        const leftLeaf: GrowingLeaf = {
          node: nodeCount++,
          start: chosen.start,
          end: chosen.start + leftCount,
          sumG: split.sumG,
          sumH: split.sumH,
          count: leftCount,
          slot: -1,
          split: undefined,
        };
        const rightLeaf: GrowingLeaf = {
          node: nodeCount++,
          start: chosen.start + leftCount,
          end: chosen.end,
          sumG: chosen.sumG - split.sumG,
          sumH: chosen.sumH - split.sumH,
          count: chosen.count - leftCount,
          slot: -1,
          split: undefined,
        };
        left[nodeId] = leftLeaf.node;
        right[nodeId] = rightLeaf.node;
        feature[leftLeaf.node] = -1;
        feature[rightLeaf.node] = -1;
        leaves.splice(leaves.indexOf(chosen), 1, leftLeaf, rightLeaf);

        // Children may split only if the tree can still grow after this split.
        const grows = leaves.length < maxLeaves;
        const small = leftLeaf.count <= rightLeaf.count ? leftLeaf : rightLeaf;
        const large = small === leftLeaf ? rightLeaf : leftLeaf;
        const splitSmall = grows && canSplit(small);
        const splitLarge = grows && canSplit(large);
        const parentSlot = chosen.slot;
        chosen.slot = -1;
        if (!splitSmall && !splitLarge) {
          if (parentSlot >= 0) freeSlots.push(parentSlot);
          continue;
        }
        small.slot = takeSlot(leaves);
        if (parentSlot >= 0 || !splitLarge) {
          // The usual way: build the small child, get the large one by subtraction from the parent.
          histogram(small, splitLarge ? parentSlot : -1, splitSmall, splitLarge, large, false);
          if (parentSlot >= 0) large.slot = parentSlot;
          if (splitSmall) small.split = bestSplit(0);
          if (splitLarge) large.split = bestSplit(1);
        } else {
          // The parent's histogram was evicted (memory budget): build both children directly.
          histogram(small, -1, splitSmall, false, small, false);
          if (splitSmall) small.split = bestSplit(0);
          large.slot = takeSlot(leaves);
          histogram(large, -1, true, false, large, false);
          large.split = bestSplit(0);
        }
        freeSlot(small);
        freeSlot(large);
      }

      // Leaves in position order: the next MODE_GRADIENTS walks positions and adds each leaf's value.
      leaves.sort((p, q) => p.start - q.start);
      for (let k = 0; k < leaves.length; k++) {
        const leaf = leaves[k] as GrowingLeaf;
        const val = (-learningRate * leaf.sumG) / (leaf.sumH + l2);
        value[leaf.node] = val;
        v.leafEnd[k] = leaf.end;
        v.leafValue[k] = val;
      }
      previousLeaves = leaves.length;
      treeOffsets[t + 1] = nodeCount;
      options.onProgress?.((t + 1) / trees);
    }
    // Fold the last tree into the raw scores (gradients computed on the way are not needed).
    a[A_MODE] = MODE_LEAF_OF;
    pool.run(rowChunks);
    a[A_MODE] = MODE_GRADIENTS;
    pool.run(rowChunks);
    const trainingScores = Float64Array.from(raw);
    return {
      trainingScores,
      forest: {
        baseScore,
        treeOffsets,
        feature: feature.slice(0, nodeCount),
        threshold: threshold.slice(0, nodeCount),
        missingLeft: missingLeft.slice(0, nodeCount),
        left: left.slice(0, nodeCount),
        right: right.slice(0, nodeCount),
        value: value.slice(0, nodeCount),
      },
    };

    function canSplit(leaf: GrowingLeaf): boolean {
      return leaf.count >= 2 * minLeaf && leaf.sumH >= 2 * (a[A_MIN_HESSIAN] as number);
    }

    /**
     * A free histogram slot; when none is left (memory budget), the one of the splittable leaf with the
     * lowest gain: that leaf keeps its split and gets its children's histograms built directly later.
     */
    function takeSlot(leaves: GrowingLeaf[]): number {
      const free = freeSlots.pop();
      if (free !== undefined) return free;
      let victim: GrowingLeaf | undefined;
      for (const leaf of leaves) {
        if (leaf.slot >= 0 && leaf.split !== undefined && (victim?.split === undefined || leaf.split.gain < victim.split.gain)) victim = leaf;
      }
      if (victim === undefined) throw new RangeError("no histogram slot available");
      const slot = victim.slot;
      victim.slot = -1;
      return slot;
    }

    /** Returns a leaf's slot to the pool when it has no split to make. */
    function freeSlot(leaf: GrowingLeaf): void {
      if (leaf.split === undefined && leaf.slot >= 0) {
        freeSlots.push(leaf.slot);
        leaf.slot = -1;
      }
    }

    /**
     * Builds `node`'s histogram into `slot` (chunked; chunk count from the size only), subtracts it from
     * `parentSlot` for the large sibling when given, and finds the best split of each requested node.
     */
    function histogram(node: GrowingLeaf, parentSlot: number, splitSmall: boolean, splitLarge: boolean, large: GrowingLeaf, root: boolean): void {
      const size = node.end - node.start;
      const chunks = Math.max(1, Math.min(histChunksMax, Math.ceil(size / HIST_CHUNK)));
      a[A_START] = node.start;
      a[A_END] = node.end;
      a[A_SLOT] = node.slot;
      a[A_PARENT_SLOT] = parentSlot;
      a[A_SPLIT_SMALL] = splitSmall ? 1 : 0;
      a[A_SPLIT_LARGE] = splitLarge ? 1 : 0;
      a[A_SMALL_SUMS] = node.sumG;
      a[A_SMALL_SUMS + 1] = node.sumH;
      a[A_SMALL_SUMS + 2] = node.count;
      a[A_SMALL_SUMS + 3] = large.sumG;
      a[A_SMALL_SUMS + 4] = large.sumH;
      a[A_SMALL_SUMS + 5] = large.count;
      a[A_CHUNKS] = chunks;
      a[A_CHUNK_SIZE] = Math.ceil(size / chunks);
      a[A_ROOT] = root ? 1 : 0;
      a[A_MODE] = MODE_HISTOGRAM;
      pool.run(chunks, size * f >= PARALLEL_MIN_WORK);
      a[A_MODE] = MODE_FINISH;
      pool.run(f, size * f >= PARALLEL_MIN_WORK);
    }

    /** Stable partition of `node`'s range by `split`; returns the left count. */
    function partition(node: GrowingLeaf, split: Split): number {
      const size = node.end - node.start;
      const chunks = Math.ceil(size / CHUNK);
      a[A_START] = node.start;
      a[A_END] = node.end;
      a[A_CHUNK_SIZE] = CHUNK;
      a[A_SPLIT_FEATURE] = split.feature;
      a[A_SPLIT_BIN] = split.bin;
      a[A_NAN_LEFT] = split.missingLeft ? 1 : 0;
      a[A_MODE] = MODE_PARTITION;
      const inParallel = size >= 2 * CHUNK;
      pool.run(chunks, inParallel);
      let leftCount = 0;
      for (let c = 0; c < chunks; c++) leftCount += v.partitionCounts[2 * c] as number;
      a[A_LEFT_TOTAL] = leftCount;
      a[A_MODE] = MODE_SCATTER;
      pool.run(chunks, inParallel);
      return leftCount;
    }

    /** The best split over features of the small (0) or large (1) node; the lowest feature wins ties. */
    function bestSplit(child: 0 | 1): Split | undefined {
      let best: Split | undefined;
      for (let j = 0; j < f; j++) {
        const o = (j * 2 + child) * CANDIDATE;
        if (candidates[o + 6] !== 1) continue;
        const gain = candidates[o] as number;
        if (best !== undefined && !(gain > best.gain)) continue;
        best = {
          gain,
          feature: j,
          bin: candidates[o + 1] as number,
          missingLeft: candidates[o + 2] === 1,
          sumG: candidates[o + 3] as number,
          sumH: candidates[o + 4] as number,
          count: candidates[o + 5] as number,
        };
      }
      return best;
    }
  }

  /** The raw threshold of "bin ≤ b" on feature j; +∞ when every non-missing value goes left. */
  function thresholdOf(j: number, b: number): number {
    const start = mapper.offsets[j] as number;
    const end = mapper.offsets[j + 1] as number;
    return start + b < end ? (mapper.thresholds[start + b] as number) : Infinity;
  }
}

/** Entries of the 2^k table of the gradients' exp (k from −1100 to 0). */
const POW2_ENTRIES = 1101;

function powersOfTwo(): Float64Array {
  return Float64Array.from({ length: POW2_ENTRIES }, (_, k) => 2 ** (k - 1100));
}

/** The constant model boosting starts from: the log-odds of the positive rate, or the mean. */
function initialScore(loss: BoostingLoss, y: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum += y[i] as number;
  const mean = sum / y.length;
  if (loss === "squared") return mean;
  const p = Math.min(Math.max(mean, 1e-15), 1 - 1e-15);
  return Math.log(p / (1 - p));
}

/**
 * Raw scores (base + Σ tree leaves, in tree order — the order training accumulated them) of `rows`
 * row-major rows into `out`; a sigmoid on top for log-loss. No allocation: one walk per row and tree.
 */
export function predictForest(forest: Forest, features: number, loss: BoostingLoss, x: Float64Array, rows: number, out: Float64Array): void {
  const { treeOffsets, feature, threshold, missingLeft, left, right, value, baseScore } = forest;
  const trees = treeOffsets.length - 1;
  for (let i = 0, base = 0; i < rows; i++, base += features) {
    let sum = baseScore;
    for (let t = 0; t < trees; t++) {
      let node = treeOffsets[t] as number;
      let j = feature[node] as number;
      while (j >= 0) {
        const xv = x[base + j] as number;
        node = xv <= (threshold[node] as number) || (xv !== xv && missingLeft[node] === 1) ? (left[node] as number) : (right[node] as number);
        j = feature[node] as number;
      }
      sum += value[node] as number;
    }
    out[i] = loss === "logloss" ? 1 / (1 + Math.exp(-sum)) : sum;
  }
}
