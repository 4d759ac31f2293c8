/**
 * The senders: `count` deliveries of the seed order at `ratePerSecond`, alternating between the ingress
 * processes, each with its own Idempotency-Key. Like a real webhook sender, a delivery is retried with the same
 * key (on the other ingress, as a load balancer would route around a dead one) after any non-2xx answer or
 * connection error, with a growing backoff, until acknowledged or out of attempts or time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { seedOrder } from '../bench/seed-order';

export type Attempt = {
  ingress: number;
  /** Date.now() when it was sent and when its answer (or error) came. */
  sentAt: number;
  answeredAt: number;
  status?: number;
  retryAfter?: string;
  error?: string;
};
export type Sent = { key: string; attempts: Attempt[]; acknowledged: boolean };

export const isOk = (a: Attempt) => a.status !== undefined && a.status >= 200 && a.status < 300;

export type DriveOptions = {
  /** Webhook URLs, one per ingress process. */
  urls: string[];
  count: number;
  ratePerSecond: number;
  keyPrefix: string;
  signal: AbortSignal;
};

const ATTEMPT_TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 40;
/** A sender gives up on a delivery this long after its first attempt. */
const GIVE_UP_AFTER_MS = 180_000;
const BACKOFF_MS = { initial: 250, max: 5_000 };

export async function drive(opts: DriveOptions): Promise<Sent[]> {
  const startedAt = performance.now();
  const deliveries: Promise<Sent>[] = [];
  for (let i = 0; i < opts.count && !opts.signal.aborted; i++) {
    const due = startedAt + (i * 1000) / opts.ratePerSecond;
    if (due > performance.now()) await sleep(due - performance.now());
    deliveries.push(deliver(opts, i));
  }
  return Promise.all(deliveries);
}

async function deliver(opts: DriveOptions, i: number): Promise<Sent> {
  const key = `${opts.keyPrefix}-${i}`;
  const body = JSON.stringify(seedOrder(key));
  const sent: Sent = { key, attempts: [], acknowledged: false };
  const firstAt = Date.now();
  for (let n = 0; n < MAX_ATTEMPTS && Date.now() - firstAt < GIVE_UP_AFTER_MS && !opts.signal.aborted; n++) {
    const ingress = (i + n) % opts.urls.length;
    const attempt: Attempt = { ingress, sentAt: Date.now(), answeredAt: 0 };
    sent.attempts.push(attempt);
    try {
      const res = await fetch(opts.urls[ingress]!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body,
        signal: AbortSignal.any([opts.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
      });
      await res.arrayBuffer();
      attempt.status = res.status;
      attempt.retryAfter = res.headers.get('retry-after') ?? undefined;
    } catch (err) {
      attempt.error = ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
    }
    attempt.answeredAt = Date.now();
    if (isOk(attempt)) {
      sent.acknowledged = true;
      break;
    }
    const backoff = Math.min(BACKOFF_MS.max, BACKOFF_MS.initial * 2 ** n);
    await sleep(backoff * (0.5 + Math.random() / 2));
  }
  return sent;
}

/** Answers (or errors) by status, e.g. `{ 202: 4990, 200: 10, 503: 40, error: 3 }`. */
export function statuses(sent: Sent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const attempt of sent.flatMap((s) => s.attempts)) {
    const what = attempt.status ?? 'error';
    counts[what] = (counts[what] ?? 0) + 1;
  }
  return counts;
}
