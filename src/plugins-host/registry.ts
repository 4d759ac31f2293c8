/**
 * Loads plugin packages and answers "which plugins/actions exist, at which versions".
 *
 * First-party plugins (npm package names, resolved with `require`) and installed plugins
 * (package directories) go through the same code path: read package.json, check
 * `"hookflow".apiVersion`, require `main`, check the export is a plugin definition, and build
 * the manifest (JSON Schema from zod) without running any action code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  HOOKFLOW_API_VERSION,
  pluginDefinitionProblems,
  toValidationIssues,
  type AnyActionDefinition,
  type PluginDefinition,
  type RetryPolicy,
} from '@hookflow/sdk';

export type PluginSource = 'BUILTIN' | 'INSTALLED';

/** Plugin API versions this host can run. */
export const SUPPORTED_API_VERSIONS: readonly number[] = [HOOKFLOW_API_VERSION];

export type JsonSchema = Record<string, unknown>;

export interface ActionManifest {
  name: string;
  displayName: string;
  description: string;
  inputSchema: JsonSchema;
  outputSchema: JsonSchema;
  credential: string | null;
  retry: RetryPolicy | null;
  timeoutMs: number | null;
}

export interface CredentialManifest {
  name: string;
  displayName: string;
  description: string | null;
  schema: JsonSchema;
}

export interface PluginManifest {
  name: string;
  version: string;
  packageName: string;
  apiVersion: number;
  displayName: string;
  description: string;
  icon: string | null;
  source: PluginSource;
  actions: ActionManifest[];
  credentials: CredentialManifest[];
}

export interface LoadedPlugin {
  name: string;
  version: string;
  packageName: string;
  dir: string;
  source: PluginSource;
  definition: PluginDefinition;
  manifest: PluginManifest;
}

export type PluginPackageSpec = {
  /** npm package name (`@hookflow/plugin-http`). */
  name: string;
  /** Package directory (an installed plugin); without it the name is resolved with `require`. */
  dir?: string;
  /** Defaults to BUILTIN when loaded by name and INSTALLED when loaded from a directory. */
  source?: PluginSource;
};

/** A package that is not a valid Hookflow plugin; the message names the package. */
export class InvalidPluginError extends Error {
  readonly code = 'INVALID_PLUGIN';
  readonly packageName: string;
  readonly problems: string[];

  constructor(packageName: string, problems: string[], options?: { cause?: unknown }) {
    super(`invalid plugin package "${packageName}": ${problems.join('; ')}`, options);
    this.name = 'InvalidPluginError';
    this.packageName = packageName;
    this.problems = problems;
  }
}

type PackageJson = { name?: unknown; version?: unknown; main?: unknown; hookflow?: unknown };

function readPackageJson(packageName: string, dir: string): PackageJson {
  const file = path.join(dir, 'package.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidPluginError(packageName, [`cannot read ${file}: ${(err as Error).message}`], {
      cause: err,
    });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not a JSON object');
    return parsed as PackageJson;
  } catch (err) {
    throw new InvalidPluginError(packageName, [`${file} is not valid JSON: ${(err as Error).message}`], {
      cause: err,
    });
  }
}

/** Finds the directory of an npm package by name, without requiring its package.json to be exported. */
export function packageDirByName(name: string, paths?: string[]): string {
  try {
    return path.dirname(require.resolve(`${name}/package.json`, paths ? { paths } : undefined));
  } catch {
    // `exports` may hide package.json: resolve the entry point and walk up to its package.json.
  }
  let entry: string;
  try {
    entry = require.resolve(name, paths ? { paths } : undefined);
  } catch (err) {
    throw new InvalidPluginError(
      name,
      [`package is not installed (${(err as Error).message.split('\n')[0]})`],
      { cause: err },
    );
  }
  for (let dir = path.dirname(entry); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      try {
        if ((JSON.parse(fs.readFileSync(file, 'utf8')) as PackageJson).name === name) return dir;
      } catch {
        // keep walking
      }
    }
    if (path.dirname(dir) === dir)
      throw new InvalidPluginError(name, [`cannot find the package.json of ${entry}`]);
  }
}

function apiVersionProblem(pkg: PackageJson): string | undefined {
  const hookflow = pkg.hookflow;
  if (typeof hookflow !== 'object' || hookflow === null) {
    return 'package.json has no "hookflow" field (a plugin declares "hookflow": { "apiVersion": 1 })';
  }
  const apiVersion = (hookflow as { apiVersion?: unknown }).apiVersion;
  if (apiVersion === undefined) return 'package.json "hookflow.apiVersion" is missing';
  if (typeof apiVersion !== 'number' || !Number.isInteger(apiVersion)) {
    return `package.json "hookflow.apiVersion" must be an integer (got ${JSON.stringify(apiVersion)})`;
  }
  if (!SUPPORTED_API_VERSIONS.includes(apiVersion)) {
    return `plugin API version ${apiVersion} is not supported by this Hookflow (supported: ${SUPPORTED_API_VERSIONS.join(', ')})`;
  }
  return undefined;
}

/** The plugin definition among a module's exports: `default`, `plugin`, or module.exports itself. */
function pickDefinition(mod: unknown): { definition?: PluginDefinition; problems: string[] } {
  const candidates: [string, unknown][] = [];
  if (typeof mod === 'object' && mod !== null) {
    const m = mod as { default?: unknown; plugin?: unknown };
    if (m.default !== undefined) {
      candidates.push(['default export', m.default]);
      // CommonJS transpiled from ESM with a default export of a module namespace.
      const inner = (m.default as { default?: unknown } | null)?.default;
      if (inner !== undefined) candidates.push(['default.default export', inner]);
    }
    if (m.plugin !== undefined) candidates.push(['"plugin" export', m.plugin]);
  }
  candidates.push(['module.exports', mod]);
  const problems: string[] = [];
  for (const [where, value] of candidates) {
    const found = pluginDefinitionProblems(value);
    if (found.length === 0) return { definition: value as PluginDefinition, problems: [] };
    problems.push(`${where}: ${found.join(', ')}`);
  }
  return {
    problems: [
      `the package does not export a plugin definition (definePlugin from @hookflow/sdk); ${problems[0]}`,
    ],
  };
}

function toJsonSchema(schema: unknown, io: 'input' | 'output'): JsonSchema {
  return z.toJSONSchema(schema as z.ZodType, { io, unrepresentable: 'any' }) as JsonSchema;
}

function buildManifest(
  definition: PluginDefinition,
  meta: { version: string; packageName: string; apiVersion: number; source: PluginSource },
): PluginManifest {
  const actions = Object.entries(definition.actions as Record<string, AnyActionDefinition>).map(
    ([name, action]): ActionManifest => ({
      name,
      displayName: action.displayName,
      description: action.description,
      inputSchema: toJsonSchema(action.input, 'input'),
      outputSchema: toJsonSchema(action.output, 'output'),
      credential: action.credential ?? null,
      retry: action.retry ? { ...action.retry } : null,
      timeoutMs: action.timeoutMs ?? null,
    }),
  );
  const credentials = Object.entries(definition.credentials ?? {}).map(
    ([name, cred]): CredentialManifest => ({
      name,
      displayName: cred.displayName,
      description: cred.description ?? null,
      schema: toJsonSchema(cred.schema, 'input'),
    }),
  );
  return {
    name: definition.name,
    version: meta.version,
    packageName: meta.packageName,
    apiVersion: meta.apiVersion,
    displayName: definition.displayName,
    description: definition.description,
    icon: definition.icon ?? null,
    source: meta.source,
    actions,
    credentials,
  };
}

/** Loads one plugin package from its directory (the single code path for builtin and installed plugins). */
export function loadPluginFromDir(packageName: string, dir: string, source: PluginSource): LoadedPlugin {
  const root = path.resolve(dir);
  const pkg = readPackageJson(packageName, root);
  const problems: string[] = [];
  if (typeof pkg.name !== 'string' || pkg.name !== packageName) {
    problems.push(`package.json name is ${JSON.stringify(pkg.name)}, expected "${packageName}"`);
  }
  if (typeof pkg.version !== 'string' || pkg.version === '') problems.push('package.json has no version');
  const apiProblem = apiVersionProblem(pkg);
  if (apiProblem) problems.push(apiProblem);
  const main = pkg.main === undefined ? 'index.js' : pkg.main;
  if (typeof main !== 'string') problems.push('package.json "main" must be a string');
  if (problems.length) throw new InvalidPluginError(packageName, problems);

  const mainPath = path.resolve(root, main as string);
  if (mainPath !== root && !mainPath.startsWith(root + path.sep)) {
    throw new InvalidPluginError(packageName, [`"main" (${String(main)}) points outside the package`]);
  }
  let mod: unknown;
  try {
    // Loading plugin code by path at run time is the point here (works under Jest's module registry too).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(require.resolve(mainPath));
  } catch (err) {
    throw new InvalidPluginError(packageName, [`cannot load ${String(main)}: ${(err as Error).message}`], {
      cause: err,
    });
  }
  const { definition, problems: exportProblems } = pickDefinition(mod);
  if (!definition) throw new InvalidPluginError(packageName, exportProblems);

  const apiVersion = (pkg.hookflow as { apiVersion: number }).apiVersion;
  const version = pkg.version as string;
  let manifest: PluginManifest;
  try {
    manifest = buildManifest(definition, { version, packageName, apiVersion, source });
  } catch (err) {
    throw new InvalidPluginError(packageName, [`cannot build the manifest: ${(err as Error).message}`], {
      cause: err,
    });
  }
  return { name: definition.name, version, packageName, dir: root, source, definition, manifest };
}

/** Compares semver-like versions (`1.2.10` > `1.2.9`; a pre-release sorts before its release). */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [core, pre] = v.replace(/^v/, '').split('+')[0]!.split(/-(.*)/s);
    return { nums: core!.split('.').map((n) => Number.parseInt(n, 10) || 0), pre };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre.localeCompare(y.pre, 'en', { numeric: true });
}

/** A problem with a step, its path relative to the step (`input.url`, `plugin`). */
export type StepIssue = { path: string; message: string };

// Same pattern as the template renderer's, without the global flag (test() must not keep state).
const HAS_TEMPLATE = /\{\{\s*[^{}]+?\s*\}\}/;

function containsTemplate(value: unknown): boolean {
  if (typeof value === 'string') return HAS_TEMPLATE.test(value);
  if (Array.isArray(value)) return value.some(containsTemplate);
  if (value && typeof value === 'object') return Object.values(value).some(containsTemplate);
  return false;
}

/** True when the value at `path` (or a string on the way to it) holds a template, so only the run can tell. */
function dependsOnTemplate(input: unknown, path: ReadonlyArray<PropertyKey>): boolean {
  let value = input;
  for (const key of path) {
    if (typeof value === 'string') return containsTemplate(value);
    if (!value || typeof value !== 'object') return false;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return containsTemplate(value);
}

type IssueLike = { code?: string; path: ReadonlyArray<PropertyKey>; message: string };

/**
 * What the action's input schema says about a saved step input, leaving out every problem a template could
 * still fix at run time (a `{{…}}` string where a number is expected, say). Unknown keys are always reported:
 * rendering never changes keys.
 */
export function templateFreeInputIssues(schema: unknown, input: unknown): StepIssue[] {
  const result = (schema as z.ZodType).safeParse(input);
  if (result.success) return [];
  const issues = (result.error.issues as IssueLike[]).filter(
    (issue) => issue.code === 'unrecognized_keys' || !dependsOnTemplate(input, issue.path),
  );
  return toValidationIssues(issues).map((i) => ({
    path: i.path === '' ? 'input' : i.path.startsWith('[') ? `input${i.path}` : `input.${i.path}`,
    message: i.message,
  }));
}

export class PluginRegistry {
  /** name → version → plugin */
  private readonly plugins = new Map<string, Map<string, LoadedPlugin>>();
  /** Names of disabled plugins (every version); kept in step with the InstalledPlugin table. */
  private readonly disabled = new Set<string>();
  /** name → the task queue its actions run on, for installed plugins routed away from the main queue. */
  private readonly queues = new Map<string, string>();

  /**
   * Loads every package; the first invalid package throws InvalidPluginError.
   * `resolvePaths` are the directories `require.resolve` searches for packages given by name.
   */
  static async load(opts: {
    packages: PluginPackageSpec[];
    resolvePaths?: string[];
  }): Promise<PluginRegistry> {
    const registry = new PluginRegistry();
    for (const spec of opts.packages) registry.loadPackage(spec, opts.resolvePaths);
    return registry;
  }

  /** Loads one more package (for example after installing it). Returns the loaded plugin. */
  loadPackage(spec: PluginPackageSpec, resolvePaths?: string[]): LoadedPlugin {
    const dir = spec.dir ?? packageDirByName(spec.name, resolvePaths);
    const source = spec.source ?? (spec.dir ? 'INSTALLED' : 'BUILTIN');
    return this.add(loadPluginFromDir(spec.name, dir, source));
  }

  /** Registers an already loaded plugin; a second plugin with the same name and version is refused. */
  add(plugin: LoadedPlugin): LoadedPlugin {
    let versions = this.plugins.get(plugin.name);
    if (!versions) {
      versions = new Map();
      this.plugins.set(plugin.name, versions);
    }
    const existing = versions.get(plugin.version);
    if (existing) {
      throw new InvalidPluginError(plugin.packageName, [
        `plugin "${plugin.name}@${plugin.version}" is already loaded from ${existing.packageName} (${existing.dir})`,
      ]);
    }
    versions.set(plugin.version, plugin);
    return plugin;
  }

  /** Unloads one version (after an uninstall). Runs that already hold the definition keep it. */
  remove(name: string, version: string): LoadedPlugin | undefined {
    const versions = this.plugins.get(name);
    const plugin = versions?.get(version);
    if (!versions || !plugin) return undefined;
    versions.delete(version);
    if (versions.size === 0) this.plugins.delete(name);
    return plugin;
  }

  setEnabled(name: string, enabled: boolean): void {
    if (enabled) this.disabled.delete(name);
    else this.disabled.add(name);
  }

  isEnabled(name: string): boolean {
    return !this.disabled.has(name);
  }

  setTaskQueue(name: string, taskQueue: string | null | undefined): void {
    if (taskQueue) this.queues.set(name, taskQueue);
    else this.queues.delete(name);
  }

  /** The task queue of an installed plugin routed to its own workers; undefined means the main queue. */
  taskQueue(name: string): string | undefined {
    return this.queues.get(name);
  }

  /**
   * Save-time problems of a step using `plugin@version` beyond the action's existence (see PluginCatalog in
   * services/flows.ts): a disabled plugin, or a template-free input that violates the action's schema.
   */
  stepIssues(plugin: string, action: string, version: string, input: unknown): StepIssue[] {
    if (!this.isEnabled(plugin)) {
      return [{ path: 'plugin', message: `plugin "${plugin}" is disabled` }];
    }
    const resolved = this.resolve(plugin, action, version);
    return resolved ? templateFreeInputIssues(resolved.action.input, input) : [];
  }

  /** Every loaded plugin version, by name then newest version first. */
  list(): PluginManifest[] {
    return [...this.plugins.keys()]
      .sort()
      .flatMap((name) => this.versions(name).map((v) => this.plugins.get(name)!.get(v)!.manifest));
  }

  /** Versions of one plugin, newest first. */
  versions(name: string): string[] {
    return [...(this.plugins.get(name)?.keys() ?? [])].sort((a, b) => compareVersions(b, a));
  }

  latestVersion(name: string): string | undefined {
    return this.versions(name)[0];
  }

  /** The plugin at `version` (the latest when omitted). */
  get(name: string, version?: string): LoadedPlugin | undefined {
    const v = version ?? this.latestVersion(name);
    return v === undefined ? undefined : this.plugins.get(name)?.get(v);
  }

  resolve(
    plugin: string,
    action: string,
    version?: string,
  ): { plugin: LoadedPlugin; action: AnyActionDefinition } | undefined {
    const loaded = this.get(plugin, version);
    if (!loaded) return undefined;
    const actions = loaded.definition.actions as Record<string, AnyActionDefinition>;
    if (!Object.prototype.hasOwnProperty.call(actions, action)) return undefined;
    return { plugin: loaded, action: actions[action]! };
  }

  hasAction(plugin: string, action: string, version: string): boolean {
    return this.resolve(plugin, action, version) !== undefined;
  }
}
