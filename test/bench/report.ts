/** The report: machine description, the JSON file under bench/results/, and the table printed at the end. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Results } from './context';
import { TASKSET } from './processes';
import { EMBEDDED_SQLITE_PRAGMAS } from '../../src/temporal/dev-server';
import type { EngineKind } from './temporal';

const ROOT = path.resolve(__dirname, '../../..');

export function machineInfo(engine: EngineKind) {
  return {
    cores: os.cpus().length,
    model: os.cpus()[0]?.model,
    totalMemoryMiB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    taskset: TASKSET,
    date: new Date().toISOString(),
    /** What runs, first action, run cost and the probe ran on; accept and relay always use dev servers. */
    engine,
    devServer: {
      cli: 'temporal server start-dev with a SQLite file',
      sqlitePragmas: EMBEDDED_SQLITE_PRAGMAS,
    },
    git: gitState(),
  };
}

function gitState() {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      dirty: git('status', '--porcelain', '--', 'src', 'plugins') !== '',
    };
  } catch {
    return undefined;
  }
}

export function writeReport(results: Results): string {
  const dir = path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  const file = path.join(dir, `${stamp}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  return path.relative(process.cwd(), file);
}

type Row = [figure: string, value: string, details: string];

const num = (v: unknown, unit = '') => (typeof v === 'number' ? `${v.toLocaleString('en-US')}${unit}` : '–');
/** A figure that was not measured says why. */
function problem(figure: any): string | undefined {
  if (figure === undefined) return 'not run';
  if (figure?.error) return `error: ${figure.error}`;
  if (figure?.skipped) return `skipped: ${figure.skipped}`;
  if (figure?.timedOut && figure.count === undefined && figure.perSecond === undefined) return 'timed out';
  return undefined;
}
const timedOutNote = (figure: any) => (figure?.timedOut ? '  TIMED OUT (partial)' : '');

function acceptRow(label: string, a: any): Row {
  return [
    label,
    problem(a) ?? num(a.perSecond, '/s'),
    problem(a)
      ? ''
      : `p50 ${num(a.p50Ms)} ms, p99 ${num(a.p99Ms)} ms, ${num(a.non2xx)} non-2xx of ${num(a.requests)}, server core busy ${num(a.serverCoreBusy)}`,
  ];
}

function runsRow(label: string, r: any): Row {
  return [
    label,
    problem(r) ?? num(r.perSecond, '/s'),
    problem(r)
      ? ''
      : `Temporal ceiling ${num(r.temporalCeilingPerSecond, '/s')}, ratio ${num(r.ratio)}, ${num(r.count)} runs${timedOutNote(r)}`,
  ];
}

function engineRows(r: Results, prefix: string): Row[] {
  const fa = r.firstAction;
  return [
    runsRow(`${prefix}runs, 1 step`, r.runs?.oneStep),
    runsRow(`${prefix}runs, 3 steps`, r.runs?.threeSteps),
    [
      `${prefix}first action at ${fa?.ratePerSecond ?? 10}/s`,
      problem(fa) ?? `p50 ${num(fa.p50Ms)} ms`,
      problem(fa) ? '' : `p99 ${num(fa.p99Ms)} ms, ${num(fa.count)} of ${num(fa.sent)}${timedOutNote(fa)}`,
    ],
    [
      `${prefix}bare Temporal probe, 1 activity`,
      problem(r.probe) ?? num(r.probe.oneActivity?.perSecond, '/s'),
      problem(r.probe) ? '' : `3 activities: ${num(r.probe.threeActivities?.perSecond, '/s')}`,
    ],
    [`${prefix}CPU per run (worker)`, problem(r.cpuMsPerRun) ?? num(r.cpuMsPerRun, ' ms'), ''],
    [`${prefix}SQL statements per run`, problem(r.statementsPerRun) ?? num(r.statementsPerRun), ''],
  ];
}

export function formatTable(r: Results): string {
  const relay = r.relay?.startsPerSecond;
  const rows: Row[] = [
    acceptRow('accept, bare node:http (ceiling)', r.accept?.ceilingNodeHttp),
    acceptRow('accept, PostgreSQL ingress role', r.accept?.postgres),
    acceptRow('accept, embedded all-in-one (PGlite)', r.accept?.pglite),
    ['CPU per accept (PostgreSQL ingress)', problem(r.cpuMsPerAccept) ?? num(r.cpuMsPerAccept, ' ms'), ''],
    ...(r.cluster ? [] : engineRows(r, '')),
    [
      'relay: runs started after an outage',
      problem(relay) ?? num(relay.startsPerSecond, '/s'),
      problem(relay)
        ? ''
        : `backlog ${num(relay.backlog)}, caught up in ${num(relay.catchUpMs)} ms${timedOutNote(relay)}`,
    ],
    ['peak RSS, all-in-one process', problem(r.rssMiB?.allInOne) ?? num(r.rssMiB.allInOne, ' MiB'), ''],
    ...(r.cluster ? engineRows(r.cluster, 'cluster: ') : []),
  ];
  const widths = [0, 1].map((i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: Row) =>
    `${row[0].padEnd(widths[0]!)}  ${row[1].padStart(widths[1]!)}  ${row[2]}`.trimEnd();
  return rows.map(line).join('\n');
}
