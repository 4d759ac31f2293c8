import http from 'node:http';
import path from 'node:path';
import express from 'express';
import type { Logger } from 'pino';
import type { Config } from './config';
import { createActivities } from './activities';
import { webhookRouter } from './ingress/router';
import { createEgressFetch } from './plugins-host/egress';
import { PluginRegistry } from './plugins-host/registry';
import { PluginSandbox } from './plugins-host/sandbox';
import { mountGraphql } from './resolvers/server';
import type { Services } from './services';
import { bootstrap } from './services/api-keys';
import { SecretBox } from './services/crypto';
import { openDatabase } from './services/database';
import { lockDataDir } from './services/data-dir-lock';
import { Metrics } from './services/metrics';
import { CredentialService } from './services/credentials';
import { Dispatcher } from './services/dispatcher';
import { Reconciler } from './services/reconciler';
import { RetentionService } from './services/retention';
import { PostgresEventBus } from './services/events';
import { FlowService } from './services/flows';
import { PluginService } from './services/plugins';
import { loadOrCreateSecretKey } from './services/secret-key';
import { findTemporalCli } from './temporal/cli';
import { EMBEDDED_SQLITE_PRAGMAS, TemporalDevServer } from './temporal/dev-server';
import { WorkflowStarter } from './temporal/starter';
import { FlowWorker } from './temporal/worker';

export const BUILTIN_PLUGINS = [
  '@hookflow/plugin-http',
  '@hookflow/plugin-email',
  '@hookflow/plugin-slack',
  '@hookflow/plugin-jira',
];

/** How long a stopping process lets requests in flight finish before it closes their connections. */
const DRAIN_TIMEOUT_MS = 3_000;

/**
 * Connection timeouts. Node's defaults let a client that stops sending hold a socket for 5 minutes; webhook
 * bodies also have their own, shorter limit (BODY_TIMEOUT_MS in ingress/read-body.ts, answered 408 and recorded).
 */
const HTTP_TIMEOUTS = {
  /** The request line and headers must arrive within 10 s of the connection (or of the request's first byte); Node answers 408 and closes. */
  headersTimeout: 10_000,
  /** The whole request, body included, on every route (GraphQL too); Node answers 408 and closes. */
  requestTimeout: 30_000,
  /** Idle keep-alive connections close after 65 s: later than the 60 s idle timeout of common proxies and load balancers, so they close first and never send a request on a socket being closed here (a 502). */
  keepAliveTimeout: 65_000,
  /** How often Node looks for connections past the two limits above (its default, 30 s, would let them overrun by that much). */
  connectionsCheckingInterval: 1_000,
} satisfies http.ServerOptions;

/** Counts the requests being handled, so that stopping can wait for them. */
function countRequests(app: express.Express) {
  let active = 0;
  let idle: (() => void) | undefined;
  app.use((_req, res, next) => {
    active++;
    res.once('close', () => {
      if (--active === 0) idle?.();
    });
    next();
  });
  return {
    drained: (timeoutMs: number) =>
      new Promise<void>((resolve) => {
        if (active === 0) return resolve();
        const timer = setTimeout(resolve, timeoutMs);
        idle = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
  };
}

export type App = {
  url: string;
  port: number;
  services: Services;
  registry: PluginRegistry;
  /** Set on the first start of an empty database when the key was generated here. */
  bootstrapKey?: string;
  temporalAddress?: string;
  stop(): Promise<void>;
};

/** Starts the roles the configuration asks for; stop() undoes everything in reverse order. */
export async function startApp(config: Config, log: Logger): Promise<App> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'error while stopping');
      }
    }
    cleanups.length = 0;
  };

  try {
    const embedded = !config.databaseUrl;
    if (embedded) cleanups.push(lockDataDir(config.dataDir));
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    cleanups.push(() => db.close());
    log.info({ database: db.kind }, 'database ready');

    const secretKey = config.secretKey ?? loadOrCreateSecretKey(config.dataDir, (m) => log.warn(m));
    // Only a worker runs plugin code; the api and ingress roles read the manifests the packages ship.
    const registry = await PluginRegistry.load({
      packages: BUILTIN_PLUGINS.map((name) => ({ name })),
      loadCode: config.roles.includes('worker'),
    });
    const sandbox = new PluginSandbox({ egressAllow: config.egressAllow, log });
    cleanups.push(() => sandbox.close());
    const box = new SecretBox(secretKey);
    const events = await PostgresEventBus.start(db, config.databaseUrl, {
      info: (m) => log.info(m),
      warn: (m) => log.warn(m),
    });
    cleanups.push(() => events.close());
    const metrics = new Metrics();
    metrics.watchEventListener(() => events.listening());
    const credentials = new CredentialService({ box, registry });
    const workerQueues = config.temporal.workerQueues ?? [config.temporal.taskQueue];
    const plugins = new PluginService({
      db,
      registry,
      dataDir: config.dataDir,
      log,
      events,
      sandbox,
      // The API needs every manifest; a worker loads only the plugins whose steps its queues run.
      loads: (taskQueue) =>
        config.roles.includes('api') ||
        (config.roles.includes('worker') && workerQueues.includes(taskQueue ?? config.temporal.taskQueue)),
    });
    const services: Services = {
      db,
      box,
      events,
      publicUrl: config.publicUrl,
      registry,
      flows: new FlowService({ catalog: registry, box, publicUrl: config.publicUrl, credentials, events }),
      plugins,
      credentials,
    };
    if (config.roles.includes('api') || config.roles.includes('worker')) {
      await plugins.start();
      cleanups.push(() => plugins.stop());
    }
    const boot = await db.withStartupLock(() => bootstrap(db.em(), config.adminKey));

    const needsTemporal = config.roles.includes('ingress') || config.roles.includes('worker');
    let temporalAddress = config.temporal.address;
    if (needsTemporal && !temporalAddress) {
      const cliPath = await findTemporalCli({ cliPath: config.temporal.cliPath, log: (m) => log.info(m) });
      const devServer = new TemporalDevServer({
        cliPath,
        dbFile: path.resolve(config.dataDir, 'temporal.db'),
        sqlitePragmas: EMBEDDED_SQLITE_PRAGMAS,
        namespace: config.temporal.namespace,
        log: (level, msg) => log[level](msg),
      });
      await devServer.start();
      cleanups.push(() => devServer.stop(3_000));
      temporalAddress = devServer.address;
    }
    const starter =
      temporalAddress !== undefined
        ? WorkflowStarter.create({
            address: temporalAddress,
            namespace: config.temporal.namespace,
            taskQueue: config.temporal.taskQueue,
          })
        : undefined;
    if (starter) {
      services.starter = starter;
      cleanups.push(() => starter.close());
    }

    const app = express();
    app.disable('x-powered-by');
    const server = http.createServer(HTTP_TIMEOUTS, app);
    // Registered before the roles, so it runs after them: WebSocket clients are closed by the API first.
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const inFlight = countRequests(app);
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    // Unauthenticated like the health checks: keep it off the public internet (see the README).
    app.get('/metrics', async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    app.get('/readyz', async (_req, res) => {
      const checks = {
        database: await db
          .em()
          .getConnection()
          .execute('select 1')
          .then(() => true)
          .catch(() => false),
        temporal: starter ? await starter.healthy() : true,
        events: events.listening(),
      };
      const ready = checks.database && checks.temporal && checks.events;
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
    });

    if (config.roles.includes('api')) {
      const graphql = await mountGraphql({ app, httpServer: server, services, log });
      cleanups.push(() => graphql.stop());
      const retention = new RetentionService(db, config.retention, log);
      retention.start();
      cleanups.push(() => retention.stop());
    }
    if (config.roles.includes('ingress') && starter) {
      const dispatcher = new Dispatcher(db, starter, { log });
      const reconciler = new Reconciler(db, starter, { log });
      metrics.watchBacklog(() => dispatcher.backlog());
      app.use(webhookRouter(services, dispatcher, log, { waiter: starter, metrics })); // waiter: SYNC response mode
      dispatcher.startRelay();
      reconciler.start();
      cleanups.push(() => reconciler.stop());
      cleanups.push(() => dispatcher.stop());
    }
    if (config.roles.includes('worker') && temporalAddress) {
      const activities = createActivities({
        services,
        registry,
        sandbox,
        fetch: createEgressFetch({ allow: config.egressAllow }),
        log,
        metrics,
      });
      // One worker per served queue: the main one runs workflows and first-party steps; others run the steps
      // of installed plugins routed to them (HOOKFLOW_WORKER_QUEUES).
      for (const taskQueue of workerQueues) {
        const worker = new FlowWorker({
          address: temporalAddress,
          namespace: config.temporal.namespace,
          taskQueue,
          activities,
          log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
        });
        worker.start();
        cleanups.push(() => worker.stop());
      }
    }

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    // Runs first on stop: no new connections, and the requests in flight (webhooks being stored) may finish.
    cleanups.push(async () => {
      server.close();
      server.closeIdleConnections();
      await inFlight.drained(DRAIN_TIMEOUT_MS);
    });
    const port = (server.address() as { port: number }).port;
    return {
      url: `http://localhost:${port}`,
      port,
      services,
      registry,
      bootstrapKey: boot?.generated ? boot.key : undefined,
      temporalAddress,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
