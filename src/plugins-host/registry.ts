/**
 * Loads plugin packages and answers "which plugins/actions exist, at which versions".
 *
 * First-party plugins (npm package names, resolved with `require`) and installed plugins (package
 * directories) go through the same code path: read package.json, check `"hookflow".apiVersion`, and read the
 * static manifest the package ships (`hookflow-manifest.json`), so no plugin code runs to list, show or check
 * a plugin. Only a trusted worker loads the code of first-party plugins (`loadCode`); installed plugins' code
 * runs only in the sandbox (./sandbox).
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  ACTION_NAME_PATTERN,
  HOOKFLOW_API_VERSION,
  MANIFEST_FILE,
  MANIFEST_VERSION,
  PLUGIN_NAME_PATTERN,
  loadDefinition,
  packageEntry,
  toValidationIssues,
  type ActionManifest,
  type JsonSchema,
  type PluginDefinition,
  type StaticManifest,
} from '@hookflow/sdk';

export type { ActionManifest, CredentialManifest, JsonSchema } from '@hookflow/sdk';

export type PluginSource = 'BUILTIN' | 'INSTALLED';

/** Plugin API versions this host can run. */
export const SUPPORTED_API_VERSIONS: readonly number[] = [HOOKFLOW_API_VERSION];

export interface PluginManifest extends Omit<StaticManifest, 'manifestVersion'> {
  version: string;
  packageName: string;
  apiVersion: number;
  source: PluginSource;
}

export interface LoadedPlugin {
  name: string;
  version: string;
  packageName: string;
  dir: string;
  source: PluginSource;
  manifest: PluginManifest;
  /** zod schemas rebuilt from the manifest's JSON Schemas: save-time checks of inputs and credentials. */
  inputSchemas: ReadonlyMap<string, z.ZodType>;
  credentialSchemas: ReadonlyMap<string, z.ZodType>;
  /** The code, in a trusted worker, of a first-party plugin; never set for an installed plugin. */
  definition?: PluginDefinition;
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

function readJsonFile(packageName: string, file: string, missing?: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const message =
      missing && (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? missing
        : `cannot read ${file}: ${(err as Error).message}`;
    throw new InvalidPluginError(packageName, [message], { cause: err });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not a JSON object');
    return parsed;
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

const positive = z.number().positive();
const jsonSchema = z.record(z.string(), z.unknown());

/** The shape of `hookflow-manifest.json`, checked before the host trusts any of it. */
const StaticManifestSchema = z
  .object({
    manifestVersion: z.literal(MANIFEST_VERSION),
    name: z.string().regex(PLUGIN_NAME_PATTERN),
    displayName: z.string().min(1),
    description: z.string(),
    icon: z.string().nullable(),
    actions: z
      .array(
        z.object({
          name: z.string().regex(ACTION_NAME_PATTERN),
          displayName: z.string().min(1),
          description: z.string(),
          inputSchema: jsonSchema,
          outputSchema: jsonSchema,
          credential: z.string().nullable(),
          retry: z
            .object({
              maximumAttempts: positive.optional(),
              initialIntervalMs: positive.optional(),
              backoffCoefficient: z.number().min(1).optional(),
              maximumIntervalMs: positive.optional(),
            })
            .nullable(),
          timeoutMs: positive.nullable(),
        }),
      )
      .min(1),
    credentials: z.array(
      z.object({
        name: z.string().regex(ACTION_NAME_PATTERN),
        displayName: z.string().min(1),
        description: z.string().nullable(),
        schema: jsonSchema,
      }),
    ),
  })
  .superRefine((m, ctx) => {
    const types = new Set(m.credentials.map((c) => c.name));
    m.actions.forEach((a, i) => {
      if (a.credential !== null && !types.has(a.credential)) {
        ctx.addIssue({
          code: 'custom',
          path: ['actions', i, 'credential'],
          message: `action "${a.name}" needs credential "${a.credential}", which the manifest does not define`,
        });
      }
    });
  });

function readStaticManifest(
  packageName: string,
  root: string,
): { manifest?: StaticManifest; problems: string[] } {
  const file = path.join(root, MANIFEST_FILE);
  const raw = readJsonFile(
    packageName,
    file,
    `the package ships no ${MANIFEST_FILE} (run "hookflow-manifest" from @hookflow/sdk after building it)`,
  );
  const parsed = StaticManifestSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      problems: toValidationIssues(parsed.error.issues).map(
        (i) => `${MANIFEST_FILE} ${i.path || '(root)'}: ${i.message}`,
      ),
    };
  }
  return { manifest: parsed.data as StaticManifest, problems: [] };
}

/** zod schemas rebuilt from JSON Schemas, by name; a schema zod cannot read is a problem of the package. */
function schemasOf(entries: { name: string; schema: JsonSchema }[], what: string, problems: string[]) {
  const schemas = new Map<string, z.ZodType>();
  for (const { name, schema } of entries) {
    try {
      schemas.set(name, z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]));
    } catch (err) {
      problems.push(
        `${MANIFEST_FILE}: the ${what} schema of "${name}" cannot be read: ${(err as Error).message}`,
      );
    }
  }
  return schemas;
}

/**
 * Loads one plugin package from its directory (the single code path for builtin and installed plugins). The
 * code is loaded only with `loadCode`, which an installed plugin never gets.
 */
export function loadPluginFromDir(
  packageName: string,
  dir: string,
  source: PluginSource,
  opts: { loadCode?: boolean } = {},
): LoadedPlugin {
  const root = path.resolve(dir);
  const pkg = readJsonFile(packageName, path.join(root, 'package.json')) as PackageJson;
  const problems: string[] = [];
  if (typeof pkg.name !== 'string' || pkg.name !== packageName) {
    problems.push(`package.json name is ${JSON.stringify(pkg.name)}, expected "${packageName}"`);
  }
  if (typeof pkg.version !== 'string' || pkg.version === '') problems.push('package.json has no version');
  const apiProblem = apiVersionProblem(pkg);
  if (apiProblem) problems.push(apiProblem);
  if (pkg.main !== undefined && typeof pkg.main !== 'string')
    problems.push('package.json "main" must be a string');
  else {
    try {
      packageEntry(root, pkg.main);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new InvalidPluginError(packageName, problems);

  const { manifest: found, problems: manifestProblems } = readStaticManifest(packageName, root);
  if (!found) throw new InvalidPluginError(packageName, manifestProblems);
  const inputSchemas = schemasOf(
    found.actions.map((a) => ({ name: a.name, schema: a.inputSchema })),
    'input',
    manifestProblems,
  );
  const credentialSchemas = schemasOf(found.credentials, 'credential', manifestProblems);
  if (manifestProblems.length) throw new InvalidPluginError(packageName, manifestProblems);

  let definition: PluginDefinition | undefined;
  if (opts.loadCode && source === 'BUILTIN') {
    try {
      definition = loadDefinition(root);
    } catch (err) {
      throw new InvalidPluginError(packageName, [`cannot load its code: ${(err as Error).message}`], {
        cause: err,
      });
    }
  }
  const { manifestVersion: _, ...rest } = found;
  const version = pkg.version as string;
  const manifest: PluginManifest = {
    ...rest,
    version,
    packageName,
    apiVersion: (pkg.hookflow as { apiVersion: number }).apiVersion,
    source,
  };
  return {
    name: found.name,
    version,
    packageName,
    dir: root,
    source,
    manifest,
    inputSchemas,
    credentialSchemas,
    ...(definition ? { definition } : {}),
  };
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
    /** Load the code of first-party plugins too (a trusted worker runs them in-process). Default true. */
    loadCode?: boolean;
  }): Promise<PluginRegistry> {
    const registry = new PluginRegistry();
    for (const spec of opts.packages) {
      const dir = spec.dir ?? packageDirByName(spec.name, opts.resolvePaths);
      const source = spec.source ?? (spec.dir ? 'INSTALLED' : 'BUILTIN');
      registry.add(loadPluginFromDir(spec.name, dir, source, { loadCode: opts.loadCode ?? true }));
    }
    return registry;
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
    const schema = this.get(plugin, version)?.inputSchemas.get(action);
    return schema ? templateFreeInputIssues(schema, input) : [];
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
  ): { plugin: LoadedPlugin; action: ActionManifest } | undefined {
    const loaded = this.get(plugin, version);
    const found = loaded?.manifest.actions.find((a) => a.name === action);
    return loaded && found ? { plugin: loaded, action: found } : undefined;
  }

  hasAction(plugin: string, action: string, version: string): boolean {
    return this.resolve(plugin, action, version) !== undefined;
  }
}
