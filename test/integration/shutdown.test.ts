import { CREATE_FLOW, eventually, gqlOk } from '../helpers/hookflow';
import { processEnv, startHookflowProcess, type HookflowProcess } from '../helpers/processes';
import { createTestDatabase, query } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';

const DELIVERIES = 300;

describe('stopping with a backlog', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let running: HookflowProcess | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    if (running?.proc.exitCode === null) running.proc.kill('SIGKILL');
    await db?.drop();
  });

  it('exits promptly on SIGTERM, and the backlog runs exactly once after a restart', async () => {
    // A slow receiver keeps runs in flight when the signal comes.
    const sink = await startTargetServer(() => ({ delayMs: 50 }));
    const env = await processEnv(db.url);
    const api = { config: { publicUrl: env.PUBLIC_URL } };
    try {
      running = await startHookflowProcess(env);
      const { createFlow: flow } = await gqlOk(api, env.HOOKFLOW_ADMIN_KEY, CREATE_FLOW, {
        input: {
          name: 'Backlog',
          trigger: { label: 'Order', variables: [{ name: 'order_id', type: 'STRING', required: true }] },
          steps: [
            {
              key: 'call',
              plugin: 'http',
              action: 'request',
              input: { url: `${sink.url}/{{webhook.order_id}}` },
            },
          ],
        },
      });
      let next = 0;
      const statuses: number[] = [];
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (next < DELIVERIES) {
            const i = next++;
            const res = await fetch(flow.webhookUrl, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ order_id: `B-${i}` }),
            });
            statuses.push(res.status);
          }
        }),
      );
      expect(statuses.filter((s) => s === 202)).toHaveLength(DELIVERIES);
      const [{ n: unfinished }] = await query<{ n: number }>(
        db.url,
        "select count(*)::int as n from delivery d where not exists (select 1 from run r where r.delivery_id = d.id and r.status = 'COMPLETED')",
      );
      expect(unfinished).toBeGreaterThan(0);

      const signalled = Date.now();
      running.proc.kill('SIGTERM');
      expect(await running.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(10_000);

      running = await startHookflowProcess(env);
      await eventually(
        async () => {
          const [{ n }] = await query<{ n: number }>(
            db.url,
            "select count(*)::int as n from run where status = 'COMPLETED'",
          );
          return n === DELIVERIES ? true : undefined;
        },
        120_000,
        'every run to complete',
      );
      expect(
        await query(
          db.url,
          'select count(*)::int as runs, count(distinct delivery_id)::int as deliveries from run',
        ),
      ).toEqual([{ runs: DELIVERIES, deliveries: DELIVERIES }]);
      // A call cut off by the stop is repeated with the same key, so a receiver can tell (at-least-once).
      const keys = new Set(sink.requests.map((r) => r.headers['idempotency-key']));
      expect(keys.size).toBe(DELIVERIES);
      running.proc.kill('SIGTERM');
      expect(await running.exited).toBe(0);
    } finally {
      await sink.close();
    }
  });
});
