/**
 * Installs plugin packages with npm into `DATA_DIR/plugins`, one npm prefix per plugin version:
 *
 *   DATA_DIR/plugins/<package name, "/" → "+">@<version>/node_modules/<package>
 *
 * so several versions of one plugin can live side by side (flow steps pin a version) and an uninstall is
 * removing one directory. npm runs with `--ignore-scripts`, into a staging directory next to the final one;
 * only a package that npm installed completely is moved into place, so a failure leaves nothing behind.
 *
 * The host provides `@hookflow/sdk` and `zod`: every prefix declares them as `file:` dependencies pointing
 * at the host's own copies, so a plugin that lists them as peer dependencies (recommended) or as compatible
 * dependencies gets the host's copies, npm never fetches them, and an incompatible range is npm's own
 * ERESOLVE error.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { packageDirByName } from './registry';

/** Raised when npm fails or the spec is not something we install; the message is meant for the user. */
export class PluginInstallError extends Error {
  readonly code = 'PLUGIN_INSTALL_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PluginInstallError';
  }
}

export type InstallSpec =
  | { kind: 'registry'; name: string; version?: string; spec: string }
  | { kind: 'tarball'; path: string; spec: string };

export type InstalledPackage = { packageName: string; version: string; dir: string };

/** Packages the host provides to every plugin (the SDK contract and its schema library). */
export const HOST_PACKAGES = ['@hookflow/sdk', 'zod'] as const;

const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
// A version, range or dist-tag. No ":" or "/", so npm can never read it as a URL, git or file spec.
const VERSION_SPEC = /^[0-9A-Za-z.+^~*<>=|_ -]{1,100}$/;
const STAGING_PREFIX = '.staging-';
const NPM_TIMEOUT_MS = 5 * 60_000;

export function pluginsRoot(dataDir: string): string {
  return path.resolve(dataDir, 'plugins');
}

/** The npm prefix of one installed plugin version. */
export function packageDir(root: string, packageName: string, version: string): string {
  return path.join(root, `${packageName.replace('/', '+')}@${version}`);
}

/** The package's own directory inside its prefix (what the registry loads). */
export function packageRoot(prefix: string, packageName: string): string {
  return path.join(prefix, 'node_modules', ...packageName.split('/'));
}

/**
 * `name@version` (or a bare name: the latest version) from the npm registry, or the absolute path of a
 * local tarball (`.tgz`, `.tar.gz`; `file:` prefix allowed). Anything else is refused before npm runs.
 */
export function parseInstallSpec(raw: string): InstallSpec {
  const spec = raw.trim();
  if (spec === '') throw new PluginInstallError('the spec must not be empty');
  const file = spec.startsWith('file:') ? spec.slice('file:'.length) : spec;
  if (/\.(tgz|tar\.gz)$/i.test(file)) {
    if (!path.isAbsolute(file)) {
      throw new PluginInstallError(
        `a tarball must be given as an absolute path on the server (got "${spec}")`,
      );
    }
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new PluginInstallError(`the tarball ${file} does not exist`);
    }
    if (!stat.isFile()) throw new PluginInstallError(`${file} is not a file`);
    return { kind: 'tarball', path: file, spec: file };
  }
  const at = spec.indexOf('@', 1);
  const name = at === -1 ? spec : spec.slice(0, at);
  const version = at === -1 ? undefined : spec.slice(at + 1);
  if (name.length > 214 || !PACKAGE_NAME.test(name)) {
    throw new PluginInstallError(
      `"${spec}" is neither an npm package ("name@version") nor the absolute path of a .tgz tarball`,
    );
  }
  if (version !== undefined && (!VERSION_SPEC.test(version) || version.startsWith('-'))) {
    throw new PluginInstallError(`"${version}" is not a version, range or tag of ${name}`);
  }
  return { kind: 'registry', name, version, spec };
}

/** The directories of the host's copies of HOST_PACKAGES (symlinks resolved). */
export function hostPackageDirs(): Record<string, string> {
  return Object.fromEntries(
    HOST_PACKAGES.map((name) => [name, fs.realpathSync(packageDirByName(name, [__dirname]))]),
  );
}

export type NpmRunner = (args: string[], cwd: string) => Promise<{ code: number; output: string }>;

/** Environment for npm: ours, minus what an enclosing `npm run` exported about *its* project. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const inherited =
    /^npm_config_(prefix|local_prefix|global|workspaces?|include_workspace_root|ignore_scripts)$/i;
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) && !/^npm_config_/i.test(key)) continue;
    if (inherited.test(key) || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return env;
}

export const runNpm: NpmRunner = (args, cwd) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, {
      cwd,
      env: npmEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const append = (chunk: Buffer) => {
      if (output.length < 200_000) output += chunk.toString('utf8');
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const timer = setTimeout(() => {
      output += `\nnpm error npm did not finish within ${NPM_TIMEOUT_MS / 1000} s and was stopped`;
      child.kill('SIGKILL');
    }, NPM_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new PluginInstallError(`cannot run npm: ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });

/** npm's own error lines, without the pointer to its debug log. */
export function npmErrorSummary(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => /^npm (error|ERR!)/.test(l))
    .map((l) => l.replace(/^npm (error|ERR!)\s?/, '').trim())
    .filter((l) => l !== '' && !/complete log of this run|^A complete log/i.test(l));
  const summary = [...new Set(lines)].slice(0, 12).join('\n');
  return summary || output.trim().split('\n').slice(-5).join('\n') || 'npm failed without a message';
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export type StagedPackage = { staging: string; packageName: string; version: string };

/**
 * Runs npm for `spec` in a fresh staging prefix and returns what it installed. Throws PluginInstallError
 * (with npm's message) and leaves nothing behind on failure. Follow with commitStaged or discardStaged.
 */
export async function stagePackage(opts: {
  root: string;
  spec: InstallSpec;
  npm?: NpmRunner;
}): Promise<StagedPackage> {
  const { root, spec } = opts;
  fs.mkdirSync(root, { recursive: true });
  const staging = path.join(root, `${STAGING_PREFIX}${Date.now()}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(staging);
  try {
    const hostDeps = Object.fromEntries(
      Object.entries(hostPackageDirs()).map(([name, dir]) => [name, `file:${dir}`]),
    );
    fs.writeFileSync(
      path.join(staging, 'package.json'),
      JSON.stringify({ name: 'hookflow-installed-plugin', private: true, dependencies: hostDeps }, null, 2),
    );
    const target = spec.kind === 'tarball' ? spec.path : spec.spec;
    const args = ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier'];
    const { code, output } = await (opts.npm ?? runNpm)([...args, '--prefix', staging, target], staging);
    if (code !== 0)
      throw new PluginInstallError(`npm install ${spec.spec} failed: ${npmErrorSummary(output)}`);

    const deps = Object.keys((readJson(path.join(staging, 'package.json')).dependencies ?? {}) as object);
    const added = deps.filter((d) => !(HOST_PACKAGES as readonly string[]).includes(d));
    if (added.length !== 1) {
      throw new PluginInstallError(
        `npm install ${spec.spec} did not add exactly one package (added: ${added.join(', ') || 'none'})`,
      );
    }
    const packageName = added[0]!;
    const version = readJson(path.join(packageRoot(staging, packageName), 'package.json')).version;
    if (typeof version !== 'string' || version === '') {
      throw new PluginInstallError(`${packageName} has no version in its package.json`);
    }
    return { staging, packageName, version };
  } catch (err) {
    removeDir(staging);
    if (err instanceof PluginInstallError) throw err;
    throw new PluginInstallError(`installing ${spec.spec} failed: ${(err as Error).message}`, { cause: err });
  }
}

export function discardStaged(staged: StagedPackage): void {
  removeDir(staged.staging);
}

/**
 * Moves a staged package to its final directory. A directory already there (left by a crash, or installed by
 * another process sharing DATA_DIR) is replaced, or reused with `keepExisting`.
 */
export function commitStaged(
  root: string,
  staged: StagedPackage,
  opts: { keepExisting?: boolean } = {},
): InstalledPackage {
  const { packageName, version } = staged;
  const dir = packageDir(root, packageName, version);
  try {
    if (fs.existsSync(dir)) {
      if (opts.keepExisting) {
        removeDir(staged.staging);
        return { packageName, version, dir };
      }
      removeDir(dir);
    }
    // Same depth as the staging directory, so npm's relative symlinks stay valid.
    fs.renameSync(staged.staging, dir);
    return { packageName, version, dir };
  } catch (err) {
    removeDir(staged.staging);
    throw new PluginInstallError(
      `cannot move ${packageName}@${version} into place: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** stagePackage + commitStaged, for a process that installs what another one recorded. */
export async function installPackage(opts: {
  root: string;
  spec: InstallSpec;
  npm?: NpmRunner;
  keepExisting?: boolean;
}): Promise<InstalledPackage> {
  return commitStaged(opts.root, await stagePackage(opts), { keepExisting: opts.keepExisting });
}

/** Removes staging directories left by an install that crashed (older than `olderThanMs`). */
export function removeStaleStaging(root: string, olderThanMs = 60 * 60_000): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(STAGING_PREFIX)) continue;
    const dir = path.join(root, entry);
    try {
      if (Date.now() - fs.statSync(dir).mtimeMs > olderThanMs) removeDir(dir);
    } catch {
      // gone already
    }
  }
}

/** Drops the cached modules of an uninstalled package, so a reinstall of the same version loads fresh code. */
export function forgetModules(dir: string): void {
  const prefix = fs.existsSync(dir) ? fs.realpathSync(dir) : dir;
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(prefix + path.sep) || key.startsWith(dir + path.sep)) delete require.cache[key];
  }
}
