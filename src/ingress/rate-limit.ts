import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type RateLimitConfig = { requestsPerMinute: number; burst?: number | null };

/**
 * A per-trigger token bucket made of two rate-limiter-flexible memory limiters: the steady rate (one
 * request per 60/requestsPerMinute seconds) and a burst allowance of `burst - 1` more requests (default
 * burst = requestsPerMinute) that refills at the same rate. Counters live in this process: with several
 * ingress processes each one enforces the limit on its own.
 */
export class TriggerRateLimits {
  private readonly limiters = new Map<
    string,
    { config: string; limiter: BurstyRateLimiter | RateLimiterMemory }
  >();

  /** undefined when the request may pass; otherwise the seconds until it may be retried. */
  async consume(triggerId: string, config: RateLimitConfig): Promise<number | undefined> {
    try {
      await this.limiterFor(triggerId, config).consume(triggerId);
      return undefined;
    } catch (err) {
      if (err instanceof RateLimiterRes) return Math.max(1, Math.ceil(err.msBeforeNext / 1000));
      throw err;
    }
  }

  private limiterFor(triggerId: string, config: RateLimitConfig) {
    const key = `${config.requestsPerMinute}/${config.burst ?? ''}`;
    const existing = this.limiters.get(triggerId);
    if (existing?.config === key) return existing.limiter;
    const interval = 60 / config.requestsPerMinute;
    const capacity = config.burst ?? config.requestsPerMinute;
    const steady = new RateLimiterMemory({ keyPrefix: 'rate', points: 1, duration: interval });
    const limiter =
      capacity > 1
        ? new BurstyRateLimiter(
            steady,
            new RateLimiterMemory({
              keyPrefix: 'burst',
              points: capacity - 1,
              duration: (capacity - 1) * interval,
            }),
          )
        : steady;
    if (this.limiters.size >= 10_000) this.limiters.clear();
    this.limiters.set(triggerId, { config: key, limiter });
    return limiter;
  }
}
