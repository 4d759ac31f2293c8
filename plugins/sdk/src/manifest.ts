/**
 * The static manifest a plugin package ships as `hookflow-manifest.json`: everything the host shows and
 * checks (actions, their input/output JSON Schemas, credential schemas) without running plugin code.
 * `hookflow-manifest` (this package's bin) writes it from the built package; the host compares it with the
 * code, in its sandbox, when the plugin is installed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  pluginDefinitionProblems,
  type AnyActionDefinition,
  type PluginDefinition,
  type RetryPolicy,
} from './define';

export const MANIFEST_FILE = 'hookflow-manifest.json';
export const MANIFEST_VERSION = 1;

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

export interface StaticManifest {
  manifestVersion: number;
  name: string;
  displayName: string;
  description: string;
  icon: string | null;
  actions: ActionManifest[];
  credentials: CredentialManifest[];
}

function toJsonSchema(schema: unknown, io: 'input' | 'output'): JsonSchema {
  return z.toJSONSchema(schema as z.ZodType, { io, unrepresentable: 'any' }) as JsonSchema;
}

/** The manifest of a plugin definition (JSON Schema from zod's own converter). */
export function manifestOf(definition: PluginDefinition): StaticManifest {
  return {
    manifestVersion: MANIFEST_VERSION,
    name: definition.name,
    displayName: definition.displayName,
    description: definition.description,
    icon: definition.icon ?? null,
    actions: Object.entries(definition.actions as Record<string, AnyActionDefinition>).map(
      ([name, action]) => ({
        name,
        displayName: action.displayName,
        description: action.description,
        inputSchema: toJsonSchema(action.input, 'input'),
        outputSchema: toJsonSchema(action.output, 'output'),
        credential: action.credential ?? null,
        retry: action.retry ? { ...action.retry } : null,
        timeoutMs: action.timeoutMs ?? null,
      }),
    ),
    credentials: Object.entries(definition.credentials ?? {}).map(([name, cred]) => ({
      name,
      displayName: cred.displayName,
      description: cred.description ?? null,
      schema: toJsonSchema(cred.schema, 'input'),
    })),
  };
}

/** The plugin definition among a module's exports: `default`, `plugin`, or module.exports itself. */
export function findPluginDefinition(mod: unknown): { definition?: PluginDefinition; problems: string[] } {
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

/** The entry point a package.json names (`main`, default index.js), refused when it points outside the package. */
export function packageEntry(dir: string, main: unknown): string {
  const root = path.resolve(dir);
  const entry = path.resolve(root, typeof main === 'string' ? main : 'index.js');
  if (entry !== root && !entry.startsWith(root + path.sep)) {
    throw new Error(`"main" (${String(main)}) points outside the package`);
  }
  return entry;
}

/** Loads a built plugin package's code and returns its definition; throws with every problem found. */
export function loadDefinition(dir: string): PluginDefinition {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { main?: unknown };
  // Loading plugin code by path is the point here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod: unknown = require(require.resolve(packageEntry(dir, pkg.main)));
  const { definition, problems } = findPluginDefinition(mod);
  if (!definition) throw new Error(problems.join('; '));
  return definition;
}

/** Writes `hookflow-manifest.json` into a built plugin package; returns the file's path. */
export function writeManifest(dir: string): string {
  const file = path.join(dir, MANIFEST_FILE);
  fs.writeFileSync(file, JSON.stringify(manifestOf(loadDefinition(path.resolve(dir))), null, 2) + '\n');
  return file;
}
