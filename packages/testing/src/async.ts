/** A promise with its resolve and reject exposed, for awaiting an effect instead of sleeping. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
  readonly settled: boolean;
}

/** Creates a {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((res, rej) => {
    resolve = (v) => {
      settled = true;
      res(v);
    };
    reject = (e) => {
      settled = true;
      rej(e);
    };
  });
  return {
    promise,
    resolve,
    reject,
    get settled() {
      return settled;
    },
  };
}

/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. Default 10 000 ms. */
  timeoutMs?: number;
  /** Poll interval. Default 20 ms. */
  intervalMs?: number;
  /** Named in the timeout error so a failing test says what it waited for. */
  description?: string;
}

/** Thrown by {@link waitFor} when the condition did not hold before the deadline. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  constructor(
    readonly description: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${description}`, options);
  }
}

/**
 * Polls `probe` until it returns a value other than `undefined`/`false`, and returns that value.
 * A poll with a deadline: the test awaits the effect rather than sleeping a fixed time.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(options.description ?? "condition", timeoutMs, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with the first `n` values pushed to the returned collector, or rejects on timeout. */
export function collect<T>(n: number, timeoutMs = 10_000): { push(value: T): void; values: T[]; done: Promise<T[]> } {
  const values: T[] = [];
  const done = deferred<T[]>();
  const timer = setTimeout(
    () => done.reject(new WaitTimeoutError(`${n} values (got ${values.length})`, timeoutMs)),
    timeoutMs,
  );
  timer.unref();
  return {
    values,
    push(value: T) {
      values.push(value);
      if (values.length >= n && !done.settled) {
        clearTimeout(timer);
        done.resolve(values.slice());
      }
    },
    done: done.promise,
  };
}
