/**
 * Jest global setup: one Temporal dev server (in memory, free port, namespace `default`) for the whole run.
 * Test workers inherit TEST_TEMPORAL_ADDRESS and TEST_TEMPORAL_CLI_PATH. An already set
 * TEST_TEMPORAL_ADDRESS is used as is (no server is started).
 */
import { findTemporalCli } from '../../src/temporal/cli';
import { TemporalDevServer } from '../../src/temporal/dev-server';

declare global {
  var __hookflowTemporalDevServer: TemporalDevServer | undefined;
}

export default async function globalSetup(): Promise<void> {
  const cliPath = await findTemporalCli({
    cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
    install: true,
    log: console.log,
  });
  process.env.TEST_TEMPORAL_CLI_PATH = cliPath;
  if (process.env.TEST_TEMPORAL_ADDRESS) return;

  const server = new TemporalDevServer({
    cliPath,
    namespace: 'default',
    log: (level, msg) => console[level === 'info' ? 'log' : level](`[temporal] ${msg}`),
  });
  await server.start();
  globalThis.__hookflowTemporalDevServer = server;
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
}
