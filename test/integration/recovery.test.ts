import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { TemporalDevServer, freePort } from '../../src/temporal/dev-server';
import {
  CREATE_FLOW,
  DELIVERY_WITH_RUN,
  eventually,
  gqlOk,
  startTestApp,
  type TestApp,
} from '../helpers/hookflow';
import { createTestDatabase, query } from '../helpers/postgres';
import { processEnv, startHookflowProcess } from '../helpers/processes';
import { startTargetServer } from '../helpers/target-server';

const ORDER = { order_id: 'R-1', customer_email: 'r@example.com', total: 1, items: [] };

function flowInput(targetUrl: string) {
  return {
    name: 'Recovery',
    trigger: { label: 'Order', variables: [{ name: 'order_id', type: 'STRING', required: true }] },
    steps: [
      {
        key: 'call',
        plugin: 'http',
        action: 'request',
        input: { url: `${targetUrl}/hook/{{webhook.order_id}}`, body: { id: '{{webhook.order_id}}' } },
      },
    ],
  };
}

async function post(url: string, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('a delivery accepted while Temporal is unreachable', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;
  let temporal: TemporalDevServer | undefined;
  let port: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    port = await freePort();
    app = await startTestApp({
      databaseUrl: db.url,
      temporal: {
        address: `127.0.0.1:${port}`,
        namespace: 'default',
        taskQueue: `test-${randomBytes(4).toString('hex')}`,
      },
    });
  });
  afterAll(async () => {
    await app?.stop();
    await temporal?.stop();
    await db?.drop();
  });

  it('is accepted, waits, and runs exactly once when Temporal comes back', async () => {
    const target = await startTargetServer();
    try {
      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: flowInput(target.url),
      });
      const ready = await fetch(`${app.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: 'not_ready',
        checks: { database: true, temporal: false, events: true },
      });

      const accepted = await post(flow.webhookUrl, ORDER);
      expect(accepted.status).toBe(202);
      const [row] = await query(db.url, 'select dispatch_state from delivery where id = $1', [
        accepted.body.deliveryId,
      ]);
      expect(row).toEqual({ dispatch_state: 'PENDING' });

      temporal = new TemporalDevServer({
        cliPath: process.env.TEST_TEMPORAL_CLI_PATH!,
        port,
        namespace: 'default',
        log: () => undefined,
      });
      await temporal.start();

      await eventually(
        async () => {
          const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id: accepted.body.deliveryId }))
            .delivery;
          return d.run?.status === 'COMPLETED' ? d : undefined;
        },
        60_000,
        'the run after Temporal came back',
      );
      expect(
        await query(db.url, 'select dispatch_state from delivery where id = $1', [accepted.body.deliveryId]),
      ).toEqual([{ dispatch_state: 'DISPATCHED' }]);
      expect(await query(db.url, 'select count(*)::int as n from run')).toEqual([{ n: 1 }]);
      expect(target.requests.map((r) => r.url)).toEqual(['/hook/R-1']);
    } finally {
      await target.close();
    }
  });
});

describe('the Hookflow process killed with SIGKILL right after a 202', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let child: ChildProcess | undefined;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await db?.drop();
  });

  async function startProcess(env: Record<string, string>): Promise<ChildProcess> {
    const { proc } = await startHookflowProcess(env);
    children.push(proc);
    return proc;
  }

  it('completes the run exactly once after a restart', async () => {
    const target = await startTargetServer();
    const env = await processEnv(db.url);
    const adminKey = env.HOOKFLOW_ADMIN_KEY;
    const api = { config: { publicUrl: env.PUBLIC_URL } } as any;
    try {
      child = await startProcess(env);
      const { createFlow: flow } = await gqlOk(api, adminKey, CREATE_FLOW, { input: flowInput(target.url) });
      const accepted = await post(flow.webhookUrl, ORDER);
      child.kill('SIGKILL');
      expect(accepted.status).toBe(202);
      await new Promise((r) => child!.once('exit', r));
      expect(await query(db.url, 'select id from delivery')).toEqual([{ id: accepted.body.deliveryId }]);

      child = await startProcess(env);
      const delivery = await eventually(
        async () => {
          const d = (await gqlOk(api, adminKey, DELIVERY_WITH_RUN, { id: accepted.body.deliveryId }))
            .delivery;
          return d.run?.status === 'COMPLETED' ? d : undefined;
        },
        60_000,
        'the run after the restart',
      );
      expect(delivery.run.steps).toEqual([expect.objectContaining({ stepKey: 'call', status: 'SUCCEEDED' })]);
      expect(await query(db.url, 'select count(*)::int as n from run')).toEqual([{ n: 1 }]);
      expect(await query(db.url, 'select count(*)::int as n from step_run')).toEqual([{ n: 1 }]);
      // The call may be repeated if the kill interrupted it mid-flight (at-least-once), never more than twice.
      expect(target.requests.length).toBeGreaterThanOrEqual(1);
      expect(target.requests.length).toBeLessThanOrEqual(2);
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    } finally {
      await target.close();
    }
  });
});
