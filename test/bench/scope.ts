/**
 * What a measurement started (processes, servers, databases) registered for clean-up, undone in reverse order
 * whether the measurement finished, failed or ran out of time.
 */
export class Scope {
  private cleanups: { what: string; fn: () => unknown }[] = [];

  constructor(private readonly log: (msg: string) => void) {}

  /** Registers fn to run at close(); returns `value` so that starting and registering fit in one line. */
  defer<T>(what: string, value: T, fn: (value: T) => unknown): T {
    this.cleanups.push({ what, fn: () => fn(value) });
    return value;
  }

  async close(): Promise<void> {
    for (const { what, fn } of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        this.log(`clean-up of ${what} failed: ${(err as Error).message}`);
      }
    }
  }
}
