import type { Scope } from './scope';
import type { EngineKind, TemporalEndpoint } from './temporal';

/** The JSON report (and a phase's share of it): plain JSON, written to bench/results/. */
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
  /**
   * The measurement's own figures, merged into the report (or into its `cluster` object with
   * BENCH_ENGINE=cluster) when the measurement ends or runs out of time; anything written later is ignored.
   */
  out: Results;
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

/** Copies source into target, merging nested objects. */
export function mergeInto(target: Results, source: Results): void {
  for (const [key, value] of Object.entries(source)) {
    const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
    if (isObject && typeof target[key] === 'object') mergeInto(target[key], value);
    else target[key] = value;
  }
}

export function getAt(target: Results, dotted: string): unknown {
  return dotted.split('.').reduce<any>((node, key) => node?.[key], target);
}
