/** The hostile suite's shared pieces: the case shape, the flows every case can use, and ways to send. */
import type { Client } from 'pg';
import { gqlOk, type TestApp } from '../helpers/hookflow';
import { send, type Flow } from '../integration/ingress-helpers';
import { head, rawExchange, type RawOptions, type RawReply, type RawStep } from './raw-http';

export type Preset =
  'STANDARD_WEBHOOKS' | 'STRIPE' | 'GITHUB' | 'SHOPIFY' | 'SLACK' | 'HEADER_TOKEN' | 'BASIC';

export type HostileFlows = {
  /** No auth, no variables, POST and PUT, the default 1 MiB limit. */
  open: Flow;
  /** maxBodyBytes 1024. */
  small: Flow;
  /** STRICT: order_id STRING and total NUMBER required. */
  typed: Flow;
  /** GET and POST: a GET's query string is the payload. */
  get: Flow;
  /** note STRING, meta OBJECT; one http.request step whose input holds templates, and a SYNC answer. */
  template: Flow;
  /** One flow per auth preset, with the secret it was created with. */
  auth: Record<Preset, Flow & { secret: string }>;
};

export type HostileContext = {
  app: TestApp;
  /** The app's port, for raw sockets. */
  port: number;
  flows: HostileFlows;
  /** A connection to the app's database. */
  pg: Client;
};

/** What a case observed; `status` 0 means no answer came (the connection closed first). */
export type Reply = {
  status: number;
  json?: any;
  text?: string;
  headers?: Record<string, string>;
  closed?: boolean;
  elapsedMs?: number;
  bytesSent?: number;
  raw?: RawReply;
};

export type Stored = [status: string, rejectReason?: string];

export type Expectation = {
  status: number;
  /** The `error` of the JSON answer. */
  error?: string;
  /** The `message` of the JSON answer. */
  message?: string | RegExp;
  /**
   * The deliveries recorded for the case (found by its X-Case-Id header), oldest first, as [status, rejectReason];
   * [] means nothing was stored. Unset: not checked (answers that are not webhook answers).
   */
  stored?: Stored[];
};

export type HostileCase = {
  /** Stable: never renumbered, so a failure can be looked up and compared across runs. */
  id: string;
  title: string;
  send(ctx: HostileContext, caseId: string): Promise<Reply>;
  expect: Expectation;
  /** Further checks of the reply, of what was stored or of what a step received. */
  check?(reply: Reply, ctx: HostileContext, caseId: string): Promise<void> | void;
  /** Takes seconds (timeouts): started with the suite, so that it runs while the rest of the table does. */
  slow?: boolean;
};

export const CASE_HEADER = 'x-case-id';

/** A webhook path on the app ("/api/webhook/<token>"), with an optional query string. */
export const pathOf = (flow: Flow, query = '') => `${new URL(flow.webhookUrl).pathname}${query}`;

export function headersOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => (out[name] = value));
  return out;
}

type SendInit = {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  query?: string;
};

/** Sends through fetch, tagged with the case id. */
export async function post(
  ctx: HostileContext,
  flow: Flow,
  caseId: string,
  init: SendInit = {},
): Promise<Reply> {
  const started = performance.now();
  const url = `${ctx.app.url}${pathOf(flow, init.query)}`;
  const reply = await send(url, {
    method: init.method ?? 'POST',
    headers: { [CASE_HEADER]: caseId, ...init.headers },
    body: init.body,
  });
  return {
    status: reply.status,
    json: reply.json,
    text: reply.text,
    headers: headersOf(reply.headers),
    elapsedMs: performance.now() - started,
  };
}

export const postJson = (
  ctx: HostileContext,
  flow: Flow,
  caseId: string,
  body: unknown,
  headers: Record<string, string> = {},
) =>
  post(ctx, flow, caseId, {
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Sends raw bytes over a socket; the reply's status is that of the last final answer. */
export async function raw(ctx: HostileContext, steps: RawStep[], opts?: RawOptions): Promise<Reply> {
  const r = await rawExchange(ctx.port, steps, opts);
  const last = r.responses.findLast((x) => x.status >= 200);
  return {
    status: r.status,
    json: r.json,
    text: last?.body,
    headers: last?.headers,
    closed: r.closed,
    elapsedMs: r.elapsedMs,
    bytesSent: r.bytesSent,
    raw: r,
  };
}

/** A raw request to a flow: the head (with the case id) followed by `body` steps. */
export function rawRequest(
  ctx: HostileContext,
  caseId: string,
  request: { method?: string; path: string; headers?: Record<string, string | string[]>; body?: RawStep[] },
  opts?: RawOptions,
): Promise<Reply> {
  const h = head(request.method ?? 'POST', request.path, { [CASE_HEADER]: caseId, ...request.headers });
  return raw(ctx, [h, ...(request.body ?? [])], opts);
}

export async function storedFor(
  ctx: HostileContext,
  caseId: string,
): Promise<
  { id: string; status: string; reject_reason: string | null; size_bytes: number; body: unknown }[]
> {
  const { rows } = await ctx.pg.query(
    `select id, status, reject_reason, size_bytes, body, validation_errors, query, headers, source_ip, method
       from delivery where headers->>'${CASE_HEADER}' = $1 order by received_at, id`,
    [caseId],
  );
  return rows;
}

export const DELIVERY_STEPS = `query($id: ID!) {
  delivery(id: $id) { id status run { id status steps { stepKey status input output error } } }
}`;

/** The input the template flow's step ran with, once the delivery's run finished. */
export async function stepInput(ctx: HostileContext, deliveryId: string): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { delivery } = await gqlOk(ctx.app, ctx.app.adminKey, DELIVERY_STEPS, { id: deliveryId });
    const run = delivery.run;
    if (run && run.status !== 'RUNNING') return run.steps[0]?.input;
    if (Date.now() > deadline) throw new Error(`the run of ${deliveryId} did not finish`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
