import type { Scope } from './scope';
import type { EngineKind, TemporalEndpoint } from './temporal';

/** The JSON report: figures are written in as they are measured, so a phase that stops early keeps what it had. */
export type Results = Record<string, any>;

export type Engine = {
  kind: EngineKind;
  /** A Temporal for one measurement: a fresh dev server in that measurement's scope, or the shared cluster. */
  temporal(scope: Scope): Promise<TemporalEndpoint>;
};

export type PhaseContext = {
  scope: Scope;
  signal: AbortSignal;
  log: (msg: string) => void;
  /** Where the measurement's figures go: the report itself, or its `cluster` object with BENCH_ENGINE=cluster. */
  out: Results;
  /** The report itself, for machine-wide figures such as rssMiB. */
  report: Results;
  engine: Engine;
};

/** Sets a dotted path (`accept.pglite`) in a results object, creating the objects on the way. */
export function setAt(target: Results, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  const last = keys.pop()!;
  let node = target;
  for (const key of keys) node = node[key] ??= {};
  node[last] = value;
}

export function getAt(target: Results, dotted: string): unknown {
  return dotted.split('.').reduce<any>((node, key) => node?.[key], target);
}
