import {
  CREATE_FLOW,
  eventually,
  gqlOk,
  startTestApp,
  subscribe,
  wsClient,
  type TestApp,
} from '../helpers/hookflow';
import { createTestDatabase } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';

describe('flowActivity across processes', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: TestApp;
  let ingressAndWorker: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startTestApp({ databaseUrl: db.url, roles: ['api'] });
    ingressAndWorker = await startTestApp({
      databaseUrl: db.url,
      roles: ['ingress', 'worker'],
      secretKey: api.config.secretKey,
      temporal: api.config.temporal,
    });
  });
  afterAll(async () => {
    await ingressAndWorker?.stop();
    await api?.stop();
    await db?.drop();
  });

  it('streams events published by the ingress and worker roles to a subscription on the API role', async () => {
    const target = await startTargetServer();
    try {
      const { createFlow: flow } = await gqlOk(api, api.adminKey, CREATE_FLOW, {
        input: {
          name: 'Split roles',
          steps: [{ key: 'call', plugin: 'http', action: 'request', input: { url: `${target.url}/x` } }],
        },
      });
      const ws = wsClient(api, api.adminKey);
      const sub = subscribe(ws, 'subscription($id: ID) { flowActivity(flowId: $id) { type status } }', {
        id: flow.id,
      });
      await new Promise((r) => setTimeout(r, 300));

      const webhookUrl = flow.webhookUrl.replace(api.config.publicUrl, ingressAndWorker.config.publicUrl);
      const res = await fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(202);

      await eventually(async () =>
        sub.events.some((e) => e.flowActivity.type === 'RUN_FINISHED') ? true : undefined,
      );
      expect(sub.events.map((e) => [e.flowActivity.type, e.flowActivity.status])).toEqual([
        ['DELIVERY_RECEIVED', 'ACCEPTED'],
        ['RUN_STARTED', 'RUNNING'],
        ['STEP_STARTED', 'RUNNING'],
        ['STEP_SUCCEEDED', 'SUCCEEDED'],
        ['RUN_FINISHED', 'COMPLETED'],
      ]);
      sub.dispose();
      await ws.dispose();
    } finally {
      await target.close();
    }
  });
});
