import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Sub-second webhook answers and workflow starts, with room for a slow database or engine. */
const FAST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Steps and runs: from a quick HTTP call to a step retried with backoff for minutes. */
const SLOW_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** Read at scrape time; set by the roles a process runs (a process without them reports 0). */
type Sources = { backlog?: () => number; eventsListening?: () => boolean };

/**
 * The Prometheus metrics of one app instance, on its own registry (not prom-client's global one), so that several
 * instances in one process (tests) do not clash. Served at GET /metrics.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly sources: Sources = {};

  readonly deliveries = new Counter({
    name: 'hookflow_deliveries_total',
    help: 'Webhook deliveries by status (ACCEPTED, REJECTED, DUPLICATE) and reject reason (empty unless REJECTED).',
    labelNames: ['status', 'reason'] as const,
    registers: [this.registry],
  });
  readonly acceptLatency = new Histogram({
    name: 'hookflow_webhook_accept_duration_seconds',
    help: 'Time from the start of a webhook request to the answer, for accepted deliveries.',
    buckets: FAST_BUCKETS,
    registers: [this.registry],
  });
  readonly dispatchLag = new Histogram({
    name: 'hookflow_dispatch_lag_seconds',
    help: 'Time from the receipt of a delivery to the start of its workflow, for runs started by the ingress at once.',
    buckets: FAST_BUCKETS,
    registers: [this.registry],
  });
  readonly runDuration = new Histogram({
    name: 'hookflow_run_duration_seconds',
    help: 'Duration of finished runs, by final status.',
    labelNames: ['status'] as const,
    buckets: SLOW_BUCKETS,
    registers: [this.registry],
  });
  readonly stepDuration = new Histogram({
    name: 'hookflow_step_duration_seconds',
    help: 'Duration of step attempts (the plugin call), by plugin and outcome (SUCCEEDED, FAILED).',
    labelNames: ['plugin', 'status'] as const,
    buckets: SLOW_BUCKETS,
    registers: [this.registry],
  });
  readonly stepFailures = new Counter({
    name: 'hookflow_step_failures_total',
    help: 'Failed step attempts by plugin; final="true" when the step failed for good (retries exhausted or permanent).',
    labelNames: ['plugin', 'final'] as const,
    registers: [this.registry],
  });

  constructor() {
    const sources = this.sources;
    new Gauge({
      name: 'hookflow_dispatch_backlog',
      help: "Workflow starts waiting in this ingress process's dispatcher: queued plus in flight.",
      registers: [this.registry],
      collect() {
        this.set(sources.backlog?.() ?? 0);
      },
    });
    new Gauge({
      name: 'hookflow_event_listener_up',
      help: '1 while the PostgreSQL LISTEN connection for live events is up, else 0.',
      registers: [this.registry],
      collect() {
        this.set(sources.eventsListening?.() ? 1 : 0);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Reports the dispatcher's backlog from now on. */
  watchBacklog(backlog: () => number): void {
    this.sources.backlog = backlog;
  }

  /** Reports the event listener's state from now on. */
  watchEventListener(listening: () => boolean): void {
    this.sources.eventsListening = listening;
  }

  /** Seconds since a performance.now() or Date reading. */
  static since(start: number | Date): number {
    return typeof start === 'number'
      ? (performance.now() - start) / 1000
      : (Date.now() - start.getTime()) / 1000;
  }
}
