/**
 * How fast the relay catches up after a Temporal outage. On PostgreSQL, with one api+ingress process and no
 * worker: stop Temporal, accept a backlog of webhooks (every one must get 202: accepting does not need
 * Temporal), start Temporal again at the same address and database file, and time from "Temporal ready" until no
 * delivery waits for its run to be started.
 */
import type { PhaseContext } from './context';
import { createOrderFlow, startHookflow } from './hookflow';
import { runLoad } from './loadgen';
import { createBenchDatabase } from './postgres';
import { seedOrder } from './seed-order';
import { perSecond } from './stats';
import { startDevServer } from './temporal';
import { pollUntil } from './wait';

const BACKLOG = 1_000;
const CATCH_UP_TIMEOUT_MS = 120_000;
const PENDING = `select count(*) from delivery where dispatch_state = 'PENDING'`;

export async function measureRelay({ scope, signal, out, log }: PhaseContext): Promise<void> {
  const temporal = await startDevServer(scope, log);
  const db = await createBenchDatabase(scope);
  const app = await startHookflow(
    scope,
    'api+ingress',
    {
      roles: 'api,ingress',
      databaseUrl: db.url,
      temporal: { address: temporal.address, namespace: 'default' },
      signal,
    },
    log,
  );
  const url = await createOrderFlow(app.url, {
    name: 'relay',
    sinkUrl: 'http://127.0.0.1:9',
    stepPaths: ['/relay/s1'],
  });

  await temporal.stop();
  const sent = await runLoad({
    url,
    connections: 50,
    count: BACKLOG,
    body: (i) => JSON.stringify(seedOrder(`relay-${i}`)),
    signal,
  });
  const backlog = await db.count(PENDING);

  await temporal.start(); // same port and SQLite file
  const readyAt = performance.now();
  const caughtUp = await pollUntil(async () => (await db.count(PENDING)) === 0, {
    timeoutMs: CATCH_UP_TIMEOUT_MS,
    intervalMs: 100,
    signal,
  });
  const elapsedMs = performance.now() - readyAt;
  const started = backlog - (await db.count(PENDING));
  const startsPerSecond = {
    backlog,
    startsPerSecond: perSecond(started, elapsedMs),
    started,
    catchUpMs: Math.round(elapsedMs),
    sent: BACKLOG,
    non202: BACKLOG - (sent.statuses['202'] ?? 0),
    setup: [
      'PostgreSQL (local server); one HOOKFLOW_ROLES=api,ingress process, no worker; not pinned',
      'Temporal dev server (SQLite file, app pragmas) stopped while the backlog was accepted, then restarted',
    ],
    ...(!caughtUp && { timedOut: true }),
  };
  out.relay = { startsPerSecond };
}
