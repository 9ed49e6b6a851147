import { ParallelChunks, SharedArena } from "./parallel.js";

type Views = { readonly out: Float64Array; readonly where: Float64Array };

/** Writes chunk² + args[0] into its slot, and 1 into `where` when it ran on a helper thread. */
function square(chunk: number, v: Views, args: Float64Array): void {
  let spin = 0;
  for (let k = 0; k < 200_000; k++) spin += k % 7;
  v.out[chunk] = chunk * chunk + (args[0] as number) + spin * 0;
  v.where[chunk] = String(new Error().stack).includes("[worker eval]") ? 1 : 0;
}

/** Like `square`, but throws on helper threads (a kernel that cannot run there). */
function failsOnHelpers(chunk: number, v: Views, args: Float64Array): void {
  if (String(new Error().stack).includes("[worker eval]")) throw new Error("not here");
  v.out[chunk] = chunk * chunk + (args[0] as number);
}

const shared = (n: number): Float64Array => new Float64Array(new SharedArrayBuffer(8 * n));

describe("ParallelChunks", () => {
  it("runs every chunk exactly once across threads, run after run", () => {
    const views = { out: shared(64), where: shared(64) };
    const pool = new ParallelChunks(square, views, { threads: 2, argsLength: 1, maxChunks: 64 });
    try {
      expect(pool.helperThreads).toBe(1);
      let helped = 0;
      for (let run = 0; run < 20; run++) {
        views.out.fill(-1);
        pool.args[0] = run;
        pool.run(64);
        for (let c = 0; c < 64; c++) expect(views.out[c]).toBe(c * c + run);
        helped += views.where.reduce((s, w) => s + w, 0);
      }
      expect(helped).toBeGreaterThan(0);
    } finally {
      pool.close();
    }
  });

  it("runs single-threaded when the views are not shared, or when asked to", () => {
    const views = { out: new Float64Array(8), where: new Float64Array(8) };
    const pool = new ParallelChunks(square, views, { threads: 2, argsLength: 1, maxChunks: 8 });
    expect(pool.helperThreads).toBe(0);
    pool.run(8);
    expect(Array.from(views.out)).toEqual([0, 1, 4, 9, 16, 25, 36, 49]);
    pool.close();
  });

  it("finishes the work itself when a helper's kernel fails", () => {
    const views = { out: shared(32), where: shared(32) };
    const pool = new ParallelChunks(failsOnHelpers, views, { threads: 2, argsLength: 1, maxChunks: 32 });
    try {
      for (let run = 0; run < 5; run++) {
        views.out.fill(-1);
        pool.args[0] = run;
        pool.run(32);
        for (let c = 0; c < 32; c++) expect(views.out[c]).toBe(c * c + run);
      }
    } finally {
      pool.close();
    }
  });

  it("allocates aligned, zeroed arrays from a shared WebAssembly memory", () => {
    const arena = SharedArena.create(SharedArena.bytesFor([100, 800, 40]));
    expect(arena).toBeDefined();
    const a = arena?.u8(100);
    const b = arena?.f64(100);
    const c = arena?.u32(10);
    expect(a?.buffer).toBe(arena?.memory.buffer);
    expect((b?.byteOffset ?? 1) % 16).toBe(0);
    expect(c?.every((v) => v === 0)).toBe(true);
    expect(() => arena?.f64(1_000_000)).toThrow(RangeError);
  });
});
