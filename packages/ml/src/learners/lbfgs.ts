// Limited-memory BFGS (Nocedal & Wright, Algorithm 7.4/7.5) and its orthant-wise variant OWL-QN
// (Andrew & Gao, ICML 2007) for objectives f(x) + Σ c_j |x_j| with smooth f. Everything works in
// preallocated Float64Arrays: one iteration allocates nothing, so the cost is the objective's sweep.

/** A smooth function to minimise, evaluated together with its gradient in one pass. */
export interface DifferentiableObjective {
  readonly dimension: number;
  /** Returns f(x) and writes ∇f(x) into `gradient` (length `dimension`). */
  evaluate(x: Float64Array, gradient: Float64Array): number;
}

/** Options of {@link minimizeLbfgs}. */
export interface LbfgsOptions {
  /** Number of (s, y) correction pairs kept. */
  readonly memory: number;
  /**
   * Stop when the mean relative decrease of the objective over the last 5 iterations falls below this
   * (the criterion TLC / ML.NET's L-BFGS uses for Studio's "Optimization tolerance").
   */
  readonly tolerance: number;
  /** Hard cap on iterations. */
  readonly maxIterations: number;
  /** Per-coordinate L1 weights c_j ≥ 0; when any is positive the orthant-wise (OWL-QN) steps are used. */
  readonly l1?: Float64Array;
  /** Called after every iteration (abort checks, progress); throwing stops the optimisation. */
  readonly onIteration?: (iteration: number, value: number) => void;
}

/** What {@link minimizeLbfgs} found. */
export interface LbfgsResult {
  /** The minimiser (a new array; `x0` is left unchanged). */
  readonly x: Float64Array;
  /** Objective at `x`, L1 term included. */
  readonly value: number;
  readonly iterations: number;
  /** Number of objective evaluations (each is one sweep over the data). */
  readonly evaluations: number;
  /** True when the tolerance was met (false: iteration cap or no further progress possible). */
  readonly converged: boolean;
}

const ARMIJO = 1e-4;
const CURVATURE = 0.9;
const MAX_LINE_SEARCH_STEPS = 20;
/** Relative size of an objective change indistinguishable from rounding in a sum over many rows. */
const NOISE = 1e-14;
const IMPROVEMENT_WINDOW = 5;

/** Minimises `objective` (+ Σ l1_j |x_j|) from `x0` with L-BFGS, or OWL-QN when any L1 weight is positive. */
export function minimizeLbfgs(objective: DifferentiableObjective, x0: Float64Array, options: LbfgsOptions): LbfgsResult {
  const n = objective.dimension;
  const m = Math.max(1, options.memory);
  const l1 = options.l1;
  const orthantWise = l1 !== undefined && l1.some((c) => c > 0);

  const x = Float64Array.from(x0);
  const xNew = new Float64Array(n);
  const g = new Float64Array(n);
  const gNew = new Float64Array(n);
  const pg = new Float64Array(n); // pseudo-gradient (= g without L1)
  const d = new Float64Array(n);
  const alpha = new Float64Array(m);
  const rho = new Float64Array(m);
  const s: Float64Array[] = Array.from({ length: m }, () => new Float64Array(n));
  const y: Float64Array[] = Array.from({ length: m }, () => new Float64Array(n));
  const history = new Float64Array(IMPROVEMENT_WINDOW + 1);

  let stored = 0; // correction pairs held
  let newest = -1; // index of the newest pair in the ring
  let evaluations = 1;
  let value = objective.evaluate(x, g) + l1Norm(x, l1);
  let iteration = 0;
  let converged = false;
  history[0] = value;

  while (iteration < options.maxIterations) {
    pseudoGradient(x, g, l1, orthantWise, pg);
    let pgNorm = 0;
    for (let j = 0; j < n; j++) pgNorm = Math.max(pgNorm, Math.abs(pg[j] as number));
    if (pgNorm === 0) {
      converged = true;
      break;
    }

    // Two-loop recursion: d = -H·pg.
    for (let j = 0; j < n; j++) d[j] = -(pg[j] as number);
    let k = newest;
    for (let i = 0; i < stored; i++) {
      const a = (rho[k] as number) * dot(s[k] as Float64Array, d, n);
      alpha[k] = a;
      axpy(-a, y[k] as Float64Array, d, n);
      k = k === 0 ? m - 1 : k - 1;
    }
    if (stored > 0) {
      const yk = y[newest] as Float64Array;
      const gamma = dot(s[newest] as Float64Array, yk, n) / dot(yk, yk, n);
      for (let j = 0; j < n; j++) d[j] = (d[j] as number) * gamma;
    }
    k = stored > 0 ? (newest - stored + 1 + m) % m : 0;
    for (let i = 0; i < stored; i++) {
      const b = (rho[k] as number) * dot(y[k] as Float64Array, d, n);
      axpy((alpha[k] as number) - b, s[k] as Float64Array, d, n);
      k = k === m - 1 ? 0 : k + 1;
    }
    if (orthantWise) {
      // Keep only the components that agree in sign with the steepest descent direction.
      for (let j = 0; j < n; j++) if ((d[j] as number) * (pg[j] as number) >= 0) d[j] = 0;
    }

    let slope = dot(pg, d, n);
    if (!(slope < 0)) {
      // The quasi-Newton direction is not a descent direction (numerical trouble): restart from steepest descent.
      for (let j = 0; j < n; j++) d[j] = -(pg[j] as number);
      slope = dot(pg, d, n);
      stored = 0;
      newest = -1;
    }

    if (-slope <= NOISE * Math.max(1, Math.abs(value))) {
      // The predicted decrease is below the objective's rounding noise: nothing more can be gained.
      converged = true;
      break;
    }

    const step0 = stored === 0 && iteration === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
    const found = orthantWise
      ? searchOrthantWise(objective, l1 as Float64Array, x, value, pg, d, step0, xNew, gNew)
      : searchWolfe(objective, x, value, slope, d, step0, xNew, gNew);
    evaluations += found.evaluations;
    if (found.value === undefined) break; // no decrease found: as good as this precision allows

    // Store the correction pair s = xNew - x, y = gNew - g (smooth gradients only).
    const next = (newest + 1) % m;
    const sNext = s[next] as Float64Array;
    const yNext = y[next] as Float64Array;
    let sy = 0;
    for (let j = 0; j < n; j++) {
      const sj = (xNew[j] as number) - (x[j] as number);
      const yj = (gNew[j] as number) - (g[j] as number);
      sNext[j] = sj;
      yNext[j] = yj;
      sy += sj * yj;
    }
    if (sy > 1e-12 * Math.sqrt(dot(yNext, yNext, n) * dot(sNext, sNext, n))) {
      rho[next] = 1 / sy;
      newest = next;
      stored = Math.min(stored + 1, m);
    }
    x.set(xNew);
    g.set(gNew);
    value = found.value;
    iteration++;
    options.onIteration?.(iteration, value);

    // Mean relative improvement over the last IMPROVEMENT_WINDOW iterations.
    history[iteration % (IMPROVEMENT_WINDOW + 1)] = value;
    if (iteration >= IMPROVEMENT_WINDOW) {
      const past = history[(iteration - IMPROVEMENT_WINDOW) % (IMPROVEMENT_WINDOW + 1)] as number;
      const scale = Math.max(Math.abs(value), 1e-300);
      if ((past - value) / (IMPROVEMENT_WINDOW * scale) < options.tolerance) {
        converged = true;
        break;
      }
    }
  }
  return { x, value, iterations: iteration, evaluations, converged };
}

interface SearchResult {
  /** Objective at the accepted point, or undefined when no acceptable point was found. */
  value: number | undefined;
  evaluations: number;
}

/**
 * Line search for the smooth case: cubic-interpolation backtracking to meet the Armijo condition and
 * extrapolation while the slope is still steep (weak Wolfe), so the (s, y) pair keeps H positive definite.
 */
function searchWolfe(
  objective: DifferentiableObjective,
  x: Float64Array,
  f0: number,
  slope0: number,
  d: Float64Array,
  step0: number,
  xNew: Float64Array,
  gNew: Float64Array,
): SearchResult {
  const n = x.length;
  let lo = 0;
  let fLo = f0;
  let slopeLo = slope0;
  let hi = Infinity;
  let step = step0;
  let best: { step: number; value: number } | undefined;
  for (let evaluations = 1; evaluations <= MAX_LINE_SEARCH_STEPS; evaluations++) {
    for (let j = 0; j < n; j++) xNew[j] = (x[j] as number) + step * (d[j] as number);
    const f = objective.evaluate(xNew, gNew);
    const slope = dot(gNew, d, n);
    if (!(f <= f0 + ARMIJO * step * slope0) || f > fLo) {
      hi = step;
      step = interpolate(lo, fLo, slopeLo, step, f, slope);
    } else if (slope < CURVATURE * slope0) {
      // Sufficient decrease but still descending steeply: the minimum along d lies further out.
      best = { step, value: f };
      lo = step;
      fLo = f;
      slopeLo = slope;
      step = hi === Infinity ? step * 4 : interpolate(lo, fLo, slopeLo, hi, Infinity, 0);
    } else {
      return { value: f, evaluations };
    }
    if (hi - lo < 1e-14 * Math.max(1, hi)) break;
  }
  if (best === undefined) return { value: undefined, evaluations: MAX_LINE_SEARCH_STEPS };
  // Accept the last point that met the Armijo condition (re-evaluated so gNew matches it).
  for (let j = 0; j < n; j++) xNew[j] = (x[j] as number) + best.step * (d[j] as number);
  return { value: objective.evaluate(xNew, gNew), evaluations: MAX_LINE_SEARCH_STEPS + 1 };
}

/**
 * The minimiser of the cubic through (a, fa, ga) and (b, fb, gb), safeguarded into the middle 80 % of
 * [a, b]; bisection when the cubic has no usable minimum (or fb is not finite).
 */
function interpolate(a: number, fa: number, ga: number, b: number, fb: number, gb: number): number {
  const width = b - a;
  let t = a + 0.5 * width;
  if (Number.isFinite(fb)) {
    const d1 = ga + gb - (3 * (fa - fb)) / (a - b);
    const disc = d1 * d1 - ga * gb;
    if (disc >= 0) {
      const d2 = Math.sqrt(disc);
      const c = b - width * ((gb + d2 - d1) / (gb - ga + 2 * d2));
      if (Number.isFinite(c)) t = c;
    }
  }
  return Math.min(Math.max(t, a + 0.1 * width), b - 0.1 * width);
}

/**
 * OWL-QN's projected backtracking: points are projected onto the orthant of x (or of -pg where x is 0)
 * and accepted on the Armijo condition measured with the pseudo-gradient.
 */
function searchOrthantWise(
  objective: DifferentiableObjective,
  l1: Float64Array,
  x: Float64Array,
  f0: number,
  pg: Float64Array,
  d: Float64Array,
  step0: number,
  xNew: Float64Array,
  gNew: Float64Array,
): SearchResult {
  const n = x.length;
  let step = step0;
  for (let evaluations = 1; evaluations <= MAX_LINE_SEARCH_STEPS; evaluations++) {
    let decrease = 0;
    for (let j = 0; j < n; j++) {
      const xj = x[j] as number;
      const orthant = xj !== 0 ? Math.sign(xj) : -Math.sign(pg[j] as number);
      let v = xj + step * (d[j] as number);
      if (v * orthant <= 0) v = 0;
      xNew[j] = v;
      decrease += (pg[j] as number) * (v - xj);
    }
    const f = objective.evaluate(xNew, gNew) + l1Norm(xNew, l1);
    if (f <= f0 + ARMIJO * decrease) return { value: f, evaluations };
    step *= evaluations === 1 ? 0.1 : 0.5;
  }
  return { value: undefined, evaluations: MAX_LINE_SEARCH_STEPS };
}

/** The pseudo-gradient of f + Σ c_j|x_j| (Andrew & Gao, eq. 4); the plain gradient when not orthant-wise. */
function pseudoGradient(
  x: Float64Array,
  g: Float64Array,
  l1: Float64Array | undefined,
  orthantWise: boolean,
  out: Float64Array,
): void {
  const n = x.length;
  if (!orthantWise || l1 === undefined) {
    out.set(g);
    return;
  }
  for (let j = 0; j < n; j++) {
    const c = l1[j] as number;
    const xj = x[j] as number;
    const gj = g[j] as number;
    if (c === 0) out[j] = gj;
    else if (xj < 0) out[j] = gj - c;
    else if (xj > 0) out[j] = gj + c;
    else if (gj + c < 0) out[j] = gj + c;
    else if (gj - c > 0) out[j] = gj - c;
    else out[j] = 0;
  }
}

function l1Norm(x: Float64Array, l1: Float64Array | undefined): number {
  if (l1 === undefined) return 0;
  let sum = 0;
  for (let j = 0; j < x.length; j++) sum += (l1[j] as number) * Math.abs(x[j] as number);
  return sum;
}

function dot(a: Float64Array, b: Float64Array, n: number): number {
  let sum = 0;
  for (let j = 0; j < n; j++) sum += (a[j] as number) * (b[j] as number);
  return sum;
}

function axpy(a: number, xv: Float64Array, yv: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) yv[j] = (yv[j] as number) + a * (xv[j] as number);
}
