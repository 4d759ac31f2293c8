import { createTestDatabase } from '../helpers/postgres';
import { CREATE_FLOW, eventually, gqlOk, startTestApp, type TestApp } from '../helpers/hookflow';
import { startTargetServer } from '../helpers/target-server';

/** A flow with one required variable and one HTTP step calling the sink. */
const flowInput = (targetUrl: string) => ({
  name: 'Metrics',
  trigger: {
    label: 'Order',
    variables: [
      { name: 'order_id', type: 'STRING', required: true },
      { name: 'customer_email', type: 'STRING', required: true },
    ],
  },
  steps: [
    {
      key: 'notify',
      plugin: 'http',
      action: 'request',
      input: {
        method: 'POST',
        url: `${targetUrl}/orders/{{webhook.order_id}}`,
        body: { id: '{{webhook.order_id}}' },
      },
    },
  ],
});

/** Prometheus text format, simply: `name{a="x",b="y"} value` lines, comments skipped. */
type Sample = { name: string; labels: Record<string, string>; value: number };
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of one sample whose labels include the given ones (0 when absent). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found?.value ?? 0;
}

async function scrape(app: TestApp) {
  const res = await fetch(`${app.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parseMetrics(await res.text());
}

describe('GET /metrics', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('counts deliveries, latencies, runs and steps, and reports the gauges and process metrics', async () => {
    const target = await startTargetServer();
    try {
      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: flowInput(target.url),
      });
      const post = (body: unknown) =>
        fetch(flow.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });

      const accepted = await post({ order_id: 'A-1', customer_email: 'a@example.com' });
      expect(accepted.status).toBe(202);
      const rejected = await post({ order_id: 'A-2' }); // customer_email is required
      expect(rejected.status).toBe(422);

      // The run's one step calls the sink, then the run finishes.
      const samples = await eventually(
        async () => {
          const s = await scrape(app);
          return valueOf(s, 'hookflow_run_duration_seconds_count', { status: 'COMPLETED' }) >= 1
            ? s
            : undefined;
        },
        30_000,
        'the run duration to be recorded',
      );
      expect(target.requests).toHaveLength(1);

      expect(valueOf(samples, 'hookflow_deliveries_total', { status: 'ACCEPTED', reason: '' })).toBe(1);
      expect(
        valueOf(samples, 'hookflow_deliveries_total', { status: 'REJECTED', reason: 'VALIDATION' }),
      ).toBe(1);
      expect(valueOf(samples, 'hookflow_deliveries_total', { status: 'DUPLICATE' })).toBe(0);
      expect(valueOf(samples, 'hookflow_webhook_accept_duration_seconds_count')).toBe(1);
      expect(valueOf(samples, 'hookflow_webhook_accept_duration_seconds_bucket', { le: '+Inf' })).toBe(1);
      expect(valueOf(samples, 'hookflow_dispatch_lag_seconds_count')).toBe(1);
      expect(valueOf(samples, 'hookflow_run_duration_seconds_count', { status: 'COMPLETED' })).toBe(1);
      expect(
        valueOf(samples, 'hookflow_step_duration_seconds_count', { plugin: 'http', status: 'SUCCEEDED' }),
      ).toBe(1);
      expect(valueOf(samples, 'hookflow_step_duration_seconds_sum', { plugin: 'http' })).toBeGreaterThan(0);
      expect(valueOf(samples, 'hookflow_step_failures_total', { plugin: 'http' })).toBe(0);
      expect(valueOf(samples, 'hookflow_dispatch_backlog')).toBe(0);
      expect(valueOf(samples, 'hookflow_event_listener_up')).toBe(1);
      expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
      expect(samples.some((s) => s.name === 'nodejs_heap_size_used_bytes')).toBe(true);
    } finally {
      await target.close();
    }
  });

  it('counts failed step attempts by plugin', async () => {
    const target = await startTargetServer(() => ({ status: 400 }));
    try {
      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: flowInput(target.url),
      });
      const res = await fetch(flow.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ order_id: 'B-1', customer_email: 'b@example.com' }),
      });
      expect(res.status).toBe(202);
      const samples = await eventually(
        async () => {
          const s = await scrape(app);
          return valueOf(s, 'hookflow_run_duration_seconds_count', { status: 'FAILED' }) >= 1 ? s : undefined;
        },
        30_000,
        'the failed run to be recorded',
      );
      expect(valueOf(samples, 'hookflow_step_failures_total', { plugin: 'http', final: 'true' })).toBe(1);
      expect(
        valueOf(samples, 'hookflow_step_duration_seconds_count', { plugin: 'http', status: 'FAILED' }),
      ).toBeGreaterThanOrEqual(1);
    } finally {
      await target.close();
    }
  });
});
