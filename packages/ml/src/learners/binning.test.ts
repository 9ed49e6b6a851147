import { binCount, fitBins, radixSort } from "./binning.js";
import { SeededRandom } from "./random.js";

describe("binning", () => {
  it("radix-sorts doubles like a numeric sort (negatives, zero, subnormals, extremes)", () => {
    const random = new SeededRandom(3);
    const values = Float64Array.from({ length: 50_000 }, () => (random.next() - 0.5) * 10 ** (random.next() * 20 - 10));
    values.set([0, -1e300, 1e300, 5e-324, -5e-324, 1, -1], 0);
    const sorted = radixSort(Float64Array.from(values), new Float64Array(values.length));
    expect(Array.from(sorted)).toEqual(Array.from(values).sort((a, b) => a - b));
  });

  it("uses midpoints between distinct values when there are few, quantiles otherwise", () => {
    const rows = 1_000;
    const x = new Float64Array(rows * 2);
    const random = new SeededRandom(1);
    for (let i = 0; i < rows; i++) {
      x[i * 2] = i % 3; // three distinct values
      x[i * 2 + 1] = random.next();
    }
    const mapper = fitBins({ rows, features: 2, x, y: new Float64Array(rows) }, 16, 1);
    expect(Array.from(mapper.thresholds.subarray(mapper.offsets[0], mapper.offsets[1]))).toEqual([0.5, 1.5]);
    expect(binCount(mapper, 0)).toBe(3);
    expect(binCount(mapper, 1)).toBe(16);
    const t = mapper.thresholds.subarray(mapper.offsets[1], mapper.offsets[2]);
    for (let k = 1; k < t.length; k++) expect(t[k]).toBeGreaterThan(t[k - 1] as number);
  });

  it("places thresholds from a seeded sample: the same seed gives the same bins", () => {
    const rows = 300_000;
    const random = new SeededRandom(2);
    const x = Float64Array.from({ length: rows }, () => random.next());
    const m = { rows, features: 1, x, y: new Float64Array(rows) };
    expect(fitBins(m, 255, 9).thresholds).toEqual(fitBins(m, 255, 9).thresholds);
    expect(fitBins(m, 255, 9).thresholds).not.toEqual(fitBins(m, 255, 10).thresholds);
  });
});
