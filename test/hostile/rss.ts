// Samples the resident set size of processes from /proc/<pid>/status (VmRSS) while a corpus runs.
// The sampling runs in a worker thread with its own event loop: the test's thread is busy building and
// streaming 100 MB bodies, and a sampler sharing its loop would sample least when memory peaks.
import { Worker } from "node:worker_threads";

/** The peak RSS seen per process name, in bytes. */
export interface RssPeaks {
  readonly peaks: ReadonlyMap<string, number>;
  /** Samples taken (a sampler that never ran proves nothing). */
  readonly samples: number;
}

/** A running sampler: `stop()` ends it and returns the peaks. */
export interface RssSampler {
  stop(): Promise<RssPeaks>;
}

// Plain JavaScript run by the worker (eval: true), so that it needs no build step of its own.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { readFileSync } = require("node:fs");
let pids = workerData.pids;
const peaks = {};
let samples = 0;
const tick = new Int32Array(new SharedArrayBuffer(4));
parentPort.on("message", (message) => {
  if (message.pids) pids = message.pids;
});
function residentBytes(pid) {
  try {
    const kb = /^VmRSS:\\s+(\\d+)\\s+kB/m.exec(readFileSync("/proc/" + pid + "/status", "utf8"));
    return kb === null ? undefined : Number(kb[1]) * 1024;
  } catch {
    return undefined;
  }
}
function sample() {
  for (const [name, pid] of pids) {
    const rss = residentBytes(pid);
    if (rss !== undefined) peaks[name] = Math.max(peaks[name] ?? 0, rss);
  }
  samples++;
  if (Atomics.load(new Int32Array(workerData.stop), 0) === 1) {
    parentPort.postMessage({ peaks, samples });
    return;
  }
  // time-based by design: a sampling period (in the worker), not a wait for an effect
  Atomics.wait(tick, 0, 0, workerData.intervalMs);
  setImmediate(sample);
}
sample();
`;

function definedPids(pids: ReadonlyMap<string, number | undefined>): Array<[string, number]> {
  return [...pids].filter((entry): entry is [string, number] => entry[1] !== undefined);
}

/** Samples every process that `pids()` names, every `intervalMs`, until stopped. */
export function sampleRss(pids: () => ReadonlyMap<string, number | undefined>, intervalMs = 50): RssSampler {
  const stop = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { pids: definedPids(pids()), intervalMs, stop } });
  const result = new Promise<RssPeaks>((resolve, reject) => {
    worker.once("message", (message: { peaks: Record<string, number>; samples: number }) => resolve({ peaks: new Map(Object.entries(message.peaks)), samples: message.samples }));
    worker.once("error", reject);
  });
  // Services restarted during a run get new pids: the worker is told (it samples with what it has meanwhile).
  const refresh = setInterval(() => worker.postMessage({ pids: definedPids(pids()) }), 500);
  return {
    async stop() {
      clearInterval(refresh);
      Atomics.store(new Int32Array(stop), 0, 1);
      const peaks = await result;
      await worker.terminate();
      return peaks;
    },
  };
}
