import { setTimeout as sleep } from 'node:timers/promises';

/** Calls check every intervalMs until it returns true (→ true) or the time is up or signal aborts (→ false). */
export async function pollUntil(
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs: number; signal?: AbortSignal },
): Promise<boolean> {
  const deadline = performance.now() + opts.timeoutMs;
  while (!opts.signal?.aborted) {
    if (await check()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(opts.intervalMs);
  }
  return false;
}
