import 'reflect-metadata';
import { startApp } from './app';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';

/** A stopping process exits within this time (container orchestrators wait about 10 s before SIGKILL). */
const STOP_DEADLINE_MS = 9_000;

async function main() {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const started = Date.now();
  const app = await startApp(config, log);

  const lines = [
    '',
    `Hookflow is ready (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    `  GraphQL:      ${config.publicUrl}/graphql   (WebSocket subscriptions on the same URL)`,
    `  Webhooks:     ${config.publicUrl}/api/webhook/<token>`,
    `  Health:       ${app.url}/healthz  ${app.url}/readyz`,
  ];
  if (app.bootstrapKey) {
    lines.push(
      '',
      '  Bootstrap admin API key (shown once; store it now):',
      `    ${app.bootstrapKey}`,
      '  Use it as: Authorization: Bearer <key>',
    );
  }
  console.log(lines.join('\n') + '\n');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // Whatever was not finished by then is safe: accepted deliveries are in the database, runs in the engine.
    setTimeout(() => {
      log.warn('stopping took too long; exiting now');
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    await app.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
