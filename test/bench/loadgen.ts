/**
 * The load generator: `connections` keep-alive connections, each sending its next POST as soon as the previous
 * answer arrived, for a fixed duration or a fixed count. Used as a library for bursts and as its own process
 * (`node loadgen.js '<LoadOptions as JSON>'`, JSON result on stdout) for the accept measurements, so that it can
 * be pinned to a core other than the server's.
 */
import { Pool } from 'undici';
import { latencySummary, perSecond } from './stats';

export type LoadOptions = {
  url: string;
  connections: number;
  /** Stop starting requests after this long … */
  durationMs?: number;
  /** … or after this many (whichever comes first). */
  count?: number;
  /** The JSON body, fixed or per request index. */
  body: string | ((i: number) => string);
  signal?: AbortSignal;
};

export type LoadResult = {
  /** Answers received (any status). */
  requests: number;
  /** 2xx answers. */
  ok: number;
  /** 2xx answers per second of the whole run. */
  perSecond?: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  /** Answers that were not 2xx, plus requests that got no answer at all. */
  non2xx: number;
  statuses: Record<string, number>;
  errors: number;
  durationMs: number;
  /** performance.now() of this process when the first request was sent. */
  startedAt: number;
};

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const url = new URL(opts.url);
  const pool = new Pool(url.origin, { connections: opts.connections, pipelining: 1 });
  const fixedBody = typeof opts.body === 'string' ? Buffer.from(opts.body) : undefined;
  const bodyFor = (i: number) => fixedBody ?? (opts.body as (i: number) => string)(i);
  const headers = { 'content-type': 'application/json' };
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let ok = 0;
  let next = 0;
  const startedAt = performance.now();
  const stopAt = startedAt + (opts.durationMs ?? Infinity);
  const more = () => next < (opts.count ?? Infinity) && performance.now() < stopAt && !opts.signal?.aborted;

  const connection = async () => {
    while (more()) {
      const i = next++;
      const sentAt = performance.now();
      try {
        const res = await pool.request({
          path: url.pathname + url.search,
          method: 'POST',
          headers,
          body: bodyFor(i),
        });
        await res.body.dump();
        latencies.push(performance.now() - sentAt);
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode >= 200 && res.statusCode < 300) ok++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, connection));
  const durationMs = performance.now() - startedAt;
  await pool.close();
  return {
    requests: latencies.length,
    ok,
    perSecond: perSecond(ok, durationMs),
    ...latencySummary(latencies),
    non2xx: latencies.length - ok + errors,
    statuses,
    errors,
    durationMs: Math.round(durationMs),
    startedAt,
  };
}

if (require.main === module) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  runLoad(opts).then(
    (result) => process.stdout.write(JSON.stringify(result) + '\n'),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
