import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startApp } from '../../src/app';
import { loadConfig } from '../../src/config';

/**
 * `npm run bench`: webhook accept throughput and latency on this machine. Starts Hookflow (embedded PGlite, or
 * PostgreSQL when DATABASE_URL is set), creates a flow without steps, and sends BENCH_REQUESTS (default 2000)
 * POSTs with BENCH_CONCURRENCY (default 50) in flight; prints requests/s, latency percentiles and memory.
 */
async function main() {
  const total = Number(process.env.BENCH_REQUESTS ?? 2000);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
  const adminKey = `hf_bench_${randomBytes(16).toString('hex')}`;
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'hookflow-bench-')),
    HOOKFLOW_ADMIN_KEY: adminKey,
    HOOKFLOW_SECRET_KEY: process.env.HOOKFLOW_SECRET_KEY ?? randomBytes(32).toString('base64'),
    LOG_LEVEL: 'error',
  });
  const app = await startApp(config, pino({ level: 'error' }));
  const graphql = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({
      query: 'mutation($i: CreateFlowInput!) { createFlow(input: $i) { webhookUrl } }',
      variables: {
        i: {
          name: 'bench',
          trigger: {
            label: 'Order',
            variables: [
              { name: 'order_id', type: 'STRING', required: true },
              { name: 'total', type: 'NUMBER', required: true },
            ],
          },
        },
      },
    }),
  });
  const { data } = (await graphql.json()) as { data: { createFlow: { webhookUrl: string } } };
  const url = data.createFlow.webhookUrl.replace(config.publicUrl, app.url);

  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ order_id: `B-${i}`, total: i, items: [{ sku: 'S', qty: 1 }] }),
        });
        await res.arrayBuffer();
        if (res.status !== 202) failures++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
  const rssMiB = (process.memoryUsage().rss / 1024 / 1024).toFixed(0);
  console.log(
    [
      `database: ${app.services.db.kind}; ${total} webhooks, ${concurrency} in flight`,
      `accepted: ${(total - failures) / seconds > 0 ? ((total - failures) / seconds).toFixed(0) : 0} requests/s (${failures} not 202)`,
      `latency ms: p50 ${pct(50)}  p95 ${pct(95)}  p99 ${pct(99)}  max ${latencies.at(-1)!.toFixed(1)}`,
      `process RSS: ${rssMiB} MiB (ingress, API and worker in one process, with PGlite when embedded)`,
    ].join('\n'),
  );
  await app.stop();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
