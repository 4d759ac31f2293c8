import {
  CREATE_FLOW,
  DELIVERY_WITH_RUN,
  eventually,
  gqlOk,
  startTestApp,
  subscribe,
  wsClient,
  type TestApp,
} from '../helpers/hookflow';
import { createTestDatabase, query } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';

async function post(url: string, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as { deliveryId: string };
}

async function finishedDelivery(app: TestApp, id: string) {
  return eventually(
    async () => {
      const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id })).delivery;
      return d.run && d.run.status !== 'RUNNING' ? d : undefined;
    },
    60_000,
    'the run to finish',
  );
}

describe('step execution', () => {
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

  it('retries a failing step with backoff and passes earlier outputs to later steps', async () => {
    let calls = 0;
    const target = await startTargetServer((req) => {
      if (req.url === '/create') {
        calls++;
        return calls < 3 ? { status: 503, body: { error: 'busy' } } : { status: 201, body: { id: 'T-42' } };
      }
      return { body: { ok: true } };
    });
    try {
      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: {
          name: 'Two steps',
          trigger: { label: 'In', variables: [{ name: 'name', type: 'STRING', required: true }] },
          steps: [
            {
              key: 'create',
              plugin: 'http',
              action: 'request',
              input: { url: `${target.url}/create`, body: { name: '{{webhook.name}}' } },
            },
            {
              key: 'follow_up',
              plugin: 'http',
              action: 'request',
              input: {
                url: `${target.url}/items/{{steps.create.output.body.id}}`,
                body: { created: '{{steps.create.output.status}}' },
              },
            },
            {
              key: 'never',
              plugin: 'http',
              action: 'request',
              when: '{{webhook.missing_flag}}',
              input: { url: `${target.url}/never` },
            },
          ],
        },
      });
      const { deliveryId } = await post(flow.webhookUrl, { name: 'widget' });
      const d = await finishedDelivery(app, deliveryId);
      expect(d.run.status).toBe('COMPLETED');
      expect(d.run.steps.map((s: any) => [s.stepKey, s.status, s.attempts])).toEqual([
        ['create', 'SUCCEEDED', 3],
        ['follow_up', 'SUCCEEDED', 1],
        ['never', 'SKIPPED', 1],
      ]);
      expect(target.requests.map((r) => r.url)).toEqual(['/create', '/create', '/create', '/items/T-42']);
      expect(JSON.parse(target.requests[3]!.body)).toEqual({ created: 201 });
    } finally {
      await target.close();
    }
  });

  it('fails the step at once on a permanent error and ends the run as FAILED', async () => {
    const target = await startTargetServer(() => ({ status: 400, body: { error: 'bad order' } }));
    try {
      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: {
          name: 'Permanent failure',
          steps: [
            { key: 'reject', plugin: 'http', action: 'request', input: { url: `${target.url}/reject` } },
            { key: 'after', plugin: 'http', action: 'request', input: { url: `${target.url}/after` } },
          ],
        },
      });
      const ws = wsClient(app, app.adminKey);
      const sub = subscribe(
        ws,
        'subscription($id: ID) { flowActivity(flowId: $id) { type stepKey status message } }',
        { id: flow.id },
      );
      await new Promise((r) => setTimeout(r, 300));
      const { deliveryId } = await post(flow.webhookUrl, {});
      const d = await finishedDelivery(app, deliveryId);
      expect(d.run.status).toBe('FAILED');
      expect(d.run.steps).toEqual([
        expect.objectContaining({ stepKey: 'reject', status: 'FAILED', attempts: 1 }),
      ]);
      expect(d.run.steps[0].error).toMatch(/400/);
      expect(target.requests.map((r) => r.url)).toEqual(['/reject']);
      const [run] = await query<{ error: string }>(db.url, 'select error from run where delivery_id = $1', [
        deliveryId,
      ]);
      expect(run!.error).toMatch(/^step "reject" failed: .*400/);
      await eventually(async () =>
        sub.events.some((e) => e.flowActivity.type === 'RUN_FINISHED') ? true : undefined,
      );
      expect(sub.events.map((e) => [e.flowActivity.type, e.flowActivity.status])).toEqual([
        ['DELIVERY_RECEIVED', 'ACCEPTED'],
        ['RUN_STARTED', 'RUNNING'],
        ['STEP_STARTED', 'RUNNING'],
        ['STEP_FAILED', 'FAILED'],
        ['RUN_FINISHED', 'FAILED'],
      ]);
      sub.dispose();
      await ws.dispose();
    } finally {
      await target.close();
    }
  });
});
