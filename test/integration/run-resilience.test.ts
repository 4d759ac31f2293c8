import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { Reconciler } from '../../src/services/reconciler';
import { WorkflowStarter, workflowIdFor } from '../../src/temporal/starter';
import {
  CREATE_FLOW,
  DELIVERY_WITH_RUN,
  eventually,
  gqlOk,
  startTestApp,
  temporalAddress,
  type TestApp,
} from '../helpers/hookflow';
import { processEnv, startHookflowProcess } from '../helpers/processes';
import { createTestDatabase, query } from '../helpers/postgres';
import { startTargetServer, type Captured } from '../helpers/target-server';
import { startTcpProxy } from '../helpers/tcp-proxy';

const ONE_STEP = (url: string) => ({
  name: 'Resilience',
  trigger: { label: 'Order', variables: [{ name: 'order_id', type: 'STRING', required: true }] },
  steps: [
    { key: 'call', plugin: 'http', action: 'request', input: { url, body: { id: '{{webhook.order_id}}' } } },
  ],
});

async function post(url: string, body: unknown): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { deliveryId: string }).deliveryId;
}

function completedRun(app: Pick<TestApp, 'config'>, key: string, deliveryId: string) {
  return eventually(
    async () => {
      const d = (await gqlOk(app, key, DELIVERY_WITH_RUN, { id: deliveryId })).delivery;
      return d.run?.status === 'COMPLETED' ? d : undefined;
    },
    90_000,
    'the run to complete',
  );
}

/** A sink whose first request is never answered (the step hangs until its worker or workflow goes away). */
async function sinkHangingOnFirst() {
  let first: (c: Captured) => void;
  const firstRequest = new Promise<Captured>((resolve) => (first = resolve));
  const sink = await startTargetServer((req) => {
    if (sink.requests.length === 1) {
      first(req);
      return { delayMs: 600_000 };
    }
    return { body: { ok: true } };
  });
  return { sink, firstRequest };
}

describe('runs survive what goes wrong around them', () => {
  // Each test has a database of its own: the bootstrap admin key applies to an empty database only.
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db?.drop();
  });

  it('does not use up a step’s retries while PostgreSQL is unreachable', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    const url = new URL(db.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const app = await startTestApp({ databaseUrl: url.toString() });
    let calls = 0;
    const sink = await startTargetServer(() => {
      calls++;
      // The first attempt fails; the database goes away before the second one.
      if (calls === 1) {
        proxy.cut();
        return { status: 503, body: { error: 'busy' } };
      }
      return { body: { ok: true } };
    });
    try {
      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: ONE_STEP(`${sink.url}/x`),
      });
      const deliveryId = await post(flow.webhookUrl, { order_id: 'PG-1' });
      await eventually(async () => (calls === 1 ? true : undefined), 30_000, 'the first attempt');
      // Long enough for the engine to try the step more often than the plugin's 5 attempts allow.
      await new Promise((r) => setTimeout(r, 16_000));
      proxy.restore();

      const d = await completedRun(app, app.adminKey, deliveryId);
      expect(d.run.steps).toEqual([
        expect.objectContaining({ stepKey: 'call', status: 'SUCCEEDED', attempts: 2 }),
      ]);
      expect(calls).toBe(2);
      const connection = await Connection.connect({ address: temporalAddress() });
      try {
        const history = await new Client({ connection }).workflow
          .getHandle(workflowIdFor(deliveryId))
          .fetchHistory();
        const attempts = history.events!.flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
        expect(Math.max(...attempts)).toBeGreaterThan(5);
      } finally {
        await connection.close();
      }
    } finally {
      proxy.restore();
      await app.stop();
      await sink.close();
      await proxy.close();
    }
  });

  it('starts a workflow the engine lost again, and the run completes once', async () => {
    const app = await startTestApp({ databaseUrl: db.url });
    const { sink, firstRequest } = await sinkHangingOnFirst();
    const connection = await Connection.connect({ address: temporalAddress() });
    const starter = WorkflowStarter.create({
      address: temporalAddress(),
      namespace: 'default',
      taskQueue: app.config.temporal.taskQueue,
    });
    try {
      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: ONE_STEP(`${sink.url}/x`),
      });
      const deliveryId = await post(flow.webhookUrl, { order_id: 'LOST-1' });
      await firstRequest;
      await new Client({ connection }).workflow
        .getHandle(workflowIdFor(deliveryId))
        .terminate('an operator terminated it');

      const reconciler = new Reconciler(app.services.db, starter, {
        staleAfterMs: 0,
        log: pino({ level: 'silent' }),
      });
      expect(await reconciler.reconcileOnce()).toBe(1);
      const d = await completedRun(app, app.adminKey, deliveryId);
      expect(d.run.steps).toEqual([
        expect.objectContaining({ stepKey: 'call', status: 'SUCCEEDED', attempts: 2 }),
      ]);
      expect(
        await query(db.url, 'select count(*)::int as n from run where delivery_id = $1', [deliveryId]),
      ).toEqual([{ n: 1 }]);
      // Nothing left to do: a completed workflow is never started again.
      expect(await reconciler.reconcileOnce()).toBe(0);
      expect(sink.requests).toHaveLength(2);
      expect(sink.requests[1]!.headers['idempotency-key']).toBe(sink.requests[0]!.headers['idempotency-key']);
    } finally {
      await starter.close();
      await connection.close();
      await app.stop();
      await sink.close();
    }
  });

  it('retries a step whose worker died mid-request on another worker, with the same Idempotency-Key', async () => {
    const env = await processEnv(db.url, { HOOKFLOW_ROLES: 'worker' });
    const api = await startTestApp({
      databaseUrl: db.url,
      roles: ['api', 'ingress'],
      secretKey: Buffer.from(env.HOOKFLOW_SECRET_KEY, 'base64'),
      temporal: { address: temporalAddress(), namespace: 'default', taskQueue: env.TEMPORAL_TASK_QUEUE },
    });
    const worker = await startHookflowProcess(env);
    const { sink, firstRequest } = await sinkHangingOnFirst();
    let second: TestApp | undefined;
    try {
      const { createFlow: flow } = await gqlOk(api, api.adminKey, CREATE_FLOW, {
        input: ONE_STEP(`${sink.url}/x`),
      });
      const deliveryId = await post(flow.webhookUrl, { order_id: 'KILL-1' });
      await firstRequest;
      worker.proc.kill('SIGKILL');
      await worker.exited;
      second = await startTestApp({
        databaseUrl: db.url,
        roles: ['worker'],
        secretKey: Buffer.from(env.HOOKFLOW_SECRET_KEY, 'base64'),
        temporal: { address: temporalAddress(), namespace: 'default', taskQueue: env.TEMPORAL_TASK_QUEUE },
      });

      const d = await completedRun(api, api.adminKey, deliveryId);
      expect(d.run.steps).toEqual([
        expect.objectContaining({ stepKey: 'call', status: 'SUCCEEDED', attempts: 2 }),
      ]);
      expect(sink.requests).toHaveLength(2);
      const keys = sink.requests.map((r) => r.headers['idempotency-key']);
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}:call$/);
      expect(keys[1]).toBe(keys[0]);
    } finally {
      if (worker.proc.exitCode === null) worker.proc.kill('SIGKILL');
      await second?.stop();
      await api.stop();
      await sink.close();
    }
  });
});
