/**
 * `npm run temporal:install`: find or build the Temporal CLI and print its path (stdout); progress goes to stderr.
 * Besides main.ts, this is the only module that reads process.env.
 */
import { findTemporalCli } from './cli';

async function main(): Promise<void> {
  const cliPath = await findTemporalCli({
    cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
    install: true,
    log: (msg) => console.error(msg),
  });
  console.log(cliPath);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
