/**
 * Hookflow as the benchmark runs it: `node dist/src/main.js` child processes with the roles, database and
 * Temporal of a measurement, and the GraphQL calls that create the measured flows.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/temporal/dev-server';
import { MAIN_SCRIPT, spawnNode, waitForHttp, type Child } from './processes';
import type { Scope } from './scope';
import { ORDER_VARIABLES } from './seed-order';
import { temporalCli, type TemporalEndpoint } from './temporal';

/** Shared by every process of the run: processes of one topology must agree on the secret key. */
export const ADMIN_KEY = `hf_bench_${randomBytes(16).toString('hex')}`;
export const SECRET_KEY = randomBytes(32).toString('base64');

export type HookflowOptions = {
  /** HOOKFLOW_ROLES; all roles when omitted. */
  roles?: string;
  /** PostgreSQL; the embedded PGlite when omitted. */
  databaseUrl?: string;
  /** An existing Temporal; the app's own dev server when omitted. */
  temporal?: TemporalEndpoint;
  /** A task queue of the measurement's own, so that nothing left from another one is picked up. */
  taskQueue?: string;
  core?: number;
  /** PORT; a free one when omitted (a restarted process keeps its predecessor's). */
  port?: number;
  signal?: AbortSignal;
};

export type HookflowProcess = { name: string; url: string; child: Child };

/** The environment of the shell minus every variable Hookflow reads, so that only ours apply. */
function baseEnv(): NodeJS.ProcessEnv {
  const ours = /^(HOOKFLOW_|TEMPORAL_|DATABASE_URL$|PORT$|PUBLIC_URL$|DATA_DIR$|LOG_LEVEL$)/;
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !ours.test(name)));
}

export async function startHookflow(
  scope: Scope,
  name: string,
  opts: HookflowOptions,
  log: (msg: string) => void,
): Promise<HookflowProcess> {
  const port = opts.port ?? (await freePort());
  const dataDir = scope.defer(
    `${name} DATA_DIR`,
    mkdtempSync(path.join(os.tmpdir(), 'hookflow-bench-')),
    (d) => rmSync(d, { recursive: true, force: true }),
  );
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    HOOKFLOW_ADMIN_KEY: ADMIN_KEY,
    HOOKFLOW_SECRET_KEY: SECRET_KEY,
    HOOKFLOW_EGRESS_ALLOW: '127.0.0.1',
    TEMPORAL_CLI_PATH: await temporalCli(log),
    ...(opts.roles && { HOOKFLOW_ROLES: opts.roles }),
    ...(opts.databaseUrl && { DATABASE_URL: opts.databaseUrl }),
    ...(opts.temporal && {
      TEMPORAL_ADDRESS: opts.temporal.address,
      TEMPORAL_NAMESPACE: opts.temporal.namespace,
    }),
    ...(opts.taskQueue && { TEMPORAL_TASK_QUEUE: opts.taskQueue }),
  };
  const child = scope.defer(name, spawnNode(name, MAIN_SCRIPT, [], { env, core: opts.core }), (c) =>
    c.stop(),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/readyz`, { timeoutMs: 120_000, child, signal: opts.signal });
  return { name, url, child };
}

export function uniqueTaskQueue(measurement: string): string {
  return `bench-${measurement}-${randomBytes(3).toString('hex')}`;
}

/**
 * A flow triggered by the seed order whose steps each POST to `<sinkUrl><path>/<order_id>`. Returns the
 * webhook URL on `ingressUrl` (the URL the API prints is built from PUBLIC_URL).
 */
export async function createOrderFlow(
  apiUrl: string,
  opts: { name: string; sinkUrl: string; stepPaths: string[]; ingressUrl?: string },
): Promise<string> {
  const steps = opts.stepPaths.map((stepPath, i) => ({
    key: `step${i + 1}`,
    plugin: 'http',
    action: 'request',
    input: {
      method: 'POST',
      url: `${opts.sinkUrl}${stepPath}/{{webhook.order_id}}`,
      body: {
        order_id: '{{webhook.order_id}}',
        email: '{{webhook.customer_email}}',
        total: '{{webhook.total}}',
      },
    },
  }));
  const res = await fetch(`${apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({
      query: 'mutation($i: CreateFlowInput!) { createFlow(input: $i) { id webhookUrl } }',
      variables: {
        i: { name: opts.name, trigger: { label: 'Order placed', variables: ORDER_VARIABLES }, steps },
      },
    }),
  });
  const answer = (await res.json()) as { data?: { createFlow: { webhookUrl: string } }; errors?: unknown };
  if (!answer.data) throw new Error(`createFlow failed: ${JSON.stringify(answer.errors)}`);
  const webhook = new URL(answer.data.createFlow.webhookUrl);
  return `${opts.ingressUrl ?? apiUrl}${webhook.pathname}`;
}
