/**
 * Solves (A + jitter·I)·x = b for a symmetric positive semi-definite `a` (n × n, row-major, upper triangle
 * read) by Cholesky. The system is first scaled to unit diagonal, so "ill-conditioned" has one meaning
 * whatever the feature scales; when a pivot falls below `minPivot` the factorisation is retried with a
 * growing ridge jitter (1e-12 … 1e-4 of the unit diagonal), which tends to the minimum-norm solution for
 * collinear columns. Columns with a zero diagonal (constant features) get x = 0.
 */
export function solveSymmetric(a: Float64Array, b: Float64Array, n: number): { x: Float64Array; jitter: number } {
  const scale = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = a[i * n + i] as number;
    scale[i] = d > 0 ? 1 / Math.sqrt(d) : 0;
  }
  const l = new Float64Array(n * n);
  const z = new Float64Array(n);
  const x = new Float64Array(n);
  for (const jitter of [0, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4]) {
    if (!factor(a, scale, n, jitter, l)) continue;
    // Forward then back substitution on the scaled system, then undo the scaling.
    for (let i = 0; i < n; i++) {
      if (scale[i] === 0) {
        z[i] = 0;
        continue;
      }
      let s = (b[i] as number) * (scale[i] as number);
      for (let k = 0; k < i; k++) s -= (l[i * n + k] as number) * (z[k] as number);
      z[i] = s / (l[i * n + i] as number);
    }
    for (let i = n - 1; i >= 0; i--) {
      if (scale[i] === 0) {
        x[i] = 0;
        continue;
      }
      let s = z[i] as number;
      for (let k = i + 1; k < n; k++) s -= (l[k * n + i] as number) * (x[k] as number);
      x[i] = s / (l[i * n + i] as number);
    }
    for (let i = 0; i < n; i++) x[i] = (x[i] as number) * (scale[i] as number);
    return { x, jitter };
  }
  // Unreachable for a finite PSD matrix: jitter 1e-4 on a unit diagonal always factors.
  throw new RangeError("the normal equations could not be factored (non-finite values?)");
}

/** Minimum pivot of the unit-diagonal system below which the matrix counts as numerically singular. */
const MIN_PIVOT = 1e-10;

function factor(a: Float64Array, scale: Float64Array, n: number, jitter: number, l: Float64Array): boolean {
  l.fill(0);
  for (let j = 0; j < n; j++) {
    const sj = scale[j] as number;
    if (sj === 0) {
      l[j * n + j] = 1; // an inert row: its unknown is pinned to 0 by the substitutions
      continue;
    }
    let d = (a[j * n + j] as number) * sj * sj + jitter;
    for (let k = 0; k < j; k++) d -= (l[j * n + k] as number) ** 2;
    if (!(d > MIN_PIVOT)) return false;
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const si = scale[i] as number;
      if (si === 0) continue;
      // a is symmetric; read its upper triangle (row min(i, j)).
      let s = (a[j * n + i] as number) * si * sj;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] as number) * (l[j * n + k] as number);
      l[i * n + j] = s / ljj;
    }
  }
  return true;
}
