/** Timing of LoadWithBackoff; defaults suit model loads (seconds of work, failures that last minutes). */
export interface LoadBackoffOptions {
  /** Wait after the first failure before a caller may start another attempt (default 5 000 ms). */
  initialRetryMs?: number;
  /** The wait doubles after each failure up to this (default 60 000 ms). */
  maxRetryMs?: number;
  /** Clock, for tests (default `Date.now`). */
  now?: () => number;
}

/**
 * Runs an expensive load once and shares it: concurrent callers get the same promise and a success is kept for good.
 * A failure is remembered: until its back-off has passed, callers get the same error at once instead of starting
 * another attempt. Without this, every request that needs a missing model (the optional reranker with the Hub
 * unreachable, say) would start its own download attempt and wait out its stage timeout behind the others.
 */
export class LoadWithBackoff<T> {
  private readonly initialRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly now: () => number;
  private pending: Promise<T> | undefined;
  private failure: { error: unknown; retryAt: number; waitMs: number } | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    options: LoadBackoffOptions = {},
  ) {
    this.initialRetryMs = options.initialRetryMs ?? 5_000;
    this.maxRetryMs = Math.max(this.initialRetryMs, options.maxRetryMs ?? 60_000);
    this.now = options.now ?? Date.now;
  }

  /** The loaded value; starts the load unless one is running, done, or failed within its back-off. */
  get(): Promise<T> {
    if (this.pending) return this.pending;
    const failure = this.failure;
    if (failure && this.now() < failure.retryAt) return Promise.reject(failure.error);
    const attempt = this.load().then(
      (value) => {
        this.failure = undefined;
        return value;
      },
      (error: unknown) => {
        if (this.pending === attempt) this.pending = undefined;
        const waitMs = failure ? Math.min(this.maxRetryMs, failure.waitMs * 2) : this.initialRetryMs;
        this.failure = { error, retryAt: this.now() + waitMs, waitMs };
        throw error;
      },
    );
    this.pending = attempt;
    return attempt;
  }

  /** Forgets the loaded value and any failure; returns the load that was running or done, if any (to dispose of it). */
  reset(): Promise<T> | undefined {
    const pending = this.pending;
    this.pending = undefined;
    this.failure = undefined;
    return pending;
  }
}
