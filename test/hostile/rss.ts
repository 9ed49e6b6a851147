// Samples the resident set size of processes from /proc/<pid>/status (VmRSS) while a corpus runs.
import { readFile } from "node:fs/promises";

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

/** VmRSS of a process in bytes, or undefined when it is gone (or /proc has no entry). */
export async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** Samples every process that `pids()` names, every `intervalMs`, until stopped. */
export function sampleRss(pids: () => ReadonlyMap<string, number | undefined>, intervalMs = 50): RssSampler {
  const peaks = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const [name, pid] of pids()) {
        if (pid === undefined) continue;
        const rss = await residentBytes(pid);
        if (rss !== undefined) peaks.set(name, Math.max(peaks.get(name) ?? 0, rss));
      }
      samples++;
      // time-based by design: a sampling period, not a wait for an effect
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { peaks, samples };
    },
  };
}
