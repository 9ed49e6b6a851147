import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BlobError } from "./errors.js";

/*
 * Why two layers of locking for the filesystem store's compare-and-set:
 *
 * - Across processes, the lock is a file created with O_CREAT|O_EXCL ("wx"): the kernel guarantees
 *   exactly one creator, on any local filesystem, with no native module. The holder keeps it only for
 *   the few milliseconds of "read head record, check the condition, rename the new head record in";
 *   the (possibly huge) content is written to its own file before the lock is taken.
 * - Inside one process, writers to the same blob queue on a promise chain first. Without it, twenty
 *   concurrent updaters would all poll the lock file with backoff; with it, they hand over in memory,
 *   and only one of them per process ever contends with other processes.
 *
 * A holder that crashes leaves its lock file behind. A lock is treated as abandoned when its owner is
 * on this host and its pid no longer exists, or when it is older than `staleLockMs` (a live holder never
 * keeps it that long). Two waiters could both judge the same lock stale; breaking is therefore
 * serialised through a second O_EXCL file, and the breaker only unlinks the lock if it is still the
 * very file (inode and content) it judged stale, so it does not remove a lock someone just took. (The
 * one residual window — a live holder that overran `staleLockMs` releasing within the microseconds
 * between that check and the unlink — needs a process stalled for longer than `staleLockMs`.)
 * Liveness by pid only works on one host; the store is not meant for directories shared over NFS.
 */

/** Options for {@link withBlobLock}. */
export interface BlobLockOptions {
  /** Give up waiting after this long (→ BlobError "Unavailable"). */
  lockTimeoutMs: number;
  /** A lock file older than this is presumed abandoned. */
  staleLockMs: number;
}

const queues = new Map<string, Promise<void>>();
const thisHost = hostname();

/** Runs `critical` while holding the in-process queue and the cross-process lock file at `lockPath`. */
export async function withBlobLock<T>(
  blobName: string,
  lockPath: string,
  options: BlobLockOptions,
  critical: () => Promise<T>,
): Promise<T> {
  return withQueue(lockPath, async () => {
    const release = await acquireLockFile(blobName, lockPath, options);
    try {
      return await critical();
    } finally {
      await release();
    }
  });
}

async function withQueue<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  let done!: () => void;
  const current = new Promise<void>((resolve) => {
    done = resolve;
  });
  const tail = previous.then(() => current);
  queues.set(key, tail);
  await previous;
  try {
    return await fn();
  } finally {
    done();
    if (queues.get(key) === tail) queues.delete(key);
  }
}

async function acquireLockFile(blobName: string, lockPath: string, options: BlobLockOptions): Promise<() => Promise<void>> {
  const token = JSON.stringify({ pid: process.pid, host: thisHost, nonce: randomBytes(8).toString("hex"), at: Date.now() });
  const deadline = Date.now() + options.lockTimeoutMs;
  let backoffMs = 1;
  for (;;) {
    try {
      const handle = await open(lockPath, "wx");
      try {
        await handle.writeFile(token);
      } finally {
        await handle.close();
      }
      return () => releaseLockFile(lockPath, token);
    } catch (error) {
      if (errno(error) === "ENOENT") {
        // A concurrent delete pruned the (then empty) directory; recreate it and try again at once.
        await mkdir(dirname(lockPath), { recursive: true });
        continue;
      }
      if (errno(error) !== "EEXIST") throw error;
    }
    if (await breakIfStale(lockPath, options.staleLockMs)) continue;
    if (Date.now() >= deadline) {
      throw new BlobError("Unavailable", blobName, `timed out after ${options.lockTimeoutMs} ms waiting for the write lock ${lockPath}`);
    }
    await sleep(backoffMs * (0.5 + Math.random()));
    backoffMs = Math.min(backoffMs * 2, 50);
  }
}

async function releaseLockFile(lockPath: string, token: string): Promise<void> {
  // Only remove the lock if it is still ours: had it been broken as stale, it may now be someone else's.
  const content = await readFile(lockPath, "utf8").catch(() => undefined);
  if (content === token) await unlink(lockPath).catch(() => undefined);
}

async function breakIfStale(lockPath: string, staleLockMs: number): Promise<boolean> {
  const observed = await inspect(lockPath);
  if (observed === undefined) return true; // released meanwhile: retry immediately
  if (!isStale(observed, staleLockMs)) return false;
  const breakPath = `${lockPath}.break`;
  let breaker;
  try {
    breaker = await open(breakPath, "wx");
  } catch (error) {
    if (errno(error) !== "EEXIST") throw error;
    // Breaking takes microseconds; a break file this old belongs to a breaker that died mid-way.
    const other = await inspect(breakPath);
    if (other !== undefined && Date.now() - other.mtimeMs > staleLockMs) await unlink(breakPath).catch(() => undefined);
    return false;
  }
  try {
    const now = await inspect(lockPath);
    if (now !== undefined && now.ino === observed.ino && now.content === observed.content) {
      await unlink(lockPath).catch(() => undefined);
    }
    return true;
  } finally {
    await breaker.close();
    await unlink(breakPath).catch(() => undefined);
  }
}

interface LockSnapshot {
  ino: number;
  mtimeMs: number;
  content: string;
}

async function inspect(path: string): Promise<LockSnapshot | undefined> {
  try {
    const info = await stat(path);
    const content = await readFile(path, "utf8");
    return { ino: info.ino, mtimeMs: info.mtimeMs, content };
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    throw error;
  }
}

function isStale(lock: LockSnapshot, staleLockMs: number): boolean {
  if (Date.now() - lock.mtimeMs > staleLockMs) return true;
  const owner = parseOwner(lock.content);
  // Empty content: the owner is between creating and writing the file — young, so not stale.
  if (owner === undefined || owner.host !== thisHost) return false;
  return !processAlive(owner.pid);
}

function parseOwner(content: string): { pid: number; host: string } | undefined {
  try {
    const parsed: unknown = JSON.parse(content);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { pid, host } = parsed as Record<string, unknown>;
    return typeof pid === "number" && typeof host === "string" ? { pid, host } : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return errno(error) === "EPERM";
  }
}

/** The `code` of a Node system error (`ENOENT`, `EEXIST`…), or undefined. */
export function errno(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const { code } = error;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}
