/** Shared by the ingress-*.test.ts files: flows through GraphQL, raw HTTP requests, and database checks. */
import { CREATE_FLOW, eventually, gqlOk, type TestApp } from '../helpers/hookflow';
import { query } from '../helpers/postgres';

export type Flow = { id: string; webhookUrl: string; version: number };

export async function createFlow(app: TestApp, input: Record<string, unknown>): Promise<Flow> {
  return (await gqlOk(app, app.adminKey, CREATE_FLOW, { input })).createFlow;
}

export async function updateFlow(app: TestApp, id: string, input: Record<string, unknown>): Promise<Flow> {
  return (
    await gqlOk(
      app,
      app.adminKey,
      'mutation($id: ID!, $input: UpdateFlowInput!) { updateFlow(id: $id, input: $input) { id version webhookUrl } }',
      { id, input },
    )
  ).updateFlow;
}

export type Reply = { status: number; headers: Headers; text: string; json: any };

/** Sends exactly the bytes and headers given (no defaults added beyond what fetch itself sends). */
export async function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Uint8Array } = {},
): Promise<Reply> {
  const res = await fetch(url, {
    method: init.method ?? 'POST',
    headers: init.headers,
    body: init.body as BodyInit | undefined,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  send(url, { headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

export type DeliveryRow = {
  id: string;
  status: string;
  reject_reason: string | null;
  validation_errors: { path: string; message: string }[];
  body: unknown;
  query: Record<string, unknown>;
  headers: Record<string, string>;
  method: string;
  idempotency_key: string | null;
  duplicate_of: string | null;
  source_ip: string | null;
  accept_latency_ms: number | null;
  size_bytes: number;
  content_type: string | null;
};

export const deliveriesOf = (dbUrl: string, flowId: string) =>
  query<DeliveryRow>(dbUrl, 'select * from delivery where flow_id = $1 order by received_at, id', [flowId]);

export const runsOf = (dbUrl: string, flowId: string) =>
  query<{ id: string; delivery_id: string; status: string }>(
    dbUrl,
    'select id, delivery_id, status from run where flow_id = $1',
    [flowId],
  );

export async function countDeliveries(dbUrl: string): Promise<number> {
  return (await query<{ n: number }>(dbUrl, 'select count(*)::int as n from delivery'))[0]!.n;
}

/** Waits until the delivery's run finished; returns its status. */
export async function finishedRun(
  dbUrl: string,
  deliveryId: string,
): Promise<{ id: string; status: string }> {
  return eventually(
    async () => {
      const [run] = await query<{ id: string; status: string }>(
        dbUrl,
        'select id, status from run where delivery_id = $1',
        [deliveryId],
      );
      return run && run.status !== 'RUNNING' ? run : undefined;
    },
    60_000,
    'the run to finish',
  );
}

/** Lets the dispatcher's relay pass (grace 2 s, interval 2 s) so a wrongly pending delivery would have run. */
export const pastTheRelay = () => new Promise((r) => setTimeout(r, 4500));

export const UNAUTHORIZED = { error: 'unauthorized', message: 'authentication failed' };
