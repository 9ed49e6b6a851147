import { SeededRandom } from "./random.js";
import { splitRows } from "./split.js";

describe("splitRows", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = splitRows(1000, { fraction: 0.7, seed: 42 });
    const b = splitRows(1000, { fraction: 0.7, seed: 42 });
    const c = splitRows(1000, { fraction: 0.7, seed: 43 });
    expect(Array.from(a.train)).toEqual(Array.from(b.train));
    expect(Array.from(a.train)).not.toEqual(Array.from(c.train));
    expect(a.train.length).toBe(700);
    expect(a.holdout.length).toBe(300);
  });

  it("partitions the rows, each side ascending", () => {
    const { train, holdout } = splitRows(101, { fraction: 0.5, seed: 1 });
    const all = [...train, ...holdout].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 101 }, (_, i) => i));
    expect(Array.from(train)).toEqual([...train].sort((x, y) => x - y));
    expect(splitRows(10, { fraction: 0, seed: 1 }).train.length).toBe(0);
    expect(splitRows(10, { fraction: 1, seed: 1 }).holdout.length).toBe(0);
    expect(() => splitRows(10, { fraction: 1.5, seed: 1 })).toThrow("fraction");
  });
});

describe("SeededRandom", () => {
  it("gives a fixed sequence per seed (xoshiro128** seeded by splitmix32)", () => {
    const first = Array.from({ length: 4 }, ((r) => () => r.nextUint32())(new SeededRandom(0)));
    const again = Array.from({ length: 4 }, ((r) => () => r.nextUint32())(new SeededRandom(0)));
    expect(first).toEqual(again);
    // Pinned so that a change to the generator (and so to every recorded split) cannot go unnoticed.
    expect(first).toEqual([1789933344, 44971166, 2521387044, 3848737593]);
  });

  it("matches the xoshiro128** reference output for the state [1, 2, 3, 4]", () => {
    const random = SeededRandom.fromState([1, 2, 3, 4]);
    expect(Array.from({ length: 6 }, () => random.nextUint32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it("draws uniform-looking floats and unbiased integers", () => {
    const random = new SeededRandom(123);
    const buckets = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const f = random.nextFloat();
      if (!(f >= 0 && f < 1)) outside++;
      buckets[Math.floor(f * 10)] = (buckets[Math.floor(f * 10)] ?? 0) + 1;
    }
    expect(outside).toBe(0);
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(500);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) {
      const k = random.nextInt(3);
      counts[k] = (counts[k] ?? 0) + 1;
    }
    for (const n of counts) expect(Math.abs(n - 10_000)).toBeLessThan(400);
  });
});
