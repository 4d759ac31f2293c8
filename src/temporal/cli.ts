/**
 * Finds (or builds) the Temporal CLI binary used to run the embedded dev server.
 *
 * Order: explicit `cliPath` → `temporal` on PATH → the cache (`~/.cache/hookflow/temporal-<version>/temporal`)
 * → `go install` into the cache (only when `install !== false`). Nothing else is downloaded.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

/** The CLI release built by `go install`. v1.6+ replaces a nested module the Go proxy does not serve. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

const EXE = process.platform === 'win32' ? '.exe' : '';
const HEARTBEAT_MS = 15_000;

export type TemporalCliErrorCode =
  'TEMPORAL_CLI_INVALID_PATH' | 'TEMPORAL_CLI_NOT_FOUND' | 'TEMPORAL_CLI_INSTALL_FAILED';

export class TemporalCliError extends Error {
  constructor(
    readonly code: TemporalCliErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TemporalCliError';
  }
}

export interface FindTemporalCliOptions {
  /** An explicit binary (TEMPORAL_CLI_PATH). Must exist and be executable; no fallback when set. */
  cliPath?: string;
  /** Defaults to `~/.cache/hookflow`. */
  cacheDir?: string;
  log: (msg: string) => void;
  /** Build with `go install` when nothing is found (default true). */
  install?: boolean;
  /** PATH-style directory list searched for `temporal` and `go`; defaults to this process's PATH. */
  searchPath?: string;
}

export function defaultCacheDir(): string {
  return path.join(os.homedir(), '.cache', 'hookflow');
}

/** Where the cached binary of `TEMPORAL_CLI_VERSION` lives inside `cacheDir`. */
export function cachedCliPath(cacheDir: string = defaultCacheDir()): string {
  return path.join(path.resolve(cacheDir), `temporal-${TEMPORAL_CLI_VERSION}`, `temporal${EXE}`);
}

export async function findTemporalCli(opts: FindTemporalCliOptions): Promise<string> {
  if (opts.cliPath) {
    const problem = await executableProblem(opts.cliPath);
    if (problem) {
      throw new TemporalCliError(
        'TEMPORAL_CLI_INVALID_PATH',
        `Temporal CLI path "${opts.cliPath}" (TEMPORAL_CLI_PATH) ${problem}. ` +
          'Point it at a Temporal CLI binary, or unset it to use `temporal` from PATH or the Hookflow cache.',
      );
    }
    return path.resolve(opts.cliPath);
  }

  const searchPath = opts.searchPath ?? process.env.PATH ?? '';
  const onPath = await findOnPath(`temporal${EXE}`, searchPath);
  if (onPath) return onPath;

  const cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir());
  const cached = cachedCliPath(cacheDir);
  if (!(await executableProblem(cached))) return cached;

  const go = await findOnPath(`go${EXE}`, searchPath);
  if (opts.install === false || !go) {
    throw new TemporalCliError(
      'TEMPORAL_CLI_NOT_FOUND',
      [
        `Temporal CLI not found (looked on PATH and at ${cached})` +
          (opts.install === false
            ? ' and installing is disabled.'
            : ', and Go is not installed to build it.'),
        'The embedded Temporal dev server needs it. Options:',
        '  - set TEMPORAL_CLI_PATH to an existing Temporal CLI binary;',
        '  - install the Temporal CLI (https://docs.temporal.io/cli) so that `temporal` is on PATH;',
        `  - install Go (https://go.dev/dl/) and run \`npm run temporal:install\`, which builds ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} into ${path.dirname(cached)};`,
        '  - or set TEMPORAL_ADDRESS to use an existing Temporal server instead of the dev server.',
      ].join('\n'),
    );
  }
  return installWithGo(go, cacheDir, opts.log);
}

/** Builds the CLI into a temp dir next to the cache folder, then renames it into place (atomic on one filesystem). */
async function installWithGo(go: string, cacheDir: string, log: (msg: string) => void): Promise<string> {
  const target = cachedCliPath(cacheDir);
  await fs.mkdir(cacheDir, { recursive: true });
  const tmpDir = await fs.mkdtemp(path.join(cacheDir, `.temporal-${TEMPORAL_CLI_VERSION}-build-`));
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
  log(
    `Temporal CLI not found; building ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} with ${go} ` +
      '(first build takes a few minutes; later runs reuse the cache)',
  );
  const heartbeat = setInterval(
    () => log(`still building the Temporal CLI (${elapsed()} elapsed)`),
    HEARTBEAT_MS,
  );
  try {
    await runStreaming(
      go,
      ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`],
      { ...process.env, GOBIN: tmpDir },
      log,
    );
    const built = path.join(tmpDir, `temporal${EXE}`);
    const problem = await executableProblem(built);
    if (problem)
      throw new TemporalCliError(
        'TEMPORAL_CLI_INSTALL_FAILED',
        `go install finished but ${built} ${problem}`,
      );
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(built, target);
  } finally {
    clearInterval(heartbeat);
    await fs.rm(tmpDir, { recursive: true, force: true });
  }
  log(`Temporal CLI ${TEMPORAL_CLI_VERSION} installed at ${target} (${elapsed()})`);
  return target;
}

function runStreaming(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (msg: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onLine = (line: string) => {
      if (!line.trim()) return;
      log(line);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    };
    readline.createInterface({ input: child.stdout }).on('line', onLine);
    readline.createInterface({ input: child.stderr }).on('line', onLine);
    child.on('error', (err) =>
      reject(new TemporalCliError('TEMPORAL_CLI_INSTALL_FAILED', `could not run ${cmd}: ${err.message}`)),
    );
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      reject(
        new TemporalCliError(
          'TEMPORAL_CLI_INSTALL_FAILED',
          `\`${cmd} ${args.join(' ')}\` failed (${signal ?? `exit code ${code}`}):\n${tail.join('\n')}`,
        ),
      );
    });
  });
}

async function findOnPath(name: string, searchPath: string): Promise<string | undefined> {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(dir, name);
    if (!(await executableProblem(candidate))) return candidate;
  }
  return undefined;
}

/** undefined when `file` is an executable regular file, else a short description of what is wrong. */
async function executableProblem(file: string): Promise<string | undefined> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    return 'does not exist';
  }
  if (!stat.isFile()) return 'is not a file';
  try {
    await fs.access(file, fsConstants.X_OK);
  } catch {
    return 'is not executable';
  }
  return undefined;
}
