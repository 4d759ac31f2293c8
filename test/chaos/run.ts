/**
 * `npm run test:chaos [-- <case> …]`: the chaos suite (not part of `npm test`). On its own PostgreSQL cluster
 * and loopback only, runs each selected case (default all: kills, temporal-down, postgres-down) against a
 * multi-process deployment and prints its summary lines; exits non-zero if any case lost, duplicated or
 * refused what it must not.
 *
 *   CHAOS_N=5000      deliveries per case
 *   CHAOS_RATE=200    deliveries started per second
 *
 * Every case has a hard time limit; whatever it started is stopped and removed when it ends.
 */
import { Scope } from '../bench/scope';
import { CASES, drainTimeoutMs, type CaseContext } from './cases';
import { startPgCluster } from './postgres-cluster';

/** Set-up, faults and sending, on top of the time the backlog may take. */
const CASE_OVERHEAD_MS = 8 * 60_000;

function positiveInt(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

const startedAt = Date.now();
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(0)} s`;
const log = (msg: string) =>
  console.error(`[chaos ${new Date().toISOString().slice(11, 23)} ${seconds(startedAt).padStart(6)}] ${msg}`);
const runScope = new Scope(log);
let caseScope: Scope | undefined;

async function runCase(name: string, ctx: Omit<CaseContext, 'scope' | 'signal'>): Promise<boolean> {
  const scope = (caseScope = new Scope(log));
  const abort = new AbortController();
  const limitMs = drainTimeoutMs(ctx.count) + CASE_OVERHEAD_MS;
  const timer = setTimeout(() => abort.abort(new Error(`timed out after ${limitMs / 1000} s`)), limitMs);
  const caseStarted = Date.now();
  log(`case ${name}: started (limit ${limitMs / 1000} s)`);
  let lines: string[] = [];
  let failures: string[];
  try {
    const timedOut = new Promise<never>((_, reject) =>
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error)),
    );
    ({ lines, failures } = await Promise.race([
      CASES[name]!({ ...ctx, scope, signal: abort.signal }),
      timedOut,
    ]));
  } catch (err) {
    failures = [`the case could not finish: ${(err as Error).stack ?? err}`];
  } finally {
    clearTimeout(timer);
    abort.abort();
    await scope.close();
    caseScope = undefined;
  }
  console.log(`\n== ${name} (${seconds(caseStarted)}) ==`);
  for (const line of lines) console.log(line);
  for (const failure of failures) console.log(`FAIL: ${failure}`);
  console.log(failures.length ? 'result FAILED' : 'result passed');
  return failures.length === 0;
}

async function main(): Promise<boolean> {
  const selected = process.argv.slice(2);
  const unknown = selected.filter((name) => !(name in CASES));
  if (unknown.length)
    throw new Error(`unknown case ${unknown.join(', ')} (choose from ${Object.keys(CASES).join(', ')})`);
  const names = selected.length ? selected : Object.keys(CASES);
  const count = positiveInt('CHAOS_N', 5_000);
  const ratePerSecond = positiveInt('CHAOS_RATE', 200);
  log(`cases ${names.join(', ')}; ${count} deliveries per case at ${ratePerSecond}/s`);
  const pg = await startPgCluster(runScope, log);
  const passed: boolean[] = [];
  for (const name of names) passed.push(await runCase(name, { pg, log, count, ratePerSecond }));
  await runScope.close();
  console.log(
    `\nchaos: ${passed.filter(Boolean).length}/${names.length} cases passed in ${seconds(startedAt)}`,
  );
  return passed.every(Boolean);
}

// A late failure in a case that already ended (its processes killed under it) must not end the suite.
process.on('unhandledRejection', (err) => log(`unhandled rejection: ${(err as Error)?.message ?? err}`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything`);
    void Promise.all([caseScope?.close(), runScope.close()]).finally(() => process.exit(130));
  });
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  async (err: unknown) => {
    console.error(err);
    await Promise.all([caseScope?.close(), runScope.close()]);
    process.exit(2);
  },
);
