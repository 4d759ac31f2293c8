/**
 * The plugin marketplace: list, install, enable/disable, route to a task queue, uninstall; and keeping every
 * process's PluginRegistry in step with the InstalledPlugin table.
 *
 * Plugins belong to the installation, not to a workspace (they are code run by the workers), so changing them
 * needs the installation-level right (not a workspace role) and affects every workspace. Enabled state and task queue apply to every version of a
 * plugin name. Built-in plugins have a row only once their state was changed.
 */
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { MANIFEST_FILE, type StaticManifest } from '@hookflow/sdk';
import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { FlowStatus, PluginSource } from '../schema/enums';
import { InstalledPlugin } from '../schema/InstalledPlugin';
import {
  commitStaged,
  discardStaged,
  forgetModules,
  installPackage,
  packageDir,
  packageRoot,
  parseInstallSpec,
  pluginsRoot,
  removeDir,
  removeStaleStaging,
  stagePackage,
  PluginInstallError,
  type NpmRunner,
} from '../plugins-host/install';
import {
  InvalidPluginError,
  loadPluginFromDir,
  type LoadedPlugin,
  type PluginManifest,
  type PluginRegistry,
} from '../plugins-host/registry';
import type { PluginSandbox } from '../plugins-host/sandbox';
import type { Database } from './database';
import type { EventBus } from './events';
import { BadInputError, NotFoundError } from './errors';
import { requireInstallationAdmin, type Scope } from './scope';

export type PluginView = PluginManifest & {
  enabled: boolean;
  taskQueue: string | null;
  installedAt: Date | null;
};

type Log = { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };

export type PluginServiceOptions = {
  db: Database;
  registry: PluginRegistry;
  dataDir: string;
  log: Log;
  /** Tells the other processes to re-read the table at once after a change here. */
  events: Pick<EventBus, 'announceChange' | 'onChange'>;
  /**
   * Whether this process loads installed plugins routed to `taskQueue` (undefined: the main queue). Processes
   * with the api role load all of them (manifests, save-time checks); a worker only what its queues run.
   */
  loads(taskQueue: string | undefined): boolean;
  /** How often other processes' installs, uninstalls and state changes are picked up (default 5 s). */
  pollMs?: number;
  npm?: NpmRunner;
  /** Loads a package's code away from this process's secrets, to check the manifest it ships at install. */
  sandbox: Pick<PluginSandbox, 'inspect'>;
};

const TASK_QUEUE = /^[A-Za-z0-9._-]{1,200}$/;
const RETRY_FAILED_LOAD_MS = 60_000;

export class PluginService {
  private readonly root: string;
  private timer?: NodeJS.Timeout;
  private queue: Promise<void> = Promise.resolve();
  private pending = false;
  private installing: Promise<unknown> = Promise.resolve();
  /** `name@version` → when loading it last failed and why (retried after a while, not on every poll). */
  private readonly failures = new Map<string, { at: number; message: string }>();

  constructor(private readonly opts: PluginServiceOptions) {
    this.root = pluginsRoot(opts.dataDir);
  }

  get registry(): PluginRegistry {
    return this.opts.registry;
  }

  // --- API -----------------------------------------------------------------------------------------------

  /** Every loaded plugin version with its current state (any role may read it). */
  async list(em: EntityManager): Promise<PluginView[]> {
    const rows = await em.find(InstalledPlugin, {});
    this.applyStates(rows);
    return this.registry.list().map((m) => this.view(m, rows));
  }

  /** `name@version` from the npm registry or the absolute path of a local tarball (installation admin). */
  async install(
    em: EntityManager,
    scope: Scope,
    rawSpec: string,
    options: { taskQueue?: string | null } = {},
  ): Promise<PluginView> {
    requireInstallationAdmin(scope);
    const taskQueue = this.parseTaskQueue(options.taskQueue);
    let spec;
    try {
      spec = parseInstallSpec(rawSpec);
    } catch (err) {
      throw installFailed(err);
    }
    // One install at a time per process: the checks below look at the registry the previous one changed.
    const run = this.installing.then(() => this.installNow(em, spec, taskQueue));
    this.installing = run.catch(() => undefined);
    return run;
  }

  private async installNow(
    em: EntityManager,
    spec: ReturnType<typeof parseInstallSpec>,
    taskQueue: string | undefined,
  ): Promise<PluginView> {
    let staged;
    try {
      staged = await stagePackage({ root: this.root, spec, npm: this.opts.npm });
    } catch (err) {
      throw installFailed(err);
    }
    const { packageName, version } = staged;
    if (await em.count(InstalledPlugin, { packageName, version })) {
      discardStaged(staged);
      throw new BadInputError(`${packageName}@${version} is already installed`, [
        { path: 'spec', message: 'already installed; uninstall it first to install it again' },
      ]);
    }
    const { dir } = commitStaged(this.root, staged);
    let loaded: LoadedPlugin | undefined;
    let keepFiles = false;
    try {
      loaded = loadPluginFromDir(packageName, packageRoot(dir, packageName), 'INSTALLED');
      await this.checkManifestMatchesCode(loaded);
      this.checkNameIsFree(loaded);
      const existing = await em.find(InstalledPlugin, { name: loaded.name });
      const row = em.create(InstalledPlugin, {
        name: loaded.name,
        version,
        packageName,
        source: PluginSource.INSTALLED,
        spec: spec.kind === 'registry' ? `${packageName}@${version}` : spec.path,
        enabled: existing.every((r) => r.enabled),
        taskQueue: taskQueue ?? existing.find((r) => r.taskQueue)?.taskQueue,
      });
      try {
        await em.persist(row).flush();
      } catch (err) {
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
        // Another process installed the same version meanwhile (into a shared DATA_DIR): its files stay.
        keepFiles = true;
        throw new BadInputError(`${packageName}@${version} is already installed`, [
          { path: 'spec', message: 'installed by another process meanwhile' },
        ]);
      }
      this.registry.add(loaded);
      this.applyStates([...existing, row]);
      await this.opts.events.announceChange('plugins');
      this.opts.log.info({ plugin: `${loaded.name}@${version}`, packageName }, 'plugin installed');
      return this.view(loaded.manifest, [...existing, row]);
    } catch (err) {
      if (loaded && this.registry.get(loaded.name, loaded.version) === loaded) {
        this.registry.remove(loaded.name, loaded.version);
      }
      if (!keepFiles) {
        forgetModules(dir);
        removeDir(dir);
      }
      if (err instanceof InvalidPluginError) {
        throw new BadInputError(`${packageName}@${version} is not a valid Hookflow plugin`, [
          { path: 'spec', message: err.problems.join('; ') },
        ]);
      }
      throw err;
    }
  }

  /** Enables or disables every version of a plugin, built-in ones included (installation admin). */
  async setEnabled(em: EntityManager, scope: Scope, name: string, enabled: boolean): Promise<PluginView> {
    requireInstallationAdmin(scope);
    const rows = await this.rowsFor(em, name);
    const manifest = this.manifestOf(name);
    for (const row of rows) row.enabled = enabled;
    await em.flush();
    this.applyStates(rows);
    await this.opts.events.announceChange('plugins');
    this.opts.log.info({ plugin: name, enabled }, enabled ? 'plugin enabled' : 'plugin disabled');
    return this.view(manifest, rows);
  }

  /** Routes an installed plugin's actions to their own task queue, or back to the main one with null (installation admin). */
  async setTaskQueue(
    em: EntityManager,
    scope: Scope,
    name: string,
    taskQueue: string | null | undefined,
  ): Promise<PluginView> {
    requireInstallationAdmin(scope);
    const queue = this.parseTaskQueue(taskQueue);
    const rows = await this.rowsFor(em, name);
    const manifest = this.manifestOf(name);
    if (rows.some((r) => r.source === PluginSource.BUILTIN)) {
      throw new BadInputError('built-in plugins run on the main task queue', [
        { path: 'name', message: `"${name}" is built in` },
      ]);
    }
    for (const row of rows) row.taskQueue = queue;
    await em.flush();
    this.applyStates(rows);
    await this.opts.events.announceChange('plugins');
    return this.view(manifest, rows);
  }

  /** Removes one installed version, unless the current version of an active flow uses it (installation admin). */
  async uninstall(em: EntityManager, scope: Scope, name: string, version: string): Promise<boolean> {
    requireInstallationAdmin(scope);
    const row = await em.findOne(InstalledPlugin, { name, version, source: PluginSource.INSTALLED });
    if (!row) {
      if (this.registry.get(name, version)?.source === 'BUILTIN') {
        throw new BadInputError('built-in plugins cannot be uninstalled', [
          { path: 'name', message: `"${name}" is built in; disable it with setPluginEnabled instead` },
        ]);
      }
      throw new NotFoundError(`plugin ${name}@${version} is not installed`);
    }
    const users = await activeFlowsUsing(em, name, version);
    if (users.length) {
      const own = users.filter((u) => u.workspace_id === scope.workspaceId).map((u) => `"${u.name}"`);
      const others = users.length - own.length;
      const names = [...own, ...(others ? [`${others} flow(s) of other workspaces`] : [])].join(', ');
      throw new BadInputError(`plugin ${name}@${version} is in use`, [
        {
          path: 'version',
          message: `the current version of ${users.length} active flow(s) uses it: ${names}; change or pause them first`,
        },
      ]);
    }
    await em.remove(row).flush();
    const loaded = this.registry.remove(name, version);
    const dir = packageDir(this.root, row.packageName, version);
    if (loaded) forgetModules(dir);
    removeDir(dir);
    await this.opts.events.announceChange('plugins');
    this.opts.log.info({ plugin: `${name}@${version}` }, 'plugin uninstalled');
    return true;
  }

  // --- run time --------------------------------------------------------------------------------------------

  /**
   * Why `name@version` cannot run in this process, or undefined when it can (or is simply unknown: the action
   * executor then reports "not installed"). A disabled plugin is permanent; an installed plugin this worker
   * has not loaded yet is temporary (the step is retried).
   */
  async runProblem(
    em: EntityManager,
    name: string,
    version: string,
  ): Promise<{ permanent: boolean; message: string } | undefined> {
    // The registry mirrors the table (re-read on every change announced by any process).
    if (!this.registry.isEnabled(name)) return { permanent: true, message: `plugin "${name}" is disabled` };
    if (this.registry.get(name, version)) return undefined;
    const rows = await em.find(InstalledPlugin, { name });
    const row = rows.find((r) => r.version === version && r.source === PluginSource.INSTALLED);
    if (!row) return undefined;
    this.failures.delete(`${name}@${version}`);
    await this.sync();
    if (this.registry.get(name, version)) return undefined;
    const failure = this.failures.get(`${name}@${version}`);
    const why = failure
      ? failure.message
      : `it is routed to task queue "${row.taskQueue ?? 'main'}", which this worker does not serve`;
    return {
      permanent: false,
      message: `plugin ${name}@${version} is installed but not loaded here: ${why}`,
    };
  }

  // --- keeping the registry in step ------------------------------------------------------------------------

  /** Loads what the table lists (installing packages missing from this DATA_DIR), then polls every few seconds. */
  async start(): Promise<void> {
    removeStaleStaging(this.root);
    this.opts.events.onChange('plugins', () => void this.sync());
    await this.sync();
    this.timer = setInterval(() => {
      if (!this.pending) void this.sync();
    }, this.opts.pollMs ?? 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.queue;
  }

  /** One pass over the table; passes never overlap, and a call always gets a pass that starts after it. */
  sync(): Promise<void> {
    this.pending = true;
    const pass = this.queue.then(async () => {
      this.pending = false;
      await this.syncOnce().catch((err: Error) =>
        this.opts.log.warn({ err: err.message }, 'reading the installed plugins failed'),
      );
    });
    this.queue = pass;
    return pass;
  }

  private async syncOnce(): Promise<void> {
    const rows = await this.opts.db.em().find(InstalledPlugin, {}, { orderBy: { installedAt: 'asc' } });
    this.applyStates(rows);
    for (const row of rows) {
      if (row.source !== PluginSource.INSTALLED || this.registry.get(row.name, row.version)) continue;
      if (!this.opts.loads(row.taskQueue ?? undefined)) continue;
      const key = `${row.name}@${row.version}`;
      const failed = this.failures.get(key);
      if (failed && Date.now() - failed.at < RETRY_FAILED_LOAD_MS) continue;
      try {
        this.registry.add(await this.loadRow(row));
        this.failures.delete(key);
        this.opts.log.info({ plugin: key }, 'plugin loaded');
      } catch (err) {
        const message = (err as Error).message;
        this.failures.set(key, { at: Date.now(), message });
        this.opts.log.warn({ plugin: key, err: message }, 'cannot load an installed plugin');
      }
    }
    const listed = new Set(rows.map((r) => `${r.name}@${r.version}`));
    for (const m of this.registry.list()) {
      if (m.source === 'INSTALLED' && !listed.has(`${m.name}@${m.version}`)) {
        this.registry.remove(m.name, m.version);
        this.opts.log.info({ plugin: `${m.name}@${m.version}` }, 'plugin unloaded (uninstalled)');
      }
    }
  }

  /** Loads an installed version from this DATA_DIR, installing it from its recorded spec when missing here. */
  private async loadRow(row: InstalledPlugin): Promise<LoadedPlugin> {
    let dir = packageDir(this.root, row.packageName, row.version);
    if (!fs.existsSync(dir)) {
      if (!row.spec) throw new Error(`${dir} is missing and no install spec was recorded`);
      const installed = await installPackage({
        root: this.root,
        spec: parseInstallSpec(row.spec),
        npm: this.opts.npm,
        keepExisting: true,
      });
      if (installed.packageName !== row.packageName || installed.version !== row.version) {
        removeDir(installed.dir);
        throw new Error(
          `${row.spec} now installs ${installed.packageName}@${installed.version}, not ${row.packageName}@${row.version}`,
        );
      }
      dir = installed.dir;
    }
    const loaded = loadPluginFromDir(row.packageName, packageRoot(dir, row.packageName), 'INSTALLED');
    if (loaded.name !== row.name || loaded.version !== row.version) {
      throw new Error(`${dir} holds ${loaded.name}@${loaded.version}, not ${row.name}@${row.version}`);
    }
    return loaded;
  }

  /** Copies enabled state and routing from table rows into the registry (names without rows: defaults). */
  private applyStates(rows: InstalledPlugin[]): void {
    const names = new Set([...this.registry.list().map((m) => m.name), ...rows.map((r) => r.name)]);
    for (const name of names) {
      const own = rows.filter((r) => r.name === name);
      this.registry.setEnabled(
        name,
        own.every((r) => r.enabled),
      );
      this.registry.setTaskQueue(name, own.find((r) => r.taskQueue)?.taskQueue);
    }
  }

  // --- helpers ---------------------------------------------------------------------------------------------

  /** Rows for every loaded version of `name`; built-in versions get one on their first state change. */
  private async rowsFor(em: EntityManager, name: string): Promise<InstalledPlugin[]> {
    const versions = this.registry.versions(name);
    const rows = await em.find(InstalledPlugin, { name });
    if (versions.length === 0 && rows.length === 0)
      throw new NotFoundError(`plugin "${name}" is not installed`);
    for (const version of versions) {
      const loaded = this.registry.get(name, version)!;
      if (loaded.source === 'BUILTIN' && !rows.some((r) => r.version === version)) {
        rows.push(
          em.create(InstalledPlugin, {
            name,
            version,
            packageName: loaded.packageName,
            source: PluginSource.BUILTIN,
            enabled: rows.every((r) => r.enabled),
          }),
        );
      }
    }
    return rows;
  }

  /** The newest loaded version's manifest (what the state-changing mutations answer with). */
  private manifestOf(name: string): PluginManifest {
    const loaded = this.registry.get(name);
    if (!loaded) throw new NotFoundError(`plugin "${name}" is not loaded in this process`);
    return loaded.manifest;
  }

  /** The manifest the package ships must be the one its code defines (built in the sandbox, never here). */
  private async checkManifestMatchesCode(loaded: LoadedPlugin): Promise<void> {
    let fromCode: StaticManifest;
    try {
      fromCode = await this.opts.sandbox.inspect(loaded.dir);
    } catch (err) {
      throw new InvalidPluginError(loaded.packageName, [(err as Error).message]);
    }
    const { version: _v, packageName: _p, apiVersion: _a, source: _s, ...shipped } = loaded.manifest;
    const { manifestVersion: _m, ...built } = fromCode;
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(built)), JSON.parse(JSON.stringify(shipped)))) {
      throw new InvalidPluginError(loaded.packageName, [
        `its ${MANIFEST_FILE} does not describe its code (run "hookflow-manifest" again after building it)`,
      ]);
    }
  }

  /** An installed plugin may not take the name of a plugin that another package provides. */
  private checkNameIsFree(loaded: LoadedPlugin): void {
    for (const version of this.registry.versions(loaded.name)) {
      const other = this.registry.get(loaded.name, version)!;
      if (other.packageName !== loaded.packageName) {
        throw new BadInputError(`plugin name "${loaded.name}" is taken`, [
          { path: 'spec', message: `"${loaded.name}" is already provided by ${other.packageName}` },
        ]);
      }
    }
  }

  private parseTaskQueue(value: string | null | undefined): string | undefined {
    if (value === null || value === undefined || value.trim() === '') return undefined;
    if (!TASK_QUEUE.test(value.trim())) {
      throw new BadInputError('invalid task queue', [
        { path: 'taskQueue', message: 'use letters, digits, ".", "_" and "-" (at most 200)' },
      ]);
    }
    return value.trim();
  }

  private view(manifest: PluginManifest, rows: InstalledPlugin[]): PluginView {
    const own = rows.filter((r) => r.name === manifest.name);
    const row = own.find((r) => r.version === manifest.version);
    return {
      ...manifest,
      enabled: own.every((r) => r.enabled),
      taskQueue: own.find((r) => r.taskQueue)?.taskQueue ?? null,
      installedAt: row?.source === PluginSource.INSTALLED ? row.installedAt : null,
    };
  }
}

function installFailed(err: unknown): Error {
  if (err instanceof PluginInstallError) {
    return new BadInputError('cannot install the plugin', [{ path: 'spec', message: err.message }]);
  }
  return err as Error;
}

/** Active flows (of any workspace) whose current version has a step pinned to `name@version`. */
async function activeFlowsUsing(
  em: EntityManager,
  name: string,
  version: string,
): Promise<{ name: string; workspace_id: string }[]> {
  return em.getConnection().execute<{ name: string; workspace_id: string }[]>(
    `select f.name, f.workspace_id from flow f
       join flow_version v on v.flow_id = f.id and v.version = f.version
      where f.status = ? and v.steps @> ?::jsonb
      order by f.created_at`,
    [FlowStatus.ACTIVE, JSON.stringify([{ plugin: name, pluginVersion: version }])],
  );
}
